// The board's flash: Emscripten's in-memory filesystem under /flash, loaded from a host folder at boot,
// with every change written through to that folder synchronously, so the host folder is always exactly
// what the flash holds. MicroPython sees it through its own VfsPosix, so files are real C streams
// (json.load, deflate.DeflateIO and readinto work as on a board). Runs inside the worker thread.
//
// Three filesystem models (docs/updater-swap.md, "Power-loss model"):
// - posix: every mutation (write, rename, remove, mkdir, rmdir) is one atomic step.
// - littlefs: a write of N bytes is its 4096-byte block writes; a rename within a folder is one commit;
//   a rename across folders is two commits (new entry, then old one dropped). A cut between them leaves
//   a pending move: after the next mount the moved entry and every later entry (by name) of the source
//   folder are invisible to stat/listdir/open until the first write, which completes the move.
// - fat: a write of N bytes is its sector writes; names compare case-insensitively; a rename over an
//   existing file removes that file first; every rename writes the new entry, then removes the old one
//   (two sector writes, as FatFs does whenever the two entries sit in different sectors). A cut between
//   them leaves two entries sharing clusters; removing or truncating one frees the clusters, and the next
//   cluster allocation reuses them, overwriting what the other entry reads.
// Cross-links and pending moves outlive the power cut: they are kept beside the host folder in
// `<fsDir>.fsmeta.json`, absent when there is none.
import * as fs from 'node:fs';
import * as path from 'node:path';

/* eslint-disable @typescript-eslint/no-explicit-any -- Emscripten's FS object is untyped JavaScript */
type EmFS = any;

export const FLASH_ROOT = '/flash';
const BLOCK = 4096;

/** Emscripten's errno numbers; the worker translates them to Linux ones on the way to MicroPython. */
const EM_ENOSPC = 51;
const EM_ENOENT = 44;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_CREAT = 64;
const O_TRUNC = 512;
const O_APPEND = 1024;

export type FsModel = 'posix' | 'littlefs' | 'fat';
/** At the cut: the step lands whole ('after'), not at all ('drop'), or half of its bytes ('tear'). */
export type CutMode = 'after' | 'drop' | 'tear';
export const FS_MODELS: readonly FsModel[] = ['posix', 'littlefs', 'fat'];

export interface FlashModel {
  fs: FsModel;
  /** FAT sector (= cluster) size: 512 or 4096. LittleFS blocks are 4096. */
  sectorSize: number;
}

export interface FlashHooks {
  /** Counts one step (a mutation on posix, a block write otherwise): 'full', or at the cut how it lands. */
  step(): 'full' | CutMode;
  /** The power goes off now. */
  cut(): never;
}

interface Dangling {
  /** File whose clusters were freed while its entry stayed. */
  path: string;
  /** Its cluster indexes not reused yet, in allocation order. */
  free: number[];
  /** Clusters reused since: [its cluster, owner path, owner's cluster]. */
  reused: [number, string, number][];
}

interface Meta {
  /** FAT: groups of entries sharing their clusters. */
  links: string[][];
  dangling: Dangling[];
  /** LittleFS: source entry of a move whose second commit never happened. */
  move?: string;
}

export class Flash {
  private mirroring = false;
  private meta: Meta = { links: [], dangling: [] };
  /** LittleFS pending move seen at mount: in folder `dir`, names >= `from` are hidden until the first write. */
  private hidden: { dir: string; from: string } | undefined;
  private readonly metaFile: string;
  private readonly model: FlashModel;

  constructor(
    private readonly FS: EmFS,
    private readonly hostDir: string,
    private readonly flashKb: number,
    private readonly hooks: FlashHooks,
    model?: Partial<FlashModel>,
  ) {
    this.model = { fs: model?.fs ?? 'posix', sectorSize: model?.sectorSize ?? 4096 };
    this.metaFile = `${hostDir}.fsmeta.json`;
  }

