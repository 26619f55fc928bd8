-- 009_agent_gaps.sql - seqs the bureau accepted as lost (CONTRACT section 7).
--
-- After the database is restored from a backup, each collector resends what the backup
-- lacks from the acknowledged updates it keeps (`keep_acked`). What a collector no longer
-- keeps cannot come back; it names the missing seqs and waits. `citytally-aggregator agent
-- skip AGENT_ID --to SEQ` then records one row here and sets the agent's last_seq to SEQ
-- in the same transaction, so that the next `welcome` carries SEQ and delivery goes on
-- from SEQ + 1. A row says which seqs were given up, who decided it and when; the seqs
-- themselves never appear in `updates`.

CREATE TABLE agent_gaps (
    id         bigserial PRIMARY KEY,
    agent_id   text NOT NULL REFERENCES agents (agent_id),
    from_seq   bigint NOT NULL CHECK (from_seq >= 1),
    to_seq     bigint NOT NULL,
    os_user    text NOT NULL,                 -- who ran `agent skip`, as the OS knows them
    db_user    text NOT NULL DEFAULT current_user,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (to_seq >= from_seq)
);
CREATE INDEX agent_gaps_by_agent ON agent_gaps (agent_id, from_seq);
