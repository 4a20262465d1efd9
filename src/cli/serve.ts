// `ota serve`: serves a published folder over HTTP for development and demos, logging bytes sent.
import { parseArgs } from 'node:util';
import { OtaError } from '../core/errors';
import { serveFolder } from '../core/publish/serve';

export const summary = 'serve a published folder over HTTP (Range, ETag, gzip) for development';

const help = `usage: ota serve <dir> [--port <n>] [--host <addr>] [--json]

Serves <dir> (written by \`ota publish --target folder\`) with Range requests,
ETag / If-None-Match and gzip, and logs every request with the bytes sent.
Point boards at it with "source": "static", "url": "http://<this machine>:<port>".
Ctrl-C stops it and prints the total.

  --port <n>     port (default 8080; 0 picks a free one)
  --host <addr>  address to listen on (default 127.0.0.1; 0.0.0.0 for boards on the LAN)
  --json         one JSON line per request, and {"url"} first`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(help);
    return 0;
  }
  const dir = positionals[0];
  if (!dir) throw new OtaError('bad-option', 'which folder? usage: ota serve <dir> [--port <n>]');
  const port = Number(values.port ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new OtaError('bad-option', `--port must be 0-65535, not ${values.port}`);
  }
  const server = await serveFolder(dir, {
    port,
    host: values.host,
    onRequest: (r) => {
      if (values.json) console.log(JSON.stringify(r));
      else
        console.log(
          `${r.method} ${r.path} ${r.status} ${r.bytes} B${r.gzip ? ' gzip' : ''}${r.range ? ` ${r.range}` : ''}`,
        );
    },
  });
  if (values.json) console.log(JSON.stringify({ url: server.url }));
  else console.log(`serving ${dir} at ${server.url} (Ctrl-C stops)`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  if (values.json)
    console.log(JSON.stringify({ bytesSent: server.bytesSent, requests: server.requests.length }));
  else console.log(`\n${server.requests.length} requests, ${server.bytesSent} bytes sent`);
  return 0;
}
