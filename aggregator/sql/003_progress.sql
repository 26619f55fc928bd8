-- 003_progress.sql - progress against the targets (CONTRACT section 4), as SQL.
--
-- Layers, each a function of (year, as_of):
--   citytally_unit_values     each unit's value (section 2) of every indicator, periods
--                             Y and Y-1 (growth needs last year)
--   citytally_unit_figures    per sum/ratio/city target, period and unit: what the unit
--                             contributes (only units that have what the kind needs)
--   citytally_progress        the city figure per target: actual, pct, status, units
--   citytally_progress_by_unit  each unit's own figure per target (reports, dashboard)
-- Numbers stay numeric; ratio and growth figures are rounded to 4 decimals, pct to 2, and
-- trim_scale() drops trailing zeros so JSON prints 0.3, not 0.3000.

-- as_of clamped to what day arithmetic can handle, so 'infinity' means "everything".
CREATE FUNCTION citytally_finite(ts timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN least(greatest(ts, timestamptz '1000-01-01 00:00:00+00'),
             timestamptz '9999-12-31 00:00:00+00');

CREATE FUNCTION citytally_unit_values(p_year int, p_as_of timestamptz)
RETURNS TABLE (district text, indicator text, period int, value numeric)
LANGUAGE sql STABLE AS $$
    WITH keys AS MATERIALIZED (
        SELECT c.district, c.indicator, c.period, c.value, c.last_at
          FROM current_values c
         WHERE c.period IN (p_year, p_year - 1)
    ),
    -- keys with updates observed after as_of (history, or clocks ahead): start from the
    -- key's state at the end of the last day before as_of's day that had updates ...
    past AS MATERIALIZED (
        SELECT k.district, k.indicator, k.period, d.value
          FROM keys k
          LEFT JOIN LATERAL (
               SELECT dv.value FROM daily_values dv
                WHERE dv.district = k.district AND dv.indicator = k.indicator
                  AND dv.period = k.period AND dv.day < citytally_day(citytally_finite(p_as_of))
                ORDER BY dv.day DESC LIMIT 1) d ON true
         WHERE k.last_at > citytally_finite(p_as_of)
    ),
    -- ... and fold in the updates of as_of's own day up to as_of
    today AS MATERIALIZED (
        SELECT u.district, u.indicator, u.period, u.op, u.value, u.observed_at,
               u.agent_id COLLATE "C" AS agent_id, u.seq
          FROM updates u
          JOIN past p USING (district, indicator, period)
         WHERE u.observed_at >= citytally_day_start(citytally_day(citytally_finite(p_as_of)))
           AND u.observed_at <= citytally_finite(p_as_of)
    ),
    -- one sort by key: each row's position and the adds up to it; then per key the last
    -- set (the largest [position, value, adds before it] among the sets) and all the adds
    today_run AS (
        SELECT t.district, t.indicator, t.period, t.op, t.value,
               row_number() OVER w AS pos,
               sum(CASE WHEN t.op = 'add' THEN t.value ELSE 0 END) OVER w AS adds
          FROM today t
        WINDOW w AS (PARTITION BY t.district, t.indicator, t.period
                     ORDER BY t.observed_at, t.agent_id, t.seq ROWS UNBOUNDED PRECEDING)
    ),
    folded AS (
        SELECT r.district, r.indicator, r.period,
               max(ARRAY[r.pos, r.value, r.adds]) FILTER (WHERE r.op = 'set') AS last_set,
               sum(r.value) FILTER (WHERE r.op = 'add') AS adds
          FROM today_run r
         GROUP BY r.district, r.indicator, r.period
    )
    SELECT k.district, k.indicator, k.period, k.value
      FROM keys k
     WHERE k.last_at <= citytally_finite(p_as_of)
    UNION ALL
    SELECT p.district, p.indicator, p.period,
           CASE WHEN f.last_set IS NOT NULL
                THEN f.last_set[2] + coalesce(f.adds, 0) - f.last_set[3]
                WHEN f.adds IS NOT NULL THEN coalesce(p.value, 0) + f.adds
                ELSE p.value END
      FROM past p
      LEFT JOIN folded f USING (district, indicator, period)
     WHERE p.value IS NOT NULL OR f.district IS NOT NULL
$$;

-- `value` is the unit's own figure: its value (sum, city) or its ratio (NULL when its
-- denominator is 0). `num`/`den` are what it adds to the city's sums.
CREATE FUNCTION citytally_unit_figures(p_year int, p_as_of timestamptz)
RETURNS TABLE (target_code text, period int, district text, num numeric, den numeric,
               value numeric)
