-- 011_diff_keys.sql - what the diff's listing needs besides the log itself (issue 18,
-- acceptance 2: a month's diff over 10 million updates in under a second).
--
-- 008's citytally_diff_updates finds every update of the month behind the changed targets
-- and works out each one's contribution in SQL: two window passes over a sort of the
-- month by unit, a join to the targets and a second sort by target, 1.5 s for June's
-- 458k updates. The aggregator now replays the month itself (aggregator/diff_listing.c):
-- the log arrives in observed order from the observed_at index, in binary, and a single
-- pass keeps each unit's value. What it needs from here is which units lie behind which
-- changed targets, and each unit's value at `from` to start from: this function.
-- citytally_diff_updates stays, unchanged, as the oracle the C listing is tested against.
--
-- One row per (target, unit key) for the targets in p_codes, exactly the keys 008's
-- key_targets lists: every key of current_values whose indicator is the target's (or its
-- denominator; for a growth target, those of the target it is the growth of), of the year
-- (and the year before, for growth), only the 'city' unit for city targets; `start` is the
-- key's value as of p_from (0 when it had none).
CREATE FUNCTION citytally_diff_keys(p_year int, p_from timestamptz, p_codes text[])
RETURNS TABLE (target_code text, kind text, district text, indicator text, period int,
               start numeric)
LANGUAGE sql STABLE
SET max_parallel_workers_per_gather = 0
AS $$
    WITH wanted AS (
        SELECT t.code AS target_code, t.kind, s.kind AS skind,
               unnest(array_remove(ARRAY[s.indicator, s.denominator], NULL)) AS indicator
          FROM targets t
          JOIN targets s ON s.year = t.year
                        AND s.code = CASE WHEN t.kind = 'growth' THEN t.of_target ELSE t.code END
         WHERE t.year = p_year AND t.code = ANY (p_codes)
    ),
    keys AS MATERIALIZED (
        SELECT w.target_code, w.kind, c.district, c.indicator, c.period
          FROM wanted w
          JOIN current_values c
            ON c.indicator = w.indicator
           AND (c.period = p_year OR (w.kind = 'growth' AND c.period = p_year - 1))
           AND (w.skind <> 'city' OR c.district = 'city')
    )
    SELECT k.target_code, k.kind, k.district, k.indicator, k.period, coalesce(b.value, 0)
      FROM keys k
      LEFT JOIN citytally_unit_values(p_year, p_from) b
             ON b.district = k.district AND b.indicator = k.indicator AND b.period = k.period
     ORDER BY k.district, k.indicator, k.period, k.target_code
$$;
