// A fetch that revalidates with If-None-Match: GitHub answers an unchanged list with
// 304, which does not count against the rate limit, so periodic checks stay cheap. What it keeps is
// read within `max` bytes (core/pages.ts); the caller bounds its own documents tighter. The cache
// lives as long as the editor, so it holds at most MAX_CACHED bytes, the oldest answers going first:
// a host naming a new page URL on every check cannot grow it.
import { MAX_API_ANSWER, readBounded } from './pages';

/**
 * The whole release listing of ~450 releases of 100 files, or ~7 000 of 5 (sizes in
 * docs/protocols.md); a larger listing is revalidated in part.
 */
export const MAX_CACHED = 64 * 1024 * 1024;

interface Cached {
  etag: string;
  body: ArrayBuffer;
  headers: [string, string][];
}

export interface EtagFetch {
  fetch: typeof fetch;
  /** Answers served from the cache after a 304 (for tests and the log). */
  readonly hits: number;
  /** Bytes of answers kept, at most MAX_CACHED. */
  readonly cachedBytes: number;
}

export function etagFetch(max = MAX_API_ANSWER): EtagFetch {
  const cache = new Map<string, Cached>();
  let hits = 0;
  let cachedBytes = 0;
  const forget = (key: string) => {
    cachedBytes -= cache.get(key)?.body.byteLength ?? 0;
    cache.delete(key);
  };
  const cachingFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    if (request.method !== 'GET') return fetch(request);
    const key = request.url + '\n' + (request.headers.get('authorization') ?? '');
    const cached = cache.get(key);
    if (cached) request.headers.set('if-none-match', cached.etag);
    const res = await fetch(request);
    if (res.status === 304 && cached) {
      hits++;
      cache.delete(key); // now the newest
      cache.set(key, cached);
      return new Response(cached.body.slice(0), { status: 200, headers: cached.headers });
    }
    const etag = res.headers.get('etag');
    if (res.ok && etag) {
      const bytes = await readBounded(res, `GET ${request.url}`, max);
      const body = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
      const headers = [...res.headers.entries()];
      forget(key);
      if (body.byteLength <= MAX_CACHED) {
        // A Map iterates in insertion order: the first keys are the oldest.
        for (const old of cache.keys()) {
          if (cachedBytes + body.byteLength <= MAX_CACHED) break;
          forget(old);
        }
        cache.set(key, { etag, body, headers });
        cachedBytes += body.byteLength;
      }
      return new Response(body.slice(0), { status: res.status, headers });
    }
    return res;
  };
  return {
    fetch: cachingFetch as typeof fetch,
    get hits() {
      return hits;
    },
    get cachedBytes() {
      return cachedBytes;
    },
  };
}
