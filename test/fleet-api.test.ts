// Large fleets through the HTTP API, on PGlite and on PostgreSQL: hosts and a rollout's steps as
// keyset-paged, filtered lists (a cursor walk sees every row exactly once), summaries (counts by
// status, label, wave and state), a large rollout that no longer embeds every host, and bad query
// parameters answered with 400 and a message that names them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../src/server/start-server.ts';
import { silentLogger } from '../src/server/logger.ts';
import type { StepStatus } from '../src/core/types.ts';
import { EMBED_STEPS_MAX } from '../src/server/rollout-summary.ts';
import { postgresTestDatabase, type PostgresTestDatabase } from './helpers/postgres.ts';
import { HOSTS, PLAN, hostName, seedHosts as seed, seedRollout } from './helpers/fleet-seed.ts';
import { parseRetention } from '../src/server/retention.ts';

interface Rig {
  server: RunningServer;
  get(path: string): Promise<{ status: number; json: any }>;
}

function runFleetApi(name: string, open: () => Promise<{ server: RunningServer; cleanup: () => Promise<void> } | null>): void {
  describe(name, () => {
    let rig: Rig | null = null;
    let cleanup: (() => Promise<void>) | null = null;

    beforeAll(async () => {
      const opened = await open();
      if (!opened) return;
      cleanup = opened.cleanup;
      const server = opened.server;
      const get = async (path: string) => {
        const res = await fetch(server.url + path, { headers: { authorization: `Bearer ${server.adminToken}` } });
        return { status: res.status, json: await res.json() };
      };
      rig = { server, get };
      await seed(server);
      await seedRollout(server, 'r_fl_small', [hostName(1), hostName(2), hostName(3)], () => 'applying');
    }, 60_000);
    afterAll(async () => {
      await rig?.server.close();
      await cleanup?.();
    });

    async function walk(path: string, limit: number): Promise<{ names: string[]; pages: number }> {
      const names: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const sep = path.includes('?') ? '&' : '?';
        const res = await rig!.get(`${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        expect(res.status, JSON.stringify(res.json)).toBe(200);
        expect(res.json.hosts.length).toBeLessThanOrEqual(limit);
        names.push(...res.json.hosts.map((h: { name: string }) => h.name));
        cursor = res.json.nextCursor;
        pages += 1;
      } while (cursor !== null && pages < 1000);
      return { names, pages };
    }

    it('walks every host exactly once, in name order, page by page', async () => {
      const { names, pages } = await walk('/v1/hosts?facts=false', 17);
      expect(names).toEqual(Array.from({ length: HOSTS }, (_, i) => hostName(i)));
      expect(pages).toBe(Math.ceil(HOSTS / 17));
      // a page that ends exactly at the last host says so
      const all = await rig!.get(`/v1/hosts?limit=${HOSTS}`);
      expect(all.json.hosts).toHaveLength(HOSTS);
      expect(all.json.nextCursor).toBeNull();
      expect(all.json.hosts[1].facts).toEqual({ allow: ['command'], kernel: '6.8' });
      const lean = await rig!.get('/v1/hosts?limit=1&facts=false');
      expect(lean.json.hosts[0].facts).toEqual({ allow: ['command'] });
    });

    it('filters by labels and status, combined, across pages', async () => {
      const expected = (pred: (i: number) => boolean) => Array.from({ length: HOSTS }, (_, i) => i).filter(pred).map(hostName);
      expect((await walk('/v1/hosts?label=zone=b', 10)).names).toEqual(expected((i) => i % 3 === 1));
      expect((await walk('/v1/hosts?label=zone=b&label=env=prod', 4)).names).toEqual(expected((i) => i % 3 === 1 && i % 2 === 0));
      expect((await walk('/v1/hosts?status=offline', 7)).names).toEqual(expected((i) => i % 5 === 0));
      expect((await walk('/v1/hosts?status=online&label=zone=a&label=role=web', 5)).names).toEqual(expected((i) => i % 5 !== 0 && i % 3 === 0 && i % 10 !== 0));
      const page = await rig!.get('/v1/hosts?status=offline&limit=3');
      expect(page.json.hosts.every((h: { status: string }) => h.status === 'offline')).toBe(true);
      expect((await rig!.get('/v1/hosts?label=zone=nowhere')).json).toEqual({ hosts: [], nextCursor: null });
    });

    it('counts hosts by status, and by a label key, under a label filter', async () => {
      const all = await rig!.get('/v1/hosts/summary');
      expect(all.status).toBe(200);
      expect(all.json).toMatchObject({ total: HOSTS, online: HOSTS - 26, offline: 26 });
      expect(all.json.by).toBeUndefined();
      const byZone = await rig!.get('/v1/hosts/summary?by=zone&label=env=prod');
      expect(byZone.json).toMatchObject({ total: 65, labels: { env: 'prod' } });
      const zoneOf = (v: string) => byZone.json.by.values.find((x: { value: string }) => x.value === v);
      // prod hosts (even i) in zone a: i % 6 === 0 -> 22 hosts, offline when i % 10 === 0 too -> 5 of them
      expect(zoneOf('a')).toEqual({ value: 'a', total: 22, online: 17, offline: 5 });
      expect(byZone.json.by.values.reduce((n: number, v: { total: number }) => n + v.total, 0)).toBe(65);
      expect(byZone.json.by.truncated).toBe(false);
      const byRole = await rig!.get('/v1/hosts/summary?by=role');
      // hosts without the label are one group, value null
      expect(byRole.json.by.values).toEqual([
        { value: 'web', total: 117, online: 104, offline: 13 },
        { value: null, total: 13, online: 0, offline: 13 },
      ]);
    });

    it('refuses bad query parameters with 400 naming them', async () => {
      const bad: [string, RegExp][] = [
        ['/v1/hosts?limit=0', /limit must be at least 1/],
        ['/v1/hosts?limit=5001', /limit is at most 5000/],
        ['/v1/hosts?limit=ten', /limit/],
        ['/v1/hosts?status=asleep', /status is online or offline/],
        ['/v1/hosts?label=zone', /label filters are KEY=VALUE/],
        ['/v1/hosts?label=zone=a&label=zone=b', /filtered on twice/],
        ['/v1/hosts?label=bad%20key=x', /label keys are/],
        ['/v1/hosts?cursor=bm9wZQ', /cursor is not one this server gave out/],
        ['/v1/hosts?cursor=%25%25%25', /cursor is not one this server gave out/],
        ['/v1/hosts?lables=zone=a', /lables/],
        ['/v1/hosts/summary?by=no%20spaces', /by is a label key/],
        ['/v1/rollouts/r_fl_missing/hosts?state=broken', /state is a comma-separated list/],
      ];
      for (const [path, message] of bad) {
        const res = await rig!.get(path);
        expect(res.status, path).toBe(400);
        expect(res.json.error.code, path).toBe('invalid');
        expect(res.json.error.message, path).toMatch(message);
      }
      // a step cursor is not a host cursor
      const stepCursor = (await rig!.get('/v1/rollouts/r_fl_small/hosts?limit=1')).json.nextCursor;
      expect((await rig!.get(`/v1/hosts?cursor=${stepCursor}`)).status).toBe(400);
      expect((await rig!.get('/v1/rollouts/r_fl_small/hosts?wave=nope')).json.error.message).toMatch(/no wave "nope"; its waves are canary, rest/);
      expect((await rig!.get('/v1/rollouts/r_fl_missing/hosts')).status).toBe(404);
      expect((await rig!.get('/v1/rollouts/r_fl_missing/summary')).status).toBe(404);
    });

    it("pages a large rollout's steps by wave and state, and summarises it; GET /v1/rollouts/:id stops embedding hosts", async () => {
      // 1,200 steps: more than GET /v1/rollouts/:id embeds. Hosts need not be enrolled for steps.
      const hosts = Array.from({ length: EMBED_STEPS_MAX + 200 }, (_, i) => `big-${String(i).padStart(5, '0')}`);
      const stateOf = (i: number): StepStatus => (i % 100 === 0 ? 'failed' : i % 7 === 0 ? 'applying' : 'healthy');
      await seedRollout(rig!.server, 'r_fl_big', hosts, stateOf);

      const { names } = await walk('/v1/rollouts/r_fl_big/hosts', 333);
      expect(names).toEqual(hosts); // wave 0 (the first host) then wave 1, by name: each once
      const failed = await walk('/v1/rollouts/r_fl_big/hosts?state=failed,silent', 5);
      expect(failed.names).toEqual(hosts.filter((_, i) => i > 0 && i % 100 === 0));
      const rest = await rig!.get('/v1/rollouts/r_fl_big/hosts?wave=rest&state=applying&limit=2');
      expect(rest.json.hosts).toEqual([
        { name: 'big-00007', wave: 'rest', waveIndex: 1, state: 'applying', attempt: 1, message: null, updatedAt: expect.any(Number) },
        { name: 'big-00014', wave: 'rest', waveIndex: 1, state: 'applying', attempt: 1, message: null, updatedAt: expect.any(Number) },
      ]);
      expect((await rig!.get('/v1/rollouts/r_fl_big/hosts?wave=0')).json.hosts.map((h: { name: string }) => h.name)).toEqual(['big-00000']);

      const summary = await rig!.get('/v1/rollouts/r_fl_big/summary');
      expect(summary.status).toBe(200);
      const applying = hosts.filter((_, i) => i > 0 && i % 100 !== 0 && i % 7 === 0).length;
      expect(summary.json).toMatchObject({ id: 'r_fl_big', state: 'running', hostsTotal: 1200 });
      expect(summary.json.counts).toMatchObject({ failed: 11, applying, healthy: 1200 - 11 - applying, silent: 0 });
      expect(summary.json.waves.map((w: any) => [w.name, w.hostCount, w.counts.failed])).toEqual([
        ['canary', 1, 0],
        ['rest', 1199, 11],
      ]);

      const view = await rig!.get('/v1/rollouts/r_fl_big');
      expect(view.status).toBe(200);
      expect(view.json).toMatchObject({ hostsTotal: 1200, hostsIncluded: false });
      expect(view.json.waves.map((w: any) => [w.name, w.hosts.length, w.hostCount, w.counts.failed])).toEqual([
        ['canary', 0, 1, 0],
        ['rest', 0, 1199, 11],
      ]);
      // a small rollout still embeds its hosts, with the counts alongside
      const small = await rig!.get('/v1/rollouts/r_fl_small');
      expect(small.json).toMatchObject({ hostsTotal: 3, hostsIncluded: true });
      expect(small.json.waves.map((w: any) => [w.hosts.length, w.counts.applying])).toEqual([
        [1, 0],
        [2, 2],
      ]);
    });

    it('needs the admin token on every new route', async () => {
      for (const path of ['/v1/hosts', '/v1/hosts/summary', '/v1/rollouts/r_fl_big/hosts', '/v1/rollouts/r_fl_big/summary']) {
        const res = await fetch(rig!.server.url + path);
        expect(res.status, path).toBe(401);
        const asEnroll = await fetch(rig!.server.url + path, { headers: { authorization: `Bearer ${rig!.server.enrollToken}` } });
        expect(asEnroll.status, path).toBe(403);
      }
    });
  });
}

runFleetApi('fleet API on PGlite', async () => ({
  server: await startServer({ listen: '127.0.0.1:0', memory: true, log: silentLogger() }),
  cleanup: async () => {},
}));

const pgProbe = await postgresTestDatabase();
await pgProbe?.cleanup();
describe.skipIf(pgProbe === null)('on PostgreSQL', () => {
  runFleetApi('fleet API on PostgreSQL', async () => {
    const db: PostgresTestDatabase | null = await postgresTestDatabase();
    if (!db) return null;
    const server = await startServer({ listen: '127.0.0.1:0', databaseUrl: db.url, log: silentLogger() }).catch(async (err: unknown) => {
      await db.cleanup();
      throw err;
    });
    return { server, cleanup: () => db.cleanup() };
  });
});

describe('retention in the server', () => {
  it('purges the events of a rollout finished longer ago than --retain-finished, periodically; an active one keeps them', async () => {
    const server = await startServer({ listen: '127.0.0.1:0', memory: true, log: silentLogger(), retainFinishedMs: 60_000, retentionIntervalMs: 100 });
    try {
      const long = Date.now() - 3_600_000;
      for (const [id, state] of [['r_ret_done', 'completed'], ['r_ret_active', 'running']] as const) {
        const record = { id, name: 'p', state: 'running' as const, nextSpec: 0, failedTotal: 0, reason: null, heldReason: null, revertedHosts: 0, skippedHosts: 0, createdAt: long, updatedAt: long };
        await server.store.createRollout(record, PLAN, 'name: p\n', { kind: 'created', message: 'seeded' });
        await server.store.persistTransition({ rolloutId: id, at: long, event: { kind: 'report.apply', message: 'x' }, effects: [{ type: 'rollout', rollout: { ...record, state } }], reportId: `${id}-report`, reportHost: 'h' });
      }
      const deadline = Date.now() + 20_000;
      while ((await server.store.listEvents('r_ret_done')).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await server.store.listEvents('r_ret_done')).toEqual([]);
      expect(await server.store.hasReport('h', 'r_ret_done-report')).toBe(false);
      expect(await server.store.listEvents('r_ret_active')).toHaveLength(2);
      expect(await server.store.hasReport('h', 'r_ret_active-report')).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('reads --retain-finished as a duration or off, and refuses anything else', () => {
    expect(parseRetention('30d')).toBe(30 * 86_400_000);
    expect(parseRetention('12h')).toBe(12 * 3_600_000);
    expect(parseRetention('off')).toBeNull();
    for (const bad of ['0', '30', '-1d', 'forever', '']) expect(() => parseRetention(bad), bad).toThrow(/--retain-finished takes a duration/);
  });
});
