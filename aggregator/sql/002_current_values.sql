-- 002_current_values.sql - each unit's value, kept inside the database as each COPY lands.
--
-- CONTRACT section 2: a unit's value of (indicator, period) as of X is the last `set` by the
-- key (observed_at, agent_id, seq) among its updates observed at or before X, plus every
-- `add` after it. Two tables keep that cheap to read:
--
--   current_values   one row per (district, indicator, period): its state over ALL its
--                    updates, and the newest observed_at (last_at). Figures "as of X" use
--                    it as is when last_at <= X, which for "now" is every key.
--   daily_values     one row per key and UTC+8 day ON WHICH THE KEY HAS UPDATES: its state
--                    at the end of that day. For X in the past, the value as of X is the
--                    key's last daily row before X's day, folded with the log rows of X's
--                    day up to X, which the observed_at index finds (003_progress.sql).
--
-- A state is (set_*, adds, add_*): the newest set, the sum of the adds after it (of all
-- adds when there is no set), and the newest add's key; its value is
-- coalesce(set_value, 0) + adds. Because addition commutes, new updates fold into a stored
-- state without reading the log:
--
--   ns = the newest set among the new rows. If ns is newer than the state's set, it
--   becomes the set and the adds are the new adds after ns (stored adds after ns exist only
--   if the state's newest add is newer than ns). Otherwise the set stays and the adds grow
--   by the new adds after it.
--
-- So the cost of a COPY is proportional to its own rows, whatever the order of arrival:
-- ties at one millisecond, agents interleaved, rows late by months. citytally_fold() works
-- on GROUPS, one per (key, UTC+8 day) of new rows, summarised as their count, newest set,
-- oldest and newest add and the sums of their adds (all of them, and those after the
-- newest set). The daemon computes the groups in C (aggregator/fold.c) and calls it right
-- after its COPY; any other writer gets the same from the trigger below, which computes the
-- groups in SQL. Two cases need single rows and read the log instead, for that key only:
-- a new set older than a stored add (a back-dated set), and a stored set whose key falls
-- between a group's oldest and newest add.
--
-- Why not an index on the log by (key, observed_at)? Measured: it halves COPY throughput
-- (random insert positions), while an index on observed_at alone is almost free (updates
-- arrive roughly in time order, so it appends at its right edge). See
-- tests/bench/progress/RESULTS.md.
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
    value      numeric,            -- NULL only inside a fold, before its first update
    last_at    timestamptz,        -- newest observed_at of any update
    set_at     timestamptz,        -- the newest set: key and value
    set_agent  text COLLATE "C",
    set_seq    bigint,
    set_value  numeric,
    adds       numeric NOT NULL DEFAULT 0, -- the adds after it
    add_at     timestamptz,        -- the newest add's key
    add_agent  text COLLATE "C",
    add_seq    bigint,
    updates    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (district, indicator, period)
);

CREATE TABLE daily_values (
    district   text NOT NULL,
    indicator  text NOT NULL,
    period     int  NOT NULL,
    day        int  NOT NULL,      -- citytally_day(): days since 1970-01-01 in UTC+8
    value      numeric NOT NULL,   -- at the end of `day`; the state follows
    set_at     timestamptz,
    set_agent  text COLLATE "C",
    set_seq    bigint,
    set_value  numeric,
    adds       numeric NOT NULL DEFAULT 0,
    add_at     timestamptz,
    add_agent  text COLLATE "C",
    add_seq    bigint,
    PRIMARY KEY (district, indicator, period, day)
);

CREATE INDEX updates_observed_at ON updates (observed_at);

-- The new rows of one key on one UTC+8 day, summarised. Keys are (at, agent, seq); a
-- missing one (no set, no add) is all NULL. `adds` is 0 when there are no adds; NULL
-- asks citytally_fold to sum them from the log (the daemon does so when a sum would not
-- fit its exact 128-bit arithmetic).
CREATE TYPE citytally_fold_group AS (
    district      text,
    indicator     text,
    period        int,
    day           int,
    rows          bigint,
    last_at       timestamptz,
    ns_at         timestamptz,  -- newest set
    ns_agent      text,
    ns_seq        bigint,
    ns_value      numeric,
    mina_at       timestamptz,  -- oldest add
    mina_agent    text,
    mina_seq      bigint,
    maxa_at       timestamptz,  -- newest add
    maxa_agent    text,
    maxa_seq      bigint,
    adds          numeric,      -- all adds
    adds_after_ns numeric       -- adds newer than ns (when there is one)
);

