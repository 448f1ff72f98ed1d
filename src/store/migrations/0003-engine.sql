-- Engine (issue 7): report ids scoped to their host, commit-confirmed steps, hosts that reverted
-- themselves, ineligible hosts, a rollout held because the server suspects itself, and the attempt
-- at which a step's rollback was assigned (apply may be retried, so "attempt 2" no longer means
-- "rollback").

-- A report id is the agent's: unique per host, not across the fleet.
update reports set host = '' where host is null;
alter table reports alter column host set not null;
alter table reports drop constraint reports_pkey;
alter table reports add primary key (host, id);

-- When the agent reported the change confirmed (its commit-confirmed window passed with contact).
alter table steps add column confirmed_at bigint;
-- The attempt at which this step was assigned its rollback (null: never).
alter table steps add column rollback_attempt int;

-- Hosts that rolled their change back by themselves (commit-confirmed), counted on the rollout.
alter table rollouts add column reverted_hosts int not null default 0;
-- Targeted hosts left out because they were offline or could not run the plan (ineligible: skip).
alter table rollouts add column skipped_hosts int not null default 0;
-- Why the server paused this rollout by itself (it suspects its own connectivity); null otherwise.
alter table rollouts add column held_reason text;
