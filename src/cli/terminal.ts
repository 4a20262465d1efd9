// Everything the CLI prints passes through core's terminalSafe: board output (`ota watch`, `ota exec`),
// a board's version strings and file names, and error texts that quote a board or a server.
import { StringDecoder } from 'node:string_decoder';
import { terminalSafe } from '../core/printable';

/** Makes every later write to `stream` terminal-safe (UTF-8 split across Buffer writes stays whole). */
export function guardOutput(stream: NodeJS.WriteStream): void {
  const decoder = new StringDecoder('utf8');
  const write = stream.write.bind(stream) as (chunk: string, ...rest: unknown[]) => boolean;
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) =>
    write(
      terminalSafe(typeof chunk === 'string' ? chunk : decoder.write(Buffer.from(chunk))),
      ...rest,
    )) as typeof stream.write;
}
