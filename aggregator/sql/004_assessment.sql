-- 004_assessment.sql - unit targets, the pace of every target, and the assessment
-- (CONTRACT section 8: 目标分解与考核).
--
--   unit_targets              a unit's own target for a city-wide target (targets import,
--                             `district` column); kind, indicator and comparator are the
--                             city row's, only the number is the unit's
--   citytally_expected        where a target should be by now (pro rata), or NULL
--   citytally_progress_paced  citytally_progress plus expected_to_date and pace_pct
--   citytally_unit_scores     every (target, unit): the unit's figure against its own target
--                             where it has one, else the city's, with status and pace
--   citytally_assessment      THE SCORING RULE: each unit's score and rank
-- citytally_progress itself is untouched (its columns are fixed by CONTRACT section 4).

-- Rows go with their city-wide target: replacing a year's targets (DELETE, then INSERT)
-- replaces its unit targets too.
CREATE TABLE unit_targets (
    year     int  NOT NULL,
    code     text NOT NULL,
    district text NOT NULL REFERENCES units (id),
    target   numeric NOT NULL,
    PRIMARY KEY (year, code, district),
    FOREIGN KEY (year, code) REFERENCES targets (year, code) ON DELETE CASCADE
);

-- Pro rata: for sums of flows aimed upwards, target x the fraction of the year elapsed
-- (4 decimals); nothing else accumulates evenly over a year, so NULL.
CREATE FUNCTION citytally_expected(kind text, measure text, comparator text, target numeric,
                                   elapsed numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN kind = 'sum' AND measure = 'flow' AND comparator IN ('>=', '>')
            THEN trim_scale(round(target * elapsed, 4)) END;

-- 100 x actual / expected (2 decimals); NULL without both, or at the very start of a year.
CREATE FUNCTION citytally_pace_pct(actual numeric, expected numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN trim_scale(round(100 * actual / nullif(expected, 0), 2));

CREATE FUNCTION citytally_progress_paced(year int, as_of timestamptz)
RETURNS TABLE (target_code text, kind text, actual numeric, target numeric, comparator text,
               pct numeric, status text, units_reporting int, expected_to_date numeric,
               pace_pct numeric)
LANGUAGE sql STABLE AS $$
    SELECT p.target_code, p.kind, p.actual, p.target, p.comparator, p.pct, p.status,
           p.units_reporting, e.expected, citytally_pace_pct(p.actual, e.expected)
      FROM citytally_progress($1, $2) p
      JOIN targets t ON t.year = $1 AND t.code = p.target_code
      LEFT JOIN indicators i ON i.code = t.indicator
     CROSS JOIN LATERAL (SELECT citytally_expected(t.kind, i.measure, t.comparator, t.target,
                                                   citytally_year_elapsed($1, $2)) AS expected) e
     ORDER BY t.position
$$;

-- One row per target and unit, in target then districts.csv order. `reporting`: the unit
-- has a figure behind the target (a row of citytally_progress_by_unit, whose value may
-- still be NULL, e.g. a ratio over 0). `target_scope` says which target `target` is.
CREATE FUNCTION citytally_unit_scores(year int, as_of timestamptz)
RETURNS TABLE (target_code text, district text, reporting boolean, value numeric,
               target numeric, target_scope text, comparator text, pct numeric, status text,
               expected_to_date numeric, pace_pct numeric)
LANGUAGE sql STABLE AS $$
    WITH b AS MATERIALIZED (SELECT * FROM citytally_progress_by_unit($1, $2)),
    s AS (
        SELECT t.position AS tpos, u.position AS upos, t.code, u.id, t.kind, i.measure,
               t.comparator, b.district IS NOT NULL AS reporting, b.value,
               coalesce(ut.target, t.target) AS target,
               CASE WHEN ut.target IS NULL THEN 'city' ELSE 'unit' END AS scope
          FROM targets t
         CROSS JOIN units u
          LEFT JOIN indicators i ON i.code = t.indicator
          LEFT JOIN unit_targets ut ON ut.year = t.year AND ut.code = t.code
                                   AND ut.district = u.id
          LEFT JOIN b ON b.target_code = t.code AND b.district = u.id
         WHERE t.year = $1
    )
    SELECT s.code, s.id, s.reporting, s.value, trim_scale(s.target), s.scope, s.comparator,
           trim_scale(round(100 * s.value / nullif(s.target, 0), 2)),
           citytally_status(s.kind, s.measure, s.comparator, s.value, s.target, y.elapsed),
           e.expected, citytally_pace_pct(s.value, e.expected)
      FROM s
     CROSS JOIN (SELECT citytally_year_elapsed($1, $2) AS elapsed) y
     CROSS JOIN LATERAL (SELECT citytally_expected(s.kind, s.measure, s.comparator, s.target,
                                                   y.elapsed) AS expected) e
     ORDER BY s.tpos, s.upos
$$;

-- THE SCORING RULE (CONTRACT section 8), in this one place. A unit's assigned targets are
-- those it has a unit target for; its score is the mean over them of min(pct, 100), a
-- target without a value counting 0, rounded to 2 decimals, and NULL when it has none.
-- Rank: score descending, ties broken by district id; a NULL score has no rank. A bureau
-- that weights targets differently replaces this function (CREATE OR REPLACE, same
-- columns) and `report --assessment`, /api/assessment and the dashboard follow.
CREATE FUNCTION citytally_assessment(year int, as_of timestamptz)
RETURNS TABLE (rank int, district text, score numeric, assigned int, met int, on_track int,
               behind int, no_data int)
LANGUAGE sql STABLE AS $$
    WITH per_unit AS (
        SELECT u.id AS district,
               trim_scale(round(avg(least(coalesce(s.pct, 0), 100))
                                FILTER (WHERE s.target_code IS NOT NULL), 2)) AS score,
               count(s.target_code)::int AS assigned,
               count(*) FILTER (WHERE s.status = 'met')::int AS met,
               count(*) FILTER (WHERE s.status = 'on_track')::int AS on_track,
               count(*) FILTER (WHERE s.status = 'behind')::int AS behind,
               count(*) FILTER (WHERE s.status = 'no_data')::int AS no_data
          FROM units u
          LEFT JOIN citytally_unit_scores($1, $2) s
                 ON s.district = u.id AND s.target_scope = 'unit'
         GROUP BY u.id
    )
    SELECT CASE WHEN p.score IS NOT NULL
                THEN (row_number() OVER (ORDER BY p.score DESC NULLS LAST,
                                         p.district COLLATE "C"))::int END,
           p.district, p.score, p.assigned, p.met, p.on_track, p.behind, p.no_data
      FROM per_unit p
     ORDER BY p.score DESC NULLS LAST, p.district COLLATE "C"
$$;
