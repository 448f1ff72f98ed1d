-- Fleet-wide freezes and rollouts that wait (issue 12: windows, blackouts, freezes, limits).

-- At most one active freeze (id = 1): `sluice freeze start` writes it, `freeze end` ends it. Every
-- replica reads it (the leader before it starts a wave, any replica before it accepts a start).
-- Ended freezes stay as rows of fleet_freezes for the record; the audit log has who did what.
create table fleet_freezes (
  id bigserial primary key,
  reason text not null,
  started_by text not null,
  started_at bigint not null,
  until_at bigint,
  ended_at bigint,
  ended_by text
);
-- Only one freeze is active (not ended) at a time.
create unique index fleet_freezes_active_idx on fleet_freezes ((true)) where ended_at is null;

-- Why a running rollout does not move on: its window is closed, the fleet is frozen, or it is over
-- a fleet-wide limit (`waiting for window: opens Tue 09:00 Europe/Paris`). Null: it is not waiting.
alter table rollouts add column waiting text;
