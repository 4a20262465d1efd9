/**
 * Serving releases from this computer: which address a board reaches it at. The virtual board
 * shares this machine's network (127.0.0.1); a board on Wi-Fi needs the computer's LAN address,
 * and the server must listen on every interface for it.
 *
 *   lanAddress()                                // '192.168.1.20' or undefined (no LAN)
 *   listenPlan('http://127.0.0.1:8123')         // { host: '127.0.0.1', port: 8123 }
 *   listenPlan('http://192.168.1.20:8123')      // { host: '0.0.0.0', port: 8123 } (when that is us)
 *   listenPlan('https://releases.example.com')  // undefined: not this computer
 */
import { networkInterfaces } from 'node:os';

/** This computer's loopback (127.0.0.0/8, ::1, localhost): a credential sent here over http:// stays on it. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** This computer's first non-internal IPv4 address. */
export function lanAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

function ownAddresses(): Set<string> {
  const out = new Set(['127.0.0.1', 'localhost', '[::1]']);
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address);
  return out;
}

/** Where to listen so that `url` reaches this computer; undefined when `url` is another machine's. */
export function listenPlan(url: string | undefined): { host: string; port: number } | undefined {
  if (!url) return undefined;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' || !ownAddresses().has(u.hostname)) return undefined;
  const port = Number(u.port || 80);
  return { host: isLoopbackHost(u.hostname) ? '127.0.0.1' : '0.0.0.0', port };
}

/** The URL a board uses for a server listening on `host`:`port`. */
export function boardUrl(host: string, port: number): string {
  return `http://${host === '0.0.0.0' ? (lanAddress() ?? '127.0.0.1') : host}:${port}`;
}

/**
 * Why a board cannot reach `url`, or undefined: a loopback address (127.0.0.1, localhost) is the
 * board itself, unless the board runs on this computer (the virtual board, platform "webassembly").
 * `serve` says, in the caller's words, how to serve releases on the network.
 */
export function loopbackForBoard(url: unknown, boardPlatform: string, serve: string): string | undefined {
  if (typeof url !== 'string' || boardPlatform === 'webassembly') return undefined;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (!isLoopbackHost(u.hostname)) return undefined;
  const lan = lanAddress();
  const port = u.port ? `:${u.port}` : '';
  return (
    `${url} is the board itself on ${/^[aeiou]/.test(boardPlatform) ? 'an' : 'a'} ${boardPlatform} board, not this computer: write ` +
    `${lan ? `http://${lan}${port}` : "this computer's LAN address"} in the config, and ${serve}`
  );
}
