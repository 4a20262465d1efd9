// Counting a virtual board's TCP connections at the servers of this test process (docs/protocols.md,
// "Connection reuse"): every socket a server accepted, by the server's port, and a probe the board
// asks, after update() or check() returned, how many of its connections are still open.
import { subscribe } from 'node:diagnostics_channel';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** Every TCP connection a server of this process accepted, by the server's port. */
const accepted = new Map<number, Socket[]>();
subscribe('net.server.socket', (m) => {
  const s = (m as { socket: Socket }).socket;
  accepted.set(s.localPort!, [...(accepted.get(s.localPort!) ?? []), s]);
});

export const portOf = (url: string): number => Number(new URL(url).port);
/** Connections accepted so far on these ports. */
export const opened = (ports: number[]): number =>
  ports.reduce((n, p) => n + (accepted.get(p)?.length ?? 0), 0);
/** Connections on these ports that neither side has closed. */
export const stillOpen = (ports: number[]): number =>
  ports.reduce(
    (n, p) => n + (accepted.get(p) ?? []).filter((s) => !s.destroyed && !s.readableEnded).length,
    0,
  );

/**
 * A server the board asks (GET /open?p=<ports>) how many of its connections to the servers under
 * test are still open. The answer waits up to 2 s for them to close, so only a socket the board kept
 * open (it is blocked in this very request) is counted.
 */
export async function startOpenProbe(): Promise<{ port: number; close: () => Promise<void> }> {
  const probe = createServer((req, res) => {
    const ports = (new URL(req.url ?? '/', 'http://x').searchParams.get('p') ?? '').split(',').map(Number);
    const t0 = Date.now();
    const answer = () => {
      const n = stillOpen(ports);
      if (n && Date.now() - t0 < 2000) return void setTimeout(answer, 20);
      res.writeHead(200, { 'content-length': String(String(n).length) });
      res.end(String(n));
    };
    answer();
  });
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  return {
    port: (probe.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => probe.close(() => r())),
  };
}

/** Board code: the update (or `call`), then the probe's count of the board's open connections. */
export function probeCode(
  probePort: number,
  ports: number[],
  opts: { keep?: boolean; call?: string } = {},
): string {
  return [
    'import ota, ota.http',
    opts.keep === false ? 'ota.http.KEEP = False' : '',
    `print("RET", ${opts.call ?? 'ota.update(False)'})`,
    `r = ota.http.request("http://127.0.0.1:${probePort}/open?p=${ports.join(',')}")`,
    'with r:',
    '    print("OPEN", r.read_all(16).decode())',
    '',
  ].join('\n');
}
