// Delivers the outbox: reports are written there before they are sent and deleted only when the
// server lists them as accepted, so a result survives agent and server restarts and is delivered
// exactly once (the server ignores a report id it has processed before).
import { Backoff, sleep, type BackoffOptions } from './backoff.ts';
import type { AgentLog } from './changes/change-runner.ts';
import type { AgentClient } from './client.ts';
import type { Session } from './session.ts';
import type { AgentReport, StateDir } from './state-dir.ts';

const BATCH = 100;

export class OutboxSender {
  private wanted = false;
  private running: Promise<void> | null = null;
  private readonly backoff: Backoff;

  constructor(
    private readonly deps: {
      client: AgentClient;
      session: Session;
      state: StateDir;
      log: AgentLog;
      backoff: BackoffOptions;
      random: () => number;
      signal: AbortSignal;
    },
  ) {
    this.backoff = new Backoff(deps.backoff, deps.random);
  }

  /** Queues a report: on disk first, then a send is started. */
  async queue(report: AgentReport): Promise<void> {
    await this.deps.state.putReport(report);
    this.kick();
  }

  /** Starts a flush (or asks the running one to go round once more). */
  kick(): void {
    this.wanted = true;
    if (this.running || this.deps.signal.aborted) return;
    this.running = this.loop().finally(() => {
      this.running = null;
    });
  }

  /** Resolves when the current flush (if any) has ended. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    while (this.wanted && !this.deps.signal.aborted) {
      this.wanted = false;
      let delivered = false;
      try {
        delivered = await this.flush();
      } catch (err) {
        this.deps.log.error('outbox flush failed', { error: err instanceof Error ? err.message : String(err) });
      }
      if (delivered) {
        this.backoff.reset();
      } else {
        this.wanted = true;
        await sleep(this.backoff.next(), this.deps.signal);
      }
    }
  }

  /** True when everything in the outbox was acknowledged. */
  private async flush(): Promise<boolean> {
    const { state, client, session, log, signal } = this.deps;
    const reports = await state.listReports();
    for (let i = 0; i < reports.length; i += BATCH) {
      if (!(await this.send(reports.slice(i, i + BATCH)))) return false;
    }
    if (reports.length > 0) log.info('reports delivered', { count: reports.length });
    return !signal.aborted;
  }

  private async send(batch: AgentReport[]): Promise<boolean> {
    const { state, client, session, log, signal } = this.deps;
    const credential = await session.get();
    if (credential === undefined) return false;
    try {
      const { accepted } = await client.reports(credential, batch, signal);
      session.succeeded();
      const ids = new Set(batch.map((r) => r.id));
      for (const id of accepted) if (ids.has(id)) await state.deleteReport(id);
      return accepted.length >= batch.length && batch.every((r) => accepted.includes(r.id));
    } catch (err) {
      if (signal.aborted) return false;
      const code = (err as { code?: string }).code;
      const message = err instanceof Error ? err.message : String(err);
      if (code === 'unauthenticated') {
        session.rejectedBy401(credential);
        return false;
      }
      if (code === 'invalid' || code === 'too_large') {
        // The server will never take this batch: find the bad report(s) one by one and set them aside.
        if (batch.length > 1) {
          let all = true;
          for (const report of batch) all = (await this.send([report])) && all;
          return all;
        }
        const [report] = batch;
        if (report) {
          const movedTo = await state.rejectReport(report.id);
          log.error('the server refused a report for good; moved aside', { reportId: report.id, movedTo, error: message });
        }
        return true;
      }
      log.warn('sending reports failed; will retry', { error: message, count: batch.length });
      return false;
    }
  }
}
