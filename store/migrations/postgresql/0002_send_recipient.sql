-- Each claim remembers who it was for, so a later send round or a fallback channel can ask
-- the provider whether an earlier claim of the same step, left in doubt, reached its
-- recipient (activities/channels/ledger.py). Rows claimed before this migration have ''.

ALTER TABLE sends ADD COLUMN recipient text NOT NULL DEFAULT '';
