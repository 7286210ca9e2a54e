-- Recall scopes a regulator shared with an enterprise (PostgreSQL). Twin of
-- ../sqlite/0006_trace_shares.sql. An enterprise normally sees only its own part of a
-- trace; a row here lets it read the whole recall scope of `root` (canonical identifier).
CREATE TABLE trace_shares (
    id BIGSERIAL PRIMARY KEY,
    root TEXT NOT NULL,
    entity_id BIGINT NOT NULL REFERENCES market_entities (id),
    shared_by_user BIGINT,
    created_at TEXT NOT NULL,
    UNIQUE (root, entity_id)
);
