-- Named API tokens with roles, and the audit log (issue "People and hosts with identities").

-- A named token: only the SHA-256 of its secret is stored (the secret is shown once, at creation).
-- Revoked tokens stay (the audit log names them by id); their names stay taken.
create table api_tokens (
  id text primary key,
  name text not null unique,
  owner text not null,
  role text not null check (role in ('viewer', 'operator', 'approver', 'admin')),
  secret_hash text not null unique,
  created_at bigint not null,
  created_by text not null,
  expires_at bigint,
  revoked_at bigint,
  last_used_at bigint
);

-- Who started a rollout (principal and owner): `distinctApprover: true` compares the approver with them.
alter table rollouts add column created_by text;
alter table rollouts add column created_by_owner text;
-- Who approved which wave, for the rollout view (GET /v1/rollouts/:id, polled by --watch): a few
-- rows per rollout, found without reading a large rollout's whole event log.
create index events_approved_idx on events (rollout_id, seq) where kind = 'wave.approved';

-- Every state-changing request, and every refused (401/403) or failed one. Append-only.
create table audit_log (
  id bigserial primary key,
  at bigint not null,
  actor text not null,
  role text,
  token_id text,
  action text not null,
  target text,
  source_ip text,
  result text not null check (result in ('ok', 'denied', 'failed')),
  detail jsonb
);
create index audit_log_at_idx on audit_log (at);
create index audit_log_actor_idx on audit_log (actor, id);

-- Rows are never changed or deleted through the application: a trigger refuses it (also for a
-- table owner). Pruning, if ever needed, is an explicit operator act: `alter table audit_log
-- disable trigger audit_log_append_only` as the owner, delete, enable again (docs/access-control.md).
create function audit_log_refuse_change() returns trigger language plpgsql as $$ begin raise exception 'audit_log is append-only: % refused', tg_op using errcode = '42501'; end $$;
create trigger audit_log_append_only before update or delete on audit_log for each row execute function audit_log_refuse_change();
create trigger audit_log_no_truncate before truncate on audit_log for each statement execute function audit_log_refuse_change();
