import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** One request a receiver got, as the Standard Webhooks package verified it. */
export interface Received {
  path: string;
  id: string;
  timestamp: number;
  type: string;
  body: { type: string; timestamp: string; data: Record<string, unknown> & { id?: string; status?: string } };
  /** What the receiver answered (a status, or "hang" when it never did). */
  answered: number | 'hang';
  at: number;
}

/** What a path answers: a status, "hang" (no answer, ever), or a function deciding per request. */
export type Behaviour = number | 'hang' | ((r: Received, nth: number) => number | 'hang');

/**
 * A customer's webhook receiver: a local HTTP server that verifies every request with the
 * `standardwebhooks` package from npm (the specification's own implementation, not Gilfoyle's),
 * and answers per path as the test says. A request that fails verification fails the test.
 */
export async function startReceiver() {
  const secrets = new Map<string, string>();
  const behaviours = new Map<string, Behaviour>();
  const received: Received[] = [];
  const rejected: string[] = [];
  const hanging = new Set<ServerResponse>();
  let server: Server;
  let port = 0;

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      const raw = Buffer.concat(chunks).toString('utf8');
      const secret = secrets.get(path);
      let body: Received['body'];
      try {
        if (!secret) throw new Error(`no secret for ${path}`);
        body = new Webhook(secret).verify(raw, req.headers as Record<string, string>) as Received['body'];
      } catch (err) {
        rejected.push(`${path}: ${(err as Error).message}`);
        res.writeHead(400).end();
        return;
      }
      const r: Received = {
        path,
        id: String(req.headers['webhook-id']),
        timestamp: Number(req.headers['webhook-timestamp']),
        type: body.type,
        body,
        answered: 200,
        at: Date.now(),
      };
      const b = behaviours.get(path) ?? 200;
      const nth = received.filter((x) => x.path === path).length;
      r.answered = typeof b === 'function' ? b(r, nth) : b;
      received.push(r);
      if (r.answered === 'hang') {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      if (r.answered >= 300 && r.answered < 400) res.setHeader('location', `/redirected${path}`);
      res.writeHead(r.answered, { 'content-type': 'text/plain' }).end('x'.repeat(64 * 1024));
    });
  };

  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer(onRequest);
      server.listen(port, '127.0.0.1', () => {
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  await listen();

  return {
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    /** The secret an endpoint got (POST /webhooks), to verify what comes to `path`. */
    expect(path: string, secret: string, behaviour: Behaviour = 200) {
      secrets.set(path, secret);
      behaviours.set(path, behaviour);
    },
    answer(path: string, behaviour: Behaviour) {
      behaviours.set(path, behaviour);
    },
    received,
    rejected,
    at: (path: string) => received.filter((r) => r.path === path),
    /** Down: connections are refused until up(). */
    async down() {
      for (const res of hanging) res.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
    up: listen,
    async stop() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
