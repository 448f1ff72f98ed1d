// Named API tokens (admin only): create one (its secret is in that answer and nowhere else, ever),
// list them (never a secret or a hash), revoke one. Revocation takes effect at once on this
// replica and within TOKEN_CACHE_MS on the others (auth.ts caches lookups that long).
import { Hono } from 'hono';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../../core/errors.ts';
import { parseDuration } from '../../core/plan/duration.ts';
import type { ApiTokenRow } from '../../store/store.ts';
import { type AppDeps, type AppEnv, readBody } from '../app.ts';
import { forgetTokenLookups, requireRole, ROLES, type Role } from '../auth.ts';
import { auditIntent } from '../audit.ts';
import { hashSecret, newSecret } from '../tokens.ts';

export const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const TOKEN_NAME_HINT = '1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit';
/** Names the audit log uses for other callers: a token may not take them. */
const RESERVED_NAMES = new Set(['admin', 'anonymous', 'enrollment-token']);
/** Tokens live at most this long (an `expiresIn`/`expiresAt` further out is refused). */
export const MAX_TOKEN_LIFETIME_MS = 5 * 365 * 86_400_000;

export const createTokenBody = z
  .object({
    name: z
      .string()
      .regex(TOKEN_NAME, `name: ${TOKEN_NAME_HINT}`)
      .refine((n) => !RESERVED_NAMES.has(n.toLowerCase()), { message: `name: ${[...RESERVED_NAMES].join(', ')} are reserved (the audit log uses them)` }),
    owner: z.string().min(1, 'owner: who the token is for (a person or a system)').max(200),
    role: z.enum(ROLES as [Role, ...Role[]]),
    expiresIn: z.string().max(64).optional().describe('A duration: 30d, 12h, 90m. Omit both for a token that does not expire.'),
    expiresAt: z.union([z.number().int().positive(), z.string().max(64)]).optional().describe('ms since the epoch, or an ISO 8601 time'),
  })
  .strict();

export function tokenView(row: ApiTokenRow, now: number): Record<string, unknown> {
  const state = row.revokedAt !== null && row.revokedAt <= now ? 'revoked' : row.expiresAt !== null && row.expiresAt <= now ? 'expired' : 'active';
  return {
    id: row.id,
    name: row.name,
    owner: row.owner,
    role: row.role,
    state,
    createdAt: row.createdAt,
    createdBy: row.createdBy,
    expiresAt: row.expiresAt,
    revokedAt: row.revokedAt,
    lastUsedAt: row.lastUsedAt,
  };
}

function expiryOf(body: z.output<typeof createTokenBody>, now: number): number | null {
  if (body.expiresIn !== undefined && body.expiresAt !== undefined) throw new ValidationError('give expiresIn or expiresAt, not both');
  let at: number | null = null;
  if (body.expiresIn !== undefined) {
    const ms = parseDuration(body.expiresIn);
    if (ms === null || ms <= 0) throw new ValidationError(`expiresIn takes a duration such as 30d, 12h or 90m; got "${body.expiresIn}"`);
    at = now + ms;
  } else if (body.expiresAt !== undefined) {
    at = typeof body.expiresAt === 'number' ? body.expiresAt : Date.parse(body.expiresAt);
    if (!Number.isFinite(at)) throw new ValidationError(`expiresAt is not a time: "${String(body.expiresAt)}" (use ISO 8601, e.g. 2027-01-31T00:00:00Z)`);
    if (at <= now) throw new ValidationError('expiresAt is in the past');
  }
  if (at !== null && at - now > MAX_TOKEN_LIFETIME_MS) throw new ValidationError('a token may live at most 5 years');
  return at;
}

export function tokenRoutes(deps: AppDeps): Hono<AppEnv> {
  const r = new Hono<AppEnv>();
  const admin = requireRole(deps, 'admin');

  r.post('/tokens', admin, async (c) => {
    const body = await readBody(c, createTokenBody);
    const now = deps.now();
    const expiresAt = expiryOf(body, now);
    const secret = newSecret('slt');
    const id = `tok_${randomBytes(8).toString('hex')}`;
    const intent = auditIntent(deps, c, { owner: body.owner, role: body.role, expiresAt });
    const row = await deps.store.createApiToken(
      { id, name: body.name, owner: body.owner, role: body.role, secretHash: hashSecret(secret), createdAt: now, createdBy: c.get('principal').name, expiresAt },
      intent.entry(body.name),
    );
    intent.written = true;
    forgetTokenLookups(deps.store);
    deps.log.info({ tokenName: row.name, role: row.role, owner: row.owner }, 'token created');
    return c.json({ token: tokenView(row, now), secret }, 201);
  });

  r.get('/tokens', admin, async (c) => {
    const now = deps.now();
    return c.json({ tokens: (await deps.store.listApiTokens()).map((t) => tokenView(t, now)) });
  });

  r.post('/tokens/:name/revoke', admin, async (c) => {
    const name = c.req.param('name');
    const now = deps.now();
    const intent = auditIntent(deps, c);
    const row = await deps.store.revokeApiToken(name, now, intent.entry(name));
    if (!row) throw new NotFoundError(`no token named ${name} (sluice tokens list shows them)`);
    intent.written = true;
    forgetTokenLookups(deps.store);
    deps.log.info({ tokenName: row.name }, 'token revoked');
    return c.json({ token: tokenView(row, now) });
  });

  return r;
}
