-- Sluice's schema, in the SQL both PGlite and PostgreSQL run. Timestamps are bigint
-- milliseconds since the epoch (what the core uses), never timestamptz.
-- One statement per line-ending ';' (migrate.ts splits on them: no dollar-quoted bodies).

create table hosts (
  name text primary key,
  labels jsonb not null default '{}'::jsonb,
  facts jsonb not null default '{}'::jsonb,
  -- unique so one credential can never authenticate as two hosts
  credential_hash text not null unique,
  enrolled_at bigint not null,
  last_seen bigint not null
);

create table rollouts (
  id text primary key,
  name text not null,
  state text not null,
  next_spec int not null,
  failed_total int not null,
  targeted_hosts int,
  reason text,
  plan jsonb not null,
  plan_source text not null,
  created_at bigint not null,
  updated_at bigint not null
);
create index rollouts_created_idx on rollouts (created_at, id);
create index rollouts_state_idx on rollouts (state);

create table waves (
  rollout_id text not null references rollouts (id) on delete cascade,
  idx int not null,
  name text not null,
  spec_index int not null,
  state text not null,
  host_count int not null,
  failed int not null,
  started_at bigint,
  bake_started_at bigint,
  finished_at bigint,
  primary key (rollout_id, idx)
);

create table steps (
  rollout_id text not null references rollouts (id) on delete cascade,
  host text not null,
  wave_index int not null,
  state text not null,
  attempt int not null,
  message text,
  checked_at bigint,
  updated_at bigint not null,
  primary key (rollout_id, host)
);
-- assignmentsForHost: an agent's long-poll asks for its own steps in a few states
create index steps_host_state_idx on steps (host, state);

create table events (
  seq bigint generated always as identity primary key,
  rollout_id text not null references rollouts (id) on delete cascade,
  at bigint not null,
  kind text not null,
  message text not null,
  host text,
  wave text,
  data jsonb
);
create index events_rollout_seq_idx on events (rollout_id, seq);

-- Agent report ids already processed: makes report delivery idempotent. No foreign key: a
-- report for an unknown rollout is still recorded (accepted, changes nothing).
create table reports (
  id text primary key,
  rollout_id text not null,
  host text,
  at bigint not null
);
