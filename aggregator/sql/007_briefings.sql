-- 007_briefings.sql - "as known at", series and diff (CONTRACT section 11).
--
-- As known at K: figures from only the updates committed at or before K. An update's
-- commit time is its received_at (the now() of the transaction that stored it, so a
-- transaction that straddles K counts as known at K). The log is append-only and
-- received_at rises with id, which two BRIN indexes turn into "almost free" (figures in
-- tests/bench/progress/RESULTS.md):
--
--   updates_received_brin  on received_at: the block ranges holding updates received
--                          after K are the table's tail
--   updates_day_brin       on citytally_day(observed_at): a block range whose updates
--                          were all observed after as-of's day is skipped
--
-- Together (a BitmapAnd) they find the updates observed by as-of but received after K,
-- the ones that make "as known at K" differ from "as known now", by reading the block
-- ranges where the two overlap: the boundary, and the ranges holding back-dated rows.
--
-- How the figure is computed (citytally_unit_values_at). Let P = least(as_of, K).
--   * A key (unit, indicator, period) with no update observed by P and received after K
--     ("late") has, as of P, exactly its value of 003's fast path (current_values or
--     daily_values plus one day of log).
--   * A key with late updates is refolded from the last daily_values row before its
--     first late day (every update in it is known at K). After it, each day of the key
--     up to P's day is either clean (no late update: its daily_values row says what it
--     did - a set on that day leaves the day's closing value, else the day added the
--     difference of the adds) or dirty (its log rows known at K are read, one day at a
--     time through the observed_at index); P's own day is read from the log up to P.
--   * When as_of > K, updates observed in (K, as_of] but received by K (clocks ahead,
--     future-dated entries) are folded in after.
-- The cost is one fast-path read plus a day of log per dirty day, whatever the size of
-- the log before or after K.
--
-- The scope of a figure: two settings that the lowest layer, citytally_unit_values(year,
-- as_of), reads, so that every function built on it (progress, by unit, assessment,
-- anything a later migration adds) answers "as known at" without a parameter of its own:
--   citytally.known_at    a timestamptz (ISO 8601, UTC); '' or unset: now
--   citytally.indicators  a text[] of indicator codes to compute; '' or unset: all
-- They are set only by the functions below, each with a SET clause so the value is
-- restored when the function returns, or by a client with SET LOCAL inside a read-only
-- transaction (aggregator/known_at.c). Unset, citytally_unit_values is 003's function,
-- renamed citytally_unit_values_observed, untouched.

CREATE INDEX updates_received_brin ON updates USING brin (received_at)
    WITH (pages_per_range = 16);
CREATE INDEX updates_day_brin ON updates USING brin (citytally_day(observed_at))
    WITH (pages_per_range = 16);

CREATE FUNCTION citytally_scope_known_at() RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
RETURN nullif(current_setting('citytally.known_at', true), '')::timestamptz;

CREATE FUNCTION citytally_scope_indicators() RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
RETURN nullif(current_setting('citytally.indicators', true), '')::text[];

