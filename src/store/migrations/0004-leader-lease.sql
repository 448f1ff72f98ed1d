-- Replicas (issue 8): several servers share one PostgreSQL; exactly one, the holder of this lease,
-- drives rollouts. One row. `term` grows by one at every change of holder (or after a lapse), and
-- every transition the leader commits re-checks (holder, term, expires_at > now()) in its own
-- transaction, so a leader that lost the lease cannot write. Times are the database's clock, so
-- the replicas' clocks do not matter. `url` is where the other replicas forward leader-only
-- requests (the leader's --advertise-url).
create table leader_lease (
  id int primary key check (id = 1),
  holder text not null,
  term bigint not null,
  url text not null,
  acquired_at timestamptz not null,
  expires_at timestamptz not null
);
