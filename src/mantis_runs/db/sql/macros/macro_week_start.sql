-- mantis_week_start(ts): the start of the ISO week of the instant `ts` (Monday 00:00 UTC), in
-- microseconds since the epoch; integer arithmetic (1970-01-01 was a Thursday, so Mondays are 3
-- days before a multiple of 7 days), much cheaper than date_trunc on a TIMESTAMPTZ.
CREATE OR REPLACE TEMP MACRO mantis_week_start(ts) AS
    (epoch_us(ts) + 259200000000) // 604800000000 * 604800000000 - 259200000000;
