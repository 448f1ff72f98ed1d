// The delivery loop's bookkeeping on a real (in-memory PGlite) outbox with an injected clock:
// backoff doubles up to its cap, a delivery is given up (failed) after giveUpMs and the next one
// of its endpoint goes on; a missing secret is a failed attempt, never an unsigned delivery.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/store.ts';
import { backoffMs } from '../core/notify/notifications.ts';
import { Notifier, signBody } from './notifier.ts';

let store: Store;
let server: Server;
let base = '';
let status = 500;
const got: { id: string; sig: string | undefined }[] = [];
beforeAll(async () => {
  store = await openStore({ memory: true });
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      got.push({ id: String(req.headers['x-sluice-delivery']), sig: req.headers['x-sluice-signature'] as string | undefined });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await store.close();
});

const log = { info() {}, warn() {} };

describe('backoffMs', () => {
  it('doubles from the base up to the cap', () => {
    expect([1, 2, 3, 4, 9, 10, 50].map((n) => backoffMs(n))).toEqual([1000, 2000, 4000, 8000, 256_000, 300_000, 300_000]);
  });
});

describe('Notifier', () => {
  it('retries with backoff, gives up after giveUpMs, then the next delivery of the endpoint goes on', async () => {
    let now = 1_000_000;
    const n = new Notifier({ store, log, now: () => now, endpoints: [{ url: `${base}/a`, format: 'json', secret: 's3cret' }], giveUpMs: 60_000, backoffBaseMs: 1000, backoffMaxMs: 4000, timeoutMs: 2000 });
    const rows = n.forEvent({ event: 'drift.found', at: now, rollout: null, host: 'h1', message: 'first' });
    const rows2 = n.forEvent({ event: 'drift.found', at: now, rollout: null, host: 'h1', message: 'second' });
    await store.enqueueNotifications([...rows, ...rows2]);
    const first = rows[0]!.id;
    const settle = async () => {
      await n.poll();
      await Promise.all([...(n as unknown as { inflight: Set<Promise<void>> }).inflight]);
    };
    const mine = async () => (await store.listNotifications({ limit: 100 })).filter((r) => r.endpoint === `${base}/a`);
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      await settle();
      const head = (await mine()).find((r) => r.id === first)!;
      delays.push(head.nextAttemptAt - now);
      now = head.nextAttemptAt;
    }
    expect(delays).toEqual([1000, 2000, 4000, 4000]); // capped
    // Only the head was ever tried: in order per endpoint.
    expect(new Set(got.map((g) => g.id))).toEqual(new Set([first]));
    expect(got[0]!.sig).toBe(signBody('s3cret', rows[0]!.body));
    now = 1_000_000 + 60_000;
    await settle();
    expect((await mine()).find((r) => r.id === first)).toMatchObject({ state: 'failed', attempts: 5, lastError: 'HTTP 500', lastStatus: 500 });
    status = 200;
    await settle();
    expect((await mine()).find((r) => r.id === rows2[0]!.id)).toMatchObject({ state: 'delivered', attempts: 1, lastStatus: 200, deliveredAt: now });
  });

  it('a secretEnv that is not set fails the attempt; nothing unsigned is sent', async () => {
    const now = 2_000_000;
    const n = new Notifier({ store, log, now: () => now, env: {}, endpoints: [] });
    const [row] = n.forTransition(
      { id: 'r1', name: 'p', state: 'running', nextSpec: 0, failedTotal: 0, reason: null, createdAt: now, updatedAt: now },
      { name: 'p', notify: [{ url: `${base}/b`, format: 'json', secretEnv: 'NOPE_NOT_SET' }] } as never,
      [{ type: 'log', kind: 'wave.started', message: 'wave w started', wave: 'w' }, { type: 'log', kind: 'host.failed', message: 'not an event' }],
      now,
    );
    expect(row).toMatchObject({ endpoint: `${base}/b`, secretRef: 'env:NOPE_NOT_SET', event: 'wave.started' });
    expect(JSON.parse(row!.body)).toEqual({ version: 1, id: row!.id, event: 'wave.started', at: new Date(now).toISOString(), rollout: { id: 'r1', name: 'p', state: 'running' }, wave: 'w', message: 'wave w started' });
    await store.enqueueNotifications([row!]);
    const before = got.length;
    await n.poll();
    await Promise.all([...(n as unknown as { inflight: Set<Promise<void>> }).inflight]);
    expect(got.length).toBe(before);
    const stored = (await store.listNotifications({ limit: 100 })).find((r) => r.id === row!.id);
    expect(stored).toMatchObject({ state: 'pending', attempts: 1, lastError: 'the environment variable NOPE_NOT_SET (secretEnv) is not set on the server' });
  });
});
