-- 010_agent_presence.sql - which collector instance holds each agent, for every aggregator
-- of the installation (CONTRACT section 7).
--
-- While an agent has a live connection from one collector instance (one that spoke within
-- the heartbeat timeout), a hello from another instance is refused with agent_in_use, on
-- whichever aggregator it arrives. Each aggregator knows its own connections
-- (aggregator/presence.c); this table is what they share. A hello claims the agent's row
-- in one statement (aggregator/ingest.c): it takes the row when it is its own instance's,
-- or when the holder's seen_at is older than the timeout, and otherwise learns who holds
-- it. The aggregator holding a connection moves seen_at forward, about once a second,
-- while the connection speaks. seen_at is the database's clock, so the aggregators' clocks
-- need not agree.
--
-- A row outlives its connection: it simply stops being live. Nothing here is a figure;
-- losing the table loses at most a refusal.
CREATE TABLE agent_presence (
    agent_id text PRIMARY KEY,
    instance text NOT NULL,      -- the collector's outbox id (its hello's "instance")
    aggregator_id text NOT NULL, -- HOST/PID of the aggregator that holds the connection
    seen_at timestamptz NOT NULL -- when the connection last spoke
) WITH (fillfactor = 50); -- room for the refreshes to stay HOT