LANGUAGE sql STABLE AS $$
    WITH uv AS MATERIALIZED (SELECT * FROM citytally_unit_values(p_year, p_as_of))
    SELECT t.code, n.period, n.district, n.value, d.value,
           CASE WHEN t.kind = 'ratio' THEN t.scale * n.value / nullif(d.value, 0)
                ELSE n.value END
      FROM targets t
      JOIN uv n ON n.indicator = t.indicator
      LEFT JOIN uv d ON t.kind = 'ratio' AND d.indicator = t.denominator
                    AND d.district = n.district AND d.period = n.period
     WHERE t.year = p_year AND t.kind IN ('sum', 'ratio', 'city')
       AND (t.kind <> 'ratio' OR d.value IS NOT NULL)
       AND (t.kind <> 'city' OR n.district = 'city')
$$;

-- The fraction of year `year` (UTC+8) elapsed at `as_of`, within [0, 1].
CREATE FUNCTION citytally_year_elapsed(year int, as_of timestamptz) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN least(1, greatest(0,
    extract(epoch FROM citytally_finite(as_of) - citytally_day_start(make_date(year, 1, 1) - date '1970-01-01'))
    / extract(epoch FROM citytally_day_start(make_date(year + 1, 1, 1) - date '1970-01-01')
                         - citytally_day_start(make_date(year, 1, 1) - date '1970-01-01'))));

-- CONTRACT section 4's status of a figure. Pacing (on_track) means "enough of the year's
-- total so far", so it applies to sums of flows aimed upwards (>=, >) only.
CREATE FUNCTION citytally_status(kind text, measure text, comparator text, actual numeric,
                                 target numeric, elapsed numeric) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
       WHEN actual IS NULL THEN 'no_data'
       WHEN CASE comparator WHEN '>=' THEN actual >= target
                            WHEN '>' THEN actual > target
                            WHEN '<=' THEN actual <= target
                            ELSE actual < target END THEN 'met'
       WHEN kind = 'sum' AND measure = 'flow' AND comparator IN ('>=', '>')
            AND actual >= target * elapsed THEN 'on_track'
       ELSE 'behind'
       END;

-- The signature and columns are fixed by CONTRACT section 4.
CREATE FUNCTION citytally_progress(year int, as_of timestamptz)
RETURNS TABLE (target_code text, kind text, actual numeric, target numeric, comparator text,
               pct numeric, status text, units_reporting int)
