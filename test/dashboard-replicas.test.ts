// The dashboard on PostgreSQL replicas: a session lives on the replica it signed in on; a change
// made through a follower is checked there (session, CSRF) and forwarded to the leader with the
// session's token (auth.ts sessionForForward). Skipped without PostgreSQL.
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, tempDir, type ServerProc } from './helpers/processes.ts';
import { postgresTestDatabase, type PostgresTestDatabase } from './helpers/postgres.ts';
import { health, startReplicaProc, waitOneLeader } from './helpers/replicas.ts';

const probe: PostgresTestDatabase | null = await postgresTestDatabase();
await probe?.cleanup();

const procs: ServerProc[] = [];
const dir = tempDir('dash-replicas');
let db: PostgresTestDatabase | null = null;
afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill()));
  await db?.cleanup();
  dir.remove();
});

describe.skipIf(probe === null)('the dashboard on replicas', () => {
  it('a change through a follower, with the session cookie and CSRF header, reaches the leader authenticated', async () => {
    db = (await postgresTestDatabase())!;
    procs.push(await startReplicaProc(dir.path, 'replica-1', db.url), await startReplicaProc(dir.path, 'replica-2', db.url));
    const leader = await waitOneLeader(procs);
    const follower = procs.find((p) => p !== leader)!;
    expect((await health(follower.url)).role).toBe('follower');
    const signIn = await fetch(`${follower.url}/ui/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: ADMIN_TOKEN }) });
    expect(signIn.status).toBe(201);
    const cookie = /sluice_session=[^;]+/.exec(signIn.headers.get('set-cookie')!)![0];
    const { csrfToken } = (await signIn.json()) as { csrfToken: string };
    const pause = (headers: Record<string, string>) => fetch(`${follower.url}/v1/rollouts/r_nosuchrollout/pause`, { method: 'POST', headers: { cookie, ...headers } });
    // Refused on the follower without the CSRF header; with it, the leader answers (no such rollout), not 401.
    expect((await pause({})).status).toBe(403);
    const forwarded = await pause({ 'x-csrf-token': csrfToken });
    expect(forwarded.status).toBe(404);
    expect(((await forwarded.json()) as any).error.message).toMatch(/r_nosuchrollout/);
    // The leader does not know the follower's session: there, the cookie alone is no sign-in.
    expect((await fetch(`${leader.url}/v1/rollouts`, { headers: { cookie } })).status).toBe(401);
  });
});
