// What a host answers (GitHub's API, a registry, a static release host, a token service) is read
// within bounds the host cannot move, so a hostile or broken server costs a clear error, never
// unbounded memory, traffic or a loop:
// - one answer's body: readBounded, with a cap fitting what is read (a JSON document, a file of a
//   declared size) and a pace it must keep; boundedFetch applies it to every answer of a fetch handed
//   to a library (Octokit);
// - a paged listing (GitHub's releases, a draft's assets, a registry's tags): one Listing per listing
//   reads every page through Listing.read and keeps its entries through collectPages, and stops with
//   'listing_too_long' past its entries, pages or bytes in all (LISTINGS), or at a "next" link back to
//   a page already read. Sizes and why: docs/protocols.md "What the host reads from a release host".
import { OtaError } from './errors';

/** More releases or tags than this is a hostile or broken host, not a project. */
export const MAX_LISTED = 10_000;

const MiB = 1024 * 1024;

/** What one listing may cost in all, across its pages. */
export interface ListingLimits {
  entries: number;
  pages: number;
  bytes: number;
}

/**
 * Pages: MAX_LISTED releases at 16 a page (publish/github.ts) is 625 requests; no listing needs more.
 * Bytes, from what real listings weigh (a GitHub release is ~1.6 KB of JSON plus its notes, each of
 * its assets ~1.4 KB, and every release file is an asset):
 * - releases: a large project, 1 000 releases of 100 files each (~146 MB), or MAX_LISTED small ones
 *   (5 assets: ~86 MB), fits 256 MiB; a hostile API used to cost up to 625 pages of 32 MiB (20 GiB);
 * - a draft's assets: at most the ~2 MB of one release a board reads (device/ota/jscan.py), 4x over;
 * - tags: MAX_LISTED tags of at most 128 characters are 1.3 MB of JSON, 6x over.
 */
export const LISTINGS = {
  releases: { entries: MAX_LISTED, pages: 640, bytes: 256 * MiB },
  assets: { entries: MAX_LISTED, pages: 640, bytes: 8 * MiB },
  tags: { entries: MAX_LISTED, pages: 640, bytes: 8 * MiB },
} satisfies Record<string, ListingLimits>;

const mib = (n: number) => `${Math.round((n / MiB) * 10) / 10} MiB`;

/** One listing's pages, entries and bytes read so far, held to its limits. */
export class Listing {
  private bytes = 0;
  private pages = 0;
  private entries = 0;
  private readonly seen = new Set<string>();

  constructor(
    /** What is being listed, for messages: "listing releases of me/app". */
    readonly what: string,
    readonly limits: ListingLimits,
  ) {}

  private stop(why: string): OtaError {
    return new OtaError('listing_too_long', `${this.what}: ${why}; stopped`);
  }

  /**
   * One answer of the listing (a page, or an answer retried for it), read within `max` and what the
   * listing has left of its bytes; past its pages, the body is not read at all.
   */
  async read(res: Response, what: string, max: number): Promise<Buffer> {
    if (this.pages >= this.limits.pages) {
      await res.body?.cancel().catch(() => undefined);
      throw this.stop(`the host's listing goes on past ${this.limits.pages} pages`);
    }
    this.pages++;
    const left = this.limits.bytes - this.bytes;
    let body: Buffer;
    try {
      body = await readBounded(res, what, Math.min(max, left));
    } catch (err) {
      if (left < max && err instanceof OtaError && err.code === 'doc_too_large') {
        throw this.stop(
          `the host's pages add up to more than ${mib(this.limits.bytes)} (${this.limits.bytes} bytes, ` +
            `${this.pages} pages)`,
        );
      }
      throw err;
    }
    this.bytes += body.length;
    return body;
  }

  /** A page's entries, once its URL is known not to be one already read and within the entries. */
  take<T>(page: Page<T>): T[] {
    if (this.seen.has(page.url)) throw this.stop(`the host's next page is ${page.url} again (a loop)`);
    this.seen.add(page.url);
    this.entries += page.items.length;
    if (this.entries > this.limits.entries) {
      throw this.stop(`the host lists more than ${this.limits.entries} entries`);
    }
    return page.items;
  }
}

export interface Page<T> {
  /** The URL the page was read from (query included). */
  url: string;
  items: T[];
}

/** The items of every page, in order, within the listing's limits. */
export async function collectPages<T>(pages: AsyncIterable<Page<T>>, listing: Listing): Promise<T[]> {
  const out: T[] = [];
  for await (const page of pages) out.push(...listing.take(page));
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
 * reads bodies itself (Octokit reads a whole JSON answer into one string); with a `listing`, every
 * answer also counts against it (give such a fetch to nothing but that listing). The error is thrown
 * from the fetch call; the answer keeps its status, headers and URL (pagination compares URLs).
 */
export function boundedFetch(base: typeof fetch, max: number, listing?: Listing): typeof fetch {
  return async (input, init) => {
    const res = await base(input, init);
    if (!res.body || [204, 205, 304].includes(res.status)) return res;
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    const url = input instanceof Request ? input.url : String(input);
    const what = `${method} ${url}`;
    const body = listing ? await listing.read(res, what, max) : await readBounded(res, what, max);
    const out = new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
    Object.defineProperty(out, 'url', { value: res.url });
    return out;
  };
}
