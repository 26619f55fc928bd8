-- 005_rounds.sql - reporting rounds: the calendar, when each update was queued, and
-- completeness and timeliness over them (CONTRACT section 9).
--
-- Applied by `migrate`; the 2015 calendar (data/calendar-2015.csv) is loaded right after
-- it, in the same transaction, by the same code as `calendar import` (aggregator/seed.c,
-- aggregator/calendar.c).

-- One year's rounds, in the order of their period_end. `indicators` NULL means `*`: every
-- indicator the unit may report (reported_by); otherwise the listed codes, of which each
-- unit is expected to report those it may.
CREATE TABLE rounds (
    year       int  NOT NULL CHECK (year BETWEEN 1900 AND 9999),
    round      text NOT NULL CHECK (round ~ '^[A-Za-z0-9_-]{1,16}$'),
    position   int  NOT NULL,
    period_end date NOT NULL,
    due        date NOT NULL,
    indicators text[],
    PRIMARY KEY (year, round),
    UNIQUE (year, position),
    CHECK (due >= period_end)
);

-- When the collector queued the update (Unix ms, the wire's `queued`); NULL when the
-- collector did not say, and then the commit time (received_at) stands for it. Nullable
-- without a default, so adding it rewrites nothing and COPY stays as cheap.
ALTER TABLE updates ADD COLUMN queued_ms bigint;

-- The end of UTC+8 day `d`, as the instant the next day starts: "at or before 2015-03-31"
-- means before it, "after 2015-03-31" at or after it.
CREATE FUNCTION citytally_day_end(d date) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN timezone(interval '8 hours', (d + 1)::timestamp);

-- Each round of year `p_year` with its window: updates observed at or after `opens` and
-- before `closes` count for it. `opens` ends the previous round's period_end day (for the
-- first round, Dec 31 of the year before), `closes` its own, `due_end` its due day.
CREATE FUNCTION citytally_round_windows(p_year int)
RETURNS TABLE (round text, round_position int, period_end date, due date, indicators text[],
               opens timestamptz, closes timestamptz, due_end timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT r.round, r.position, r.period_end, r.due, r.indicators,
           citytally_day_end(coalesce(lag(r.period_end) OVER w,
                                      make_date(p_year - 1, 12, 31))),
           citytally_day_end(r.period_end),
           citytally_day_end(r.due)
      FROM rounds r
     WHERE r.year = p_year
    WINDOW w AS (ORDER BY r.period_end)
$$;

-- Which unit owes which indicator in each round: `*` is every indicator the unit may
-- report (unit `city` may report all; the others those reported by districts), a list is
-- the listed codes that the unit may report.
CREATE FUNCTION citytally_round_expected(p_year int)
RETURNS TABLE (round text, district text, indicator text)
LANGUAGE sql STABLE AS $$
    SELECT w.round, u.id, i.code
      FROM citytally_round_windows(p_year) w
     CROSS JOIN units u
      JOIN indicators i ON (i.reported_by = 'district' OR u.id = 'city')
                       AND (w.indicators IS NULL OR i.code = ANY (w.indicators))
$$;

-- Completeness and timeliness of year `p_year`: one row per round, unit and expected
-- indicator. `status` is 'on_time' when the unit has an update for period p_year observed
-- within the round's window that was queued at or before the end of the due day,
-- 'late' when it has such updates but all were queued after it, 'missing' when it has
-- none. A figure queued on time but delivered after an outage is on time: the collector's
-- queue time decides, and the commit time only stands in where the collector gave none.
CREATE FUNCTION citytally_completeness(p_year int)
RETURNS TABLE (round text, round_position int, period_end date, due date, district text,
               indicator text, status text, first_queued timestamptz)
LANGUAGE sql STABLE AS $$
    WITH w AS (
        SELECT * FROM citytally_round_windows(p_year)
    ), reported AS (
        SELECT w.round, u.district, u.indicator,
               min(coalesce(to_timestamp(u.queued_ms / 1000.0), u.received_at)) AS first_queued
          FROM w
          JOIN updates u ON u.observed_at >= w.opens AND u.observed_at < w.closes
         WHERE u.period = p_year
           AND u.observed_at >= (SELECT min(opens) FROM w)
           AND u.observed_at < (SELECT max(closes) FROM w)
         GROUP BY w.round, u.district, u.indicator
    )
    SELECT w.round, w.round_position, w.period_end, w.due, e.district, e.indicator,
           CASE WHEN r.first_queued IS NULL THEN 'missing'
                WHEN r.first_queued < w.due_end THEN 'on_time'
                ELSE 'late' END,
           r.first_queued
      FROM w
      JOIN citytally_round_expected(p_year) e ON e.round = w.round
      JOIN units un ON un.id = e.district
      JOIN indicators ind ON ind.code = e.indicator
      LEFT JOIN reported r ON r.round = w.round AND r.district = e.district
                          AND r.indicator = e.indicator
     ORDER BY w.round_position, un.position, ind.position
$$;
