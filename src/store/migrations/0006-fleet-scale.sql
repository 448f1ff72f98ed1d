-- Large fleets (issue 8): indexes for the paged, filtered lists and for the retention purge.
-- Not indexed on purpose: hosts.last_seen. Every heartbeat writes it; an index on it would make
-- each of those updates a non-HOT update that also writes the index. The status filter and the
-- summary read it from the rows they visit anyway.

-- GET /v1/hosts?label=k=v and /v1/hosts/summary?label=k=v: labels @> '{"k":"v"}'.
create index hosts_labels_idx on hosts using gin (labels jsonb_path_ops);

-- GET /v1/rollouts/:id/hosts: keyset pages in (wave, host) order, optionally one wave.
create index steps_rollout_wave_host_idx on steps (rollout_id, wave_index, host);
-- GET /v1/rollouts/:id/hosts?state=failed: the few failed steps of a large rollout.
create index steps_rollout_state_idx on steps (rollout_id, state);

-- Retention: report dedup records of a finished rollout, deleted in batches.
create index reports_rollout_idx on reports (rollout_id);
-- Retention: finished rollouts older than the cutoff; also serves the active-rollouts query, so
-- the (state) index it replaces is dropped.
create index rollouts_state_updated_idx on rollouts (state, updated_at);
drop index rollouts_state_idx;
