-- 002_current_values.sql - each unit's value, kept inside the database.
--
-- CONTRACT section 2: a unit's value of (indicator, period) as of X is the last `set` by the
-- key (observed_at, agent_id, seq) among its updates observed at or before X, plus every
-- `add` after it. The daemon only COPYs into `updates`, so a statement-level trigger folds
-- each COPY's rows into two tables in the same transaction, per (district, indicator,
-- period) and set-based, never row by row:
--
--   current_values   one row per key: its value over ALL its updates, and the key of its
--                    newest update (last_at ...). Figures "as of X" use it as is when
--                    last_at <= X, which for "now" is every key.
--   daily_values     one row per key and UTC+8 day ON WHICH THE KEY HAS UPDATES: its value
--                    at the end of that day. For X in the past (or a key with updates
--                    stamped in the future), the value as of X is the key's last daily row
--                    before X's day, folded with the log rows of X's day up to X, which the
--                    observed_at index finds. So history costs one day of log, never a scan.
--
-- Why not an index on the log by (key, observed_at)? Measured: it halves COPY throughput
-- (random insert positions), while an index on observed_at alone is almost free (updates
-- arrive roughly in time order, so it appends at its right edge). See
-- tests/bench/progress/RESULTS.md.
--
-- Out-of-order arrival: a COPY whose rows for a key are not all newer than the key's newest
-- stored update replays that key: from its mark (the state just before its previous COPY)
-- when every new row is newer than that, else from the daily row before its oldest new
-- row's day; then every log row since, rebuilding the daily rows and the current value.
-- The result never depends on arrival order.
--
-- Days are counted in UTC+8 (Asia/Shanghai, no DST), as integers since 1970-01-01, so no
-- session TimeZone setting can change them. agent_id is compared with COLLATE "C" (byte
-- order) whatever the database's default collation.

-- Integer and date arithmetic only (timezone() with an interval zone, date(timestamp) and
-- date minus date are immutable), so these inline into the queries that call them and
-- cost next to nothing per row; extract(epoch) would go through numeric and cost ~1 us.
CREATE FUNCTION citytally_day(ts timestamptz) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN timezone(interval '8 hours', ts)::date - date '1970-01-01';

CREATE FUNCTION citytally_day_start(day int) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN timezone(interval '8 hours', (date '1970-01-01' + day)::timestamp);

CREATE TABLE current_values (
    district   text NOT NULL,
    indicator  text NOT NULL,
    period     int  NOT NULL,
    value      numeric,            -- NULL only inside the trigger, before the first fold
    last_at    timestamptz,        -- key of the newest update
    last_agent text COLLATE "C",
    last_seq   bigint,
    -- a mark: `mark_value` is the value over exactly the updates whose key is at most
    -- (mark_at, mark_agent, mark_seq), i.e. the state just before the key's latest COPY.
    -- A COPY whose rows are late only relative to that COPY replays from here instead
    -- of from the start of the day. NULL: none known.
    mark_value numeric,
    mark_at    timestamptz,
    mark_agent text COLLATE "C",
    mark_seq   bigint,
    updates    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (district, indicator, period)
);

CREATE TABLE daily_values (
    district  text NOT NULL,
    indicator text NOT NULL,
    period    int  NOT NULL,
    day       int  NOT NULL,       -- citytally_day(): days since 1970-01-01 in UTC+8
    value     numeric NOT NULL,    -- at the end of `day`
    PRIMARY KEY (district, indicator, period, day)
);

CREATE INDEX updates_observed_at ON updates (observed_at);

