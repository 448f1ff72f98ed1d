// Rate limits per source address, in memory: token buckets for failed authentication (any 401
// of a request that presented a secret) and for enrollments. Successful host and operator calls never spend a token, so a host's
// heartbeats go on whatever a neighbour behind the same address guesses.
//
// While an address is throttled for failed authentication, its requests are refused with 429
// before their token is even checked (a throttled guess learns nothing), except requests that
// carry a secret that authenticated recently: the real hosts and operators behind a shared
// address (NAT, a test on 127.0.0.1) keep working. Each map is bounded and drops its oldest key.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './app.ts';
import { nodeRequest } from './app.ts';
import { bearer } from './auth.ts';

import type { BucketSpec } from './rate-spec.ts';
export type { BucketSpec };

export interface RateLimitOptions {
  /** Failed authentications (401) per source address. Default 20 per minute, burst 20; null: no limit. */
  readonly failedAuth?: BucketSpec | null;
  /** Enrollment requests per source address (successful or not). Default 10 per second, burst 50; null: no limit. */
  readonly enroll?: BucketSpec | null;
  /** Most source addresses tracked per bucket (oldest evicted). Default 10,000. */
  readonly maxSources?: number;
  /** How long a secret that authenticated lets its address through a failed-auth throttle. Default 10 minutes. */
  readonly knownGoodMs?: number;
  /** Most such secrets remembered (hashed; oldest dropped). Default 200,000, like the credential cache. */
  readonly knownGoodMax?: number;
  /** false: no limits (benchmarks). Default true. */
  readonly enabled?: boolean;
}

export const DEFAULT_RATE_LIMITS = {
  failedAuth: { perSecond: 20 / 60, burst: 20 },
  enroll: { perSecond: 10, burst: 50 },
  maxSources: 10_000,
  knownGoodMs: 10 * 60_000,
  knownGoodMax: 200_000,
} as const;

interface Bucket {
  tokens: number;
  at: number;
}

/** A token bucket per key, bounded in keys (a Map keeps insertion order: the first key is the oldest). */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly spec: BucketSpec,
    private readonly maxKeys: number,
    private readonly now: () => number = Date.now,
  ) {}

  private refill(key: string): Bucket {
    const now = this.now();
    const b = this.buckets.get(key);
    if (!b) return { tokens: this.spec.burst, at: now };
    const tokens = Math.min(this.spec.burst, b.tokens + ((now - b.at) / 1000) * this.spec.perSecond);
    return { tokens, at: now };
  }

  /** Seconds until one token is there (0: one is there now). */
  retryAfter(key: string): number {
    const b = this.refill(key);
    if (b.tokens >= 1) return 0;
    return Math.max(1, Math.ceil((1 - b.tokens) / this.spec.perSecond));
  }

  /** Spends one token; returns 0, or the seconds to wait when there was none (nothing spent). */
  take(key: string): number {
    const b = this.refill(key);
    if (b.tokens < 1) {
      this.store(key, b);
      return Math.max(1, Math.ceil((1 - b.tokens) / this.spec.perSecond));
    }
    b.tokens -= 1;
    this.store(key, b);
    return 0;
  }

  /** Spends one token even when there is none (the balance goes negative down to -burst). */
  charge(key: string): void {
    const b = this.refill(key);
    b.tokens = Math.max(-this.spec.burst, b.tokens - 1);
    this.store(key, b);
  }

  get size(): number {
    return this.buckets.size;
  }

  private store(key: string, b: Bucket): void {
    this.buckets.delete(key);
    if (b.tokens >= this.spec.burst) return; // full: same as absent
    this.buckets.set(key, b);
    while (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
  }
}

/** The address a request came from (the socket's peer; X-Forwarded-For is not trusted). */
export function sourceOf(c: Parameters<MiddlewareHandler<AppEnv>>[0]): string {
  const node = nodeRequest(c);
  return node ? sourceOfIncoming(node.incoming) : 'unknown';
}

/** The address a Node request came from, as sourceOf gives it. */
export function sourceOfIncoming(incoming: IncomingMessage): string {
  return incoming.socket.remoteAddress ?? 'unknown';
}

