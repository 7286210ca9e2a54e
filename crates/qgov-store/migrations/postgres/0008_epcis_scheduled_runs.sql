-- Scheduled subscriptions (PostgreSQL). Twin of ../sqlite/0008_epcis_scheduled_runs.sql.
--
-- `min_record_after`: a run delivers its window in chunks in (record_time, id) order; after a
-- chunk the window start moves to the last delivered event: `min_record_time` is its record
-- time and this its row id, so the next run starts after it even when more events share that
-- record time. 0 (no row has it): the window starts with every event of `min_record_time`.
--
-- `run_claim` / `run_claimed_until`: the run that holds the subscription (a random token) and
-- until when, in microseconds UTC. A run claims its firing before it queries and delivers, so
-- of several servers on one database only one delivers it (`Store::epcis_claim_run`); the
-- claim lapses by itself so that a server that died mid-run does not block the subscription.
ALTER TABLE epcis_subscriptions ADD COLUMN min_record_after BIGINT NOT NULL DEFAULT 0;
ALTER TABLE epcis_subscriptions ADD COLUMN run_claim TEXT;
ALTER TABLE epcis_subscriptions ADD COLUMN run_claimed_until BIGINT;
