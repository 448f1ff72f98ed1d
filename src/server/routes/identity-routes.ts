// Admin routes of host identity: reset a host (its next enrollment is accepted without the old
// credential) and scoped enrollment tokens (create, list, revoke). Everything here is admin-only
// and recorded with recordIdentityAudit.
import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { NotFoundError, ValidationError } from '../../core/errors.ts';
import { HOST_NAME, HOST_NAME_HINT } from '../../core/labels.ts';
import type { EnrollTokenRow } from '../../store/store.ts';
import { type AppDeps, type AppEnv, readBody } from '../app.ts';
import { requireRole } from '../auth.ts';
import { recordIdentityAudit } from '../identity-audit.ts';
import { sourceOf } from '../rate-limit.ts';
import { enrollTokenBody } from '../schemas.ts';
import { hashSecret, newSecret } from '../tokens.ts';

export function enrollTokenView(t: EnrollTokenRow, now: number): Record<string, unknown> {
  const state =
    t.revokedAt !== null ? 'revoked' : t.expiresAt !== null && t.expiresAt <= now ? 'expired' : t.maxUses !== null && t.uses >= t.maxUses ? 'used up' : 'active';
  return {
    id: t.id,
    name: t.name,
    state,
    expiresAt: t.expiresAt,
    maxUses: t.maxUses,
    uses: t.uses,
    labels: t.labels,
    createdBy: t.createdBy,
    createdAt: t.createdAt,
    revokedAt: t.revokedAt,
  };
}

export function identityRoutes(deps: AppDeps): Hono<AppEnv> {
  const r = new Hono<AppEnv>();
  const admin = requireRole(deps, 'admin');

  r.post('/hosts/:name/reset', admin, async (c) => {
    const name = c.req.param('name');
    if (!HOST_NAME.test(name)) throw new ValidationError(`host names are ${HOST_NAME_HINT}`);
    const done = await deps.store.resetHostCredential(name, deps.now());
    if (!done) throw new NotFoundError(`no host named ${name} is enrolled`);
    // A long-poll held with the old credential answers now (401), not at the end of its wait.
    deps.hub.notify([name]);
    await recordIdentityAudit(deps, { action: 'host.reset', actor: c.get('actor'), target: name, ok: true, source: sourceOf(c) }, c);
    return c.json({ host: name, reset: true, message: `the credential of ${name} was cleared; the next enrollment of ${name} is accepted` });
  });

  r.post('/enroll-tokens', admin, async (c) => {
    const body = await readBody(c, enrollTokenBody);
    const now = deps.now();
    const secret = newSecret('sle');
    const row = await deps.store.createEnrollToken({
      id: `et_${randomBytes(9).toString('base64url')}`,
      name: body.name,
      hash: hashSecret(secret),
      expiresAt: body.expiresInS !== undefined ? now + body.expiresInS * 1000 : null,
      maxUses: body.maxUses ?? null,
      labels: body.labels,
      createdBy: c.get('actor'),
      createdAt: now,
    });
    await recordIdentityAudit(deps, {
      action: 'enroll_token.created',
      actor: c.get('actor'),
      target: row.name,
      ok: true,
      source: sourceOf(c),
      detail: { id: row.id, expiresAt: row.expiresAt, maxUses: row.maxUses, labels: row.labels },
    }, c);
    // The secret is shown once, here; only its hash is stored.
    return c.json({ token: secret, ...enrollTokenView(row, now) }, 201);
  });

  r.get('/enroll-tokens', admin, async (c) => {
    const now = deps.now();
    return c.json({ tokens: (await deps.store.listEnrollTokens()).map((t) => enrollTokenView(t, now)) });
  });

  r.post('/enroll-tokens/:id/revoke', admin, async (c) => {
    const id = c.req.param('id');
    if (!/^[A-Za-z0-9._-]{1,100}$/.test(id)) throw new ValidationError('token ids and names are 1-100 characters of A-Z a-z 0-9 . _ -');
    const now = deps.now();
    const row = await deps.store.revokeEnrollToken(id, now);
    if (!row) throw new NotFoundError(`no enrollment token ${id}`);
    await recordIdentityAudit(deps, { action: 'enroll_token.revoked', actor: c.get('actor'), target: row.name, ok: true, source: sourceOf(c), detail: { id: row.id } }, c);
    return c.json(enrollTokenView(row, now));
  });

  return r;
}