function secretKey(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

export interface RateLimiter {
  /** Before the routes: refuses throttled addresses; after them: charges failed authentications. */
  readonly middleware: MiddlewareHandler<AppEnv>;
  /** On the enrollment route: one token per enrollment request. */
  readonly enroll: MiddlewareHandler<AppEnv>;
  readonly failedAuth: TokenBuckets;
  /**
   * A credential the server just issued (enrollment, rotation): its first use gets through a
   * throttle on its address, like any secret that authenticated recently.
   */
  trust(secret: string): void;
  /** What the middleware does before the routes: seconds to wait (429), 0 to go on. */
  throttled(source: string, secret: string | null): number;
  /** What the middleware does after them (charges a failed authentication, remembers a good secret). */
  answered(source: string, secret: string | null, authenticated: boolean, status: number): void;
}

export function createRateLimiter(opts: RateLimitOptions = {}, now: () => number = Date.now): RateLimiter {
  const maxSources = opts.maxSources ?? DEFAULT_RATE_LIMITS.maxSources;
  const knownGoodMs = opts.knownGoodMs ?? DEFAULT_RATE_LIMITS.knownGoodMs;
  const knownGoodMax = opts.knownGoodMax ?? DEFAULT_RATE_LIMITS.knownGoodMax;
  const failedAuthSpec = opts.failedAuth === undefined ? DEFAULT_RATE_LIMITS.failedAuth : opts.failedAuth;
  const enrollSpec = opts.enroll === undefined ? DEFAULT_RATE_LIMITS.enroll : opts.enroll;
  const failedAuth = new TokenBuckets(failedAuthSpec ?? { perSecond: 1, burst: 1 }, maxSources, now);
  const enrollBuckets = new TokenBuckets(enrollSpec ?? { perSecond: 1, burst: 1 }, maxSources, now);
  /** Secrets (hashed) that authenticated recently, with when; bounded like the buckets. */
  const knownGood = new Map<string, number>();
  const enabled = opts.enabled !== false;

  const tooMany = (c: Parameters<MiddlewareHandler<AppEnv>>[0], seconds: number, what: string) => {
    c.header('retry-after', String(seconds));
    return c.json({ error: { code: 'rate_limited', message: `too many ${what} from this address; retry after ${seconds} s` } }, 429);
  };

  const checks = enabled && failedAuthSpec !== null;

  /** Seconds a request from `source` presenting `secret` must wait (0: it goes on). */
  function throttled(source: string, secret: string | null): number {
    if (!checks) return 0;
    // A request without a secret guesses nothing: it is neither throttled nor charged (its 401
    // says only "send a token").
    const wait = secret !== null ? failedAuth.retryAfter(source) : 0;
    if (wait > 0) {
      const seen = knownGood.get(secretKey(secret!));
      if (seen === undefined || now() - seen > knownGoodMs) return wait;
    }
    return 0;
  }

  /** After a request: `authenticated` says whether its secret was accepted (who called is known). */
  function answered(source: string, secret: string | null, authenticated: boolean, status: number): void {
    if (!checks) return;
    // Who called is set once the secret was accepted: a later 401 of the same request (a long-poll
    // whose credential was reset or rotated away while it waited) is not a guess and not charged.
    if (status === 401 && secret !== null && !authenticated) {
      failedAuth.charge(source);
    } else if (secret !== null && authenticated && status !== 401 && status < 500) {
      trust(secret); // remembered so a throttle on its address spares it
    }
  }

  const middleware: MiddlewareHandler<AppEnv> = async (c, next) => {
    if (!checks || c.req.path === '/healthz') return next();
    const source = sourceOf(c);
    const secret = bearer(c);
    const wait = throttled(source, secret);
    if (wait > 0) return tooMany(c, wait, 'failed authentications');
    await next();
    answered(source, secret, c.get('actor') !== undefined, c.res.status);
  };

  /** A secret known to be good from now on (one that authenticated, or one the server just issued). */
  function trust(secret: string): void {
    const key = secretKey(secret);
    const seen = knownGood.get(key);
    if (seen !== undefined && now() - seen <= knownGoodMs / 2) return;
    knownGood.delete(key);
    knownGood.set(key, now());
    while (knownGood.size > knownGoodMax) knownGood.delete(knownGood.keys().next().value as string);
  }

  const enroll: MiddlewareHandler<AppEnv> = async (c, next) => {
    if (!enabled || enrollSpec === null) return next();
    const wait = enrollBuckets.take(sourceOf(c));
    if (wait > 0) return tooMany(c, wait, 'enrollments');
    return next();
  };

  return { middleware, enroll, failedAuth, trust: enabled ? trust : () => {}, throttled, answered };
}
