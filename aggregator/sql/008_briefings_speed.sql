-- 008_briefings_speed.sql - "as known at", series and diff over a long log (issue 18,
-- acceptance 2). Same results as 007; only how they are found changes. Figures and plans:
-- tests/bench/progress/RESULTS.md.
--
-- 1. As known at K (citytally_unit_values_at). 007 refolded every day of a key that had
--    an update received after K by reading that day's whole log (every key's updates of
--    the day, ~14k rows in the benchmark) through the observed_at index: 200 back-dated
--    corrections on 176 days cost 2.4 million rows. Most such days need no log at all.
--    daily_values keeps, per key and day, the closing state: its newest set (key and
--    value) and the adds after it. So a day whose late updates are known (found through
--    the BRIN) is, as known at K:
--      - with its closing set known: that set's value plus the known adds after it, i.e.
--        the stored value less the late adds after the set;
--      - without a set: the day's adds less the late ones.
--    Only a day whose closing set is itself late must be read from the log (2 of the 176
--    days in the benchmark), and P's own day when it is not closed; when it is closed (a
--    month end), the state as of P is a daily_values row, as in 007's closed-day path.
-- 2. Finding the late updates. The planner costs "observed by P" and "received after K"
--    as independent and picks one of 007's two BRIN indexes alone, which for K close
--    to P reads the whole tail of the log after K (575,000 rows for K a few weeks back).
--    One BRIN on both columns is always used with both conditions: it reads only the
--    block ranges holding both (the boundary, and the ranges of back-dated rows).
-- 3. The diff's listing (citytally_diff_updates) sorts the month's updates once, on an
--    integer per key leading fixed-width columns (a sort of rows that start with text
--    columns walks them for every comparison: 4x slower), folds them in two window
--    passes instead of three sorts and three passes, and runs without JIT (which took
--    0.7 s to compile it) and with room to sort in memory.
-- 4. The series as known at K looked for its first late update by walking the observed_at
--    index from the start of the log (citytally_first_late below).

CREATE INDEX updates_day_received_brin ON updates
    USING brin (citytally_day(observed_at), received_at) WITH (pages_per_range = 16);

-- 007's citytally_unit_values_at, the same columns and results; see (1) and (2) above.
-- Parallel workers are off: their start-up costs more than the few rows they would share.
CREATE OR REPLACE FUNCTION citytally_unit_values_at(p_year int, p_as_of timestamptz,
                                         p_known_at timestamptz, p_indicators text[])