-- Row counts of transition tables and CTEs are unknown to the planner, which then guesses
-- "1 row" and picks nested loops that redo a sort per key; hash joins are right at every
-- size here, so the function plans without nested loops (the per-key index probes of a
-- LATERAL still use one, as they must). JIT is off: the penalty that disabling nested
-- loops adds to a plan's cost would otherwise trigger seconds of compilation per COPY.
-- Custom plans: the planner sees `replay_from` itself, so an in-order COPY (NULL) never
-- touches the log, and a replay scans the observed_at index only as far back as it must.
CREATE FUNCTION citytally_updates_fold() RETURNS trigger
LANGUAGE plpgsql
SET enable_nestloop = off
SET jit = off
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    replay_from timestamptz; -- the earliest point a key must replay from, or NULL
BEGIN
    -- Every touched key gets a row, and this transaction holds the row locks, taken in key
    -- order (so two concurrent writers never deadlock), before anything is read: under
    -- READ COMMITTED the statement below then sees all that a concurrent writer committed.
    -- (DO UPDATE ... WHERE false locks an existing row without writing it.)
    INSERT INTO current_values AS c (district, indicator, period)
    SELECT DISTINCT district, indicator, period FROM new_rows ORDER BY 1, 2, 3
    ON CONFLICT (district, indicator, period) DO UPDATE SET updates = c.updates WHERE false;

    SELECT min(CASE WHEN t.first_at > c.mark_at THEN c.mark_at
                    ELSE citytally_day_start(citytally_day(t.first_at)) - interval '1 microsecond'
                END) INTO replay_from
      FROM (SELECT n.district, n.indicator, n.period, min(n.observed_at) AS first_at
              FROM new_rows n
             GROUP BY n.district, n.indicator, n.period) t
      JOIN current_values c USING (district, indicator, period)
     WHERE t.first_at <= c.last_at;

    WITH touched AS MATERIALIZED (
        SELECT n.district, n.indicator, n.period, min(n.observed_at) AS first_at,
               count(*) AS n
          FROM new_rows n
         GROUP BY n.district, n.indicator, n.period
    ),
    -- Where each key's fold starts (its base: a value and the key of the last update in it):
    -- in order (every new row newer than the key's newest stored update; ties at the same
    -- millisecond replay, to be safe): the current value. Otherwise a replay: from the
    -- mark when every new row is after it, else from the end of the last day with updates
    -- before the first new row's day.
    keys AS MATERIALIZED (
        SELECT t.district, t.indicator, t.period, t.n, t.first_at, b.*
          FROM touched t
          JOIN current_values c USING (district, indicator, period)
         CROSS JOIN LATERAL (
               SELECT true AS in_order, c.value AS base, c.last_at AS base_at,
                      c.last_agent AS base_agent, c.last_seq AS base_seq
                WHERE c.last_at IS NULL OR t.first_at > c.last_at
               UNION ALL
               SELECT false, c.mark_value, c.mark_at, c.mark_agent, c.mark_seq
                WHERE t.first_at <= c.last_at AND t.first_at > c.mark_at
               UNION ALL
               SELECT false,
                      (SELECT dv.value FROM daily_values dv
                        WHERE dv.district = t.district AND dv.indicator = t.indicator
                          AND dv.period = t.period AND dv.day < citytally_day(t.first_at)
                        ORDER BY dv.day DESC LIMIT 1),
                      citytally_day_start(citytally_day(t.first_at)) - interval '1 microsecond',
                      '', 0
                WHERE t.first_at <= c.last_at AND NOT coalesce(t.first_at > c.mark_at, false)
         ) b
    ),
    -- a replay reads the log once, from the earliest point any key replays (one range of
    -- the observed_at index), and keeps each key's rows after its own base
    replayed AS MATERIALIZED (
        SELECT u.district, u.indicator, u.period, u.op, u.value, u.observed_at,
               u.agent_id COLLATE "C" AS agent_id, u.seq
          FROM updates u
         WHERE u.observed_at >= replay_from
    ),
    -- the rows to fold: the COPY's rows, or for a replay every stored row after the base
    src AS (
        SELECT n.district, n.indicator, n.period, n.op, n.value, n.observed_at,
               n.agent_id COLLATE "C" AS agent_id, n.seq, k.first_at
          FROM new_rows n
          JOIN keys k USING (district, indicator, period)
         WHERE k.in_order
        UNION ALL
        SELECT r.district, r.indicator, r.period, r.op, r.value, r.observed_at, r.agent_id,
               r.seq, k.first_at
          FROM replayed r
          JOIN keys k USING (district, indicator, period)
         WHERE NOT k.in_order
           AND (r.observed_at, r.agent_id, r.seq) > (k.base_at, k.base_agent, k.base_seq)
    ),
    -- one sort by key and one window pass: per row the number of sets so far (its group:
    -- the rows after the g-th set), the adds so far, and whether it ends its day
    running AS MATERIALIZED (
        SELECT s.district, s.indicator, s.period, s.op, s.value, s.observed_at, s.agent_id,
               s.seq, citytally_day(s.observed_at) AS day,
               count(*) FILTER (WHERE s.op = 'set') OVER w AS grp,
               sum(CASE WHEN s.op = 'add' THEN s.value ELSE 0 END) OVER w AS adds,
               lead(citytally_day(s.observed_at)) OVER w AS next_day,
               lead(s.observed_at) OVER w AS next_at, s.first_at
          FROM src s
        WINDOW w AS (PARTITION BY s.district, s.indicator, s.period
                     ORDER BY s.observed_at, s.agent_id, s.seq ROWS UNBOUNDED PRECEDING)
    ),
    -- the state after each row that ends a day (of its key) or the key's rows, or that is
    -- the last before this COPY's first row (the next mark): its group's set (or the fold's
    -- base) plus the adds since that set
    ends AS MATERIALIZED (
        SELECT r.district, r.indicator, r.period, r.day, r.observed_at, r.agent_id, r.seq,
               r.next_day IS NULL AS newest,
               r.next_day IS DISTINCT FROM r.day AS day_end,
               r.observed_at < r.first_at AND NOT coalesce(r.next_at < r.first_at, false)
                   AS mark,
               CASE WHEN r.grp = 0 THEN coalesce(k.base, 0) + r.adds
                    ELSE s.value + r.adds - s.adds END AS value
          FROM running r
          JOIN keys k USING (district, indicator, period)
          LEFT JOIN running s ON s.op = 'set' AND s.district = r.district
                             AND s.indicator = r.indicator AND s.period = r.period
                             AND s.grp = r.grp
         WHERE r.next_day IS DISTINCT FROM r.day
            OR (r.observed_at < r.first_at AND NOT coalesce(r.next_at < r.first_at, false))
    ),
    end_of_day AS (
        INSERT INTO daily_values AS dv (district, indicator, period, day, value)
        SELECT e.district, e.indicator, e.period, e.day, e.value FROM ends e WHERE e.day_end
        ON CONFLICT (district, indicator, period, day) DO UPDATE SET value = excluded.value
    )
    -- the new mark: the state after the last row before this COPY's first, or the base
    UPDATE current_values c
       SET value = e.value, last_at = e.observed_at, last_agent = e.agent_id,
           last_seq = e.seq, updates = c.updates + k.n,
           mark_value = CASE WHEN m.seq IS NULL THEN k.base ELSE m.value END,
           mark_at    = CASE WHEN m.seq IS NULL THEN k.base_at ELSE m.observed_at END,
           mark_agent = CASE WHEN m.seq IS NULL THEN k.base_agent ELSE m.agent_id END,
           mark_seq   = CASE WHEN m.seq IS NULL THEN k.base_seq ELSE m.seq END
      FROM ends e
      JOIN keys k USING (district, indicator, period)
      LEFT JOIN ends m ON m.mark AND m.district = e.district AND m.indicator = e.indicator
                      AND m.period = e.period
     WHERE e.newest
       AND c.district = e.district AND c.indicator = e.indicator AND c.period = e.period;
    RETURN NULL;
END
$$;

CREATE TRIGGER updates_fold
    AFTER INSERT ON updates
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION citytally_updates_fold();