-- A key's state: the newest set, the adds after it, the newest add.
CREATE TYPE citytally_state AS (
    set_at    timestamptz,
    set_agent text,
    set_seq   bigint,
    set_value numeric,
    adds      numeric,
    add_at    timestamptz,
    add_agent text,
    add_seq   bigint
);

-- The state of one key at the end of `to_day`, from the log: the last stored daily row
-- before `from_day`, then every log row from `from_day` through `to_day`. For the rare
-- folds that need single rows; it reads every key's log rows of those days.
CREATE FUNCTION citytally_replay(p_district text, p_indicator text, p_period int,
                                 p_from_day int, p_to_day int)
RETURNS citytally_state
LANGUAGE sql STABLE AS $$
    WITH base AS (
        SELECT b.* FROM (VALUES (1)) one(x)
          LEFT JOIN LATERAL (
               SELECT dv.set_at, dv.set_agent, dv.set_seq, dv.set_value, dv.adds, dv.add_at,
                      dv.add_agent, dv.add_seq
                 FROM daily_values dv
                WHERE dv.district = p_district AND dv.indicator = p_indicator
                  AND dv.period = p_period AND dv.day < p_from_day
                ORDER BY dv.day DESC LIMIT 1) b ON true
    ),
    r AS MATERIALIZED (
        SELECT u.op, u.value, u.observed_at AS at, u.agent_id COLLATE "C" AS agent, u.seq
          FROM updates u
         WHERE u.observed_at >= citytally_day_start(p_from_day)
           AND u.observed_at < citytally_day_start(p_to_day + 1)
           AND u.district = p_district AND u.indicator = p_indicator AND u.period = p_period
    ),
    ns AS (SELECT * FROM r WHERE op = 'set' ORDER BY at DESC, agent DESC, seq DESC LIMIT 1),
    na AS (SELECT * FROM r WHERE op = 'add' ORDER BY at DESC, agent DESC, seq DESC LIMIT 1),
    decided AS (
        SELECT b.*, ns.at AS ns_at, ns.agent AS ns_agent, ns.seq AS ns_seq,
               ns.value AS ns_value,
               ns.seq IS NOT NULL AND (b.set_seq IS NULL OR
                   (ns.at, ns.agent, ns.seq) > (b.set_at, b.set_agent, b.set_seq)) AS new_set
          FROM base b LEFT JOIN ns ON true
    ),
    s AS (
        SELECT CASE WHEN d.new_set THEN d.ns_at ELSE d.set_at END AS set_at,
               CASE WHEN d.new_set THEN d.ns_agent ELSE d.set_agent END AS set_agent,
               CASE WHEN d.new_set THEN d.ns_seq ELSE d.set_seq END AS set_seq,
               CASE WHEN d.new_set THEN d.ns_value ELSE d.set_value END AS set_value,
               -- stored adds after a new set: none, since every stored row before
               -- from_day is older than every row of the log read here
               CASE WHEN d.new_set THEN 0 ELSE coalesce(d.adds, 0) END AS adds,
               d.add_at, d.add_agent, d.add_seq
          FROM decided d
    )
    SELECT ROW(s.set_at, s.set_agent, s.set_seq, s.set_value,
               s.adds + coalesce((SELECT sum(r.value) FROM r WHERE r.op = 'add' AND
                                  (s.set_seq IS NULL OR
                                   (r.at, r.agent, r.seq) > (s.set_at, s.set_agent, s.set_seq))), 0),
               coalesce(na.at, s.add_at), coalesce(na.agent, s.add_agent),
               coalesce(na.seq, s.add_seq))::citytally_state
      FROM s LEFT JOIN na ON true
$$;