-- The setting's text for a timestamptz: ISO 8601 in UTC, read back the same whatever the
-- session's DateStyle or TimeZone. NULL (or infinity) means now.
CREATE FUNCTION citytally_known_at_text(known_at timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN known_at IS NULL OR known_at = 'infinity' THEN ''
            ELSE to_char(known_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END;

ALTER FUNCTION citytally_unit_values(int, timestamptz) RENAME TO citytally_unit_values_observed;

-- Each unit's value of every indicator (periods Y and Y-1) as of `as_of`, from only the
-- updates received at or before `known_at` (NULL: all), for the indicators in
-- `indicators` (NULL: all). Plans are made for the actual times (force_custom_plan):
-- which index serves which read depends on them. Sequential scans are off because the
-- planner cannot know that "observed by P" and "received after K" are nearly disjoint,
-- and would read 10 million rows to find the few it needs; nested loops are off as in
-- 002's fold (CTE row counts are guesses of 1), except where a LATERAL needs one.
CREATE FUNCTION citytally_unit_values_at(p_year int, p_as_of timestamptz,
                                         p_known_at timestamptz, p_indicators text[])
RETURNS TABLE (district text, indicator text, period int, value numeric)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_custom_plan
SET enable_seqscan = off
SET enable_nestloop = off
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    v_x timestamptz := citytally_finite(p_as_of);
    v_k timestamptz := citytally_finite(coalesce(p_known_at, 'infinity'));
    v_p timestamptz := least(v_x, v_k);
    v_pday int := citytally_day(v_p);
BEGIN
    RETURN QUERY
    WITH keys AS MATERIALIZED (
        SELECT c.district, c.indicator, c.period, c.value, c.last_at
          FROM current_values c
         WHERE c.period IN (p_year, p_year - 1)
           AND (p_indicators IS NULL OR c.indicator = ANY (p_indicators))
    ),
    -- 003's fast path as of P, for these keys
    past AS MATERIALIZED (
        SELECT k.district, k.indicator, k.period, d.value
          FROM keys k
          LEFT JOIN LATERAL (
               SELECT dv.value FROM daily_values dv
                WHERE dv.district = k.district AND dv.indicator = k.indicator
                  AND dv.period = k.period AND dv.day < v_pday
                ORDER BY dv.day DESC LIMIT 1) d ON true
         WHERE k.last_at > v_p
    ),
    today AS MATERIALIZED (
        SELECT u.district, u.indicator, u.period, u.op, u.value, u.observed_at,
               u.agent_id COLLATE "C" AS agent_id, u.seq
          FROM updates u
          JOIN past p USING (district, indicator, period)
         WHERE u.observed_at >= citytally_day_start(v_pday) AND u.observed_at <= v_p
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
    -- updates observed by P but received after K: the two BRIN indexes
    late AS MATERIALIZED (
        SELECT DISTINCT u.district, u.indicator, u.period, citytally_day(u.observed_at) AS day
          FROM updates u
         WHERE citytally_day(u.observed_at) <= v_pday AND u.observed_at <= v_p
           AND u.received_at > v_k
           AND u.period IN (p_year, p_year - 1)
           AND (p_indicators IS NULL OR u.indicator = ANY (p_indicators))
    ),
    -- updates observed in (P, as_of] but received by K (only when as_of > K)
    early AS MATERIALIZED (
        SELECT u.district, u.indicator, u.period, u.op, u.value, u.observed_at AS at,
               u.agent_id COLLATE "C" AS agent, u.seq
          FROM updates u
         WHERE v_x > v_p
           AND citytally_day(u.observed_at) BETWEEN v_pday AND citytally_day(v_x)
           AND u.observed_at > v_p AND u.observed_at <= v_x
           AND u.received_at <= v_k
           AND u.period IN (p_year, p_year - 1)
           AND (p_indicators IS NULL OR u.indicator = ANY (p_indicators))
    ),
    dirty AS MATERIALIZED (
        SELECT l.district, l.indicator, l.period, min(l.day) AS first_day,
               b.day AS base_day, b.value AS base_value
          FROM late l
          LEFT JOIN LATERAL (
               SELECT dv.day, dv.value FROM daily_values dv
                WHERE dv.district = l.district AND dv.indicator = l.indicator
                  AND dv.period = l.period AND dv.day < l.day
                ORDER BY dv.day DESC LIMIT 1) b ON true
         GROUP BY l.district, l.indicator, l.period, b.day, b.value
    ),
    -- keep the base of each key's first late day only
    bases AS (
        SELECT DISTINCT ON (d.district, d.indicator, d.period) d.*
          FROM dirty d ORDER BY d.district, d.indicator, d.period, d.first_day
    ),
    -- the key's days after its base and before P's day, with what each did
    later_days AS MATERIALIZED (
        SELECT b.district, b.indicator, b.period, dv.day, dv.value, dv.has_set,
               dv.adds - lag(dv.adds) OVER (PARTITION BY b.district, b.indicator, b.period
                                            ORDER BY dv.day) AS day_adds,
               dv.day > coalesce(b.base_day, -2147483648) AS after_base
          FROM bases b
         CROSS JOIN LATERAL (
               SELECT dv.day, dv.value, dv.adds,
                      dv.set_at >= citytally_day_start(dv.day) AS has_set
                 FROM daily_values dv
                WHERE dv.district = b.district AND dv.indicator = b.indicator
                  AND dv.period = b.period AND dv.day >= coalesce(b.base_day, -2147483648)
                  AND dv.day < v_pday
               OFFSET 0) dv
    ),
    clean_items AS (
        SELECT d.district, d.indicator, d.period,
               CASE WHEN d.has_set THEN 'set' ELSE 'add' END AS op,
               CASE WHEN d.has_set THEN d.value ELSE d.day_adds END AS value,
               citytally_day_start(d.day + 1) - interval '1 microsecond' AS at,
               ''::text COLLATE "C" AS agent, 0::bigint AS seq
          FROM later_days d
         WHERE d.after_base
           AND NOT EXISTS (SELECT 1 FROM late l
                            WHERE l.district = d.district AND l.indicator = d.indicator
                              AND l.period = d.period AND l.day = d.day)
    ),
    -- the days whose log must be read: dirty days, and P's day of every dirty key
    log_days AS (
        SELECT l.district, l.indicator, l.period, l.day FROM late l
        UNION
        SELECT b.district, b.indicator, b.period, v_pday FROM bases b
    ),
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
               OFFSET 0) u ON true
         WHERE EXISTS (SELECT 1 FROM log_days g
                        WHERE g.district = u.district AND g.indicator = u.indicator
                          AND g.period = u.period AND g.day = d.day)
    ),
    items AS (
        SELECT * FROM clean_items
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
    -- where each changed key starts from: its clean base, or its value as of P
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

-- True when no update is observed after `as_of` on as_of's own day (UTC+8): the state as
-- of as_of is then the state at the end of that day, which daily_values keeps. So it is
-- for a month end (the day's last millisecond) and for now; one probe of the observed_at
-- index, which stops at the first row.
CREATE FUNCTION citytally_day_closed(p_as_of timestamptz) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT NOT EXISTS (
        SELECT 1 FROM updates u
         WHERE u.observed_at > citytally_finite(p_as_of)
           AND u.observed_at < citytally_day_start(citytally_day(citytally_finite(p_as_of)) + 1))
$$;

-- citytally_unit_values_observed when as_of's day is closed: each key's value is its
-- current value, or its daily_values row of as_of's day or the last before it; no log is
-- read. The dashboard's series (a figure at each month end) is made of these.
CREATE FUNCTION citytally_unit_values_closed(p_year int, p_as_of timestamptz)
RETURNS TABLE (district text, indicator text, period int, value numeric)
LANGUAGE sql STABLE AS $$
    WITH keys AS MATERIALIZED (
        SELECT c.district, c.indicator, c.period, c.value, c.last_at
          FROM current_values c
         WHERE c.period IN (p_year, p_year - 1)
    )
    SELECT k.district, k.indicator, k.period, k.value
      FROM keys k
     WHERE k.last_at <= citytally_finite(p_as_of)
    UNION ALL
    SELECT k.district, k.indicator, k.period, d.value
      FROM keys k
      JOIN LATERAL (
           SELECT dv.value FROM daily_values dv
            WHERE dv.district = k.district AND dv.indicator = k.indicator
              AND dv.period = k.period AND dv.day <= citytally_day(citytally_finite(p_as_of))
            ORDER BY dv.day DESC LIMIT 1) d ON true
     WHERE k.last_at > citytally_finite(p_as_of)
$$;

-- 003's signature, now read through the scope settings. Unset (the usual case), this is
-- citytally_unit_values_observed itself, or its closed-day form: the gates are one-time
-- filters, so only one branch is run.
CREATE FUNCTION citytally_unit_values(p_year int, p_as_of timestamptz)
RETURNS TABLE (district text, indicator text, period int, value numeric)
LANGUAGE sql STABLE AS $$
    SELECT * FROM citytally_unit_values_observed(p_year, p_as_of)
     WHERE citytally_scope_known_at() IS NULL AND citytally_scope_indicators() IS NULL
       AND NOT citytally_day_closed(p_as_of)
    UNION ALL
    SELECT * FROM citytally_unit_values_closed(p_year, p_as_of)
     WHERE citytally_scope_known_at() IS NULL AND citytally_scope_indicators() IS NULL
       AND citytally_day_closed(p_as_of)
    UNION ALL
    SELECT * FROM citytally_unit_values_at(p_year, p_as_of, citytally_scope_known_at(),
                                           citytally_scope_indicators())
     WHERE citytally_scope_known_at() IS NOT NULL OR citytally_scope_indicators() IS NOT NULL
$$;

-- CONTRACT section 11: citytally_progress as known at `known_at` (NULL: now).
CREATE FUNCTION citytally_progress(year int, as_of timestamptz, known_at timestamptz)
RETURNS TABLE (target_code text, kind text, actual numeric, target numeric, comparator text,
               pct numeric, status text, units_reporting int)
LANGUAGE plpgsql STABLE
SET citytally.known_at = ''
AS $$
BEGIN
    PERFORM set_config('citytally.known_at', citytally_known_at_text($3), true);
    RETURN QUERY SELECT * FROM citytally_progress($1, $2);
END
$$;

CREATE FUNCTION citytally_progress_by_unit(year int, as_of timestamptz, known_at timestamptz)
RETURNS TABLE (target_code text, district text, value numeric)
LANGUAGE plpgsql STABLE
SET citytally.known_at = ''
AS $$
BEGIN
    PERFORM set_config('citytally.known_at', citytally_known_at_text($3), true);
    RETURN QUERY SELECT * FROM citytally_progress_by_unit($1, $2);
END
$$;

-- The indicators (and periods) behind one target: its own, or for growth its of_target's.
CREATE FUNCTION citytally_target_indicators(year int, code text) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT array_remove(ARRAY[s.indicator, s.denominator], NULL)
      FROM targets t
      JOIN targets s ON s.year = t.year
                    AND s.code = CASE WHEN t.kind = 'growth' THEN t.of_target ELSE t.code END
     WHERE t.year = $1 AND t.code = $2
$$;

-- The step ends of year `year` up to `until`: month ends, or week ends (Sundays, UTC+8)
-- and the year's last day; each the last millisecond of its day, as a bare date reads.
CREATE FUNCTION citytally_step_ends(year int, step text, until timestamptz)
RETURNS SETOF timestamptz
LANGUAGE sql STABLE AS $$
    SELECT e FROM (
        SELECT citytally_day_start(d - date '1970-01-01' + 1) - interval '1 millisecond' AS e
          FROM (SELECT (make_date($1, m, 1) + interval '1 month' - interval '1 day')::date AS d
                  FROM generate_series(1, 12) m
                 WHERE $2 = 'month'
                UNION
                SELECT g::date FROM generate_series(make_date($1, 1, 1), make_date($1, 12, 31),
                                                    interval '1 day') g
                 WHERE $2 = 'week' AND (extract(isodow FROM g) = 7 OR g::date = make_date($1, 12, 31))
               ) days
    ) ends
     WHERE e <= $3
     ORDER BY e
$$;

-- CONTRACT section 11's series of one target: for year Y, one row per step end up to the
-- earlier of now and the year's end (`expected` as in section 8); for Y-1, the same
-- target's figure over last year's data at last year's step ends (growth: NULL, which
-- would need Y-2). Each point of Y is citytally_progress at that time, computed for this
-- target's indicators only.
CREATE FUNCTION citytally_series(p_year int, p_code text, p_step text DEFAULT 'month',
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
        SELECT min(u.observed_at) INTO v_first_late
          FROM updates u
         WHERE citytally_day(u.observed_at) <= citytally_day(v_last) AND u.observed_at <= v_last
           AND u.received_at > p_known_at
           AND u.period IN (p_year, p_year - 1)
           AND u.indicator = ANY (v_indicators);
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

-- CONTRACT section 11's diff: the targets of year Y whose actual differs between as of
-- `from` and as of `to` (both as known now), with before, after and delta (for sum and
-- city targets missing counts 0, so delta = after - before whenever both exist).
CREATE FUNCTION citytally_diff(p_year int, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (target_code text, kind text, before numeric, after numeric, delta numeric)
LANGUAGE sql STABLE AS $$
    SELECT a.target_code, a.kind, b.actual, a.actual,
           CASE WHEN a.kind IN ('sum', 'city')
                THEN coalesce(a.actual, 0) - coalesce(b.actual, 0)
                ELSE a.actual - b.actual END
      FROM citytally_progress($1, $3) a
      JOIN citytally_progress($1, $2) b USING (target_code)
      JOIN targets t ON t.year = $1 AND t.code = a.target_code
     WHERE a.actual IS DISTINCT FROM b.actual
     ORDER BY t.position
$$;

-- The updates observed in (from, to] behind each target of citytally_diff, in the order
-- of section 2's key. `contribution` is the update's effect on its unit's value (an add:
-- its value; a set: its value less the unit's value just before it), so for sum and city
-- targets a target's contributions add up to its delta exactly; NULL for ratio and growth,
-- which do not split into parts.
CREATE FUNCTION citytally_diff_updates(p_year int, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (target_code text, agent_id text, district text, seq bigint, indicator text,
               period int, op text, value numeric, observed_at timestamptz, note text,
               received_at timestamptz, contribution numeric)
LANGUAGE sql STABLE AS $$
    WITH d AS MATERIALIZED (SELECT * FROM citytally_diff($1, $2, $3)),
    before AS MATERIALIZED (SELECT * FROM citytally_unit_values($1, $2)),
    wanted AS (
        SELECT d.target_code, t.position, d.kind, s.indicator, s.denominator, s.kind AS skind
          FROM d
          JOIN targets t ON t.year = $1 AND t.code = d.target_code
          JOIN targets s ON s.year = $1
                        AND s.code = CASE WHEN t.kind = 'growth' THEN t.of_target ELSE t.code END
    ),
    -- one row per (target, indicator behind it)
    wanted_inds AS MATERIALIZED (
        SELECT w.target_code, w.position, w.kind, w.skind,
               unnest(array_remove(ARRAY[w.indicator, w.denominator], NULL)) AS indicator
          FROM wanted w
    ),
    u AS MATERIALIZED (
        SELECT u.agent_id, u.district, u.seq, u.indicator, u.period, u.op, u.value,
               u.observed_at, u.note, u.received_at
          FROM updates u
         WHERE u.observed_at > citytally_finite($2) AND u.observed_at <= citytally_finite($3)
           AND u.period IN ($1, $1 - 1)
           AND u.indicator IN (SELECT wi.indicator FROM wanted_inds wi)
    ),
    -- each update's position, and the adds up to it, in its key's order
    run AS (
        SELECT u.*, b.value AS start,
               row_number() OVER w AS pos,
               sum(CASE WHEN u.op = 'add' THEN u.value ELSE 0 END) OVER w AS adds
          FROM u
          LEFT JOIN before b USING (district, indicator, period)
        WINDOW w AS (PARTITION BY u.district, u.indicator, u.period
                     ORDER BY u.observed_at, u.agent_id COLLATE "C", u.seq
                     ROWS UNBOUNDED PRECEDING)
    ),
    -- the unit's value just after each update: the last set so far and the adds after it,
    -- or (no set yet) its value at `from` and the adds so far
    valued AS (
        SELECT r.*,
               CASE WHEN r.last_set IS NOT NULL THEN r.last_set[2] + r.adds - r.last_set[3]
                    ELSE coalesce(r.start, 0) + r.adds END AS after
          FROM (SELECT run.*,
                       max(ARRAY[run.pos, run.value, run.adds]) FILTER (WHERE run.op = 'set')
                           OVER (PARTITION BY run.district, run.indicator, run.period
                                 ORDER BY run.pos ROWS UNBOUNDED PRECEDING) AS last_set
                  FROM run) r
    ),
    contributed AS MATERIALIZED (
        SELECT v.*,
               v.after - lag(v.after, 1, coalesce(v.start, 0))
                   OVER (PARTITION BY v.district, v.indicator, v.period ORDER BY v.pos)
                   AS contribution
          FROM valued v
    )
    SELECT w.target_code, c.agent_id, c.district, c.seq, c.indicator, c.period, c.op, c.value,
           c.observed_at, c.note, c.received_at,
           CASE WHEN w.kind IN ('sum', 'city') THEN c.contribution END
      FROM wanted_inds w
      JOIN contributed c
        ON c.indicator = w.indicator
       AND (c.period = $1 OR w.kind = 'growth')
       AND (w.skind <> 'city' OR c.district = 'city')
     ORDER BY w.position, c.observed_at, c.agent_id COLLATE "C", c.seq
$$;

-- Every target's series at once, for the dashboard's charts (the same figures as
-- citytally_series, as known now, up to the earlier of `until`, now and the year's end):
-- one citytally_progress and one citytally_unit_figures per step end, whatever the number
-- of targets, instead of a series call per target.
CREATE FUNCTION citytally_series_all(p_year int, p_step text, p_until timestamptz)
RETURNS TABLE (target_code text, year int, at timestamptz, actual numeric, expected numeric)
LANGUAGE sql STABLE AS $$
    WITH lim AS (
        SELECT least(citytally_finite($3), now(),
                     citytally_day_start(make_date($1 + 1, 1, 1) - date '1970-01-01')) AS u
    ),
    now_ends AS (SELECT e AS at FROM lim, citytally_step_ends($1, $2, lim.u) e),
    prev_ends AS (SELECT e AS at FROM lim, citytally_step_ends($1 - 1, $2, lim.u) e),
    cur AS (
        SELECT p.target_code, e.at, p.actual FROM now_ends e
         CROSS JOIN LATERAL citytally_progress($1, e.at) p
    ),
    prev AS (
        SELECT e.at, f.target_code, sum(f.num) AS num, sum(f.den) AS den FROM prev_ends e
         CROSS JOIN LATERAL citytally_unit_figures($1, e.at) f
         WHERE f.period = $1 - 1
         GROUP BY e.at, f.target_code
    )
    SELECT t.code, $1, c.at, c.actual,
           CASE WHEN t.kind = 'sum' AND i.measure = 'flow' AND t.comparator IN ('>=', '>')
                THEN trim_scale(round(t.target * citytally_year_elapsed($1, c.at), 4)) END
      FROM cur c
      JOIN targets t ON t.year = $1 AND t.code = c.target_code
      LEFT JOIN indicators i ON i.code = t.indicator
    UNION ALL
    SELECT t.code, $1 - 1, e.at,
           trim_scale(CASE t.kind
                      WHEN 'ratio' THEN round(t.scale * p.num / nullif(p.den, 0), 4)
                      WHEN 'growth' THEN NULL
                      ELSE p.num END),
           NULL::numeric
      FROM prev_ends e
     CROSS JOIN targets t
      LEFT JOIN prev p ON p.at = e.at AND p.target_code = t.code
     WHERE t.year = $1
     ORDER BY 1, 2 DESC, 3
$$;

-- The targets whose figure as of `as_of` changed after `since`: an update received after
-- `since` made it differ from the figure as known at `since`. `before` is that figure.
CREATE FUNCTION citytally_revised(p_year int, p_as_of timestamptz, p_since timestamptz)
RETURNS TABLE (target_code text, before numeric, actual numeric)
LANGUAGE sql STABLE AS $$
    SELECT a.target_code, b.actual, a.actual
      FROM citytally_progress($1, $2) a
      JOIN citytally_progress($1, $2, $3) b USING (target_code)
     WHERE a.actual IS DISTINCT FROM b.actual
$$;
