// Another origin, for tests of where credentials go (test/host-attack-credentials*.test.ts): a server
// on this machine that logs every request with the Authorization it carried, and answers as told.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A server on another origin: it logs each request with the Authorization it carried. */
export interface Elsewhere {
  url: string;
  got: { method: string; path: string; authorization?: string }[];
  answer: (req: IncomingMessage, res: ServerResponse) => void;
  close(): Promise<void>;
}

export async function elsewhere(host = '127.0.0.1'): Promise<Elsewhere> {
  const e = {
    got: [],
    answer: (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('[]');
    },
  } as unknown as Elsewhere;
  const server: Server = createServer((req, res) => {
    e.got.push({ method: req.method ?? '', path: req.url ?? '', authorization: req.headers.authorization });
    req.resume();
    e.answer(req, res);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  e.url = `http://${host}:${(server.address() as AddressInfo).port}`;
  e.close = () => new Promise((r) => server.close(() => r()));
  return e;
}
