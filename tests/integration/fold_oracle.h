/*
 * fold_oracle.h - the log's own answer, in SQL, for the tests of the fold (current_values
 * and daily_values, aggregator/sql/002_current_values.sql). Each query counts the rows
 * that disagree with a direct reading of `updates` by CONTRACT section 2, so a correct
 * fold gives 0 whatever the order in which the log was written.
 */
#ifndef CT_FOLD_ORACLE_H
#define CT_FOLD_ORACLE_H

/* Keys of current_values whose value, update count or newest time differ from the log. */
#define FOLD_ORACLE_CURRENT_MISMATCHES                                                             \
    "WITH u AS (SELECT *, agent_id COLLATE \"C\" AS ag FROM updates),"                             \
    " keys AS (SELECT DISTINCT district, indicator, period FROM u),"                               \
    " ref AS (SELECT k.*, (SELECT CASE WHEN s.seq IS NULL THEN 0 ELSE s.value END"                 \
    "   + coalesce((SELECT sum(a.value) FROM u a WHERE (a.district, a.indicator, a.period)"        \
    "       = (k.district, k.indicator, k.period) AND a.op = 'add' AND (s.seq IS NULL OR"          \
    "       (a.observed_at, a.ag, a.seq) > (s.observed_at, s.ag, s.seq))), 0)"                     \
    "   FROM (SELECT NULL) dummy LEFT JOIN LATERAL (SELECT * FROM u s WHERE"                       \
    "     (s.district, s.indicator, s.period) = (k.district, k.indicator, k.period)"               \
    "     AND s.op = 'set' ORDER BY s.observed_at DESC, s.ag DESC, s.seq DESC LIMIT 1) s"          \
    "   ON true) AS value FROM keys k)"                                                            \
    " SELECT (SELECT count(*) FROM (SELECT district, indicator, period, value FROM ref"            \
    "   EXCEPT SELECT district, indicator, period, value FROM current_values) x)"                  \
    " + (SELECT count(*) FROM current_values c WHERE c.updates <> (SELECT count(*) FROM u"         \
    "   WHERE (u.district, u.indicator, u.period) = (c.district, c.indicator, c.period)))"         \
    " + (SELECT count(*) FROM current_values c WHERE c.last_at <> (SELECT max(observed_at)"        \
    "   FROM u WHERE (u.district, u.indicator, u.period) = (c.district, c.indicator, c.period)))"

/* daily_values rows whose value differs from the value as of the end of their day. */
#define FOLD_ORACLE_DAILY_MISMATCHES                                                               \
    "SELECT count(*) FROM daily_values d WHERE d.value IS DISTINCT FROM ("                         \
    " SELECT value FROM citytally_unit_values_observed(d.period,"                                  \
    "  citytally_day_start(d.day + 1)"                                                             \
    "   - interval '1 microsecond') v"                                                             \
    " WHERE (v.district, v.indicator, v.period) = (d.district, d.indicator, d.period))"

#endif
