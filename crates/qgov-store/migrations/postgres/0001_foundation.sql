-- Foundation schema (PostgreSQL). Twin of ../sqlite/0001_foundation.sql: same tables,
-- same columns, engine-specific types only. Times are RFC 3339 UTC text (sortable).

CREATE TABLE departments (
    id BIGSERIAL PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    name_en TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE market_entities (
    id BIGSERIAL PRIMARY KEY,
    uscc TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    industry TEXT NOT NULL,
    address TEXT,
    street TEXT,
    grid TEXT,
    legal_representative TEXT,
    licences TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX market_entities_name ON market_entities (name);
CREATE INDEX market_entities_industry ON market_entities (industry);

CREATE TABLE products (
    id BIGSERIAL PRIMARY KEY,
    gtin TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    brand TEXT,
    specification TEXT,
    category TEXT,
    owner_entity_id BIGINT REFERENCES market_entities (id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX products_owner ON products (owner_entity_id);

CREATE TABLE locations (
    id BIGSERIAL PRIMARY KEY,
    gln TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    address TEXT,
    street TEXT,
    grid TEXT,
    owner_entity_id BIGINT REFERENCES market_entities (id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX locations_owner ON locations (owner_entity_id);

CREATE TABLE inspectors (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    department_id BIGINT NOT NULL REFERENCES departments (id),
    certificate_no TEXT NOT NULL UNIQUE,
    specialties TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    department_id BIGINT REFERENCES departments (id),
    entity_id BIGINT REFERENCES market_entities (id),
    active BIGINT NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    before_json TEXT NOT NULL,
    after_json TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

-- One row: sequence number and hash of the newest audit record. Updated first in
-- every writing transaction, which also serialises audit appends on both engines.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