RETURNS TABLE (district text, indicator text, period int, value numeric)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_custom_plan
SET enable_seqscan = off
SET enable_nestloop = off
SET max_parallel_workers_per_gather = 0
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    v_x timestamptz := citytally_finite(p_as_of);
    v_k timestamptz := citytally_finite(coalesce(p_known_at, 'infinity'));
    v_p timestamptz := least(v_x, v_k);
    v_pday int := citytally_day(v_p);
    v_closed boolean := citytally_day_closed(v_p);
    -- the last day whose daily_values row is a state as of P (P's own when it is closed)
    v_last_day int := v_pday - CASE WHEN v_closed THEN 0 ELSE 1 END;
BEGIN
    RETURN QUERY
    WITH keys AS MATERIALIZED (
        SELECT c.district, c.indicator, c.period, c.value, c.last_at
          FROM current_values c
         WHERE c.period IN (p_year, p_year - 1)
           AND (p_indicators IS NULL OR c.indicator = ANY (p_indicators))
    ),
    -- 003's fast path as of P for these keys; when P's day is closed, its daily_values
    -- row is the state as of P and no log is read (007's citytally_unit_values_closed)
    past AS MATERIALIZED (
        SELECT k.district, k.indicator, k.period, d.value
          FROM keys k
          LEFT JOIN LATERAL (
               SELECT dv.value FROM daily_values dv
                WHERE dv.district = k.district AND dv.indicator = k.indicator
                  AND dv.period = k.period AND dv.day <= v_last_day
                ORDER BY dv.day DESC LIMIT 1) d ON true
         WHERE k.last_at > v_p
    ),
    today AS MATERIALIZED (
        SELECT u.district, u.indicator, u.period, u.op, u.value, u.observed_at,
               u.agent_id COLLATE "C" AS agent_id, u.seq
          FROM updates u
          JOIN past p USING (district, indicator, period)
         WHERE NOT v_closed
           AND u.observed_at >= citytally_day_start(v_pday) AND u.observed_at <= v_p
    ),
    today_run AS (
        SELECT t.district, t.indicator, t.period, t.op, t.value,
               row_number() OVER w AS pos,
               sum(CASE WHEN t.op = 'add' THEN t.value ELSE 0 END) OVER w AS adds
          FROM today t
        WINDOW w AS (PARTITION BY t.district, t.indicator, t.period
                     ORDER BY t.observed_at, t.agent_id, t.seq ROWS UNBOUNDED PRECEDING)
    ),
    today_folded AS (
        SELECT r.district, r.indicator, r.period,
               max(ARRAY[r.pos, r.value, r.adds]) FILTER (WHERE r.op = 'set') AS last_set,
               sum(r.value) FILTER (WHERE r.op = 'add') AS adds
          FROM today_run r
         GROUP BY r.district, r.indicator, r.period
    ),
    observed AS MATERIALIZED (
        SELECT k.district, k.indicator, k.period, k.value
          FROM keys k
         WHERE k.last_at <= v_p
        UNION ALL
        SELECT p.district, p.indicator, p.period,
               CASE WHEN f.last_set IS NOT NULL
                    THEN f.last_set[2] + coalesce(f.adds, 0) - f.last_set[3]
                    WHEN f.adds IS NOT NULL THEN coalesce(p.value, 0) + f.adds
                    ELSE p.value END
          FROM past p
          LEFT JOIN today_folded f USING (district, indicator, period)
         WHERE p.value IS NOT NULL OR f.district IS NOT NULL
    ),
    -- Updates observed by P but received after K, and (when as_of > K) observed in
    -- (P, as_of] but received by K: the multi-column BRIN below. The observed_at bounds
    -- are written so that the btree on observed_at cannot take them: the planner
    -- assumes the two conditions independent and would otherwise read months of the log
    -- through that index to find a handful of rows.
    late AS MATERIALIZED (
        SELECT u.district, u.indicator, u.period, citytally_day(u.observed_at) AS day,
               u.op, u.value, u.observed_at AS at, u.agent_id COLLATE "C" AS agent, u.seq
          FROM updates u
         WHERE citytally_day(u.observed_at) <= v_pday AND (u.observed_at <= v_p) IS TRUE
           AND u.received_at > v_k
           AND u.period IN (p_year, p_year - 1)
           AND (p_indicators IS NULL OR u.indicator = ANY (p_indicators))
    ),
    early AS MATERIALIZED (
        SELECT u.district, u.indicator, u.period, u.op, u.value, u.observed_at AS at,
               u.agent_id COLLATE "C" AS agent, u.seq
          FROM updates u
         WHERE v_x > v_p
           AND citytally_day(u.observed_at) BETWEEN v_pday AND citytally_day(v_x)
           AND (u.observed_at > v_p AND u.observed_at <= v_x) IS TRUE
           AND u.received_at <= v_k
           AND u.period IN (p_year, p_year - 1)
           AND (p_indicators IS NULL OR u.indicator = ANY (p_indicators))
    ),
    -- a key with late updates starts from its last daily row before its first late day
    bases AS MATERIALIZED (
        SELECT l.district, l.indicator, l.period, b.day AS base_day, b.value AS base_value
          FROM (SELECT l.district, l.indicator, l.period, min(l.day) AS first_day
                  FROM late l GROUP BY l.district, l.indicator, l.period) l
          LEFT JOIN LATERAL (
               SELECT dv.day, dv.value FROM daily_values dv
                WHERE dv.district = l.district AND dv.indicator = l.indicator
                  AND dv.period = l.period AND dv.day < l.first_day
                ORDER BY dv.day DESC LIMIT 1) b ON true
    ),
    -- its stored days after that, up to the last day before P's (or P's, closed), with
    -- what each did: a set on the day leaves its closing value, else the day's adds
    later_days AS MATERIALIZED (
        SELECT b.district, b.indicator, b.period, b.base_day, dv.day, dv.value, dv.has_set,
               dv.set_at, dv.set_agent, dv.set_seq,
               dv.adds - lag(dv.adds, 1, 0::numeric)
                   OVER (PARTITION BY b.district, b.indicator, b.period ORDER BY dv.day)
                   AS day_adds
          FROM bases b
         CROSS JOIN LATERAL (
               SELECT dv.day, dv.value, dv.adds, dv.set_at, dv.set_agent, dv.set_seq,
                      coalesce(dv.set_at >= citytally_day_start(dv.day), false) AS has_set
                 FROM daily_values dv
                WHERE dv.district = b.district AND dv.indicator = b.indicator
                  AND dv.period = b.period AND dv.day >= coalesce(b.base_day, -2147483648)
                  AND dv.day <= v_last_day
               OFFSET 0) dv
    ),
    -- What each day did as known at K. A day without late updates: as stored. A day
    -- with some: its closing set, if known, less the late adds after it; a day without
    -- a set, its adds less the late ones. Only when the closing set itself is late (or,
    -- for a key with no earlier state, a day of adds only whose known part may be empty)
    -- is the day's log read.
    days AS MATERIALIZED (
        SELECT d.district, d.indicator, d.period, d.day, d.has_set,
               CASE WHEN d.has_set
                    THEN d.value - coalesce(sum(l.value) FILTER (WHERE l.op = 'add' AND
                             (l.at, l.agent, l.seq) > (d.set_at, d.set_agent, d.set_seq)), 0)
                    ELSE d.day_adds - coalesce(sum(l.value) FILTER (WHERE l.op = 'add'), 0)
               END AS value,
               CASE WHEN d.has_set
                    THEN coalesce(bool_or(l.op = 'set' AND l.agent = d.set_agent
                                          AND l.seq = d.set_seq), false)
                    ELSE d.base_day IS NULL AND count(l.seq) > 0
               END AS from_log
          FROM later_days d
          LEFT JOIN late l ON l.district = d.district AND l.indicator = d.indicator
                          AND l.period = d.period AND l.day = d.day
         WHERE d.day > coalesce(d.base_day, -2147483648)
         GROUP BY d.district, d.indicator, d.period, d.day, d.has_set, d.value, d.day_adds,
                  d.set_at, d.set_agent, d.set_seq, d.base_day
    ),
    day_items AS (
        SELECT d.district, d.indicator, d.period,
               CASE WHEN d.has_set THEN 'set' ELSE 'add' END AS op, d.value,
               citytally_day_start(d.day + 1) - interval '1 microsecond' AS at,
               ''::text COLLATE "C" AS agent, 0::bigint AS seq
          FROM days d
         WHERE NOT d.from_log
    ),
    -- the days whose log must be read: those, and P's day of every late key unless closed
    log_days AS (
        SELECT d.district, d.indicator, d.period, d.day FROM days d WHERE d.from_log
        UNION
        SELECT b.district, b.indicator, b.period, v_pday FROM bases b WHERE NOT v_closed
    ),
    -- one scan of the observed_at index per day, whatever the number of keys read from it
    log_rows AS MATERIALIZED (
        SELECT u.district, u.indicator, u.period, u.op, u.value, u.observed_at AS at,
               u.agent_id COLLATE "C" AS agent, u.seq
          FROM (SELECT DISTINCT day FROM log_days) d
          JOIN LATERAL (
               SELECT * FROM updates u
                WHERE u.observed_at >= citytally_day_start(d.day)
                  AND u.observed_at < least(citytally_day_start(d.day + 1),
                                            v_p + interval '1 microsecond')
                  AND u.received_at <= v_k
                  AND EXISTS (SELECT 1 FROM log_days g
                               WHERE g.district = u.district AND g.indicator = u.indicator
                                 AND g.period = u.period AND g.day = d.day)
               OFFSET 0) u ON true
    ),
    items AS (
        SELECT * FROM day_items
        UNION ALL SELECT * FROM log_rows
        UNION ALL SELECT * FROM early
    ),
    run AS (
        SELECT i.district, i.indicator, i.period, i.op, i.value,
               row_number() OVER w AS pos,
               sum(CASE WHEN i.op = 'add' THEN i.value ELSE 0 END) OVER w AS adds
          FROM items i
        WINDOW w AS (PARTITION BY i.district, i.indicator, i.period
                     ORDER BY i.at, i.agent, i.seq ROWS UNBOUNDED PRECEDING)
    ),
    folded AS (
        SELECT r.district, r.indicator, r.period,
               max(ARRAY[r.pos, r.value, r.adds]) FILTER (WHERE r.op = 'set') AS last_set,
               sum(r.value) FILTER (WHERE r.op = 'add') AS adds
          FROM run r
         GROUP BY r.district, r.indicator, r.period
    ),
    -- where each changed key starts from: its base, or its value as of P
    starts AS (
        SELECT b.district, b.indicator, b.period, b.base_value AS value FROM bases b
        UNION ALL
        SELECT o.district, o.indicator, o.period, o.value
          FROM observed o
         WHERE EXISTS (SELECT 1 FROM early e WHERE e.district = o.district
                          AND e.indicator = o.indicator AND e.period = o.period)
           AND NOT EXISTS (SELECT 1 FROM bases b WHERE b.district = o.district
                              AND b.indicator = o.indicator AND b.period = o.period)
    ),
    changed AS (
        SELECT k.district, k.indicator, k.period,
               CASE WHEN f.last_set IS NOT NULL
                    THEN f.last_set[2] + coalesce(f.adds, 0) - f.last_set[3]
                    WHEN f.adds IS NOT NULL THEN coalesce(s.value, 0) + f.adds
                    ELSE s.value END AS value
          FROM (SELECT district, indicator, period FROM bases
                UNION SELECT district, indicator, period FROM early) k
          LEFT JOIN starts s USING (district, indicator, period)
          LEFT JOIN folded f USING (district, indicator, period)
    )
    SELECT o.district, o.indicator, o.period, o.value
      FROM observed o
     WHERE NOT EXISTS (SELECT 1 FROM bases b WHERE b.district = o.district
                          AND b.indicator = o.indicator AND b.period = o.period)
       AND NOT EXISTS (SELECT 1 FROM early e WHERE e.district = o.district
                          AND e.indicator = o.indicator AND e.period = o.period)
    UNION ALL
    SELECT c.district, c.indicator, c.period, c.value FROM changed c WHERE c.value IS NOT NULL;
END
$$;

-- The earliest observed_at, up to `until`, of an update of these indicators received after
-- `known_at`, or NULL. 007's citytally_series asked for it as min(observed_at), which the
-- planner answers by walking the observed_at index from the start of the log and
-- filtering every row received by known_at (5 million rows for a known_at half a year
-- back). Through the BRIN it reads the block ranges holding late rows only.
CREATE FUNCTION citytally_first_late(p_year int, p_until timestamptz, p_known_at timestamptz,
                                     p_indicators text[])
RETURNS timestamptz
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_custom_plan
SET enable_seqscan = off
SET max_parallel_workers_per_gather = 0
SET jit = off
AS $$
BEGIN
    RETURN (SELECT min(l.at) FROM (
        SELECT u.observed_at AS at
          FROM updates u
         WHERE citytally_day(u.observed_at) <= citytally_day(p_until)
           AND (u.observed_at <= p_until) IS TRUE
           AND u.received_at > p_known_at
           AND u.period IN (p_year, p_year - 1)
           AND u.indicator = ANY (p_indicators)
        OFFSET 0) l);
END
$$;

-- 007's citytally_series, the same points; only the look for the first late update is
-- citytally_first_late.
CREATE OR REPLACE FUNCTION citytally_series(p_year int, p_code text, p_step text DEFAULT 'month',
                                 p_known_at timestamptz DEFAULT NULL)
RETURNS TABLE (year int, at timestamptz, actual numeric, expected numeric)
LANGUAGE plpgsql STABLE
SET citytally.known_at = ''
SET citytally.indicators = ''
AS $$
#variable_conflict use_column
DECLARE
    t record;
    v_at timestamptz;
    v_until timestamptz := least(coalesce(p_known_at, now()), now());
    v_end timestamptz;
    v_last timestamptz;
    v_first_late timestamptz;
    v_indicators text[];
BEGIN
    SELECT tg.kind, tg.scale, tg.target, tg.comparator, i.measure INTO t
      FROM targets tg LEFT JOIN indicators i ON i.code = tg.indicator
     WHERE tg.year = p_year AND tg.code = p_code;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no target % for year %', p_code, p_year USING ERRCODE = 'no_data_found';
    END IF;
    IF p_step NOT IN ('month', 'week') THEN
        RAISE EXCEPTION 'step % is not month or week', p_step USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_indicators := citytally_target_indicators(p_year, p_code);
    v_end := citytally_day_start(make_date(p_year + 1, 1, 1) - date '1970-01-01');
    v_last := least(v_until, v_end);
    -- Every step end is at or before known_at, so a point differs from the same point as
    -- known now only if an update observed by it was received after known_at. One look
    -- (the two BRIN indexes) finds the first such update; the points before it take the
    -- path as known now (all indicators: a month end's closed day reads no log), and only
    -- the later ones the refold of this target's indicators.
    IF p_known_at IS NOT NULL THEN
        v_first_late := citytally_first_late(p_year, v_last, p_known_at, v_indicators);
    END IF;
    FOR v_at IN SELECT * FROM citytally_step_ends(p_year, p_step, v_last) LOOP
        PERFORM set_config('citytally.known_at',
                           CASE WHEN v_at >= v_first_late THEN citytally_known_at_text(p_known_at)
                                ELSE '' END, true);
        PERFORM set_config('citytally.indicators',
                           CASE WHEN v_at >= v_first_late THEN v_indicators::text ELSE '' END,
                           true);
        RETURN QUERY
        SELECT p_year, v_at, p.actual,
               CASE WHEN t.kind = 'sum' AND t.measure = 'flow' AND t.comparator IN ('>=', '>')
                    THEN trim_scale(round(t.target * citytally_year_elapsed(p_year, v_at), 4))
               END
          FROM citytally_progress(p_year, v_at) p
         WHERE p.target_code = p_code;
    END LOOP;
    FOR v_at IN SELECT * FROM citytally_step_ends(p_year - 1, p_step, v_last) LOOP
        PERFORM set_config('citytally.known_at',
                           CASE WHEN v_at >= v_first_late THEN citytally_known_at_text(p_known_at)
                                ELSE '' END, true);
        PERFORM set_config('citytally.indicators',
                           CASE WHEN v_at >= v_first_late THEN v_indicators::text ELSE '' END,
                           true);
        RETURN QUERY
        SELECT p_year - 1, v_at,
               trim_scale(CASE t.kind
                          WHEN 'ratio' THEN round(t.scale * sum(f.num) / nullif(sum(f.den), 0), 4)
                          WHEN 'growth' THEN NULL
                          ELSE sum(f.num) END),
               NULL::numeric
          FROM (SELECT 1) one
          LEFT JOIN citytally_unit_figures(p_year, v_at) f
                 ON f.target_code = p_code AND f.period = p_year - 1;
    END LOOP;
END
$$;


-- 007's citytally_diff_updates, the same rows in the same order, the same numbers to the
-- last digit and scale; see (3) above. PL/pgSQL so that each call is planned for its
-- arguments; nested loops and merge joins are off because the row counts of the CTEs
-- below are guesses.
CREATE OR REPLACE FUNCTION citytally_diff_updates(p_year int, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (target_code text, agent_id text, district text, seq bigint, indicator text,
               period int, op text, value numeric, observed_at timestamptz, note text,
               received_at timestamptz, contribution numeric)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_custom_plan
SET jit = off
SET work_mem = '128MB'
SET max_parallel_workers_per_gather = 0
SET enable_mergejoin = off
SET enable_nestloop = off
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH d AS MATERIALIZED (SELECT * FROM citytally_diff(p_year, p_from, p_to)),
    wanted AS (
        SELECT d.target_code, t.position, d.kind, s.indicator, s.denominator, s.kind AS skind
          FROM d
          JOIN targets t ON t.year = p_year AND t.code = d.target_code
          JOIN targets s ON s.year = p_year
                        AND s.code = CASE WHEN t.kind = 'growth' THEN t.of_target ELSE t.code END
    ),
    -- one row per (target, indicator behind it)
    wanted_inds AS MATERIALIZED (
        SELECT w.target_code, w.position, w.kind, w.skind,
               unnest(array_remove(ARRAY[w.indicator, w.denominator], NULL)) AS indicator
          FROM wanted w
    ),
    -- the keys behind them, numbered: a sort compares one integer faster than three columns
    keys AS MATERIALIZED (
        SELECT row_number() OVER () AS k, c.district, c.indicator, c.period
          FROM current_values c
         WHERE c.period IN (p_year, p_year - 1)
           AND c.indicator IN (SELECT wi.indicator FROM wanted_inds wi)
    ),
    -- each key behind each target, with its value at `from`
    key_targets AS MATERIALIZED (
        SELECT k.k, k.district, k.indicator, k.period, w.target_code, w.position, w.kind,
               coalesce(b.value, 0) AS start
          FROM keys k
          JOIN wanted_inds w
            ON w.indicator = k.indicator
           AND (k.period = p_year OR w.kind = 'growth')
           AND (w.skind <> 'city' OR k.district = 'city')
          LEFT JOIN citytally_unit_values(p_year, p_from) b
                 ON b.district = k.district AND b.indicator = k.indicator
                AND b.period = k.period
    ),
    -- Fixed-width columns lead each row below, text ones follow: a sort then reads its keys
    -- without walking text columns first (4x faster here than in the log's column order).
    u AS (
        SELECT k.k, u.observed_at, u.seq, u.agent_id COLLATE "C" AS agent_id, u.op, u.value,
               u.note, u.received_at
          FROM updates u
          JOIN keys k USING (district, indicator, period)
         WHERE u.observed_at > citytally_finite(p_from) AND u.observed_at <= citytally_finite(p_to)
    ),
    -- each update's position and the adds up to it, in its key's order: one sort, which
    -- the level below keeps
    run AS (
        SELECT u.*, row_number() OVER w AS pos,
               sum(CASE WHEN u.op = 'add' THEN u.value ELSE 0 END) OVER w AS adds
          FROM u
        WINDOW w AS (PARTITION BY u.k ORDER BY u.observed_at, u.agent_id, u.seq
                     ROWS UNBOUNDED PRECEDING)
    ),
    -- c = a set's value less the adds up to it. The unit's value after an update is the
    -- last set's c plus the adds so far (before any set: its value at `from` plus the
    -- adds); before it, the same for the rows before it.
    lasts AS (
        SELECT r.k, r.observed_at, r.seq, r.agent_id, r.op, r.value, r.note, r.received_at,
               r.adds,
               (max(ARRAY[r.pos, r.value - r.adds]) FILTER (WHERE r.op = 'set') OVER w)[2]
                   AS c_before
          FROM run r
        WINDOW w AS (PARTITION BY r.k ORDER BY r.observed_at, r.agent_id, r.seq
                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
    ),
    listed AS (
        SELECT kt.position, l.observed_at, l.seq, l.agent_id, kt.target_code, kt.district,
               kt.indicator, kt.period, l.op, l.value, l.note, l.received_at,
               CASE WHEN kt.kind IN ('sum', 'city') THEN
                    (coalesce(CASE WHEN l.op = 'set' THEN l.value - l.adds ELSE l.c_before END,
                              kt.start) + l.adds)
                    - (coalesce(l.c_before, kt.start)
                       + (l.adds - CASE WHEN l.op = 'add' THEN l.value ELSE 0 END))
               END AS contribution
          FROM lasts l
          JOIN key_targets kt USING (k)
         ORDER BY kt.position, l.observed_at, l.agent_id, l.seq
    )
    SELECT l.target_code, l.agent_id::text, l.district, l.seq, l.indicator, l.period, l.op,
           l.value, l.observed_at, l.note, l.received_at, l.contribution
      FROM listed l
     ORDER BY l.position, l.observed_at, l.agent_id, l.seq;
END
$$;
