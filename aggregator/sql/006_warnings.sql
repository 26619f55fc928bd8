-- 006_warnings.sql - plausibility warnings on stored updates (CONTRACT section 10).
--
-- A warning never refuses an update: the update is in `updates` and counts. The daemon
-- calls citytally_warn() once per commit, in the commit's transaction and pipeline, just
-- BEFORE citytally_fold(): so current_values still holds each unit's value from before
-- the commit, which is what a new `set` is compared with. Only `set`s are checked; a
-- commit without any sends no statement at all.
--
--   implausible_yoy  the set's value V and the unit's final value L for period - 1 are
--                    both non-zero and V / L > 10 or V / L < 1/10 (L: the stored value, or
--                    the newest set for period - 1 in the same commit when that is newer)
--   unit_slip        V / L within 5% of 10,000 or of 1/10,000 (万元 entered as 亿元, or the
--                    other way round); it replaces implausible_yoy, being the likelier
--                    explanation of the same jump
--   flow_decrease    a set of a `flow` indicator lowers the unit's year-to-date value: V is
--                    below the value just before it, which is the previous set of the same
--                    commit for that key, or else the stored current value when the set is
--                    not older than the key's newest stored observation (a back-dated set
--                    is not compared: what it lowers is history, not the figure)
--
-- A clerk confirms a warned figure by sending it again with a note: a `set` that carries a
-- note and repeats the value just before it is a confirmation and raises no warning. The
-- dashboard shows the warnings of the update that is each figure's newest set, so a
-- confirmed figure shows none.

CREATE TABLE update_warnings (
    agent_id   text NOT NULL,
    seq        bigint NOT NULL,
    district   text NOT NULL,
    indicator  text NOT NULL,
    period     int  NOT NULL,
    code       text NOT NULL CHECK (code IN ('implausible_yoy', 'unit_slip', 'flow_decrease')),
    message    text NOT NULL,
    value      numeric NOT NULL, -- the set's value
    compared   numeric NOT NULL, -- what it was compared with
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, seq, code)
);

CREATE INDEX update_warnings_key ON update_warnings (district, indicator, period);

-- A number for a message: no trailing zeros.
CREATE FUNCTION citytally_warn_num(n numeric) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN trim_scale(n)::text;

-- The accepted sets of one commit, as parallel arrays; returns the warnings it stored.
CREATE FUNCTION citytally_warn(p_agents text[], p_seqs bigint[], p_districts text[],
                               p_indicators text[], p_periods int[], p_ats timestamptz[],
                               p_values numeric[], p_noted bool[])
RETURNS TABLE (agent_id text, seq bigint, code text, message text)
LANGUAGE sql
SET jit = off
AS $$
    WITH s AS MATERIALIZED (
        SELECT * FROM unnest(p_agents, p_seqs, p_districts, p_indicators, p_periods, p_ats,
                             p_values, p_noted)
                   AS s(agent, seq, district, indicator, period, at, value, noted)
    ),
    ordered AS (
        SELECT s.*,
               lag(s.value) OVER w AS prev_value,
               row_number() OVER w AS nth
          FROM s
        WINDOW w AS (PARTITION BY s.district, s.indicator, s.period
                     ORDER BY s.at, s.agent COLLATE "C", s.seq)
    ),
    -- each key's newest set in this commit, for a set of the next period in the same commit
    newest AS (
        SELECT DISTINCT ON (s.district, s.indicator, s.period) s.district, s.indicator,
               s.period, s.at, s.value
          FROM s
         ORDER BY s.district, s.indicator, s.period, s.at DESC, s.agent COLLATE "C" DESC,
                  s.seq DESC
    ),
    j AS MATERIALIZED (
        SELECT o.agent, o.seq, o.district, o.indicator, o.period, o.value, o.noted, i.measure,
               CASE WHEN o.nth > 1 THEN o.prev_value
                    WHEN c.last_at IS NOT NULL AND o.at >= c.last_at THEN c.value
               END AS before,
               CASE WHEN n.value IS NOT NULL AND (py.last_at IS NULL OR n.at >= py.last_at)
                    THEN n.value ELSE py.value
               END AS last_year
          FROM ordered o
          JOIN indicators i ON i.code = o.indicator
          LEFT JOIN current_values c
                 ON c.district = o.district AND c.indicator = o.indicator
                AND c.period = o.period
          LEFT JOIN current_values py
                 ON py.district = o.district AND py.indicator = o.indicator
                AND py.period = o.period - 1
          LEFT JOIN newest n
                 ON n.district = o.district AND n.indicator = o.indicator
                AND n.period = o.period - 1
    ),
    checked AS (
        SELECT j.*, CASE WHEN j.last_year <> 0 AND j.value <> 0 THEN j.value / j.last_year
                    END AS ratio
          FROM j
         WHERE NOT (j.noted AND j.before IS NOT NULL AND j.before = j.value)
    ),
    w AS (
        SELECT c.agent, c.seq, c.district, c.indicator, c.period, c.value,
               c.last_year AS compared,
               CASE WHEN c.ratio BETWEEN 9500 AND 10500 OR c.ratio BETWEEN 0.000095 AND 0.000105
                    THEN 'unit_slip' ELSE 'implausible_yoy' END AS code,
               CASE WHEN c.ratio BETWEEN 9500 AND 10500 OR c.ratio BETWEEN 0.000095 AND 0.000105
                    THEN format('%s is about %s the final value for %s (%s): 万元 entered as '
                                '亿元, or the other way round? Send it again with a note to '
                                'confirm it',
                                citytally_warn_num(c.value),
                                CASE WHEN c.ratio > 1 THEN '10,000 times' ELSE '1/10,000 of' END,
                                c.period - 1, citytally_warn_num(c.last_year))
                    ELSE format('%s is %s times the final value for %s (%s); send it again '
                                'with a note to confirm it',
                                citytally_warn_num(c.value),
                                citytally_warn_num(round(c.ratio, CASE WHEN abs(c.ratio) >= 1
                                                                       THEN 1 ELSE 4 END)),
                                c.period - 1, citytally_warn_num(c.last_year))
               END AS message
          FROM checked c
         WHERE c.ratio > 10 OR c.ratio < 0.1
        UNION ALL
        SELECT c.agent, c.seq, c.district, c.indicator, c.period, c.value, c.before,
               'flow_decrease',
               format('%s lowers the year-to-date value of a flow from %s; send it again with '
                      'a note to confirm it',
                      citytally_warn_num(c.value), citytally_warn_num(c.before))
          FROM checked c
         WHERE c.measure = 'flow' AND c.value < c.before
    ),
    stored AS (
        INSERT INTO update_warnings (agent_id, seq, district, indicator, period, code, message,
                                     value, compared)
        SELECT w.agent, w.seq, w.district, w.indicator, w.period, w.code, w.message, w.value,
               w.compared
          FROM w
        ON CONFLICT DO NOTHING
    )
    SELECT w.agent, w.seq, w.code, w.message FROM w ORDER BY w.agent, w.seq, w.code
$$;
