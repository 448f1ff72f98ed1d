// The store contract: one suite, run on every driver (PGlite in a data dir, PostgreSQL), in the
// style of hono's common.case.test.ts. Whatever the engine and the server rely on is asserted here.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { Plan, RolloutRecord, RolloutStatus, StepRecord, StepStatus, WaveRecord } from '../src/core/types.ts';
import { ROLLOUT_STATES } from '../src/core/types.ts';
import type { RolloutEffect } from '../src/core/rollout/types.ts';
import { ConflictError, NotFoundError, UnavailableError } from '../src/core/errors.ts';
import type { AuditInput, HostRow, Store } from '../src/store/store.ts';
import { EnrollTokenRefusedError, HostNameTakenError } from '../src/store/store.ts';
import { openStore } from '../src/store/open-store.ts';
import { loadMigrations, migrate } from '../src/store/migrate.ts';
import { createPostgresSql } from '../src/store/postgres.ts';
import { createPgliteSql } from '../src/store/pglite.ts';
import { createSqlStore } from '../src/store/sql-store.ts';
import { postgresTestDatabase } from './helpers/postgres.ts';

interface StoreHarness {
  /** A migrated store on this harness's database; every call reaches the same data. */
  open(): Promise<Store>;
  cleanup(): Promise<void>;
}

const PLAN: Plan = {
  name: 'flag-on',
  change: { kind: 'command', apply: ['/usr/local/bin/flag', 'on'], rollback: ['/usr/local/bin/flag', 'off'], timeout: 60_000 },
  hosts: { match: { os: 'ubuntu-22.04', env: ['staging', 'prod'] } },
  waves: [
    { name: 'canary', size: { count: 1 }, spread: ['provider'], bake: 1_800_000, approve: false },
    { name: 'prod', match: { env: 'prod' }, each: 'zone', limit: 1, parallel: { percent: 10 }, bake: 86_400_000, approve: true },
  ],
  checks: [{ kind: 'command', name: 'flag-is-on', command: ['test', '-f', '/run/flag'], timeout: 10_000 }],
  checkInterval: 10_000,
  budget: { failedPerWave: { count: 0 }, failedTotal: { percent: 5 }, silentAfter: 60_000 },
  onFailure: 'rollback',
  preflight: 'warn',
  confirmWindow: 60_000,
};

let uniq = 0;
function nextId(prefix: string): string {
  uniq += 1;
  return `${prefix}-${uniq}`;
}

function rolloutRecord(id: string, state: RolloutStatus, createdAt: number, extra: Partial<RolloutRecord> = {}): RolloutRecord {
  return { id, name: 'flag-on', state, nextSpec: 0, failedTotal: 0, reason: null, heldReason: null, revertedHosts: 0, skippedHosts: 0, createdAt, updatedAt: createdAt, ...extra };
}

function wave(rolloutId: string, index: number, extra: Partial<WaveRecord> = {}): WaveRecord {
  return {
    rolloutId,
    index,
    name: `wave-${index}`,
    specIndex: index,
    state: 'applying',
    hostCount: 1,
    failed: 0,
    startedAt: 1000,
    bakeStartedAt: null,
    finishedAt: null,
    ...extra,
  };
}

function step(rolloutId: string, host: string, state: StepStatus, extra: Partial<StepRecord> = {}): StepRecord {
  return { rolloutId, host, waveIndex: 0, state, attempt: 1, message: null, checkedAt: null, confirmedAt: null, rollbackAttempt: null, updatedAt: 1000, ...extra };
}

function auditInput(extra: Partial<AuditInput> = {}): AuditInput {
  return { at: 1000, actor: 'admin', role: 'admin', tokenId: null, action: 'rollout.start', target: null, sourceIp: null, result: 'ok', detail: null, ...extra };
}

async function createRollout(store: Store, id: string, state: RolloutStatus = 'pending', createdAt = 1000): Promise<void> {
  await store.createRollout(rolloutRecord(id, state, createdAt), PLAN, 'name: flag-on\n', { kind: 'created', message: `rollout ${id} created` });
}

