-- Host identity (issue 10): a host name cannot be taken over by re-enrolling it.
-- credential_hash is null after an admin's reset (POST /v1/hosts/:name/reset): the next
-- enrollment of the name is then accepted. Unique still holds for the non-null hashes.
alter table hosts alter column credential_hash drop not null;
-- Rotation (POST /v1/agent/rotate): the credential before the last rotation stays valid until
-- previous_valid_until (ms) or until the new one is first used, whichever comes first.
alter table hosts add column previous_credential_hash text unique;
alter table hosts add column previous_valid_until bigint;
alter table hosts add column credential_reset_at bigint;
-- The scoped enrollment token the host was enrolled with (null: the bootstrap token), and the
-- label constraints it carried, copied so a heartbeat cannot claim labels the token did not allow.
alter table hosts add column enroll_token_id text;
alter table hosts add column label_constraints jsonb;

-- Scoped enrollment tokens: only the SHA-256 of the secret is stored. `uses` is incremented in
-- the same statement that checks max_uses, expires_at and revoked_at, so concurrent enrollments
-- never exceed max_uses.
create table enroll_tokens (
  id text primary key,
  name text not null unique,
  hash text not null unique,
  expires_at bigint,
  max_uses int,
  uses int not null default 0,
  -- {"region": ["eu-west-1"]}: a host enrolled with this token must carry each key with one of the values
  labels jsonb not null default '{}'::jsonb,
  created_by text not null,
  created_at bigint not null,
  revoked_at bigint
);