-- Folds groups of new rows (their COPY already in `updates`) into current_values and
-- daily_values. Every key's row is locked first, in key order, so two writers never
-- deadlock and each sees what the other committed (READ COMMITTED).
--
-- Row counts of CTEs are unknown to the planner, which then guesses "1 row" and picks
-- nested loops; hash joins are right at every size here, so nested loops are off (the
-- per-target index probes of a LATERAL still use one, as they must). JIT is off: the
-- disabled-nestloop penalty would otherwise trigger seconds of compilation.
CREATE FUNCTION citytally_fold(p_groups citytally_fold_group[]) RETURNS void
LANGUAGE plpgsql
SET enable_nestloop = off
SET jit = off
AS $$
BEGIN
    INSERT INTO current_values AS c (district, indicator, period)
    SELECT DISTINCT g.district, g.indicator, g.period FROM unnest(p_groups) g ORDER BY 1, 2, 3
    ON CONFLICT (district, indicator, period) DO UPDATE SET updates = c.updates WHERE false;

    WITH g AS MATERIALIZED (
        SELECT * FROM unnest(p_groups)
    ),
    keys AS MATERIALIZED (
        SELECT g.district, g.indicator, g.period, min(g.day) AS first_day, sum(g.rows) AS rows,
               max(g.last_at) AS last_at
          FROM g GROUP BY 1, 2, 3
    ),
    -- What to fold into: the end of each day with new rows, and of every stored day after
    -- a key's first new row. A day not stored yet starts from the last stored day before.
    target_days AS (
        SELECT g.district, g.indicator, g.period, g.day FROM g
        UNION
        SELECT dv.district, dv.indicator, dv.period, dv.day
          FROM daily_values dv JOIN keys k USING (district, indicator, period)
         WHERE dv.day > k.first_day
    ),
    targets AS MATERIALIZED (
        SELECT t.district, t.indicator, t.period, t.day, b.set_at, b.set_agent, b.set_seq,
               b.set_value, coalesce(b.adds, 0) AS adds, b.add_at, b.add_agent, b.add_seq
          FROM target_days t
          LEFT JOIN LATERAL (
               SELECT dv.set_at, dv.set_agent, dv.set_seq, dv.set_value, dv.adds,
                      dv.add_at, dv.add_agent, dv.add_seq
                 FROM daily_values dv
                WHERE dv.district = t.district AND dv.indicator = t.indicator
                  AND dv.period = t.period AND dv.day <= t.day
                ORDER BY dv.day DESC LIMIT 1) b ON true
    ),
    -- each target with the groups it takes in: those of its day and before
    tg AS MATERIALIZED (
        SELECT t.district, t.indicator, t.period, t.day, g.day AS gday, g.ns_at, g.ns_agent,
               g.ns_seq, g.ns_value, g.mina_at, g.mina_agent, g.mina_seq, g.maxa_at,
               g.maxa_agent, g.maxa_seq, g.adds AS gadds, g.adds_after_ns
          FROM targets t JOIN g USING (district, indicator, period)
         WHERE g.day <= t.day
    ),
    -- the newest new set (and add) of a target is its latest group's that has one: the
    -- keys of a later day are all newer
    ns AS (
        SELECT DISTINCT ON (district, indicator, period, day) district, indicator, period,
               day, gday AS ns_day, ns_at, ns_agent, ns_seq, ns_value
          FROM tg WHERE ns_seq IS NOT NULL
         ORDER BY district, indicator, period, day, gday DESC
    ),
    na AS (
        SELECT DISTINCT ON (district, indicator, period, day) district, indicator, period,
               day, maxa_at AS na_at, maxa_agent AS na_agent, maxa_seq AS na_seq
          FROM tg WHERE maxa_seq IS NOT NULL
         ORDER BY district, indicator, period, day, gday DESC
    ),
    decided AS MATERIALIZED (
        SELECT t.*, ns.ns_day, ns.ns_at, ns.ns_agent, ns.ns_seq, ns.ns_value, na.na_at,
               na.na_agent, na.na_seq,
               ns.ns_seq IS NOT NULL AND (t.set_seq IS NULL OR
                   (ns.ns_at, ns.ns_agent, ns.ns_seq) > (t.set_at, t.set_agent, t.set_seq))
                   AS new_set
          FROM targets t
          LEFT JOIN ns USING (district, indicator, period, day)
          LEFT JOIN na USING (district, indicator, period, day)
    ),
    -- what each group adds to each target; NULL where only single rows can tell
    parts AS (
        SELECT d.district, d.indicator, d.period, d.day,
               CASE
               WHEN d.new_set AND tg.gday > d.ns_day THEN tg.gadds
               WHEN d.new_set AND tg.gday = d.ns_day THEN tg.adds_after_ns
               WHEN d.new_set THEN 0
               WHEN tg.maxa_seq IS NULL THEN 0
               WHEN d.set_seq IS NULL OR (tg.mina_at, tg.mina_agent, tg.mina_seq)
                                         > (d.set_at, d.set_agent, d.set_seq) THEN tg.gadds
               WHEN (tg.maxa_at, tg.maxa_agent, tg.maxa_seq)
                    < (d.set_at, d.set_agent, d.set_seq) THEN 0
               END AS part
          FROM decided d
          JOIN tg USING (district, indicator, period, day)
    ),
    sums AS (
        SELECT district, indicator, period, day, sum(part) AS new_adds,
               bool_or(part IS NULL) AS unknown
          FROM parts GROUP BY 1, 2, 3, 4
    ),
    folded AS MATERIALIZED (
        SELECT d.district, d.indicator, d.period, d.day,
               -- a part only single rows can tell, or a new set older than a stored add
               (s.unknown OR (d.new_set AND d.add_seq IS NOT NULL AND
                    (d.add_at, d.add_agent, d.add_seq) > (d.ns_at, d.ns_agent, d.ns_seq)))
                   AS hard,
               CASE WHEN d.new_set THEN d.ns_at ELSE d.set_at END AS set_at,
               CASE WHEN d.new_set THEN d.ns_agent ELSE d.set_agent END AS set_agent,
               CASE WHEN d.new_set THEN d.ns_seq ELSE d.set_seq END AS set_seq,
               CASE WHEN d.new_set THEN d.ns_value ELSE d.set_value END AS set_value,
               CASE WHEN d.new_set THEN s.new_adds ELSE d.adds + s.new_adds END AS adds,
               d.na_seq IS NOT NULL AND (d.add_seq IS NULL OR
                   (d.na_at, d.na_agent, d.na_seq) > (d.add_at, d.add_agent, d.add_seq))
                   AS na_wins,
               d.na_at, d.na_agent, d.na_seq, d.add_at, d.add_agent, d.add_seq
          FROM decided d
          JOIN sums s USING (district, indicator, period, day)
    ),
    resolved AS MATERIALIZED (
        SELECT f.district, f.indicator, f.period, f.day, f.hard,
               f.set_at, f.set_agent, f.set_seq, f.set_value, f.adds,
               CASE WHEN f.na_wins THEN f.na_at ELSE f.add_at END AS add_at,
               CASE WHEN f.na_wins THEN f.na_agent ELSE f.add_agent END AS add_agent,
               CASE WHEN f.na_wins THEN f.na_seq ELSE f.add_seq END AS add_seq,
               CASE WHEN f.hard THEN
                    citytally_replay(f.district, f.indicator, f.period, k.first_day, f.day)
               END AS replayed
          FROM folded f JOIN keys k USING (district, indicator, period)
    ),
    final AS MATERIALIZED (
        SELECT r.district, r.indicator, r.period, r.day,
               CASE WHEN r.hard THEN (r.replayed).set_at ELSE r.set_at END AS set_at,
               CASE WHEN r.hard THEN (r.replayed).set_agent ELSE r.set_agent END AS set_agent,
               CASE WHEN r.hard THEN (r.replayed).set_seq ELSE r.set_seq END AS set_seq,
               CASE WHEN r.hard THEN (r.replayed).set_value ELSE r.set_value END AS set_value,
               CASE WHEN r.hard THEN (r.replayed).adds ELSE r.adds END AS adds,
               CASE WHEN r.hard THEN (r.replayed).add_at ELSE r.add_at END AS add_at,
               CASE WHEN r.hard THEN (r.replayed).add_agent ELSE r.add_agent END AS add_agent,
               CASE WHEN r.hard THEN (r.replayed).add_seq ELSE r.add_seq END AS add_seq
          FROM resolved r
    ),
    end_of_day AS (
        INSERT INTO daily_values AS dv (district, indicator, period, day, value, set_at,
                                        set_agent, set_seq, set_value, adds, add_at,
                                        add_agent, add_seq)
        SELECT f.district, f.indicator, f.period, f.day, coalesce(f.set_value, 0) + f.adds,
               f.set_at, f.set_agent, f.set_seq, f.set_value, f.adds, f.add_at, f.add_agent,
               f.add_seq
          FROM final f
        ON CONFLICT (district, indicator, period, day) DO UPDATE
           SET value = excluded.value, set_at = excluded.set_at,
               set_agent = excluded.set_agent, set_seq = excluded.set_seq,
               set_value = excluded.set_value, adds = excluded.adds,
               add_at = excluded.add_at, add_agent = excluded.add_agent,
               add_seq = excluded.add_seq
    ),
    -- a key's state over all its updates is its state at the end of its latest day
    latest AS (
        SELECT DISTINCT ON (district, indicator, period) *
          FROM final ORDER BY district, indicator, period, day DESC
    )
    UPDATE current_values c
       SET value = coalesce(l.set_value, 0) + l.adds, set_at = l.set_at,
           set_agent = l.set_agent, set_seq = l.set_seq, set_value = l.set_value,
           adds = l.adds, add_at = l.add_at, add_agent = l.add_agent, add_seq = l.add_seq,
           last_at = greatest(c.last_at, k.last_at), updates = c.updates + k.rows
      FROM latest l
      JOIN keys k USING (district, indicator, period)
     WHERE c.district = l.district AND c.indicator = l.indicator AND c.period = l.period;
