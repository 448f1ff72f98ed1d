// A small fleet of real processes for the engine's end-to-end tests: one `sluice server` (restartable
// on the same port, so agents find it again) and `sluice agent`s whose commands leave marks in a
// temp dir. Every wait is bounded; `cleanup()` ends what the rig started and removes its files.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, startAgentProc, startServerProc, tempDir, waitFor, type Proc, type ServerProc } from './processes.ts';

export const FINAL = ['completed', 'halted', 'rolled_back', 'aborted'];

export interface HostSpec {
  readonly name: string;
  readonly labels?: Record<string, string>;
  readonly allow?: string;
}

export class Rig {
  readonly dir = tempDir('e2e-engine');
  readonly marks = join(this.dir.path, 'marks');
  server!: ServerProc;
  readonly agents = new Map<string, Proc>();

  static async start(hosts: readonly HostSpec[], serverEnv: Record<string, string> = {}): Promise<Rig> {
    const r = new Rig();
    mkdirSync(r.marks, { recursive: true });
    try {
      r.server = await startServerProc(join(r.dir.path, 'server'), 0, serverEnv);
      r.serverEnv = serverEnv;
      for (const h of hosts) r.startAgent(h);
      await r.waitOnline(hosts.map((h) => h.name));
      return r;
    } catch (err) {
      // The caller never gets the rig to clean up: its server and agents would outlive the test.
      await r.cleanup();
      throw err;
    }
  }

  private serverEnv: Record<string, string> = {};

  startAgent(h: HostSpec): Proc {
    const p = startAgentProc(this.server.url, {
      name: h.name,
      labels: h.labels ?? {},
      stateDir: join(this.dir.path, 'agents', h.name),
      ...(h.allow !== undefined ? { allow: h.allow } : {}),
    });
    this.agents.set(h.name, p);
    return p;
  }

  async waitOnline(names: readonly string[], timeoutMs = 60_000): Promise<void> {
    await waitFor(
      `hosts ${names.join(', ')} online`,
      async () => {
        const hosts = (await api(this.server.url, 'GET', '/v1/hosts')).hosts as any[];
        return names.every((n) => hosts.some((h) => h.name === n && h.status === 'online'));
      },
      timeoutMs,
      200,
    );
  }

  async stopServer(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.server.kill(signal);
  }

  async startServer(): Promise<void> {
    this.server = await startServerProc(join(this.dir.path, 'server'), this.server.port, this.serverEnv);
  }

  view(id: string): Promise<any> {
    return api(this.server.url, 'GET', `/v1/rollouts/${id}`);
  }

  async events(id: string): Promise<any[]> {
    return (await api(this.server.url, 'GET', `/v1/rollouts/${id}/events?limit=5000`)).events;
  }

  waitView(what: string, id: string, ok: (v: any) => boolean, timeoutMs = 60_000): Promise<any> {
    return waitFor(what, async () => {
      const v = await this.view(id);
      return ok(v) ? v : null;
    }, timeoutMs, 200);
  }

  waitFinal(id: string, timeoutMs = 60_000): Promise<any> {
    return this.waitView(`rollout ${id} to end`, id, (v) => FINAL.includes(v.state), timeoutMs);
  }

  lines(file: string): string[] {
    const path = join(this.marks, file);
    return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];
  }

  /** A `command` plan whose apply and rollback leave marks; `extra` is appended as top-level YAML. */
  plan(o: { name?: string; waves: string; extra?: string; check?: string; applyFails?: string; rollbackFails?: string; hosts?: string }): string {
    const apply = `${o.applyFails ? `case " ${o.applyFails} " in *" $SLUICE_HOST "*) exit 3;; esac; ` : ''}echo "$SLUICE_ROLLOUT_ID" >> ${this.marks}/$SLUICE_HOST.apply`;
    const rollback = `${o.rollbackFails ? `case " ${o.rollbackFails} " in *" $SLUICE_HOST "*) echo nope >&2; exit 4;; esac; ` : ''}echo "$SLUICE_ROLLOUT_ID" >> ${this.marks}/$SLUICE_HOST.rollback`;
    return `
name: ${o.name ?? 'engine-e2e'}
change:
  command:
    apply: ["sh", "-c", ${JSON.stringify(apply)}]
    rollback: ["sh", "-c", ${JSON.stringify(rollback)}]
    timeout: 20s
${o.hosts ?? ''}
waves:
${o.waves}
checks:
  - name: probe
    command: ["sh", "-c", ${JSON.stringify(o.check ?? 'true')}]
checkInterval: 1s
${o.extra ?? ''}
`;
  }

  async cleanup(): Promise<void> {
    for (const a of this.agents.values()) {
      // A stopped agent cannot handle SIGTERM: let it go on first.
      a.child.kill('SIGCONT');
    }
    await Promise.all([...this.agents.values()].map((a) => a.kill()));
    await this.server?.kill();
    this.dir.remove();
  }
}
