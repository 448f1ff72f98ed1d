-- Nested topology waves (issue 12): a wave made by a nested step records which leaf of its spec's
-- step tree it runs as (its bake, approve, parallel). Null for a plain wave.
alter table waves add column spec_leaf integer;
