// What a host answers (GitHub's API, a registry, a static release host, a token service) is read
// within bounds the host cannot move, so a hostile or broken server costs a clear error, never
// unbounded memory or a loop:
// - one answer's body: readBounded, with a cap fitting what is read (a JSON document, a file of a
//   declared size) and a pace it must keep; boundedFetch applies it to every answer of a fetch handed
//   to a library (Octokit);
// - a paged listing (GitHub's releases, a registry's tags): collectPages stops with 'listing_too_long'
//   at a "next" link back to a page already read, or more entries than any real project has.
import { OtaError } from './errors';

/** More releases or tags than this is a hostile or broken host, not a project. */
export const MAX_LISTED = 10_000;

export interface Page<T> {
  /** The URL the page was read from (query included). */
  url: string;
  items: T[];
}

/** The items of every page, in order, within `max` and without a page read twice. */
export async function collectPages<T>(
  pages: AsyncIterable<Page<T>>,
  what: string,
  max = MAX_LISTED,
): Promise<T[]> {
  const out: T[] = [];
  const seen = new Set<string>();
  for await (const page of pages) {
    if (seen.has(page.url)) {
      throw new OtaError(
        'listing_too_long',
        `${what}: the host's next page is ${page.url} again (a loop); stopped`,
      );
    }
    seen.add(page.url);
    out.push(...page.items);
    if (out.length > max) {
      throw new OtaError('listing_too_long', `${what}: the host lists more than ${max} entries; stopped`);
    }
  }
  return out;
}

/** A JSON document from a registry (a tag list, an image manifest, a token) is never near this. */
export const MAX_DOCUMENT = 4 * 1024 * 1024;

/**
 * One GitHub API answer. A board reads one release's JSON up to 2 MB (device/ota/jscan.py: ~1000
 * assets with their uploader objects), so a page of 16 such releases (listReleases' page size in
 * publish/github.ts) fits; anything larger is no project's.
 */
export const MAX_API_ANSWER = 32 * 1024 * 1024;

/** latest.json: the board's own limit for it (device/ota/source.py MAX_DOC). */
export const MAX_LATEST = 16 * 1024;

/**
 * How an answer must keep coming once its headers are in: after `graceMs`, at least `bytesPerSecond`
 * on average, so a host dripping a bounded answer cannot hold a command or the editor for hours (at
 * this floor the largest answer, MAX_API_ANSWER, has 35 minutes; latest.json 31 s).
 */
export interface Pace {
  graceMs: number;
  bytesPerSecond: number;
}
export const PACE: Pace = { graceMs: 30_000, bytesPerSecond: 16 * 1024 };

/**
 * The body of `res`, read until `max` bytes and no further: 'doc_too_large' past it (or 'too_large'
 * for a file past its declared size), the rest never read. A Content-Length over `max` stops before
 * the first byte; an answer cut off is 'network'; one slower than `pace`, 'timeout'.
 */
export async function readBounded(
  res: Response,
  what: string,
  max = MAX_DOCUMENT,
  code: 'doc_too_large' | 'too_large' = 'doc_too_large',
  pace = PACE,
): Promise<Buffer> {
  const tooLarge = () =>
    new OtaError(
      code,
      code === 'too_large'
        ? `${what}: the host sends more than the ${max} bytes declared; stopped`
        : `${what}: the answer is larger than ${max} bytes; stopped`,
    );
  if (!res.body) return Buffer.alloc(0);
  if (Number(res.headers.get('content-length') ?? 0) > max) {
    await res.body.cancel().catch(() => undefined);
    throw tooLarge();
  }
  const reader = res.body.getReader();
  const stop = async (err: OtaError) => {
    await reader.cancel().catch(() => undefined);
    return err;
  };
  const start = Date.now();
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    // The moment the bytes read so far stop being enough for the pace.
    const due = start + pace.graceMs + (size / pace.bytesPerSecond) * 1000;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), due - Date.now())));
    let next: Awaited<ReturnType<typeof reader.read>> | 'late';
    try {
      next = await Promise.race([reader.read(), late]);
    } catch (err) {
      const cause = (err as { cause?: { code?: unknown } }).cause?.code ?? (err as Error).message;
      throw new OtaError('network', `${what}: the answer broke off after ${size} bytes (${String(cause)})`, {
        cause: err,
      });
    } finally {
      clearTimeout(timer);
    }
    if (next === 'late') {
      const rate = `${pace.bytesPerSecond / 1024} KB/s after ${pace.graceMs / 1000} s`;
      throw await stop(new OtaError('timeout', `${what}: the answer comes slower than ${rate}; stopped`));
    }
    if (next.done) return Buffer.concat(chunks);
    const chunk = next.value;
    size += chunk.length;
    if (size > max) throw await stop(tooLarge());
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length)); // no copy
  }
}

/**
 * A fetch whose every answer is read through readBounded before it is handed on, for a library that
 * reads bodies itself (Octokit reads a whole JSON answer into one string). The error is thrown from
 * the fetch call; the answer keeps its status, headers and URL (pagination compares URLs).
 */
export function boundedFetch(base: typeof fetch, max: number): typeof fetch {
  return async (input, init) => {
    const res = await base(input, init);
    if (!res.body || [204, 205, 304].includes(res.status)) return res;
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    const url = input instanceof Request ? input.url : String(input);
    const body = await readBounded(res, `${method} ${url}`, max);
    const out = new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
    Object.defineProperty(out, 'url', { value: res.url });
    return out;
  };
}