LANGUAGE sql STABLE AS $$
    WITH uf AS MATERIALIZED (SELECT * FROM citytally_unit_figures($1, $2)),
    base AS (
        SELECT t.code, f.period,
               CASE t.kind WHEN 'ratio' THEN t.scale * sum(f.num) / nullif(sum(f.den), 0)
                           ELSE sum(f.num) END AS actual,
               count(*) AS units
          FROM targets t
          JOIN uf f ON f.target_code = t.code
         WHERE t.year = $1
         GROUP BY t.code, t.kind, t.scale, f.period
    ),
    fig AS (
        SELECT t.position, t.code, t.kind, t.comparator, t.target, i.measure,
               CASE t.kind
               WHEN 'growth' THEN round(100 * (cur.actual / nullif(prev.actual, 0) - 1), 4)
               WHEN 'ratio' THEN round(own.actual, 4)
               ELSE own.actual
               END AS actual,
               coalesce(CASE WHEN t.kind = 'growth' THEN cur.units ELSE own.units END, 0)
                   AS units
          FROM targets t
          LEFT JOIN indicators i ON i.code = t.indicator
          LEFT JOIN base own ON own.code = t.code AND own.period = $1
          LEFT JOIN base cur ON t.kind = 'growth' AND cur.code = t.of_target AND cur.period = $1
          LEFT JOIN base prev ON t.kind = 'growth' AND prev.code = t.of_target
                             AND prev.period = $1 - 1
         WHERE t.year = $1
    )
    SELECT f.code, f.kind, trim_scale(f.actual), trim_scale(f.target), f.comparator,
           trim_scale(round(100 * f.actual / nullif(f.target, 0), 2)),
           citytally_status(f.kind, f.measure, f.comparator, f.actual, f.target,
                            citytally_year_elapsed($1, $2)),
           f.units::int
      FROM fig f
     ORDER BY f.position
$$;

CREATE FUNCTION citytally_progress_by_unit(year int, as_of timestamptz)
RETURNS TABLE (target_code text, district text, value numeric)
LANGUAGE sql STABLE AS $$
    WITH uf AS MATERIALIZED (SELECT * FROM citytally_unit_figures($1, $2))
    SELECT t.code, u.id,
           trim_scale(CASE t.kind
                      WHEN 'growth' THEN round(100 * (cur.value / nullif(prev.value, 0) - 1), 4)
                      WHEN 'ratio' THEN round(own.value, 4)
                      ELSE own.value
                      END)
      FROM targets t
     CROSS JOIN units u
      LEFT JOIN uf own ON own.target_code = t.code AND own.period = $1 AND own.district = u.id
      LEFT JOIN uf cur ON t.kind = 'growth' AND cur.target_code = t.of_target
                      AND cur.period = $1 AND cur.district = u.id
      LEFT JOIN uf prev ON t.kind = 'growth' AND prev.target_code = t.of_target
                       AND prev.period = $1 - 1 AND prev.district = u.id
     WHERE t.year = $1 AND (own.district IS NOT NULL OR cur.district IS NOT NULL)
     ORDER BY t.position, u.position
$$;

-- One unit's own figures, shaped like citytally_progress: its value (sum, city), ratio or
-- growth, against the city's target by the same rules; units_reporting is 1 when the unit
-- has a figure behind the target, else 0.
CREATE FUNCTION citytally_unit_progress(year int, as_of timestamptz, district text)
RETURNS TABLE (target_code text, kind text, actual numeric, target numeric, comparator text,
               pct numeric, status text, units_reporting int)
LANGUAGE sql STABLE AS $$
    SELECT t.code, t.kind, b.value, trim_scale(t.target), t.comparator,
           trim_scale(round(100 * b.value / nullif(t.target, 0), 2)),
           citytally_status(t.kind, i.measure, t.comparator, b.value, t.target,
                            citytally_year_elapsed($1, $2)),
           (b.district IS NOT NULL)::int
      FROM targets t
      LEFT JOIN indicators i ON i.code = t.indicator
      LEFT JOIN citytally_progress_by_unit($1, $2) b
             ON b.target_code = t.code AND b.district = $3
     WHERE t.year = $1
     ORDER BY t.position
$$;

-- Every year that has targets, as of now (CONTRACT section 4).
CREATE VIEW city_progress AS
SELECT y.year, p.target_code, p.kind, p.actual, p.target, p.comparator, p.pct, p.status,
       p.units_reporting
  FROM (SELECT DISTINCT t.year FROM targets t ORDER BY t.year) y
 CROSS JOIN LATERAL citytally_progress(y.year, now()) p;
