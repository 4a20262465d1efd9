// The board's flash: Emscripten's in-memory filesystem under /flash, loaded from a host folder at boot,
// with every change written through to that folder synchronously, so the host folder is always exactly
// what the flash holds. MicroPython sees it through its own VfsPosix, so files are real C streams
// (json.load, deflate.DeflateIO and readinto work as on a board). Runs inside the worker thread.
import * as fs from 'node:fs';
import * as path from 'node:path';

/* eslint-disable @typescript-eslint/no-explicit-any -- Emscripten's FS object is untyped JavaScript */
type EmFS = any;

export const FLASH_ROOT = '/flash';
const BLOCK = 4096;

/** Emscripten's ENOSPC; the worker translates errno numbers to Linux ones on the way to MicroPython. */
const EM_ENOSPC = 51;

export interface FlashHooks {
  /** Called after each completed mutation (write/rename/remove/mkdir/rmdir). */
  mutated(): void;
}

export class Flash {
  private mirroring = false;

  constructor(
    private readonly FS: EmFS,
    private readonly hostDir: string,
    private readonly flashKb: number,
    private readonly hooks: FlashHooks,
  ) {}

  /** Copies the host folder into /flash and starts writing every change back through. */
  install(): void {
    this.FS.mkdir(FLASH_ROOT);
    this.load(this.hostDir, FLASH_ROOT);
    this.wrap();
    this.mirroring = true;
  }

  private load(hostDir: string, emDir: string): void {
    for (const ent of fs.readdirSync(hostDir, { withFileTypes: true })) {
      const h = path.join(hostDir, ent.name);
      const e = `${emDir}/${ent.name}`;
      if (ent.isDirectory()) {
        this.FS.mkdir(e);
        this.load(h, e);
      } else if (ent.isFile()) {
        this.FS.writeFile(e, fs.readFileSync(h));
      }
    }
  }

  /** Host path for an Emscripten path under /flash, or null for paths elsewhere (e.g. /tmp). */
  private host(emPath: string): string | null {
    const p = path.posix.normalize(emPath);
    if (p === FLASH_ROOT) return this.hostDir;
    if (!p.startsWith(FLASH_ROOT + '/')) return null;
    const rel = p.slice(FLASH_ROOT.length + 1);
    const h = path.resolve(this.hostDir, rel);
    if (h !== this.hostDir && !h.startsWith(this.hostDir + path.sep)) return null;
    return h;
  }

  private absolute(p: string): string {
    return p.startsWith('/') ? p : path.posix.join(this.FS.cwd(), p);
  }

  private usedBlocks(): number {
    let blocks = 0;
    const walk = (node: any): void => {
      blocks += 1;
      if (this.FS.isDir(node.mode)) {
        for (const child of Object.values(node.contents as Record<string, unknown>)) walk(child);
      } else {
        blocks += Math.ceil((node.usedBytes ?? 0) / BLOCK);
      }
    };
    walk(this.FS.lookupPath(FLASH_ROOT).node);
    return blocks;
  }

  private totalBlocks(): number {
    return Math.floor((this.flashKb * 1024) / BLOCK);
  }

  private wrap(): void {
    const FS = this.FS;
    const orig = {
      write: FS.write,
      rename: FS.rename,
      unlink: FS.unlink,
      rmdir: FS.rmdir,
      mkdir: FS.mkdir,
      open: FS.open,
      statfs: FS.statfs,
    };
    const done = (): void => this.hooks.mutated();

    FS.write = (
      stream: any,
      buffer: any,
      offset: number,
      length: number,
      position?: number,
      canOwn?: boolean,
    ) => {
      const host = this.mirroring ? this.host(stream.path) : null;
      if (host === null) return orig.write.call(FS, stream, buffer, offset, length, position, canOwn);
      const node = stream.node;
      const start = position ?? (stream.flags & 1024 ? node.usedBytes : stream.position);
      const before = Math.ceil(node.usedBytes / BLOCK);
      const after = Math.ceil(Math.max(node.usedBytes, start + length) / BLOCK);
      if (length > 0 && this.usedBlocks() + after - before > this.totalBlocks()) {
        throw new FS.ErrnoError(EM_ENOSPC);
      }
      const n: number = orig.write.call(FS, stream, buffer, offset, length, position, canOwn);
      const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset + offset, n);
      const fd = fs.openSync(host, 'r+');
      try {
        fs.writeSync(fd, bytes, 0, n, start);
      } finally {
        fs.closeSync(fd);
      }
      done();
      return n;
    };
    FS.rename = (from: string, to: string) => {
      orig.rename.call(FS, from, to);
      const a = this.host(this.absolute(from));
      const b = this.host(this.absolute(to));
      if (a && b) {
        fs.renameSync(a, b);
        done();
      }
    };
    FS.unlink = (p: string) => {
      orig.unlink.call(FS, p);
      const h = this.host(this.absolute(p));
      if (h) {
        fs.unlinkSync(h);
        done();
      }
    };
    FS.rmdir = (p: string) => {
      orig.rmdir.call(FS, p);
      const h = this.host(this.absolute(p));
      if (h) {
        fs.rmdirSync(h);
        done();
      }
    };
    FS.mkdir = (p: string, mode?: number) => {
      const h = this.mirroring ? this.host(this.absolute(p)) : null;
      if (h && this.usedBlocks() + 1 > this.totalBlocks()) throw new FS.ErrnoError(EM_ENOSPC);
      const node = orig.mkdir.call(FS, p, mode);
      if (h) {
        fs.mkdirSync(h);
        done();
      }
      return node;
    };
    // Creating or truncating a file at open() is part of the open, as on a board, not a counted mutation.
    FS.open = (p: any, flags: any, mode?: number) => {
      const stream = orig.open.call(FS, p, flags, mode);
      const h = typeof p === 'string' ? this.host(stream.path ?? this.absolute(p)) : null;
      if (h && !FS.isDir(stream.node.mode) && typeof flags === 'number' && flags & (64 | 512)) {
        // O_CREAT | O_TRUNC: make the host file match (created, or emptied when truncated).
        if (flags & 512 || !fs.existsSync(h)) fs.writeFileSync(h, new Uint8Array(stream.node.usedBytes));
      }
      return stream;
    };
    FS.statfs = (p: string) => {
      const st = orig.statfs.call(FS, p);
      if (this.host(this.absolute(p)) === null) return st;
      const total = this.totalBlocks();
      const free = Math.max(0, total - this.usedBlocks());
      return { ...st, bsize: BLOCK, frsize: BLOCK, blocks: total, bfree: free, bavail: free, namelen: 255 };
    };
  }
}