END
$$;

-- Writers other than the daemon (tests, an operator's INSERT) get the same fold: the
-- groups are computed here, in SQL. The daemon computes them in C for its own COPY and
-- says so with `SET citytally.fold = 'daemon'` in its session.
CREATE FUNCTION citytally_updates_fold() RETURNS trigger
LANGUAGE plpgsql
SET jit = off
AS $$
BEGIN
    IF current_setting('citytally.fold', true) = 'daemon' THEN
        RETURN NULL;
    END IF;
    PERFORM citytally_fold(ARRAY(
        WITH n AS MATERIALIZED (
            SELECT r.district, r.indicator, r.period, r.op, r.value, r.observed_at AS at,
                   r.agent_id COLLATE "C" AS agent, r.seq, citytally_day(r.observed_at) AS day
              FROM new_rows r
        ),
        ns AS (
            SELECT DISTINCT ON (district, indicator, period, day) * FROM n WHERE op = 'set'
             ORDER BY district, indicator, period, day, at DESC, agent DESC, seq DESC
        ),
        mina AS (
            SELECT DISTINCT ON (district, indicator, period, day) * FROM n WHERE op = 'add'
             ORDER BY district, indicator, period, day, at, agent, seq
        ),
        maxa AS (
            SELECT DISTINCT ON (district, indicator, period, day) * FROM n WHERE op = 'add'
             ORDER BY district, indicator, period, day, at DESC, agent DESC, seq DESC
        ),
        agg AS (
            SELECT n.district, n.indicator, n.period, n.day, count(*) AS rows,
                   max(n.at) AS last_at,
                   coalesce(sum(n.value) FILTER (WHERE n.op = 'add'), 0) AS adds,
                   coalesce(sum(n.value) FILTER (WHERE n.op = 'add' AND
                                (n.at, n.agent, n.seq) > (ns.at, ns.agent, ns.seq)), 0)
                       AS adds_after_ns
              FROM n LEFT JOIN ns USING (district, indicator, period, day)
             GROUP BY 1, 2, 3, 4
        )
        SELECT ROW(a.district, a.indicator, a.period, a.day, a.rows, a.last_at,
                   ns.at, ns.agent, ns.seq, ns.value,
                   mina.at, mina.agent, mina.seq, maxa.at, maxa.agent, maxa.seq,
                   a.adds, CASE WHEN ns.seq IS NOT NULL THEN a.adds_after_ns END
               )::citytally_fold_group
          FROM agg a
          LEFT JOIN ns USING (district, indicator, period, day)
          LEFT JOIN mina USING (district, indicator, period, day)
          LEFT JOIN maxa USING (district, indicator, period, day)));
    RETURN NULL;
END
$$;

CREATE TRIGGER updates_fold
    AFTER INSERT ON updates
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION citytally_updates_fold();
