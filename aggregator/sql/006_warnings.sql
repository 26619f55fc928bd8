-- 006_warnings.sql - plausibility warnings on stored updates (CONTRACT section 10).
--
-- A warning never refuses an update: the update is in `updates` and counts. The daemon
-- checks a commit's accepted `set`s against the units' current values from before the
-- commit, which it reads in the round trip that opens the transaction (one row per unit,
-- indicator and period touched, not per update), and does the arithmetic in C
-- (aggregator/plausibility.c); only a commit with warnings carries one more statement,
-- the INSERT into this table, in its last round trip.
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
-- confirmed figure shows none. A resent batch's ack carries its warnings again, read from
-- here.

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