  /** Copies the host folder into /flash (the mount) and starts writing every change back through. */
  install(): void {
    if (fs.existsSync(this.metaFile)) this.meta = JSON.parse(fs.readFileSync(this.metaFile, 'utf8')) as Meta;
    if (this.model.fs === 'littlefs' && this.meta.move) {
      const m = this.meta.move;
      this.hidden = {
        dir: path.posix.dirname(m) === '.' ? '' : path.posix.dirname(m),
        from: path.posix.basename(m),
      };
    }
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

  private saveMeta(): void {
    const m = this.meta;
    if (m.links.length === 0 && m.dangling.length === 0 && !m.move) fs.rmSync(this.metaFile, { force: true });
    else fs.writeFileSync(this.metaFile, JSON.stringify(m));
  }

  /** Path relative to the flash root ('' for the root) of an Emscripten path, or null outside /flash. */
  private relOf(emPath: string): string | null {
    const p = path.posix.normalize(emPath);
    if (p === FLASH_ROOT) return '';
    if (!p.startsWith(FLASH_ROOT + '/')) return null;
    const rel = p.slice(FLASH_ROOT.length + 1);
    const h = path.resolve(this.hostDir, rel);
    if (h !== this.hostDir && !h.startsWith(this.hostDir + path.sep)) return null;
    return rel;
  }

  private host(rel: string): string {
    return rel === '' ? this.hostDir : path.join(this.hostDir, rel);
  }

  private absolute(p: string): string {
    return p.startsWith('/') ? p : path.posix.join(this.FS.cwd(), p);
  }

  /** The real (stored) path of an existing entry, resolving FAT's case folding; null outside /flash. */
  private realRel(p: string): string | null {
    const abs = this.absolute(p);
    if (this.relOf(abs) === null) return null;
    try {
      return this.relOf(this.FS.getPath(this.FS.lookupPath(abs).node));
    } catch {
      return this.relOf(abs);
    }
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

  private get sector(): number {
    return this.model.fs === 'fat' ? this.model.sectorSize : BLOCK;
  }

  /** One step: applies `land` as the step lands, then cuts the power if this was the cut point. */
  private step(land: (how: 'full' | 'tear') => void, tearable = false): void {
    const how = this.hooks.step();
    // A torn metadata write is a dropped one: a LittleFS commit fails its CRC; FAT's own table and
    // directory sectors are assumed to land whole (not modelled, see docs/updater-swap.md).
    if (how === 'tear' ? tearable : how !== 'drop') land(how === 'tear' ? 'tear' : 'full');
    this.saveMeta();
    if (how !== 'full') this.hooks.cut();
  }

  // --- LittleFS pending move ---

  private isHidden(dirRel: string | null, name: string): boolean {
    const h = this.hidden;
    return h !== undefined && dirRel === h.dir && name >= h.from;
  }

  /** LittleFS completes a pending move before its first write after mount (one commit). */
  private settle(): void {
    if (this.model.fs !== 'littlefs' || !this.meta.move) return;
    const src = this.meta.move;
    this.step(() => {
      this.hidden = undefined;
      this.meta.move = undefined;
      fs.rmSync(this.host(src), { force: true, recursive: true });
      try {
        const node = this.FS.lookupPath(`${FLASH_ROOT}/${src}`).node;
        if (this.FS.isDir(node.mode)) this.FS.rmdir(`${FLASH_ROOT}/${src}`);
        else this.origUnlink(`${FLASH_ROOT}/${src}`);
      } catch {
        // The moved entry's in-memory copy is already gone: the first commit renamed it.
      }
    });
  }

  private origUnlink: (p: string) => void = () => undefined;

  // --- FAT clusters ---

  private group(rel: string): string[] | undefined {
    return this.meta.links.find((g) => g.includes(rel));
  }

  private clusters(rel: string): number {
    try {
      return Math.ceil(fs.statSync(this.host(rel)).size / this.sector);
    } catch {
      return 0;
    }
  }

  /** FAT frees rel's cluster chain (remove, truncate): entries sharing it keep pointing at free clusters. */
  private freeChain(rel: string): void {
    if (this.model.fs !== 'fat') return;
    const g = this.group(rel);
    if (g) {
      this.meta.links = this.meta.links.filter((x) => x !== g);
      for (const other of g) {
        if (other === rel) continue;
        const n = this.clusters(other);
        this.meta.dangling.push({ path: other, free: [...Array(n).keys()], reused: [] });
      }
    }
    const d = this.meta.dangling.find((x) => x.path === rel);
    if (d) {
      // Freeing a chain whose clusters another file took since frees that file's clusters.
      this.meta.dangling = this.meta.dangling.filter((x) => x !== d);
      for (const [, owner, oc] of d.reused) {
        const od = this.meta.dangling.find((x) => x.path === owner);
        if (od) od.free.push(oc);
        else this.meta.dangling.push({ path: owner, free: [oc], reused: [] });
      }
    }
  }

  /** FAT allocates a cluster for owner's cluster `oc` (null: a new folder): a freed one is reused first. */
  private allocate(owner: string | null, oc: number): void {
    if (this.model.fs !== 'fat') return;
    const d = this.meta.dangling.find((x) => x.path !== owner && x.free.length > 0);
    if (!d) return;
    const ci = d.free.shift()!;
    const S = this.sector;
    const data = Buffer.alloc(S);
    if (owner !== null) {
      const fd = fs.openSync(this.host(owner), 'r');
      try {
        fs.readSync(fd, data, 0, S, oc * S);
      } finally {
        fs.closeSync(fd);
      }
    }
    try {
      const size = fs.statSync(this.host(d.path)).size;
      const n = Math.max(0, Math.min(S, size - ci * S));
      if (n > 0) {
        const fd = fs.openSync(this.host(d.path), 'r+');
        try {
          fs.writeSync(fd, data, 0, n, ci * S);
        } finally {
          fs.closeSync(fd);
        }
        // What the board reads from now on too (the in-memory copy of the entry).
        const node = this.FS.lookupPath(`${FLASH_ROOT}/${d.path}`).node;
        (node.contents as Uint8Array).set(data.subarray(0, n), ci * S);
      }
    } catch {
      // The dangling entry is gone already.
    }
    if (owner !== null) d.reused.push([ci, owner, oc]);
  }

  private renamed(from: string, to: string): void {
    for (const g of this.meta.links) for (let i = 0; i < g.length; i++) if (g[i] === from) g[i] = to;
    for (const d of this.meta.dangling) {
      if (d.path === from) d.path = to;
      for (const r of d.reused) if (r[1] === from) r[1] = to;
    }
  }

  private forget(rel: string): void {
    // An entry removed without freeing clusters (the second step of a rename).
    for (const g of this.meta.links) {
      const i = g.indexOf(rel);
      if (i >= 0) g.splice(i, 1);
    }
    this.meta.links = this.meta.links.filter((g) => g.length > 1);
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
      lookupNode: FS.lookupNode,
      readdir: FS.readdir,
    };
    this.origUnlink = (p: string) => orig.unlink.call(FS, p);
    const blockModel = this.model.fs !== 'posix';
    const nodeRel = (node: any): string | null => this.relOf(FS.getPath(node));

    FS.lookupNode = (parent: any, name: string) => {
      if (this.hidden && this.isHidden(nodeRel(parent), name)) throw new FS.ErrnoError(EM_ENOENT);
      try {
        return orig.lookupNode.call(FS, parent, name);
      } catch (e) {
        if (this.model.fs === 'fat' && parent.contents && nodeRel(parent) !== null) {
          const lower = name.toLowerCase();
          for (const k of Object.keys(parent.contents as Record<string, unknown>))
            if (k.toLowerCase() === lower) return orig.lookupNode.call(FS, parent, k);
        }
        throw e;
      }
    };
    FS.readdir = (p: string) => {
      const names: string[] = orig.readdir.call(FS, p);
      if (!this.hidden) return names;
      const rel = this.realRel(p);
      return names.filter((n) => !this.isHidden(rel, n));
    };

    FS.write = (
      stream: any,
      buffer: any,
      offset: number,
      length: number,
      position?: number,
      canOwn?: boolean,
    ) => {
      const rel = this.mirroring ? nodeRel(stream.node) : null;
      if (rel === null) return orig.write.call(FS, stream, buffer, offset, length, position, canOwn);
      this.settle();
      const node = stream.node;
      const start = position ?? (stream.flags & O_APPEND ? node.usedBytes : stream.position);
      const before = Math.ceil(node.usedBytes / BLOCK);
      const after = Math.ceil(Math.max(node.usedBytes, start + length) / BLOCK);
      if (length > 0 && this.usedBlocks() + after - before > this.totalBlocks()) {
        throw new FS.ErrnoError(EM_ENOSPC);
      }
      const n: number = orig.write.call(FS, stream, buffer, offset, length, position, canOwn);
      const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset + offset, n);
      const put = (from: number, to: number): void => {
        if (to <= from) return;
        const fd = fs.openSync(this.host(rel), 'r+');
        try {
          fs.writeSync(fd, bytes, from - start, to - from, from);
        } finally {
          fs.closeSync(fd);
        }
      };
      const half = (a: number, b: number): number => a + Math.max(1, Math.floor((b - a) / 2));
      if (!blockModel) {
        this.step((how) => put(start, how === 'tear' ? half(start, start + n) : start + n), true);
        return n;
      }
      // One block write per sector the bytes touch; a sector past the file's clusters allocates one.
      const S = this.sector;
      for (let s = Math.floor(start / S); s * S < start + n; s++) {
        const a = Math.max(start, s * S);
        const b = Math.min(start + n, (s + 1) * S);
        this.step((how) => {
          const fresh = s >= this.clusters(rel);
          put(a, how === 'tear' ? half(a, b) : b);
          if (fresh) this.allocate(rel, s);
        }, true);
      }
      return n;
    };

    FS.rename = (from: string, to: string) => {
      const a = this.mirroring ? this.realRel(from) : null;
      const toAbs = this.absolute(to);
      const parent = this.relOf(path.posix.dirname(toAbs));
      if (a === null || parent === null) return orig.rename.call(FS, from, to);
      this.settle();
      const existing = this.realRel(toAbs);
      const b = path.posix.join(
        this.realRel(path.posix.dirname(toAbs)) ?? parent,
        path.posix.basename(toAbs),
      );
      const dirOf = (r: string): string => path.posix.dirname(r);
      const isDir = FS.isDir(FS.lookupPath(this.absolute(from)).node.mode);
      if (
        this.model.fs === 'fat' &&
        existing !== null &&
        existing !== a &&
        fs.existsSync(this.host(existing))
      ) {
        // VfsFat: f_rename refuses an existing target, so MicroPython removes it and renames again.
        if (FS.isDir(FS.lookupPath(toAbs).node.mode)) return orig.rename.call(FS, from, to);
        orig.unlink.call(FS, toAbs);
        this.step(() => {
          fs.rmSync(this.host(existing));
          this.freeChain(existing);
        });
      }
      orig.rename.call(FS, from, to);
      if (!blockModel || isDir || (this.model.fs === 'littlefs' && dirOf(a) === dirOf(b))) {
        this.step(() => {
          fs.renameSync(this.host(a), this.host(b));
          this.renamed(a, b);
        });
        return;
      }
      // Two commits / two sector writes: the new entry, then the old one goes.
      this.step(() => {
        fs.copyFileSync(this.host(a), this.host(b));
        if (this.model.fs === 'littlefs') this.meta.move = a;
        else {
          const g = this.group(a);
          if (g) g.push(b);
          else this.meta.links.push([a, b]);
        }
      });
      this.step(() => {
        fs.rmSync(this.host(a));
        this.meta.move = undefined;
        this.forget(a);
        if (!this.group(b)) this.renamed(a, b);
      });
    };
    FS.unlink = (p: string) => {
      const rel = this.mirroring ? this.realRel(p) : null;
      if (rel !== null) this.settle();
      orig.unlink.call(FS, p);
      if (rel === null) return;
      this.step(() => {
        fs.unlinkSync(this.host(rel));
        this.freeChain(rel);
      });
    };
    FS.rmdir = (p: string) => {
      const rel = this.mirroring ? this.realRel(p) : null;
      if (rel !== null) this.settle();
      orig.rmdir.call(FS, p);
      if (rel !== null) this.step(() => fs.rmdirSync(this.host(rel)));
    };
    FS.mkdir = (p: string, mode?: number) => {
      const abs = this.mirroring ? this.absolute(p) : null;
      const parent = abs === null ? null : this.realRel(path.posix.dirname(abs));
      // LittleFS completes a pending move before any mkdir, even one that finds the folder there.
      if (parent !== null) this.settle();
      if (parent !== null && this.usedBlocks() + 1 > this.totalBlocks()) throw new FS.ErrnoError(EM_ENOSPC);
      const node = orig.mkdir.call(FS, p, mode);
      if (parent !== null) {
        const rel = path.posix.join(parent, path.posix.basename(abs!));
        this.step(() => {
          fs.mkdirSync(this.host(rel));
          this.allocate(null, 0);
        });
      }
      return node;
    };
    FS.open = (p: any, flags: any, mode?: number) => {
      const writing = typeof flags === 'number' && (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) !== 0;
      const pre = typeof p === 'string' && this.mirroring ? this.realRel(p) : null;
      if (pre !== null && writing) this.settle();
      const existed = pre !== null && fs.existsSync(this.host(pre));
      const oldSize = existed && fs.statSync(this.host(pre)).isFile() ? fs.statSync(this.host(pre)).size : 0;
      const stream = orig.open.call(FS, p, flags, mode);
      const rel = typeof p === 'string' && this.mirroring ? nodeRel(stream.node) : null;
      if (rel === null || FS.isDir(stream.node.mode) || typeof flags !== 'number') return stream;
      if (!existed && flags & O_CREAT) {
        // Creating a file: a new entry (a counted block write on LittleFS and FAT, part of open on posix).
        const create = (): void => fs.writeFileSync(this.host(rel), new Uint8Array(0));
        if (blockModel) this.step(create);
        else create();
      } else if (flags & O_TRUNC && oldSize > 0) {
        const trunc = (): void => {
          fs.writeFileSync(this.host(rel), new Uint8Array(0));
          this.freeChain(rel);
        };
        if (blockModel) this.step(trunc);
        else trunc();
      }
      return stream;
    };
    FS.statfs = (p: string) => {
      const st = orig.statfs.call(FS, p);
      if (this.relOf(this.absolute(p)) === null) return st;
      const total = this.totalBlocks();
      const free = Math.max(0, total - this.usedBlocks());
      return { ...st, bsize: BLOCK, frsize: BLOCK, blocks: total, bfree: free, bavail: free, namelen: 255 };
    };
  }
}
