-- Notifications (issue 12): the durable outbox of webhook deliveries. A row is written in the same
-- transaction as the transition that caused it; the leader's delivery loop POSTs it, oldest first
-- per endpoint, with retries and backoff. `id` is the delivery id receivers de-duplicate on.
create table notifications (
  seq bigserial primary key,
  id text not null unique,
  endpoint text not null,
  format text not null check (format in ('json', 'slack')),
  secret_ref text,
  event text not null,
  rollout_id text,
  body text not null,
  state text not null default 'pending' check (state in ('pending', 'delivered', 'failed')),
  attempts integer not null default 0,
  next_attempt_at bigint not null,
  last_error text,
  last_status integer,
  created_at bigint not null,
  delivered_at bigint
);
-- The delivery loop's question: the oldest pending row of each endpoint.
create index notifications_pending_idx on notifications (endpoint, seq) where state = 'pending';
create index notifications_created_idx on notifications (created_at);
