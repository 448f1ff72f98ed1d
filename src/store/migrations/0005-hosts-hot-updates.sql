-- Heartbeats (issue 8) are flushed as one batched UPDATE of hosts.last_seen a second. Free space in
-- every page lets those updates be HOT (heap-only: no index entry written, the page pruned in
-- place) since last_seen is in no index. Applies to pages written from now on.
alter table hosts set (fillfactor = 70);
