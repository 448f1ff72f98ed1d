// The agent's identity with the server: the credential from the state dir, or a new one from
// enrolling with the token. Every loop asks the session for the credential; a 401 makes the
// session enroll again (once, shared by all loops), or keep retrying when there is no token.
import type { Labels } from '../core/types.ts';
import { Backoff, sleep, type BackoffOptions } from './backoff.ts';
import type { AgentLog } from './changes/change-runner.ts';
import type { AgentClient } from './client.ts';
import type { Credential, StateDir } from './state-dir.ts';

export interface SessionOptions {
  readonly client: AgentClient;
  readonly state: StateDir;
  readonly token: string | undefined;
  readonly name: string;
  readonly labels: Labels;
  readonly collectFacts: () => Promise<Record<string, unknown>>;
  readonly backoff: BackoffOptions;
  readonly random: () => number;
  readonly log: AgentLog;
  readonly signal: AbortSignal;
  /** Called with the facts sent when enrollment succeeded (they count as accepted). */
  readonly onEnrolled?: (facts: Record<string, unknown>) => void;
}

/** How often a running agent rotates its credential by default (`--rotate-every`). */
export const DEFAULT_ROTATE_EVERY_MS = 24 * 3_600_000;

export class Session {
  private current: Credential | null = null;
  private rejected = false;
  private loaded = false;
  private pending: Promise<string | undefined> | null = null;
  /** The last enrollment was refused with 409: the name is enrolled with another credential. */
  private nameTaken = false;
  private readonly backoff: Backoff;

  constructor(private readonly opts: SessionOptions) {
    this.backoff = new Backoff(opts.backoff, opts.random);
  }

  /** The host name the server knows this agent by. */
  get host(): string {
    return this.current?.host ?? this.opts.name;
  }

  /** The credential to call the server with; undefined only once the agent is stopping. */
  get(): Promise<string | undefined> {
    if (this.current && !this.rejected) return Promise.resolve(this.current.credential);
    this.pending ??= this.acquire().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  /** A call with `credential` got 401. Ignored if the session has moved on to another one. */
  rejectedBy401(credential: string): void {
    if (this.current?.credential === credential) this.rejected = true;
  }

  /**
   * Asks the server for a new credential and writes it to the state dir (atomically) before
   * using it; the one it replaces stays valid on the server for a grace period, so calls in
   * flight with it still succeed. Throws when the server refuses or cannot be reached (the
   * current credential stays in use).
   */
  async rotate(): Promise<void> {
    const credential = await this.get();
    if (credential === undefined || !this.current) return;
    const answer = await this.opts.client.rotate(credential, this.opts.signal);
    const next: Credential = { server: this.opts.client.server, host: answer.host, credential: answer.credential };
    await this.opts.state.writeCredential(next);
    if (this.current.credential === credential) {
      this.current = next;
      this.rejected = false;
    }
    this.opts.log.info('host credential rotated', { server: this.opts.client.server, host: answer.host });
  }

  /** A call succeeded: the next trouble starts with a short delay again. */
  succeeded(): void {
    this.backoff.reset();
  }

  private async acquire(): Promise<string | undefined> {
    const { log, signal, client } = this.opts;
    while (!signal.aborted) {
      if (!this.loaded) {
        this.loaded = true;
        const stored = await this.opts.state.readCredential();
        if (stored && stored.server === client.server && stored.host === this.opts.name) {
          this.current = stored;
        } else if (stored) {
          log.warn('the stored credential is for another server or host name; enrolling again', {
            storedServer: stored.server,
            storedHost: stored.host,
            server: client.server,
            name: this.opts.name,
          });
        }
      }
      if (this.current && !this.rejected) return this.current.credential;

      if (this.current && this.rejected) {
        // Another process may have rotated the credential in the state dir (`sluice agent rotate`).
        const stored = await this.opts.state.readCredential().catch(() => null);
        if (stored && stored.server === client.server && stored.host === this.opts.name && stored.credential !== this.current.credential) {
          log.info('using the credential in the state directory (rotated by another process)', { server: client.server });
          this.current = stored;
          this.rejected = false;
          return stored.credential;
        }
      }

      if (this.opts.token !== undefined) {
        // A server that keeps refusing fresh credentials must not get an enrollment storm.
        if (this.current && this.rejected && !(await sleep(this.backoff.next(), signal))) return undefined;
        const enrolled = await this.enroll();
        if (enrolled !== undefined) return enrolled;
        if (this.nameTaken) {
          // 409: only an admin's reset helps; ask again every 3 longest backoffs (30 s by default).
          if (!(await sleep(Math.max(3 * this.opts.backoff.maxMs, this.backoff.next()), signal))) return undefined;
          continue;
        }
      } else if (this.current) {
        // Without a token the only hope is that the server accepts this credential again
        // (e.g. its database was being restored): try it again after a delay.
        const delay = this.backoff.next();
        log.error('the server rejected this host credential (401) and no --token was given to enroll again; retrying', {
          server: client.server,
          retryInMs: delay,
        });
        if (!(await sleep(delay, signal))) return undefined;
        this.rejected = false;
        return this.current.credential;
      } else {
        log.error('no credential in the state directory and no --token to enroll with; retrying', {
          stateDir: this.opts.state.dir,
        });
        this.loaded = false; // the credential file may appear (copied in by an operator)
      }
      await sleep(this.backoff.next(), signal);
    }
    return undefined;
  }

  private async enroll(): Promise<string | undefined> {
    const { log, client } = this.opts;
    let facts: Record<string, unknown> = {};
    try {
      facts = await this.opts.collectFacts();
    } catch (err) {
      log.warn('collecting facts failed; enrolling without them', { error: String(err) });
    }
    try {
      // The credential held for this name (even one just refused) goes along: a server that still
      // knows it re-enrolls the name; without it an enrolled name is refused (409) until an admin
      // resets it, so an enrollment token alone cannot take a host over.
      const held = this.current && this.current.host === this.opts.name && this.current.server === client.server ? this.current.credential : undefined;
      const answer = await client.enroll(
        this.opts.token ?? '',
        { name: this.opts.name, labels: this.opts.labels, facts, ...(held !== undefined ? { currentCredential: held } : {}) },
        this.opts.signal,
      );
      const credential: Credential = { server: client.server, host: answer.host, credential: answer.credential };
      await this.opts.state.writeCredential(credential);
      this.current = credential;
      this.rejected = false;
      this.nameTaken = false;
      this.opts.onEnrolled?.(facts);
      log.info('enrolled', { server: client.server, host: answer.host });
      return credential.credential;
    } catch (err) {
      if (this.opts.signal.aborted) return undefined;
      const code = (err as { code?: string }).code;
      this.nameTaken = code === 'conflict';
      log.error(
        code === 'unauthenticated'
          ? 'the server rejected the enrollment token (401); check the enrollment token (--enroll-token-file, SLUICE_ENROLL_TOKEN or the --config file); retrying'
          : code === 'conflict'
            ? `the server already has a host named ${this.opts.name} with another credential (409); if this is that host and it lost its state directory, an admin runs: sluice hosts reset ${this.opts.name}; retrying`
            : 'enrollment failed; retrying',
        { server: client.server, error: err instanceof Error ? err.message : String(err) },
      );
      return undefined;
    }
  }
}
