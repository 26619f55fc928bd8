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

CREATE FUNCTION citytally_unit_values(p_year int, p_as_of timestamptz)
RETURNS TABLE (district text, indicator text, period int, value numeric)
LANGUAGE sql STABLE AS $$
    -- keys untouched since as_of: the maintained value is the value as of as_of
    SELECT c.district, c.indicator, c.period, c.value
      FROM current_values c
     WHERE c.period IN (p_year, p_year - 1) AND c.last_at <= p_as_of
    UNION ALL
    -- keys with updates observed after as_of (history, or clocks ahead): from the log
    SELECT c.district, c.indicator, c.period, v.value
      FROM current_values c
     CROSS JOIN LATERAL (SELECT citytally_value_as_of(c.district, c.indicator, c.period,
                                                      p_as_of) AS value) v
     WHERE c.period IN (p_year, p_year - 1) AND c.last_at > p_as_of AND v.value IS NOT NULL
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
    -- the fraction of year Y (UTC+8) elapsed at as_of, for on_track pacing
    elapsed AS (
        SELECT least(1, greatest(0, extract(epoch FROM $2 - y.first)
                                    / extract(epoch FROM y.next - y.first))) AS fraction
          FROM (SELECT make_timestamptz($1, 1, 1, 0, 0, 0, 'UTC') - interval '8 hours' AS first,
                       make_timestamptz($1 + 1, 1, 1, 0, 0, 0, 'UTC') - interval '8 hours' AS next) y
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
           CASE
           WHEN f.actual IS NULL THEN 'no_data'
           WHEN CASE f.comparator WHEN '>=' THEN f.actual >= f.target
                                  WHEN '>' THEN f.actual > f.target
                                  WHEN '<=' THEN f.actual <= f.target
                                  ELSE f.actual < f.target END THEN 'met'
           -- pacing means "enough of the year's total so far", so only for flows summed
           -- towards an upper goal
           WHEN f.kind = 'sum' AND f.measure = 'flow' AND f.comparator IN ('>=', '>')
                AND f.actual >= f.target * e.fraction THEN 'on_track'
           ELSE 'behind'
           END,
           f.units::int
      FROM fig f CROSS JOIN elapsed e
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

-- Every year that has targets, as of now (CONTRACT section 4).
CREATE VIEW city_progress AS
SELECT y.year, p.target_code, p.kind, p.actual, p.target, p.comparator, p.pct, p.status,
       p.units_reporting
  FROM (SELECT DISTINCT t.year FROM targets t ORDER BY t.year) y
 CROSS JOIN LATERAL citytally_progress(y.year, now()) p;
