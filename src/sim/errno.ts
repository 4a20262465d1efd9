// Emscripten's C library numbers errno values its own way (ENOENT is 44); MicroPython's errno module and
// every board use the Linux numbers (ENOENT is 2). The worker translates at the system-call boundary.

/** Emscripten's errno numbers (musl for wasm) to the Linux numbers MicroPython's errno module uses. */
export const EM_TO_LINUX: Record<number, number> = {
  63: 1, // EPERM
  44: 2, // ENOENT
  29: 5, // EIO
  8: 9, // EBADF
  6: 11, // EAGAIN
  48: 12, // ENOMEM
  2: 13, // EACCES
  10: 16, // EBUSY
  20: 17, // EEXIST
  75: 18, // EXDEV
  43: 19, // ENODEV
  54: 20, // ENOTDIR
  31: 21, // EISDIR
  28: 22, // EINVAL
  33: 24, // EMFILE
  22: 27, // EFBIG
  51: 28, // ENOSPC
  70: 29, // ESPIPE
  69: 30, // EROFS
  37: 36, // ENAMETOOLONG
  52: 38, // ENOSYS
  55: 39, // ENOTEMPTY
  32: 40, // ELOOP
  138: 95, // EOPNOTSUPP
};

/** Wraps the interpreter's system calls so the errors they return carry Linux errno numbers. */
export function translateErrnos(imports: Record<string, Record<string, unknown>>): void {
  const done = new Set<unknown>();
  for (const table of Object.values(imports)) {
    if (done.has(table)) continue;
    done.add(table);
    for (const [name, fn] of Object.entries(table)) {
      if (typeof fn !== 'function') continue;
      const f = fn as (...a: unknown[]) => unknown;
      if (name.startsWith('__syscall_')) {
        // Linux convention: a negative return is -errno.
        table[name] = (...a: unknown[]) => {
          const r = f(...a);
          return typeof r === 'number' && r < 0 && EM_TO_LINUX[-r] ? -EM_TO_LINUX[-r] : r;
        };
      } else if (name.startsWith('fd_')) {
        // WASI convention: a non-zero return is the errno.
        table[name] = (...a: unknown[]) => {
          const r = f(...a);
          return typeof r === 'number' && r > 0 && EM_TO_LINUX[r] ? EM_TO_LINUX[r] : r;
        };
      }
    }
  }
}
