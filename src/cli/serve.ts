// `ota serve`: serves a published folder over HTTP for development and demos, logging bytes sent.
import { OtaError } from '../core/errors';
import { boardUrl } from '../core/local-host';
import { currentLatest } from '../core/publish/folder';
import { serveFolder } from '../core/publish/serve';
import { jsonOption, output, parseCommand, untilStopped } from './common';

const help = `usage: ota serve <dir> [--port <n>] [--host <addr>] [--json]

Serves <dir> (written by \`ota publish --target folder\`) with Range requests,
ETag / If-None-Match and gzip, and logs every request with the bytes sent.
Point boards at it with "source": "static", "url": "http://<this machine>:<port>".
Ctrl-C stops it and prints the total.

  --port <n>     port (default 8080; 0 picks a free one)
  --host <addr>  address to listen on (default 127.0.0.1; 0.0.0.0 for boards on the LAN)
  --json         one JSON line per request, and {"url"} first`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(
    argv,
    help,
    { ...jsonOption, port: { type: 'string' }, host: { type: 'string' } },
    true,
  );
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const dir = positionals[0];
  if (!dir) throw new OtaError('bad_option', 'which folder? usage: ota serve <dir> [--port <n>]');
  const port = Number(values.port ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new OtaError('bad_option', `--port must be 0-65535, not ${values.port}`);
  }
  const server = await serveFolder(dir, {
    port,
    host: values.host,
    onRequest: (r) =>
      output(values.json, r, () =>
        console.log(
          `${r.method} ${r.path} ${r.status} ${r.bytes} B${r.gzip ? ' gzip' : ''}${r.range ? ` ${r.range}` : ''}`,
        ),
      ),
  });
  // A folder with no latest.json (the project itself, a typo) offers boards nothing: say so now.
  const latest = await currentLatest(dir).catch(() => undefined);
  // On every interface, the URL for a board's config is this computer's address, not 0.0.0.0.
  const everywhere = values.host === '0.0.0.0' || values.host === '::';
  const where = everywhere ? `${server.url}, for boards at ${boardUrl('0.0.0.0', server.port)}` : server.url;
  output(values.json, { url: server.url }, () =>
    console.log(`serving ${dir} at ${where}${latest ? `: latest.json offers ${latest}` : ''} (Ctrl-C stops)`),
  );
  if (!latest)
    console.error(
      `ota: ${dir} holds no latest.json, so boards find no release here: serve the folder that ` +
        '`ota publish --target folder --dir <folder>` wrote (serving this one as it is)',
    );
  if (!values.json && server.url.startsWith('http://127.'))
    console.error(
      'ota: on 127.0.0.1, only this computer (and the virtual board) reaches it: for boards on Wi-Fi, ' +
        "--host 0.0.0.0 and this computer's address in their ota_config.json",
    );
  await untilStopped(undefined);
  await server.close();
  const requests = server.requests.length;
  output(values.json, { bytesSent: server.bytesSent, requests }, () =>
    console.log(`\n${requests} requests, ${server.bytesSent} bytes sent`),
  );
  return 0;
}
