-- 001_schema.sql - the consolidated store: reference facts, agents, the update log.
--
-- Applied by `citytally-aggregator migrate` (aggregator/migrate.c) inside one transaction;
-- the reference rows (units, indicators, 2015 targets) are loaded right after it, in the
-- same transaction, from the embedded data/*.csv files (aggregator/seed.c).

-- The 17 reporting units of data/districts.csv. `position` keeps the file's order for
-- reports.
CREATE TABLE units (
    id         text PRIMARY KEY CHECK (id ~ '^[a-z0-9_-]{1,64}$'),
    position   int  NOT NULL UNIQUE,
    name_zh    text NOT NULL,
    name_en    text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('district', 'county', 'county_city', 'zone',
                                             'municipal')),
    admin_code text
);

-- The figures units report (data/indicators.csv). A `flow` accumulates over the year
-- (year-to-date), a `stock` is a level. `reported_by = 'city'` may come only from unit
-- `city` (CONTRACT section 2).
CREATE TABLE indicators (
    code        text PRIMARY KEY CHECK (code ~ '^[a-z0-9_-]{1,64}$'),
    position    int  NOT NULL UNIQUE,
    name_zh     text NOT NULL,
    name_en     text NOT NULL,
    unit        text NOT NULL,
    measure     text NOT NULL CHECK (measure IN ('flow', 'stock')),
    reported_by text NOT NULL CHECK (reported_by IN ('district', 'city')),
    clause      text NOT NULL DEFAULT ''
);

-- One year's targets (data/targets-2015.csv, or `targets import`). A year's rows are
-- replaced as a whole, so the deferred self-reference lets the new rows point at each
-- other in any order.
CREATE TABLE targets (
    year        int  NOT NULL CHECK (year BETWEEN 1900 AND 9999),
    code        text NOT NULL CHECK (code ~ '^[a-z0-9_-]{1,64}$'),
    position    int  NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('sum', 'ratio', 'growth', 'city')),
    indicator   text REFERENCES indicators (code),
    denominator text REFERENCES indicators (code),
    scale       numeric NOT NULL DEFAULT 1,
    of_target   text,
    comparator  text NOT NULL CHECK (comparator IN ('>=', '>', '<=', '<')),
    target      numeric NOT NULL,
    unit        text NOT NULL DEFAULT '',
    name_zh     text NOT NULL,
    name_en     text NOT NULL,
    clause      text NOT NULL DEFAULT '',
    PRIMARY KEY (year, code),
    UNIQUE (year, position),
    FOREIGN KEY (year, of_target) REFERENCES targets (year, code) DEFERRABLE INITIALLY DEFERRED,
    CHECK (CASE kind
           WHEN 'growth' THEN of_target IS NOT NULL AND indicator IS NULL AND denominator IS NULL
           WHEN 'ratio' THEN indicator IS NOT NULL AND denominator IS NOT NULL AND of_target IS NULL
           ELSE indicator IS NOT NULL AND denominator IS NULL AND of_target IS NULL
           END)
);

-- Collectors allowed to send. A removed agent keeps its row (and its history) with
-- `revoked_at` set, so its id is never reused. `last_seq` is the highest seq of the agent
-- that is committed (stored or rejected); the daemon locks the row FOR UPDATE and raises it
-- in the transaction that COPYs the updates.
CREATE TABLE agents (
    agent_id   text PRIMARY KEY CHECK (agent_id ~ '^[a-z0-9_-]{1,64}$'),
    district   text NOT NULL REFERENCES units (id),
    public_key text UNIQUE CHECK (public_key ~ '^[0-9A-Za-z.:+=^!/*?&<>()\[\]{}@%$#-]{40}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    last_seq   bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0)
);

-- The append-only log of accepted updates, written only by the aggregator daemon (COPY).
-- Deliberately no foreign keys: this is the hot table, and the daemon has already checked
-- agent, district and indicator against the tables above before it writes a row.
CREATE TABLE updates (
    id          bigserial PRIMARY KEY,
    agent_id    text NOT NULL,
    seq         bigint NOT NULL,
    district    text NOT NULL,
    indicator   text NOT NULL,
    period      int NOT NULL,
    op          text NOT NULL CHECK (op IN ('set', 'add')),
    value       numeric NOT NULL,
    observed_at timestamptz NOT NULL,
    note        text,
    received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (agent_id, seq)
);

-- Updates the daemon refused, with the reason code sent back in the ack. Fields are kept
-- as received (text where the value itself may have been the problem).
CREATE TABLE rejected_updates (
    agent_id    text NOT NULL,
    seq         bigint NOT NULL,
    district    text NOT NULL,
    indicator   text,
    period      bigint,
    op          text,
    value       text,
    at_ms       bigint,
    note        text,
    reason      text NOT NULL,
    message     text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, seq)
);
