// Paged listings from a host (GitHub's releases, a registry's tags) are read to an end the host
// cannot move: a "next" link back to a page already read, or more entries than any real project
// has, stops with 'listing_too_long' instead of reading forever.
import { OtaError } from './errors';

/** More releases or tags than this is a hostile or broken host, not a project. */
export const MAX_LISTED = 10_000;

export interface Page<T> {
  /** The URL the page was read from (query included). */
  url: string;
  items: T[];
}

/** The items of every page, in order, within MAX_LISTED and without a page read twice. */
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

/** A JSON document from a host (a tag list, an image manifest, a token) is never near this. */
export const MAX_DOCUMENT = 4 * 1024 * 1024;

/** The body of `res`, read until `max` bytes and no further ('doc_too_large' past it). */
export async function readBounded(res: Response, what: string, max = MAX_DOCUMENT): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  if (!res.body) return Buffer.alloc(0);
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > max) {
      await res.body.cancel().catch(() => undefined);
      throw new OtaError('doc_too_large', `${what}: the answer is larger than ${max} bytes; stopped`);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}
