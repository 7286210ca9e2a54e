-- Recall scopes a regulator shared with an enterprise (SQLite). Twin of
-- ../postgres/0006_trace_shares.sql. An enterprise normally sees only its own part of a
-- trace; a row here lets it read the whole recall scope of `root` (canonical identifier).
CREATE TABLE trace_shares (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    root TEXT NOT NULL,
    entity_id INTEGER NOT NULL REFERENCES market_entities (id),
    shared_by_user INTEGER,
    created_at TEXT NOT NULL,
    UNIQUE (root, entity_id)
);
