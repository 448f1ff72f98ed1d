-- Drift guard (issue 3): what agents report changed on their host outside a rollout, and what the
-- guard did about it. One row per event; `id` is chosen by the agent, so a re-sent event is a
-- no-op. An open event (a condition that still holds) has no resolved_at; actions are stored closed.

create table drift_events (
  host text not null references hosts (name) on delete cascade,
  id text not null,
  kind text not null,
  subject text not null,
  message text not null,
  -- when the agent saw it (agent clock) and when the server got it (server clock)
  at bigint not null,
  received_at bigint not null,
  resolved_at bigint,
  data jsonb,
  primary key (host, id)
);
-- resolving a condition, and GET /v1/drift's open drift per host
create index drift_events_open_idx on drift_events (host, kind, subject) where resolved_at is null;
create index drift_events_received_idx on drift_events (received_at, at);
