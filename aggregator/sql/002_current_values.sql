-- 002_current_values.sql - each unit's current value, kept inside the database.
--
-- CONTRACT section 2: a unit's value of (indicator, period) as of X is the last `set` by the
-- key (observed_at, agent_id, seq) among updates observed at or before X, plus every `add`
-- after it. The daemon only COPYs into `updates`, so a statement-level trigger folds each
-- COPY's rows into `current_values` in the same transaction, per (district, indicator,
-- period) and set-based, never per row.
--
-- Invariant: for every key with updates, `value` is the value as of `last_at` (the newest
-- observed_at of the key), i.e. over ALL its updates. A reader asking "as of X" may use
-- `value` only when last_at <= X; otherwise (history, or an update stamped in the future)
-- it recomputes from the log with citytally_value_as_of(), which the two partial indexes
-- below make a pair of index range scans.
--
-- agent_id is compared with COLLATE "C" everywhere, so the order of the key is byte order
-- whatever the database's default collation.

CREATE TABLE current_values (
    district   text NOT NULL,
    indicator  text NOT NULL,
    period     int  NOT NULL,
    value      numeric,            -- NULL only inside the trigger, before the first fold
    set_at     timestamptz,        -- key of the last `set` (NULL: no set, value = sum of adds)
    set_agent  text COLLATE "C",
    set_seq    bigint,
    last_at    timestamptz,        -- key of the newest update of any op
    last_agent text COLLATE "C",
    last_seq   bigint,
    updates    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (district, indicator, period)
);

-- As-of reads: the last set at or before X, and the adds after it.
CREATE INDEX updates_sets_by_key ON updates
    (district, indicator, period, observed_at, agent_id COLLATE "C", seq)
    INCLUDE (value) WHERE op = 'set';
CREATE INDEX updates_adds_by_key ON updates
    (district, indicator, period, observed_at, agent_id COLLATE "C", seq)
    INCLUDE (value) WHERE op = 'add';

