// A real web server for static releases: Debian's nginx on 127.0.0.1 with its own config in a temp
// folder (no root needed: pid, logs and the temp paths nginx compiles in under /var are all moved
// there). Everything that reaches the wire is Debian's nginx.conf and default site as a user gets them
// from `apt install nginx` (sendfile, tcp_nopush, mime.types with application/octet-stream by default,
// `gzip on` for text/html only, server_tokens, etag and Range at their defaults); only where nginx
// listens, what it serves and what it logs differ. Missing nginx skips the caller outside CI (one line
// why) and fails under CI=true.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { findTool, freePort, launch, missingService, onFreePorts } from './service';

/** Why nginx cannot run here, or undefined. Under CI=true a missing nginx is a failure. */
export function nginxMissing(): string | undefined {
  return missingService(['nginx']);
}

/** One request as nginx logged it. */
export interface NginxRequest {
  method: string;
  path: string;
  status: number;
  range: string;
  ifNoneMatch: string;
  /** Response body bytes sent ($body_bytes_sent). */
  bytes: number;
}

export interface Nginx {
  /** http://127.0.0.1:port */
  url: string;
  /** 127.0.0.1:port */
  host: string;
  /** Every request answered so far, in order, from nginx's access log. */
  requests(): NginxRequest[];
  close(): Promise<void>;
}

/** The path the start-up probe asks for (a 404), left out of requests(). */
const READY = '/.nginx-ready-probe';

/** The temp folders nginx keeps under /var/lib/nginx unless told otherwise (it creates them at start). */
const TEMPS = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'];

/** A path as an nginx string (a temp folder's name may hold anything a shell word can). */
const q = (p: string) => JSON.stringify(p);

/** Debian's /etc/nginx/nginx.conf and sites-available/default, as far as they reach the wire. */
function config(dir: string, root: string, port: number): string {
  return [
    'daemon off;',
    // Started as root (CI), workers switch to "nobody", who cannot read a private temp folder. Which
    // user reads the files changes nothing on the wire.
    ...(process.getuid?.() === 0 ? [`user ${userInfo().username};`] : []),
    // Debian: auto (one per core). One is enough for one board at a time and spares a shared machine.
    'worker_processes 1;',
    `pid ${q(join(dir, 'nginx.pid'))};`,
    'error_log stderr;',
    'events { worker_connections 768; }',
    'http {',
    '  sendfile on;',
    '  tcp_nopush on;',
    '  types_hash_max_size 2048;',
    '  include /etc/nginx/mime.types;',
    '  default_type application/octet-stream;',
    // The log the tests read (a format of their own; Debian logs "combined" to /var/log/nginx).
    '  log_format ota escape=json \'{"method":"$request_method","path":"$request_uri","status":$status,' +
      '"range":"$http_range","ifNoneMatch":"$http_if_none_match","bytes":$body_bytes_sent}\';',
    `  access_log ${q(join(dir, 'access.log'))} ota;`,
    '  gzip on;',
    ...TEMPS.map((n) => `  ${n}_temp_path ${q(join(dir, n))};`),
    '  server {',
    `    listen 127.0.0.1:${port} default_server;`,
    `    root ${q(root)};`,
    '    index index.html index.htm index.nginx-debian.html;',
    '    server_name _;',
    '    location / { try_files $uri $uri/ =404; }',
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Starts nginx serving `root` (e.g. a folder `publish --target folder` wrote). */
export async function startNginx(root: string): Promise<Nginx> {
  const bin = findTool('nginx');
  if (!bin) throw new Error(nginxMissing() ?? 'nginx is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'ota-nginx-'));
  const log = join(dir, 'access.log');
  try {
    const { service, port } = await onFreePorts(async () => {
      const port = await freePort();
      for (const n of TEMPS) mkdirSync(join(dir, n), { recursive: true });
      rmSync(join(dir, 'nginx.pid'), { force: true });
      writeFileSync(join(dir, 'nginx.conf'), config(dir, root, port));
      // nginx writes its pid file once its socket is bound: until then another process holding the
      // port could answer for it (a port it cannot bind, it retries for 2.5 s, then exits: PortLost).
      const service = await launch(bin, ['-p', dir, '-c', join(dir, 'nginx.conf')], async () => {
        if (!existsSync(join(dir, 'nginx.pid'))) throw new Error('no pid file yet');
        await fetch(`http://127.0.0.1:${port}${READY}`);
      });
      return { service, port };
    });
    return {
      url: `http://127.0.0.1:${port}`,
      host: `127.0.0.1:${port}`,
      requests: () =>
        existsSync(log)
          ? readFileSync(log, 'utf8')
              .split('\n')
              .filter(Boolean)
              .map((l) => JSON.parse(l) as NginxRequest)
              .filter((q) => q.path !== READY)
          : [],
      close: async () => {
        await service.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