function runStoreContract(name: string, makeHarness: () => Promise<StoreHarness | null>): void {
  describe(name, () => {
    let harness: StoreHarness | null = null;
    let store: Store;

    beforeAll(async () => {
      harness = await makeHarness();
      if (harness) store = await harness.open();
    });
    afterAll(async () => {
      await store?.close();
      await harness?.cleanup();
    });

    it('enrolls a host, finds it by credential, and re-enrolls it keeping enrolledAt', async () => {
      const host = nextId('web');
      const first = await store.enrollHost({ name: host, labels: { env: 'prod' }, facts: { os: 'ubuntu' }, credentialHash: `h-${host}-1`, now: 1000 });
      expect(first).toEqual({ name: host, labels: { env: 'prod' }, facts: { os: 'ubuntu' }, enrolledAt: 1000, lastSeen: 1000 });
      expect(await store.hostByCredentialHash(`h-${host}-1`)).toEqual(first);

      const again = await store.enrollHost({ name: host, labels: { env: 'staging' }, facts: { os: 'debian' }, credentialHash: `h-${host}-2`, presentedHash: `h-${host}-1`, now: 5000 });
      expect(again).toEqual({ name: host, labels: { env: 'staging' }, facts: { os: 'debian' }, enrolledAt: 1000, lastSeen: 5000 });
      // the old credential stops working once replaced
      expect(await store.hostByCredentialHash(`h-${host}-1`)).toBeNull();
      expect((await store.hostByCredentialHash(`h-${host}-2`))?.name).toBe(host);
      expect(await store.hostByCredentialHash('nobody')).toBeNull();
    });

    it('refuses one credential for two hosts', async () => {
      const a = nextId('dup');
      const b = nextId('dup');
      await store.enrollHost({ name: a, labels: {}, facts: {}, credentialHash: `same-${a}`, now: 1 });
      await expect(store.enrollHost({ name: b, labels: {}, facts: {}, credentialHash: `same-${a}`, now: 1 })).rejects.toBeInstanceOf(ConflictError);
    });

    it('refuses to re-enroll a name without its current credential; a reset lets the next enrollment in, once', async () => {
      const host = nextId('own');
      await store.enrollHost({ name: host, labels: { env: 'prod' }, facts: {}, credentialHash: `h-${host}-real`, now: 1000 });
      const impostor = { name: host, labels: { env: 'evil' }, facts: {}, credentialHash: `h-${host}-evil`, now: 2000 };
      await expect(store.enrollHost(impostor)).rejects.toBeInstanceOf(HostNameTakenError);
      await expect(store.enrollHost({ ...impostor, presentedHash: 'wrong' })).rejects.toBeInstanceOf(HostNameTakenError);
      // nothing changed: the real host still authenticates, labels intact
      expect(await store.hostByCredentialHash(`h-${host}-real`)).toMatchObject({ name: host, labels: { env: 'prod' } });
      expect(await store.hostByCredentialHash(`h-${host}-evil`)).toBeNull();

      expect(await store.resetHostCredential(host, 3000)).toBe(true);
      expect(await store.resetHostCredential(nextId('nobody'), 3000)).toBe(false);
      expect(await store.hostByCredentialHash(`h-${host}-real`)).toBeNull();
      // two racing enrollments of the reset name: exactly one wins
      const results = await Promise.allSettled([
        store.enrollHost({ name: host, labels: {}, facts: {}, credentialHash: `h-${host}-a`, now: 4000 }),
        store.enrollHost({ name: host, labels: {}, facts: {}, credentialHash: `h-${host}-b`, now: 4000 }),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(lost.reason).toBeInstanceOf(HostNameTakenError);
    });

    it('rotates a credential: the old one stays valid in its grace until the new one is confirmed', async () => {
      const host = nextId('rot');
      await store.enrollHost({ name: host, labels: {}, facts: {}, credentialHash: `h-${host}-1`, now: 1000 });
      expect(await store.rotateHostCredential({ name: host, presentedHash: 'wrong', newHash: `h-${host}-x`, graceUntil: 10_000, now: 2000 })).toBe(false);
      expect(await store.rotateHostCredential({ name: host, presentedHash: `h-${host}-1`, newHash: `h-${host}-2`, graceUntil: 10_000, now: 2000 })).toBe(true);
      expect(await store.hostByCredentialHash(`h-${host}-1`, 5000)).toMatchObject({ name: host, previousValidUntil: 10_000 });
      expect(await store.hostByCredentialHash(`h-${host}-2`, 5000)).toMatchObject({ name: host, rotationPending: true });
      expect(await store.hostByCredentialHash(`h-${host}-1`, 10_000)).toBeNull(); // grace over
      expect((await store.hostsByCredentialHashes([`h-${host}-1`, `h-${host}-2`], 5000)).size).toBe(2);
      // a lost answer: rotating again with the previous credential replaces the unused new one
      expect(await store.rotateHostCredential({ name: host, presentedHash: `h-${host}-1`, newHash: `h-${host}-3`, graceUntil: 20_000, now: 6000 })).toBe(true);
      expect(await store.hostByCredentialHash(`h-${host}-2`, 6000)).toBeNull();
      expect(await store.hostByCredentialHash(`h-${host}-1`, 6000)).toMatchObject({ previousValidUntil: 10_000 });
      await store.confirmHostCredential(host, `h-${host}-3`);
      expect(await store.hostByCredentialHash(`h-${host}-1`, 6000)).toBeNull();
      const now = await store.hostByCredentialHash(`h-${host}-3`, 6000);
      expect(now?.name).toBe(host);
      expect(now?.rotationPending).toBeUndefined();
    });

    it('scoped enrollment tokens: uses counted atomically against max_uses, expiry and revocation', async () => {
      const id = nextId('et');
      const created = await store.createEnrollToken({
        id,
        name: `${id}-name`,
        hash: `hash-${id}`,
        expiresAt: 100_000,
        maxUses: 3,
        labels: { region: ['eu-west-1'] },
        createdBy: 'admin',
        createdAt: 1000,
      });
      expect(created).toMatchObject({ id, uses: 0, maxUses: 3, revokedAt: null, labels: { region: ['eu-west-1'] } });
      await expect(store.createEnrollToken({ ...created, id: nextId('et'), hash: 'other' })).rejects.toBeInstanceOf(ConflictError);
      expect(await store.usableEnrollToken(`hash-${id}`, 2000)).toMatchObject({ id });
      expect(await store.usableEnrollToken(`hash-${id}`, 100_000)).toBeNull(); // expired
      const enroll = (n: number) =>
        store.enrollHost({ name: `${id}-h${n}`, labels: { region: 'eu-west-1' }, facts: {}, credentialHash: `c-${id}-${n}`, now: 2000, enrollTokenId: id, labelConstraints: { region: ['eu-west-1'] } });
      const results = await Promise.allSettled([1, 2, 3, 4, 5, 6].map(enroll));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(EnrollTokenRefusedError);
      expect((await store.listEnrollTokens()).find((t) => t.id === id)?.uses).toBe(3);
      expect(await store.usableEnrollToken(`hash-${id}`, 2000)).toBeNull(); // used up
      const ok = results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<HostRow>;
      expect(ok.value.labelConstraints).toEqual({ region: ['eu-west-1'] });

      const id2 = nextId('et');
      await store.createEnrollToken({ id: id2, name: id2, hash: `hash-${id2}`, expiresAt: null, maxUses: null, labels: {}, createdBy: 'ops', createdAt: 1 });
      expect((await store.revokeEnrollToken(id2, 5000))?.revokedAt).toBe(5000);
      expect((await store.revokeEnrollToken(id2, 6000))?.revokedAt).toBe(5000);
      expect(await store.revokeEnrollToken(nextId('none'), 6000)).toBeNull();
      expect(await store.usableEnrollToken(`hash-${id2}`, 5000)).toBeNull();
      await expect(
        store.enrollHost({ name: `${id2}-h`, labels: {}, facts: {}, credentialHash: `c-${id2}`, now: 6000, enrollTokenId: id2 }),
      ).rejects.toBeInstanceOf(EnrollTokenRefusedError);
      // the refused enrollment wrote nothing
      expect((await store.listHosts()).some((h) => h.name === `${id2}-h`)).toBe(false);
    });

    it('records heartbeats: lastSeen, and labels/facts only when given', async () => {
      const host = nextId('hb');
      await store.enrollHost({ name: host, labels: { zone: 'a' }, facts: { kernel: '5.15' }, credentialHash: `h-${host}`, now: 1000 });
      await store.recordHeartbeat(host, { now: 2000 });
      let row = (await store.listHosts()).find((h) => h.name === host);
      expect(row).toMatchObject({ labels: { zone: 'a' }, facts: { kernel: '5.15' }, lastSeen: 2000, enrolledAt: 1000 });

      await store.recordHeartbeat(host, { now: 3000, labels: { zone: 'b' }, facts: { kernel: '6.8', packages: { systemd: '249' } } });
      row = (await store.listHosts()).find((h) => h.name === host);
      expect(row).toMatchObject({ labels: { zone: 'b' }, facts: { kernel: '6.8', packages: { systemd: '249' } }, lastSeen: 3000 });
      expect(typeof row?.lastSeen).toBe('number');
      const lean = (await store.listHosts({ withFacts: false })).find((h) => h.name === host);
      expect(lean).toEqual({ ...row, facts: {} });

      await expect(store.recordHeartbeat(nextId('ghost'), { now: 1 })).rejects.toBeInstanceOf(NotFoundError);
    });

    it('lists hosts by name', async () => {
      const names = (await store.listHosts()).map((h) => h.name);
      expect(names.length).toBeGreaterThan(2);
      expect(names).toEqual([...names].sort());
    });

    it('creates, loads and lists rollouts with their plan', async () => {
      const older = nextId('r');
      const newer = nextId('r');
      await store.createRollout(rolloutRecord(older, 'running', 10_000, { targetedHosts: 42, reason: 'why not' }), PLAN, 'name: flag-on\n', {
        kind: 'created',
        message: 'created',
        data: { file: 'flag.yaml' },
      });
      await createRollout(store, newer, 'pending', 20_000);

      const loaded = await store.loadRollout(older);
      expect(loaded).toEqual({
        plan: PLAN,
        planSource: 'name: flag-on\n',
        rollout: rolloutRecord(older, 'running', 10_000, { targetedHosts: 42, reason: 'why not' }),
        waves: [],
        steps: [],
      });
      expect(await store.loadRollout('no-such-rollout')).toBeNull();
      expect(await store.getRollout(older)).toEqual(loaded?.rollout);
      expect(await store.getRollout('no-such-rollout')).toBeNull();
      const events = await store.listEvents(older);
      expect(events).toEqual([
        { seq: expect.any(Number), rolloutId: older, at: 10_000, kind: 'created', message: 'created', host: null, wave: null, data: { file: 'flag.yaml' } },
      ]);

      const listed = await store.listRollouts();
      const ours = listed.filter((r) => r.id === older || r.id === newer).map((r) => r.id);
      expect(ours).toEqual([newer, older]);
      expect(listed.map((r) => r.createdAt)).toEqual([...listed.map((r) => r.createdAt)].sort((a, b) => b - a));
      expect(await store.listRollouts(1)).toHaveLength(1);

      const active = await store.activeRolloutIds();
      expect(active.indexOf(older)).toBeLessThan(active.indexOf(newer));
      expect(active.indexOf(older)).toBeGreaterThanOrEqual(0);

      await expect(createRollout(store, older)).rejects.toBeInstanceOf(ConflictError);
    });

    it('persists a transition: rows upserted, input event then logs in order', async () => {
      const id = nextId('r');
      await createRollout(store, id);
      const effects: RolloutEffect[] = [
        { type: 'rollout', rollout: rolloutRecord(id, 'running', 1000, { updatedAt: 2000, nextSpec: 1, targetedHosts: 2 }) },
        { type: 'wave', wave: wave(id, 0, { hostCount: 2 }) },
        { type: 'step', step: step(id, 'web-a', 'applying') },
        { type: 'assign', host: 'web-a', action: 'apply', attempt: 1, waveIndex: 0 },
        { type: 'step', step: step(id, 'web-b', 'pending') },
        { type: 'log', kind: 'wave_started', message: 'wave wave-0 started', wave: 'wave-0' },
        { type: 'log', kind: 'assigned', message: 'web-a: apply', host: 'web-a' },
      ];
      expect(await store.persistTransition({ rolloutId: id, at: 2000, event: { kind: 'start', message: 'started by admin', data: { actor: 'admin' } }, effects })).toBe(true);

      const loaded = await store.loadRollout(id);
      expect(loaded?.rollout).toEqual(rolloutRecord(id, 'running', 1000, { updatedAt: 2000, nextSpec: 1, targetedHosts: 2 }));
      expect(loaded?.waves).toEqual([wave(id, 0, { hostCount: 2 })]);
      expect(loaded?.steps).toEqual([step(id, 'web-a', 'applying'), step(id, 'web-b', 'pending')]);
      const events = await store.listEvents(id);
      expect(events.map((e) => [e.kind, e.message, e.host, e.wave, e.data])).toEqual([
        ['created', `rollout ${id} created`, null, null, null],
        ['start', 'started by admin', null, null, { actor: 'admin' }],
        ['wave_started', 'wave wave-0 started', null, 'wave-0', null],
        ['assigned', 'web-a: apply', 'web-a', null, null],
      ]);
      expect(events.slice(1).every((e) => e.at === 2000)).toBe(true);

      // a later transition updates rows in place; the last effect for a key wins
      await store.persistTransition({
        rolloutId: id,
        at: 3000,
        event: null,
        effects: [
          { type: 'step', step: step(id, 'web-a', 'verifying', { checkedAt: 2500, updatedAt: 2500 }) },
          { type: 'step', step: step(id, 'web-a', 'healthy', { checkedAt: 2500, updatedAt: 3000, message: 'ok' }) },
          { type: 'wave', wave: wave(id, 0, { hostCount: 2, state: 'baking', bakeStartedAt: 3000 }) },
        ],
      });
      const after = await store.loadRollout(id);
      expect(after?.steps).toEqual([step(id, 'web-a', 'healthy', { checkedAt: 2500, updatedAt: 3000, message: 'ok' }), step(id, 'web-b', 'pending')]);
      expect(after?.waves).toEqual([wave(id, 0, { hostCount: 2, state: 'baking', bakeStartedAt: 3000 })]);
      expect(await store.listEvents(id)).toHaveLength(4);
    });

    it('writes nothing of a transition when one of its writes fails', async () => {
      const id = nextId('r');
      await createRollout(store, id);
      const before = await store.loadRollout(id);
      const eventsBefore = await store.listEvents(id);
      const reportId = nextId('report');
      const failing = store.persistTransition({
        rolloutId: id,
        at: 2000,
        reportId,
        event: { kind: 'applyResult', message: 'web-a applied', host: 'web-a' },
        effects: [
          { type: 'rollout', rollout: rolloutRecord(id, 'running', 1000, { updatedAt: 2000 }) },
          { type: 'wave', wave: wave(id, 0) },
          { type: 'step', step: step(id, 'web-a', 'applying') },
          { type: 'log', kind: 'note', message: 'written then undone' },
          // invalid: a step of a rollout that does not exist
          { type: 'step', step: step(nextId('missing'), 'web-a', 'applying') },
        ],
      });
      await expect(failing).rejects.toThrow();
      expect(await store.loadRollout(id)).toEqual(before);
      expect(await store.listEvents(id)).toEqual(eventsBefore);
      expect(await store.hasReport('web-a', reportId)).toBe(false);

      // a rollout effect for an unknown rollout fails the same way
      await expect(
        store.persistTransition({ rolloutId: id, at: 2000, event: { kind: 'x', message: 'x' }, effects: [{ type: 'rollout', rollout: rolloutRecord(nextId('missing'), 'running', 1) }] }),
      ).rejects.toBeInstanceOf(NotFoundError);
      expect(await store.listEvents(id)).toEqual(eventsBefore);
    });

    it('processes a report id once: a repeat writes nothing and returns false', async () => {
      const id = nextId('r');
      await createRollout(store, id, 'running');
      const reportId = nextId('report');
      const write = (state: StepStatus) => ({
        rolloutId: id,
        at: 2000,
        reportId,
        event: { kind: 'applyResult', message: 'web-a applied', host: 'web-a' },
        effects: [{ type: 'step', step: step(id, 'web-a', state) } as const],
      });
      expect(await store.hasReport('web-a', reportId)).toBe(false);
      expect(await store.persistTransition(write('verifying'))).toBe(true);
      expect(await store.hasReport('web-a', reportId)).toBe(true);
      const events = await store.listEvents(id);

      expect(await store.persistTransition(write('failed'))).toBe(false);
      expect((await store.loadRollout(id))?.steps).toEqual([step(id, 'web-a', 'verifying')]);
      expect(await store.listEvents(id)).toEqual(events);

      // a report for an unknown rollout is recorded (accepted) and changes nothing else
      const stray = nextId('report');
      expect(await store.persistTransition({ rolloutId: nextId('gone'), at: 1, reportId: stray, reportHost: 'web-z', event: null, effects: [] })).toBe(true);
      expect(await store.hasReport('web-z', stray)).toBe(true);

      // report ids are the host's own: another host's report with the same id is its own report
      expect(await store.hasReport('web-b', reportId)).toBe(false);
      const other = { ...write('verifying'), reportHost: 'web-b', event: { kind: 'applyResult', message: 'web-b applied', host: 'web-b' }, effects: [{ type: 'step', step: step(id, 'web-b', 'verifying') } as const] };
      expect(await store.persistTransition(other)).toBe(true);
      expect(await store.hasReport('web-b', reportId)).toBe(true);
      expect(await store.hostInRollout(id, 'web-b')).toBe(true);
      expect(await store.hostInRollout(id, 'web-nope')).toBe(false);
    });

    it('hands out work by step state and rollout state', async () => {
      // action expected for a step in this state, per rollout state (undefined: no assignment)
      const expected: Record<RolloutStatus, Partial<Record<StepStatus, 'apply' | 'verify' | 'rollback'>>> = {
        pending: {},
        queued: {},
        running: { applying: 'apply', verifying: 'verify' },
        paused: { applying: 'apply', verifying: 'verify' },
        rolling_back: { rolling_back: 'rollback' },
        completed: {},
        halted: { rolling_back: 'rollback' },
        rolled_back: { rolling_back: 'rollback' },
        aborted: {},
      };
      const stepStates: StepStatus[] = ['pending', 'applying', 'verifying', 'healthy', 'failed', 'silent', 'rolling_back', 'rolled_back'];
      const tag = nextId('as');
      const rolloutIds = new Map<RolloutStatus, string>();
      for (const [i, state] of ROLLOUT_STATES.entries()) {
        const id = `${tag}-${state}`;
        rolloutIds.set(state, id);
        await createRollout(store, id, state, 1000 + i);
        await store.persistTransition({
          rolloutId: id,
          at: 2000,
          event: null,
          effects: stepStates.map((s) => ({ type: 'step', step: step(id, `${tag}-host-${s}`, s, { attempt: 3 }) }) as const),
        });
      }
      for (const s of stepStates) {
        const got = await store.assignmentsForHost(`${tag}-host-${s}`);
        const want = ROLLOUT_STATES.flatMap((state) => {
          const action = expected[state][s];
          return action ? [{ rolloutId: rolloutIds.get(state), rolloutName: 'flag-on', attempt: 3, action, plan: PLAN }] : [];
        });
        expect({ step: s, got }).toEqual({ step: s, got: want });
      }
      expect(await store.assignmentsForHost('nobody-at-all')).toEqual([]);
    });

    it('pages through events in seq order, one rollout at a time', async () => {
      const id = nextId('r');
      const other = nextId('r');
      await createRollout(store, id);
      await createRollout(store, other);
      for (let i = 0; i < 4; i++) {
        await store.persistTransition({
          rolloutId: id,
          at: 2000 + i,
          event: { kind: 'tick', message: `tick ${i}` },
          effects: [
            { type: 'log', kind: 'note', message: `note ${i}a` },
            { type: 'log', kind: 'note', message: `note ${i}b` },
          ],
        });
        await store.persistTransition({ rolloutId: other, at: 2000 + i, event: { kind: 'tick', message: `other ${i}` }, effects: [] });
      }
      const all = await store.listEvents(id);
      expect(all).toHaveLength(13);
      expect(all.map((e) => e.message)).toEqual([
        `rollout ${id} created`,
        ...[0, 1, 2, 3].flatMap((i) => [`tick ${i}`, `note ${i}a`, `note ${i}b`]),
      ]);
      const seqs = all.map((e) => e.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(seqs.length);

      const paged = [];
      let after = 0;
      for (let page = 0; page < 10; page++) {
        const got = await store.listEvents(id, after, 5);
        if (got.length === 0) break;
        expect(got.length).toBeLessThanOrEqual(5);
        paged.push(...got);
        after = got[got.length - 1]!.seq;
      }
      expect(paged).toEqual(all);
      expect(await store.listEvents(id, seqs[seqs.length - 1])).toEqual([]);
    });

    it('writes 20,000 step effects of one transition', async () => {
      const id = nextId('big');
      await createRollout(store, id, 'running');
      const n = 20_000;
      const hosts = Array.from({ length: n }, (_, i) => `host-${String(i).padStart(5, '0')}`);
      const started = await store.persistTransition({
        rolloutId: id,
        at: 5000,
        event: { kind: 'tick', message: 'wave starts' },
        effects: [
          { type: 'wave', wave: wave(id, 0, { hostCount: n }) },
          ...hosts.map((h, i) => ({ type: 'step', step: step(id, h, i % 2 === 0 ? 'applying' : 'pending', { updatedAt: 5000 + i }) }) as const),
          ...hosts.map((h) => ({ type: 'log', kind: 'assigned', message: `${h}: apply`, host: h }) as const),
        ],
      });
      expect(started).toBe(true);
      const loaded = await store.loadRollout(id);
      expect(loaded?.steps).toHaveLength(n);
      expect(loaded?.steps[0]).toEqual(step(id, 'host-00000', 'applying', { updatedAt: 5000 }));
      expect(loaded?.steps[n - 1]).toEqual(step(id, 'host-19999', 'pending', { updatedAt: 5000 + n - 1 }));
      expect(loaded?.steps.filter((s) => s.state === 'applying')).toHaveLength(n / 2);
      const events = await store.listEvents(id, 0, n + 10);
      expect(events).toHaveLength(n + 2);
      expect(events[2]?.message).toBe('host-00000: apply');
      expect(events[n + 1]?.message).toBe('host-19999: apply');

      // and all of them again, as updates
      await store.persistTransition({
        rolloutId: id,
        at: 6000,
        event: null,
        effects: hosts.map((h) => ({ type: 'step', step: step(id, h, 'healthy', { checkedAt: 6000, updatedAt: 6000 }) }) as const),
      });
      const updated = await store.loadRollout(id);
      expect(updated?.steps.every((s) => s.state === 'healthy' && s.checkedAt === 6000)).toBe(true);
      expect(await store.assignmentsForHost('host-00000')).toEqual([]);
    });

    it('counts rollouts by state', async () => {
      const before = await store.rolloutCountsByState();
      expect(Object.keys(before).sort()).toEqual([...ROLLOUT_STATES].sort());
      const a = nextId('c');
      const b = nextId('c');
      await createRollout(store, a, 'running');
      await createRollout(store, b, 'running');
      await store.persistTransition({ rolloutId: b, at: 2, event: null, effects: [{ type: 'rollout', rollout: rolloutRecord(b, 'halted', 1000, { reason: 'budget' }) }] });
      const after = await store.rolloutCountsByState();
      expect(after.running).toBe((before.running ?? 0) + 1);
      expect(after.halted).toBe((before.halted ?? 0) + 1);
      expect(after.completed).toBe(before.completed);
      expect((await store.activeRolloutIds()).includes(b)).toBe(false);
    });

    it('lists the silent rollbacks of finished rollouts only', async () => {
      const done = nextId('sr');
      const live = nextId('sr');
      await createRollout(store, done, 'rolling_back');
      await createRollout(store, live, 'rolling_back');
      const silent = step(done, 'h1', 'silent', { attempt: 2, rollbackAttempt: 2 });
      const effects = (id: string) => [
        { type: 'wave' as const, wave: wave(id, 0) },
        { type: 'step' as const, step: { ...silent, rolloutId: id } },
        { type: 'step' as const, step: step(id, 'h2', 'rolled_back', { attempt: 2, rollbackAttempt: 2 }) },
        { type: 'step' as const, step: step(id, 'h3', 'silent', { attempt: 1 }) }, // an apply that went silent
      ];
      await store.persistTransition({ rolloutId: live, at: 2, event: null, effects: effects(live) });
      await store.persistTransition({ rolloutId: done, at: 2, event: null, effects: [{ type: 'rollout', rollout: rolloutRecord(done, 'rolled_back', 1000) }, ...effects(done)] });
      const got = (await store.silentRollbacks()).filter((x) => x.rolloutId === done || x.rolloutId === live);
      expect(got).toEqual([{ rolloutId: done, host: 'h1' }]);
    });

    it('records drift once per event id, resolves conditions up to their time, lists newest first', async () => {
      const host = nextId('drift');
      const other = nextId('drift');
      for (const h of [host, other]) await store.enrollHost({ name: h, labels: {}, facts: {}, credentialHash: `h-${h}`, now: 1 });
      const uu = { kind: 'unattended-upgrades-enabled', subject: 'apt', message: 'unattended-upgrades can run', open: true, data: null };
      const pkg = { id: 'e-pkg', kind: 'package-changed', subject: 'systemd', message: 'systemd changed with no Sluice step', at: 110, open: true, data: { from: '1', to: '2' } };
      expect(await store.recordDrift(host, { events: [{ ...uu, id: 'e-uu-1', at: 100 }, pkg], resolved: [] }, 1000)).toBe(2);
      // a re-send (lost answer) changes nothing; the same id on another host is that host's own event
      expect(await store.recordDrift(host, { events: [{ ...uu, id: 'e-uu-1', at: 100 }], resolved: [] }, 1001)).toBe(0);
      expect(await store.recordDrift(other, { events: [{ ...uu, id: 'e-uu-1', at: 100 }], resolved: [] }, 1002)).toBe(1);
      // an action is stored closed
      await store.recordDrift(host, { events: [{ id: 'e-enf', kind: 'enforced', subject: 'apt', message: 'enforce: masked', at: 200, open: false, data: null }], resolved: [] }, 2000);

      let open = await store.listDrift({ host, open: true });
      expect(open.map((e) => e.id).sort()).toEqual(['e-pkg', 'e-uu-1']);
      expect(open.find((e) => e.id === 'e-pkg')).toEqual({
        host, id: 'e-pkg', kind: 'package-changed', subject: 'systemd', message: 'systemd changed with no Sluice step',
        at: 110, receivedAt: 1000, resolvedAt: null, data: { from: '1', to: '2' },
      });

      // resolved at 300 closes what was seen up to 300, and not an event seen again later
      await store.recordDrift(host, { events: [{ ...uu, id: 'e-uu-2', at: 400 }], resolved: [{ kind: 'unattended-upgrades-enabled', subject: 'apt', at: 300 }] }, 3000);
      open = await store.listDrift({ host, open: true });
      expect(open.map((e) => e.id).sort()).toEqual(['e-pkg', 'e-uu-2']);
      const all = await store.listDrift({ host });
      expect(all.map((e) => e.id)).toEqual(['e-uu-2', 'e-enf', 'e-pkg', 'e-uu-1']);
      expect(all.find((e) => e.id === 'e-uu-1')?.resolvedAt).toBe(3000);
      expect(all.find((e) => e.id === 'e-enf')?.resolvedAt).toBe(2000);
      // the other host's drift is untouched, and both show up fleet-wide
      expect((await store.listDrift({ host: other, open: true })).map((e) => e.id)).toEqual(['e-uu-1']);
      const fleet = await store.listDrift({ open: true, limit: 10_000 });
      expect(fleet.filter((e) => e.host === host || e.host === other)).toHaveLength(3);
      expect(await store.listDrift({ host, limit: 1 })).toHaveLength(1);
    });

    it('pages hosts by name with label and status filters, and counts them', async () => {
      const suite = nextId('page');
      const names = Array.from({ length: 23 }, (_, i) => `${suite}-${String(i).padStart(2, '0')}`);
      for (const [i, name] of names.entries()) {
        await store.enrollHost({ name, labels: { suite, zone: i % 2 === 0 ? 'a' : 'b' }, facts: { allow: ['command'], big: 'x' }, credentialHash: `h-${name}`, now: i < 5 ? 100 : 10_000 });
      }
      const walk = async (q: { labels: Record<string, string>; status?: 'online' | 'offline' }, limit: number) => {
        const seen: string[] = [];
        let after: string | undefined;
        for (;;) {
          const page = await store.listHostsPage({ ...q, onlineSince: 5000, limit, ...(after !== undefined ? { afterName: after } : {}), withFacts: false });
          seen.push(...page.map((h) => h.name));
          if (page.length < limit) return seen;
          after = page.at(-1)!.name;
        }
      };
      expect(await walk({ labels: { suite } }, 4)).toEqual(names);
      expect(await walk({ labels: { suite, zone: 'b' } }, 3)).toEqual(names.filter((_, i) => i % 2 === 1));
      expect(await walk({ labels: { suite, zone: 'a' }, status: 'offline' }, 2)).toEqual([names[0], names[2], names[4]]);
      expect(await walk({ labels: { suite }, status: 'online' }, 100)).toEqual(names.slice(5));
      const lean = await store.listHostsPage({ labels: { suite }, limit: 1, withFacts: false });
      expect(lean[0]?.facts).toEqual({ allow: ['command'] });
      expect(await store.countHosts({ labels: { suite }, onlineSince: 5000 })).toEqual({ online: 18, offline: 5 });
      expect(await store.countHostsByLabel('zone', { labels: { suite }, onlineSince: 5000 }, 10)).toEqual([
        { value: 'a', online: 9, offline: 3 },
        { value: 'b', online: 9, offline: 2 },
      ]);
      expect(await store.countHostsByLabel('nope', { labels: { suite }, onlineSince: 5000 }, 10)).toEqual([{ value: null, online: 18, offline: 5 }]);
    });

    it("pages a rollout's steps by (wave, host), filtered by state and wave, and counts them", async () => {
      const id = nextId('steps');
      await createRollout(store, id, 'running');
      const effects: RolloutEffect[] = [{ type: 'wave', wave: wave(id, 0) }, { type: 'wave', wave: wave(id, 1, { name: 'rest' }) }];
      for (let i = 0; i < 30; i++) {
        effects.push({ type: 'step', step: step(id, `s-${String(i).padStart(2, '0')}`, i % 4 === 0 ? 'failed' : 'healthy', { waveIndex: i < 10 ? 1 : 0, ...(i === 4 ? { rollbackAttempt: 1 } : {}) }) });
      }
      await store.persistTransition({ rolloutId: id, at: 2, event: null, effects });
      const order = [...Array.from({ length: 20 }, (_, i) => `s-${i + 10}`), ...Array.from({ length: 10 }, (_, i) => `s-0${i}`)];
      const seen: string[] = [];
      let after: { waveIndex: number; host: string } | undefined;
      for (;;) {
        const page = await store.listStepsPage(id, { limit: 7, ...(after ? { after } : {}) });
        seen.push(...page.map((st) => st.host));
        if (page.length < 7) break;
        after = { waveIndex: page.at(-1)!.waveIndex, host: page.at(-1)!.host };
      }
      expect(seen).toEqual(order);
      expect((await store.listStepsPage(id, { states: ['failed'], waveIndex: 1, limit: 100 })).map((st) => st.host)).toEqual(['s-00', 's-04', 's-08']);
      expect(await store.countSteps(id)).toEqual([
        { waveIndex: 0, state: 'failed', count: 5, unconfirmedRollbacks: 0 },
        { waveIndex: 0, state: 'healthy', count: 15, unconfirmedRollbacks: 0 },
        { waveIndex: 1, state: 'failed', count: 3, unconfirmedRollbacks: 1 },
        { waveIndex: 1, state: 'healthy', count: 7, unconfirmedRollbacks: 0 },
      ]);
      const header = await store.loadRolloutHeader(id);
      expect(header?.waves.map((w) => w.name)).toEqual(['wave-0', 'rest']);
      expect(header?.plan).toEqual(PLAN);
      expect(await store.loadRolloutHeader('nope')).toBeNull();
    });

    it('purges events and reports of rollouts finished before the cutoff, in batches; active rollouts untouched', async () => {
      const old = nextId('old-done');
      const recent = nextId('new-done');
      const active = nextId('old-active');
      for (const [id, state] of [[old, 'completed'], [recent, 'halted'], [active, 'running']] as const) {
        await createRollout(store, id, 'running', 1000);
        for (let i = 0; i < 7; i++) {
          await store.persistTransition({ rolloutId: id, at: 1000 + i, event: { kind: 'report.apply', message: `r${i}`, host: `h${i}` }, effects: [], reportId: `${id}-rep-${i}`, reportHost: `h${i}` });
        }
        // the last transition: when the rollout finished (or, for the active one, last moved)
        const updatedAt = id === recent ? 900_000 : 2000;
        await store.persistTransition({ rolloutId: id, at: updatedAt, event: null, effects: [{ type: 'rollout', rollout: rolloutRecord(id, state, 1000, { updatedAt }) }] });
      }
      const cutoff = 500_000;
      let events = 0;
      let reports = 0;
      for (let n = 0; n < 20; n++) {
        const done = await store.purgeFinished(cutoff, 3);
        expect(done.events).toBeLessThanOrEqual(3);
        expect(done.reports).toBeLessThanOrEqual(3);
        events += done.events;
        reports += done.reports;
        if (done.events + done.reports === 0) break;
      }
      // the old finished rollout: its 'created' event and 7 report events, and its 7 report records
      expect(events).toBeGreaterThanOrEqual(8);
      expect(reports).toBeGreaterThanOrEqual(7);
      expect(await store.listEvents(old)).toEqual([]);
      expect(await store.hasReport('h1', `${old}-rep-1`)).toBe(false);
      expect((await store.loadRollout(old))?.rollout.state).toBe('completed'); // the rollout itself stays
      for (const id of [recent, active]) {
        expect(await store.listEvents(id)).toHaveLength(8);
        expect(await store.hasReport('h1', `${id}-rep-1`)).toBe(true);
      }
      expect(await store.purgeFinished(cutoff, 3)).toEqual({ events: 0, reports: 0 });
    });

    it('keeps one fleet freeze at a time: start, read, refuse a second, end (each audited in its transaction), expire by itself', async () => {
      const actor = nextId('freezer');
      expect(await store.activeFreeze(1000)).toBeNull();
      const f = await store.startFreeze({ reason: 'sales weekend', by: actor, startedAt: 1000, until: null }, auditInput({ actor, action: 'freeze.start' }));
      expect(f).toMatchObject({ reason: 'sales weekend', by: actor, startedAt: 1000, until: null, endedAt: null, endedBy: null });
      expect(await store.activeFreeze(2000)).toEqual(f);
      await expect(store.startFreeze({ reason: 'again', by: actor, startedAt: 1500, until: null }, auditInput({ actor, action: 'freeze.start' }))).rejects.toBeInstanceOf(ConflictError);
      const ended = await store.endFreeze(3000, actor, auditInput({ actor, action: 'freeze.end' }));
      expect(ended).toMatchObject({ id: f.id, endedAt: 3000, endedBy: actor });
      expect(await store.endFreeze(3500, actor, auditInput({ actor, action: 'freeze.end' }))).toBeNull();
      expect(await store.activeFreeze(4000)).toBeNull();
      // The refused start and the end with nothing to end wrote no audit entry.
      expect((await store.listAudit({ actor, limit: 10 })).map((e) => e.action).sort()).toEqual(['freeze.end', 'freeze.start']);
      // A freeze with an end: in force before it, gone after it, and a new one may start then.
      await store.startFreeze({ reason: 'until', by: actor, startedAt: 5000, until: 6000 });
      expect((await store.activeFreeze(5999))?.reason).toBe('until');
      expect(await store.activeFreeze(6000)).toBeNull();
      const next = await store.startFreeze({ reason: 'next', by: actor, startedAt: 7000, until: null });
      expect((await store.activeFreeze(7000))?.id).toBe(next.id);
      await store.endFreeze(8000, actor);
    });

    it('stores named tokens by hash: create, find, list, revoke (first time kept), touch forward only', async () => {
      const name = nextId('tok');
      const audit = auditInput({ actor: `admin-${name}`, action: 'token.create', target: name });
      const row = await store.createApiToken(
        { id: `id-${name}`, name, owner: 'alice', role: 'operator', secretHash: `hash-${name}`, createdAt: 1000, createdBy: 'admin', expiresAt: 9000 },
        audit,
      );
      expect(row).toEqual({ id: `id-${name}`, name, owner: 'alice', role: 'operator', createdAt: 1000, createdBy: 'admin', expiresAt: 9000, revokedAt: null, lastUsedAt: null });
      expect(row).not.toHaveProperty('secretHash');
      expect(await store.apiTokenByHash(`hash-${name}`)).toEqual(row);
      expect(await store.apiTokenByHash('no-such-hash')).toBeNull();
      // its audit entry was written with it
      expect((await store.listAudit({ actor: `admin-${name}`, limit: 10 })).map((e) => e.action)).toEqual(['token.create']);

      // a taken name is a conflict, and the refused create writes no audit entry (same transaction)
      await expect(
        store.createApiToken({ id: `id2-${name}`, name, owner: 'bob', role: 'admin', secretHash: `hash2-${name}`, createdAt: 1, createdBy: 'admin', expiresAt: null }, audit),
      ).rejects.toBeInstanceOf(ConflictError);
      expect(await store.listAudit({ actor: `admin-${name}`, limit: 10 })).toHaveLength(1);
      expect(await store.apiTokenByHash(`hash2-${name}`)).toBeNull();

      const names = (await store.listApiTokens()).map((t) => t.name);
      expect(names).toContain(name);
      expect(names).toEqual([...names].sort());

      await store.touchApiToken(row.id, 5000);
      await store.touchApiToken(row.id, 4000);
      expect((await store.apiTokenByHash(`hash-${name}`))?.lastUsedAt).toBe(5000);

      const revoked = await store.revokeApiToken(name, 6000, auditInput({ actor: `admin-${name}`, action: 'token.revoke', target: name }));
      expect(revoked?.revokedAt).toBe(6000);
      expect((await store.revokeApiToken(name, 7000))?.revokedAt).toBe(6000);
      expect(await store.revokeApiToken(nextId('ghost-token'), 7000, auditInput({ actor: `admin-${name}` }))).toBeNull();
      expect((await store.listAudit({ actor: `admin-${name}`, limit: 10 })).map((e) => e.action)).toEqual(['token.create', 'token.revoke']);
    });

    it('appends audit entries and lists them oldest first, filtered, paged by id', async () => {
      const actor = nextId('auditor');
      const entries = [
        auditInput({ actor, at: 100, action: 'rollout.start', target: 'r-1', result: 'ok', detail: { plan: 'p' } }),
        auditInput({ actor, at: 200, action: 'rollout.approve', target: 'r-1', result: 'denied' }),
        auditInput({ actor, at: 300, action: 'token.create', target: 't-1', result: 'failed', sourceIp: '10.0.0.1' }),
        auditInput({ actor, at: 400, action: 'rollout.approve', target: 'r-2', result: 'ok' }),
      ];
      for (const e of entries) await store.appendAudit(e);
      const all = await store.listAudit({ actor, limit: 100 });
      expect(all.map(({ id: _id, ...rest }) => rest)).toEqual(entries);
      expect(all.map((e) => e.id)).toEqual([...all.map((e) => e.id)].sort((a, b) => a - b));
      expect(typeof all[0]!.id).toBe('number');

      expect((await store.listAudit({ actor, action: 'rollout.approve', limit: 100 })).map((e) => e.at)).toEqual([200, 400]);
      expect((await store.listAudit({ actor, action: 'rollout.*', limit: 100 })).map((e) => e.at)).toEqual([100, 200, 400]);
      expect((await store.listAudit({ actor, action: 'rollout.', limit: 100 })).map((e) => e.at)).toEqual([100, 200, 400]);
      expect((await store.listAudit({ actor, result: 'denied', limit: 100 })).map((e) => e.at)).toEqual([200]);
      expect((await store.listAudit({ actor, target: 'r-1', limit: 100 })).map((e) => e.at)).toEqual([100, 200]);
      expect((await store.listAudit({ actor, since: 200, until: 400, limit: 100 })).map((e) => e.at)).toEqual([200, 300]);
      const page1 = await store.listAudit({ actor, limit: 3 });
      const page2 = await store.listAudit({ actor, limit: 3, afterId: page1.at(-1)!.id });
      expect([...page1, ...page2].map((e) => e.at)).toEqual([100, 200, 300, 400]);
      expect(await store.listAudit({ actor: nextId('nobody'), limit: 10 })).toEqual([]);
    });

    it('writes a transition\'s audit entry in its transaction, and who started a rollout', async () => {
      const id = nextId('aud');
      const actor = nextId('starter');
      await store.createRollout(rolloutRecord(id, 'running', 1000), PLAN, 'name: flag-on\n', { kind: 'created', message: 'created' }, undefined, {
        startedBy: { name: actor, owner: 'alice' },
        audit: auditInput({ actor, action: 'rollout.start', target: id }),
      });
      expect(await store.rolloutStarter(id)).toEqual({ name: actor, owner: 'alice' });
      expect(await store.rolloutStarter(nextId('ghost'))).toBeUndefined();
      const old = nextId('aud-old');
      await createRollout(store, old);
      expect(await store.rolloutStarter(old)).toBeNull();

      await store.persistTransition({
        rolloutId: id,
        at: 2000,
        event: { kind: 'operator.approve', message: 'approve requested' },
        effects: [{ type: 'log', kind: 'wave.approved', message: 'wave prod approved by bob', wave: 'prod', by: 'bob' }],
        audit: auditInput({ actor, action: 'rollout.approve', target: id, at: 2000 }),
      });
      // a transition that fails writes nothing, its audit entry neither
      await expect(
        store.persistTransition({
          rolloutId: id,
          at: 3000,
          event: null,
          effects: [{ type: 'rollout', rollout: rolloutRecord(nextId('missing'), 'running', 1) }],
          audit: auditInput({ actor, action: 'rollout.pause', target: id, at: 3000 }),
        }),
      ).rejects.toBeInstanceOf(NotFoundError);
      expect((await store.listAudit({ actor, limit: 10 })).map((e) => e.action)).toEqual(['rollout.start', 'rollout.approve']);
      const approved = await store.listApprovals(id, 10);
      expect(approved.map((e) => [e.kind, e.wave, e.data])).toEqual([['wave.approved', 'prod', { by: 'bob' }]]);
    });

    it('lean host rows keep allow and only the fact keys asked for', async () => {
      const host = nextId('lean');
      const facts = { allow: ['apt'], driftGuard: { policy: 'report' }, pendingUpdates: { checkedAt: 1, updates: [] }, packages: { curl: '8.5' }, routes: [{ dst: 'x' }] };
      await store.enrollHost({ name: host, labels: {}, facts, credentialHash: `h-${host}`, now: 1000 });
      const find = async (o: Parameters<Store['listHosts']>[0]) => (await store.listHosts(o)).find((h) => h.name === host)!.facts;
      expect(await find({ withFacts: false })).toEqual({ allow: ['apt'] });
      expect(await find({ withFacts: false, factKeys: ['driftGuard'] })).toEqual({ allow: ['apt'], driftGuard: { policy: 'report' } });
      expect(await find({ withFacts: false, factKeys: ['pendingUpdates', 'packages'] })).toEqual({ allow: ['apt'], pendingUpdates: { checkedAt: 1, updates: [] }, packages: { curl: '8.5' } });
      expect(await find({})).toEqual(facts);
      const inventory = nextId('lean');
      const packages = { curl: '8.5', 'libssl3:amd64': '3.0.13', libssl3t64: '3.0.14', zlib1g: '1.3' };
      await store.enrollHost({ name: inventory, labels: {}, facts: { packages, pendingUpdates: { checkedAt: 1, updates: [] } }, credentialHash: `h-${inventory}`, now: 1000 });
      const narrowed = async (names: string[]) => (await store.listHosts({ withFacts: false, factKeys: ['packages'], packageNames: names })).find((h) => h.name === inventory)!.facts;
      expect(await narrowed(['curl', 'libssl3'])).toEqual({ packages: { curl: '8.5', 'libssl3:amd64': '3.0.13' } });
      expect(await narrowed([])).toEqual({ packages: {} });
      expect(await narrowed(["x' or 1=1 --"])).toEqual({ packages: {} });
      const bare = nextId('lean');
      await store.enrollHost({ name: bare, labels: {}, facts: {}, credentialHash: `h-${bare}`, now: 1000 });
      expect((await store.listHosts({ withFacts: false, factKeys: ['driftGuard'] })).find((h) => h.name === bare)!.facts).toEqual({});
    });

    it('keeps which nested step a wave runs as (leaf), and none for a plain wave', async () => {
      const id = nextId('r-leaf');
      await createRollout(store, id, 'running');
      await store.persistTransition({
        rolloutId: id,
        at: 2000,
        event: null,
        effects: [
          { type: 'wave', wave: wave(id, 0, { name: 'prod/r1/first-zone/a', leaf: 0 }) },
          { type: 'wave', wave: wave(id, 1, { name: 'prod/r1/rest', leaf: 2 }) },
          { type: 'wave', wave: wave(id, 2, { name: 'plain' }) },
        ],
      });
      const loaded = await store.loadRollout(id);
      expect(loaded?.waves.map((w) => [w.name, w.leaf])).toEqual([
        ['prod/r1/first-zone/a', 0],
        ['prod/r1/rest', 2],
        ['plain', undefined],
      ]);
      expect('leaf' in loaded!.waves[2]!).toBe(false);
    });

    it('remediation guard: counts each scope under one lock, records the answer, and keeps overrides', async () => {
      const zone = nextId('rz');
      const names = Array.from({ length: 10 }, (_, i) => `${zone}-h${i}`);
      // h0-h6 heard from at 1000 (online), h7-h9 last at 100 (offline at onlineSince 500).
      for (const [i, name] of names.entries()) {
        await store.enrollHost({ name, labels: { zone, data: i === 0 ? 'local' : 'none' }, facts: {}, credentialHash: `h-${name}`, now: i < 7 ? 1000 : 100 });
      }
      expect((await store.hostByName(names[0]!))?.labels).toEqual({ zone, data: 'local' });
      expect(await store.hostByName(nextId('nobody'))).toBeNull();
      const scopes = [{ scope: `zone=${zone}`, labels: { zone } }];
      const ask = (host: string, allow: (affected: number) => boolean, at = 2000) =>
        store.guardRemediation({ host, scopes, onlineSince: 500, remediatedSince: 1500 }, (counts) => {
          const c = counts[0]!;
          return { allow: allow(c.affected), reason: `seen ${c.affected}/${c.size}`, scope: c.scope, affected: c.affected, limit: 99 };
        }, { at, host, action: 'replace', requester: 'asg', principal: 'healer', reasonGiven: null });
      // An offline host asking: the 3 offline hosts, itself among them.
      expect(await ask(names[7]!, () => true)).toMatchObject({ allow: true, reason: 'seen 3/10', host: names[7], action: 'replace', requester: 'asg', principal: 'healer' });
      // An online host: the 3 offline ones and itself (h7's allowed remediation is h7, already counted).
      expect((await ask(names[0]!, () => false)).reason).toBe('seen 4/10');
      // Four at once: each sees the ones allowed before it, never the same count twice.
      const seen = await Promise.all(names.slice(1, 5).map((h) => ask(h, () => true)));
      expect(seen.map((r) => r.affected).sort()).toEqual([4, 5, 6, 7]);
      // Remediations allowed before the window no longer count.
      const late = await store.guardRemediation({ host: names[6]!, scopes, onlineSince: 500, remediatedSince: 10_000 }, (counts) => ({ allow: false, reason: String(counts[0]!.affected), scope: null, affected: null, limit: null }), { at: 3000, host: names[6]!, action: 'reboot', requester: 'r', principal: 'p', reasonGiven: 'disk' });
      expect(late.reason).toBe('4');
      const listed = await store.listRemediations({ host: names[6]!, limit: 10 });
      expect(listed).toEqual([expect.objectContaining({ host: names[6], action: 'reboot', allow: false, reasonGiven: 'disk', at: 3000, scope: null })]);
      expect((await store.listRemediations({ decision: 'deny', since: 2000, limit: 100 })).map((r) => r.host)).toEqual(expect.arrayContaining([names[0], names[6]]));

      const o = await store.addRemediationOverride({ scope: `zone=${zone}`, createdAt: 1000, until: 5000, createdBy: 'alice', reason: 'AZ down' });
      expect(o).toMatchObject({ scope: `zone=${zone}`, until: 5000, createdBy: 'alice', reason: 'AZ down', endedAt: null });
      expect((await store.activeRemediationOverrides(4000)).map((x) => x.id)).toContain(o.id);
      expect((await store.activeRemediationOverrides(5000)).map((x) => x.id)).not.toContain(o.id); // expired
      expect(await store.endRemediationOverride(o.id, 2000)).toBe(true);
      expect(await store.endRemediationOverride(o.id, 2001)).toBe(false);
      expect(await store.endRemediationOverride('not-a-number', 2001)).toBe(false);
      expect((await store.activeRemediationOverrides(3000)).map((x) => x.id)).not.toContain(o.id);
    });

    it('notification outbox: rows written in the transition, the head of each endpoint due, in order, updates and lists', async () => {
      const id = nextId('ntf');
      await createRollout(store, id, 'running');
      const a = `http://${nextId('a')}.test/hook`;
      const b = `http://${nextId('b')}.test/hook`;
      const row = (rid: string, endpoint: string, createdAt: number, event = 'wave.started') => ({
        id: rid, endpoint, format: 'json' as const, secretRef: 'env:HOOK_SECRET', event, rolloutId: id, body: `{"id":"${rid}"}`, createdAt,
      });
      const a1 = nextId('d'), a2 = nextId('d'), b1 = nextId('d');
      await store.persistTransition({ rolloutId: id, at: 100, event: null, effects: [{ type: 'log', kind: 'wave.started', message: 'wave x started' }], notifications: [row(a1, a, 100), row(b1, b, 100), row(a2, a, 100, 'rollout.completed')] });
      // A failed transition writes no notification.
      await expect(
        store.persistTransition({ rolloutId: id, at: 200, event: null, effects: [{ type: 'rollout', rollout: rolloutRecord(nextId('missing'), 'running', 1) }], notifications: [row(nextId('d'), a, 200)] }),
      ).rejects.toBeInstanceOf(NotFoundError);
      const mine = <T extends { endpoint: string }>(rows: T[]) => rows.filter((r) => r.endpoint === a || r.endpoint === b);
      let due = mine(await store.dueNotifications(1000, 1000, []));
      expect(due.map((r) => r.id)).toEqual([a1, b1]);
      expect(due[0]).toMatchObject({ id: a1, endpoint: a, format: 'json', secretRef: 'env:HOOK_SECRET', event: 'wave.started', rolloutId: id, body: `{"id":"${a1}"}`, state: 'pending', attempts: 0, nextAttemptAt: 100, lastError: null, lastStatus: null, deliveredAt: null, createdAt: 100 });
      // Busy endpoints are left out; a head not due yet holds its endpoint back (order per endpoint).
      expect(mine(await store.dueNotifications(1000, 1000, [a])).map((r) => r.id)).toEqual([b1]);
      await store.updateNotification(a1, { state: 'pending', attempts: 1, nextAttemptAt: 5000, lastError: 'HTTP 500', lastStatus: 500, deliveredAt: null });
      expect(mine(await store.dueNotifications(1000, 1000, [])).map((r) => r.id)).toEqual([b1]);
      due = mine(await store.dueNotifications(5000, 1000, []));
      expect(due.map((r) => [r.id, r.attempts, r.lastError])).toEqual([[a1, 1, 'HTTP 500'], [b1, 0, null]]);
      await store.updateNotification(a1, { state: 'delivered', attempts: 2, nextAttemptAt: 6000, lastError: null, lastStatus: 204, deliveredAt: 6000 });
      await store.updateNotification(b1, { state: 'failed', attempts: 9, nextAttemptAt: 6000, lastError: 'gave up', lastStatus: null, deliveredAt: null });
      expect(mine(await store.dueNotifications(6000, 1000, [])).map((r) => r.id)).toEqual([a2]);
      // Outside a transition (drift found), and a duplicate id is ignored.
      const c1 = nextId('d');
      await store.enqueueNotifications([{ ...row(c1, b, 7000, 'drift.found'), rolloutId: null }]);
      await store.enqueueNotifications([{ ...row(c1, b, 7000, 'drift.found'), rolloutId: null }]);
      expect(mine(await store.dueNotifications(7000, 1000, [])).map((r) => r.id)).toEqual([a2, c1]);
      const listed = await store.listNotifications({ rolloutId: id, limit: 10 });
      expect(listed.map((r) => [r.id, r.state])).toEqual([[a2, 'pending'], [b1, 'failed'], [a1, 'delivered']]);
      expect((await store.listNotifications({ rolloutId: id, state: 'delivered', limit: 10 })).map((r) => r.id)).toEqual([a1]);
      expect(await store.listNotifications({ rolloutId: id, limit: 1 })).toHaveLength(1);
      // Retention: delivered and failed rows written before the cutoff go; pending ones stay.
      expect(await store.purgeNotifications(101, 100_000)).toBeGreaterThanOrEqual(2);
      expect((await store.listNotifications({ rolloutId: id, limit: 10 })).map((r) => r.id)).toEqual([a2]);
      expect(mine(await store.dueNotifications(7000, 1000, [])).map((r) => r.id)).toEqual([a2, c1]);
    });

    it('migrates again as a no-op and keeps everything across a reopen', async () => {
      const id = nextId('keep');
      await createRollout(store, id, 'running');
      await store.persistTransition({ rolloutId: id, at: 2, event: null, effects: [{ type: 'step', step: step(id, 'web-k', 'applying') }] });
      await store.migrate();
      const before = await store.loadRollout(id);
      const hosts = await store.listHosts();
      await store.close();
      store = await harness!.open();
      expect(await store.loadRollout(id)).toEqual(before);
      expect(await store.listHosts()).toEqual(hosts);
      expect((await store.assignmentsForHost('web-k')).map((a) => a.rolloutId)).toEqual([id]);
    });
  });
}

// ---- PGlite ---------------------------------------------------------------------------------

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-store-'));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

runStoreContract('store on PGlite (data dir)', async () => {
  const dataDir = tempDir();
  return { open: () => openStore({ dataDir }), cleanup: async () => {} };
});

describe('PGlite data dir', () => {
  it('refuses a second opener while the first is open; a lock left by a dead process is taken over', async () => {
    const dataDir = tempDir();
    const first = await openStore({ dataDir });
    await createRollout(first, 'locked-1');
    await expect(openStore({ dataDir })).rejects.toSatisfy(
      (err: unknown) => err instanceof UnavailableError && /in use by process/.test(err.message) && err.message.includes(dataDir),
    );
    await first.close();
    // as if the server had been killed: its lock file stays, its pid (far above pid_max) is gone
    writeFileSync(join(dataDir, 'pgdata.lock'), '2147483646\n');
    const second = await openStore({ dataDir });
    expect((await second.loadRollout('locked-1'))?.rollout.id).toBe('locked-1');
    await second.close();
  });

  it('says why when the data dir cannot be created', async () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, '');
    await expect(openStore({ dataDir: join(file, 'sluice') })).rejects.toBeInstanceOf(UnavailableError);
  });

  it('keeps the audit log append-only: UPDATE, DELETE and TRUNCATE are refused', async () => {
    const sql = await createPgliteSql(null);
    try {
      await migrate(sql);
      const store = createSqlStore(sql, 'pglite');
      await store.appendAudit(auditInput({ actor: 'mallory' }));
      await expect(sql.query(`update audit_log set actor = 'someone-else'`)).rejects.toThrow(/append-only/);
      await expect(sql.query('delete from audit_log')).rejects.toThrow(/append-only/);
      await expect(sql.query('truncate audit_log')).rejects.toThrow(/append-only/);
      expect((await store.listAudit({ limit: 10 })).map((e) => e.actor)).toEqual(['mallory']);
    } finally {
      await sql.close();
    }
  });

  it('runs in memory', async () => {
    const store = await openStore({ memory: true });
    expect(store.kind).toBe('pglite');
    await createRollout(store, 'mem-1');
    expect((await store.loadRollout('mem-1'))?.plan).toEqual(PLAN);
    await store.close();
  });
});

// ---- PostgreSQL -----------------------------------------------------------------------------

const postgresAvailable = (await postgresTestDatabase().then(async (db) => (db ? (await db.cleanup(), true) : false))) as boolean;

describe.skipIf(!postgresAvailable)('store on PostgreSQL', () => {
  runStoreContract('contract', async () => {
    const db = await postgresTestDatabase();
    if (!db) return null;
    return { open: () => openStore({ databaseUrl: db.url }), cleanup: () => db.cleanup() };
  });

  it('migrates once when two processes start at the same moment', async () => {
    const db = (await postgresTestDatabase())!;
    try {
      const [a, b] = await Promise.all([createPostgresSql(db.url), createPostgresSql(db.url)]);
      const [appliedA, appliedB] = await Promise.all([migrate(a), migrate(b)]);
      const all = loadMigrations().map((m) => m.name);
      expect([...appliedA, ...appliedB].sort()).toEqual(all);
      await a.close();
      await b.close();

      // and two whole stores at once, on a schema already migrated
      const [s1, s2] = await Promise.all([openStore({ databaseUrl: db.url }), openStore({ databaseUrl: db.url })]);
      expect(s1.kind).toBe('postgres');
      await createRollout(s1, 'pg-shared');
      expect((await s2.loadRollout('pg-shared'))?.rollout.id).toBe('pg-shared');
      await s1.close();
      await s2.close();

      // the tables live in the test schema (the URL's search_path is honoured), each migration once
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const migrations = await client.query(`select name from ${db.schema}.sluice_migrations order by name`);
        expect(migrations.rows.map((r: { name: string }) => r.name)).toEqual(all);
        const tables = await client.query('select table_name from information_schema.tables where table_schema = $1 order by table_name', [db.schema]);
        expect(tables.rows.map((r: { table_name: string }) => r.table_name)).toEqual(['api_tokens', 'audit_log', 'drift_events', 'enroll_tokens', 'events', 'fleet_freezes', 'hosts', 'leader_lease', 'notifications', 'remediation_overrides', 'remediation_requests', 'reports', 'rollouts', 'sluice_migrations', 'steps', 'waves']);
      } finally {
        await client.end();
      }
    } finally {
      await db.cleanup();
    }
  });

  it('keeps the audit log append-only: UPDATE, DELETE and TRUNCATE are refused', async () => {
    const db = (await postgresTestDatabase())!;
    const store = await openStore({ databaseUrl: db.url });
    const client = new pg.Client({ connectionString: db.url });
    try {
      await store.appendAudit(auditInput({ actor: 'mallory', action: 'rollout.abort' }));
      await client.connect();
      await expect(client.query(`update audit_log set actor = 'someone-else'`)).rejects.toThrow(/append-only/);
      await expect(client.query('delete from audit_log')).rejects.toThrow(/append-only/);
      await expect(client.query('truncate audit_log')).rejects.toThrow(/append-only/);
      expect((await store.listAudit({ limit: 10 })).map((e) => e.actor)).toEqual(['mallory']);
    } finally {
      await client.end();
      await store.close();
      await db.cleanup();
    }
  });

  it('migrates fresh schemas concurrently from many stores', async () => {
    const db = (await postgresTestDatabase())!;
    try {
      const stores = await Promise.all(Array.from({ length: 4 }, () => openStore({ databaseUrl: db.url })));
      await Promise.all(stores.map((s) => s.close()));
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      const count = await client.query('select count(*)::int as n from sluice_migrations');
      await client.end();
      expect(count.rows[0]).toEqual({ n: loadMigrations().length });
    } finally {
      await db.cleanup();
    }
  });
});

describe('PostgreSQL unreachable', () => {
  it('fails with UnavailableError naming the URL without its password', async () => {
    const err = await openStore({ databaseUrl: 'postgres://sluice:hunter2@127.0.0.1:1/sluice' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toContain('postgres://sluice:***@127.0.0.1:1/sluice');
    expect((err as Error).message).not.toContain('hunter2');
  });
});