CREATE FUNCTION citytally_updates_fold() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Every touched key gets a row, and this transaction holds the row locks in key order
    -- (so two concurrent writers never deadlock) before anything is read: under READ
    -- COMMITTED the statements below then see everything a concurrent writer committed.
    INSERT INTO current_values (district, indicator, period)
    SELECT DISTINCT district, indicator, period FROM new_rows ORDER BY 1, 2, 3
    ON CONFLICT DO NOTHING;
    PERFORM 1 FROM current_values c
     WHERE (c.district, c.indicator, c.period) IN
           (SELECT DISTINCT district, indicator, period FROM new_rows)
     ORDER BY c.district, c.indicator, c.period
       FOR UPDATE;

    WITH batch AS (
        SELECT district, indicator, period, op, value, observed_at,
               agent_id COLLATE "C" AS agent_id, seq
          FROM new_rows
    ),
    -- the newest key of the batch, and its newest set, per (district, indicator, period)
    newest AS (
        SELECT DISTINCT ON (district, indicator, period)
               district, indicator, period, observed_at, agent_id, seq
          FROM batch
         ORDER BY district, indicator, period, observed_at DESC, agent_id DESC, seq DESC
    ),
    newest_set AS (
        SELECT DISTINCT ON (district, indicator, period)
               district, indicator, period, observed_at, agent_id, seq, value
          FROM batch WHERE op = 'set'
         ORDER BY district, indicator, period, observed_at DESC, agent_id DESC, seq DESC
    ),
    counts AS (
        SELECT district, indicator, period, count(*) AS n FROM batch
         GROUP BY district, indicator, period
    ),
    -- decide per key: does a set of the batch become the last set?
    plan AS (
        SELECT c.district, c.indicator, c.period, c.value AS old_value,
               c.set_at, c.set_agent, c.set_seq, c.last_at, c.last_agent, c.last_seq,
               s.observed_at AS s_at, s.agent_id AS s_agent, s.seq AS s_seq, s.value AS s_value,
               n.observed_at AS n_at, n.agent_id AS n_agent, n.seq AS n_seq, k.n,
               (s.seq IS NOT NULL AND (c.set_seq IS NULL OR
                 (s.observed_at, s.agent_id, s.seq) > (c.set_at, c.set_agent, c.set_seq)))
                   AS reset
          FROM current_values c
          JOIN newest n USING (district, indicator, period)
          JOIN counts k USING (district, indicator, period)
          LEFT JOIN newest_set s USING (district, indicator, period)
    ),
    -- the batch's adds that come after the key's (possibly new) last set
    batch_adds AS (
        SELECT p.district, p.indicator, p.period, sum(b.value) AS total
          FROM plan p
          JOIN batch b USING (district, indicator, period)
         WHERE b.op = 'add'
           AND CASE WHEN p.reset
                    THEN (b.observed_at, b.agent_id, b.seq) > (p.s_at, p.s_agent, p.s_seq)
                    ELSE p.set_seq IS NULL
                         OR (b.observed_at, b.agent_id, b.seq) > (p.set_at, p.set_agent, p.set_seq)
               END
         GROUP BY p.district, p.indicator, p.period
    ),
    folded AS (
        SELECT p.district, p.indicator, p.period,
               CASE
               WHEN NOT p.reset THEN coalesce(p.old_value, 0) + coalesce(a.total, 0)
               -- a new last set older than updates already stored (out-of-order arrival):
               -- the adds after it are partly in the log, so sum them there (it holds the
               -- batch too)
               WHEN p.last_seq IS NOT NULL
                    AND (p.last_at, p.last_agent, p.last_seq) > (p.s_at, p.s_agent, p.s_seq)
               THEN p.s_value + coalesce((
                    SELECT sum(u.value) FROM updates u
                     WHERE u.district = p.district AND u.indicator = p.indicator
                       AND u.period = p.period AND u.op = 'add'
                       AND (u.observed_at, u.agent_id COLLATE "C", u.seq)
                           > (p.s_at, p.s_agent, p.s_seq)), 0)
               ELSE p.s_value + coalesce(a.total, 0)
               END AS value,
               p.reset, p.s_at, p.s_agent, p.s_seq,
               p.last_seq IS NULL
                 OR (p.n_at, p.n_agent, p.n_seq) > (p.last_at, p.last_agent, p.last_seq)
                   AS newer,
               p.n_at, p.n_agent, p.n_seq, p.n
          FROM plan p
          LEFT JOIN batch_adds a USING (district, indicator, period)
    )
    UPDATE current_values c
       SET value      = f.value,
           set_at     = CASE WHEN f.reset THEN f.s_at ELSE c.set_at END,
           set_agent  = CASE WHEN f.reset THEN f.s_agent ELSE c.set_agent END,
           set_seq    = CASE WHEN f.reset THEN f.s_seq ELSE c.set_seq END,
           last_at    = CASE WHEN f.newer THEN f.n_at ELSE c.last_at END,
           last_agent = CASE WHEN f.newer THEN f.n_agent ELSE c.last_agent END,
           last_seq   = CASE WHEN f.newer THEN f.n_seq ELSE c.last_seq END,
           updates    = c.updates + f.n
      FROM folded f
     WHERE c.district = f.district AND c.indicator = f.indicator AND c.period = f.period;
    RETURN NULL;
END
$$;

CREATE TRIGGER updates_fold_into_current_values
    AFTER INSERT ON updates
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION citytally_updates_fold();

-- D's value of (indicator, period) as of `as_of`, from the log alone (NULL: no update).
-- PL/pgSQL so that the last set's key reaches the second query as a constant, which the
-- planner turns into an index range scan of the adds after it.
CREATE FUNCTION citytally_value_as_of(p_district text, p_indicator text, p_period int,
                                      p_as_of timestamptz)
RETURNS numeric
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    s record;
    total numeric;
    n bigint;
BEGIN
    SELECT u.observed_at, u.agent_id COLLATE "C" AS agent_id, u.seq, u.value INTO s
      FROM updates u
     WHERE u.district = p_district AND u.indicator = p_indicator AND u.period = p_period
       AND u.op = 'set' AND u.observed_at <= p_as_of
     ORDER BY u.observed_at DESC, u.agent_id COLLATE "C" DESC, u.seq DESC
     LIMIT 1;
    IF FOUND THEN
        SELECT sum(u.value) INTO total
          FROM updates u
         WHERE u.district = p_district AND u.indicator = p_indicator AND u.period = p_period
           AND u.op = 'add' AND u.observed_at <= p_as_of
           AND (u.observed_at, u.agent_id COLLATE "C", u.seq) > (s.observed_at, s.agent_id, s.seq);
        RETURN s.value + coalesce(total, 0);
    END IF;
    SELECT sum(u.value), count(*) INTO total, n
      FROM updates u
     WHERE u.district = p_district AND u.indicator = p_indicator AND u.period = p_period
       AND u.op = 'add' AND u.observed_at <= p_as_of;
    RETURN CASE WHEN n > 0 THEN total END;
END
$$;
