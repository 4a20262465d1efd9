// A fetch that revalidates with If-None-Match: GitHub answers an unchanged list with
// 304, which does not count against the rate limit, so periodic checks stay cheap. What it keeps is
// read within `max` bytes (core/pages.ts); the caller bounds its own documents tighter.
import { MAX_API_ANSWER, readBounded } from './pages';

interface Cached {
  etag: string;
  body: ArrayBuffer;
  headers: [string, string][];
}

export interface EtagFetch {
  fetch: typeof fetch;
  /** Answers served from the cache after a 304 (for tests and the log). */
  readonly hits: number;
}

export function etagFetch(max = MAX_API_ANSWER): EtagFetch {
  const cache = new Map<string, Cached>();
  let hits = 0;
  const cachingFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    if (request.method !== 'GET') return fetch(request);
    const key = request.url + '\n' + (request.headers.get('authorization') ?? '');
    const cached = cache.get(key);
    if (cached) request.headers.set('if-none-match', cached.etag);
    const res = await fetch(request);
    if (res.status === 304 && cached) {
      hits++;
      return new Response(cached.body.slice(0), { status: 200, headers: cached.headers });
    }
    const etag = res.headers.get('etag');
    if (res.ok && etag) {
      const bytes = await readBounded(res, `GET ${request.url}`, max);
      const body = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
      const headers = [...res.headers.entries()];
      cache.set(key, { etag, body, headers });
      return new Response(body.slice(0), { status: res.status, headers });
    }
    return res;
  };
  return {
    fetch: cachingFetch as typeof fetch,
    get hits() {
      return hits;
    },
  };
}
