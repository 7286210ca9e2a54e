-- GS1 EPCIS 2.0 repository (PostgreSQL). Twin of ../sqlite/0003_epcis.sql: same tables, same
-- columns, engine-specific types only.
--
-- Events are normalised FasTnT-style so that every standard query parameter maps onto an
-- indexed column or child table; the canonical serialised event (JSON-LD, identifiers in
-- canonical Digital Link form) is kept in `body` and returned unchanged. Event times are
-- integer microseconds since 1970-01-01 UTC: fixed width, cheap to compare and order on both
-- engines. `id` is assigned by the store inside the writing transaction (capture order), so
-- it also orders events by record time.

CREATE TABLE epcis_events (
    id BIGINT PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    event_time BIGINT NOT NULL,
    event_time_zone_offset TEXT NOT NULL,
    record_time BIGINT NOT NULL,
    action TEXT,
    biz_step TEXT,
    disposition TEXT,
    read_point TEXT,
    read_point_gln TEXT,
    biz_location TEXT,
    biz_location_gln TEXT,
    transformation_id TEXT,
    error_declaration_time BIGINT,
    error_reason TEXT,
    capture_id TEXT NOT NULL,
    captured_by_user BIGINT,
    captured_by_entity BIGINT,
    body TEXT NOT NULL
);
CREATE INDEX epcis_events_event_time ON epcis_events (event_time);
CREATE INDEX epcis_events_record_time ON epcis_events (record_time);
CREATE INDEX epcis_events_type ON epcis_events (event_type);
CREATE INDEX epcis_events_biz_step ON epcis_events (biz_step);
CREATE INDEX epcis_events_disposition ON epcis_events (disposition);
CREATE INDEX epcis_events_read_point ON epcis_events (read_point);
CREATE INDEX epcis_events_biz_location ON epcis_events (biz_location);
CREATE INDEX epcis_events_read_point_gln ON epcis_events (read_point_gln);
CREATE INDEX epcis_events_biz_location_gln ON epcis_events (biz_location_gln);
CREATE INDEX epcis_events_transformation ON epcis_events (transformation_id);
CREATE INDEX epcis_events_error_time ON epcis_events (error_declaration_time);
CREATE INDEX epcis_events_entity ON epcis_events (captured_by_entity);

-- Instance-level identifiers by role: epc (epcList), parent, child, input, output.
CREATE TABLE epcis_epcs (
    event_pk BIGINT NOT NULL,
    role TEXT NOT NULL,
    epc TEXT COLLATE "C" NOT NULL
);
CREATE INDEX epcis_epcs_epc ON epcis_epcs (epc, role, event_pk);
CREATE INDEX epcis_epcs_event ON epcis_epcs (event_pk);

-- Quantity elements by role: epc (quantityList), child, input, output.
CREATE TABLE epcis_quantities (
    event_pk BIGINT NOT NULL,
    role TEXT NOT NULL,
    epc_class TEXT COLLATE "C" NOT NULL,
    quantity DOUBLE PRECISION,
    uom TEXT
);
CREATE INDEX epcis_quantities_class ON epcis_quantities (epc_class, role, event_pk);
CREATE INDEX epcis_quantities_event ON epcis_quantities (event_pk);

-- bizTransactionList; `type` is '' when the document gives none.
CREATE TABLE epcis_biz_transactions (
    event_pk BIGINT NOT NULL,
    type TEXT NOT NULL,
    id TEXT NOT NULL
);
CREATE INDEX epcis_biz_transactions_id ON epcis_biz_transactions (id, type);
CREATE INDEX epcis_biz_transactions_event ON epcis_biz_transactions (event_pk);

-- sourceList and destinationList (`direction` source|destination); `gln` is the GLN inside
-- an SGLN or PGLN identifier, for enterprise scoping.
CREATE TABLE epcis_source_dest (
    event_pk BIGINT NOT NULL,
    direction TEXT NOT NULL,
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    gln TEXT
);
CREATE INDEX epcis_source_dest_id ON epcis_source_dest (id, direction, type);
CREATE INDEX epcis_source_dest_gln ON epcis_source_dest (gln);
CREATE INDEX epcis_source_dest_event ON epcis_source_dest (event_pk);

-- persistentDisposition (`kind` set|unset).
CREATE TABLE epcis_persistent_dispositions (
    event_pk BIGINT NOT NULL,
    kind TEXT NOT NULL,
    disposition TEXT NOT NULL
);
CREATE INDEX epcis_persistent_dispositions_value ON epcis_persistent_dispositions (disposition, kind);

-- errorDeclaration correctiveEventIDs.
CREATE TABLE epcis_corrective_ids (
    event_pk BIGINT NOT NULL,
    corrective_event_id TEXT NOT NULL
);
CREATE INDEX epcis_corrective_ids_value ON epcis_corrective_ids (corrective_event_id);

-- certificationInfo URIs.
CREATE TABLE epcis_certifications (
    event_pk BIGINT NOT NULL,
    uri TEXT NOT NULL
);
CREATE INDEX epcis_certifications_event ON epcis_certifications (event_pk);

-- One row per sensor report, with its element's metadata repeated (sensor filters of
-- EPCIS 2.0 §8.2.7.1 look at either). Times in microseconds UTC.
CREATE TABLE epcis_sensor_reports (
    event_pk BIGINT NOT NULL,
    element_index BIGINT NOT NULL,
    report_index BIGINT NOT NULL,
    meta_time BIGINT,
    meta_start_time BIGINT,
    meta_end_time BIGINT,
    meta_device_id TEXT,
    meta_data_processing_method TEXT,
    meta_biz_rules TEXT,
    type TEXT,
    exception TEXT,
    device_id TEXT,
    data_processing_method TEXT,
    biz_rules TEXT,
    time BIGINT,
    microorganism TEXT,
    chemical_substance TEXT,
    value DOUBLE PRECISION,
    component TEXT,
    string_value TEXT,
    boolean_value BIGINT,
    hex_binary_value TEXT,
    uri_value TEXT,
    min_value DOUBLE PRECISION,
    max_value DOUBLE PRECISION,
    mean_value DOUBLE PRECISION,
    s_dev DOUBLE PRECISION,
    perc_rank DOUBLE PRECISION,
    perc_value DOUBLE PRECISION,
    uom TEXT
);
CREATE INDEX epcis_sensor_reports_event ON epcis_sensor_reports (event_pk);
CREATE INDEX epcis_sensor_reports_type ON epcis_sensor_reports (type);

-- User extension fields flattened: `scope` is where the field sits (event, ilmd, readPoint,
-- bizLocation, errorDeclaration, sensorElement, sensorMetadata, sensorReport); `depth` 0 for a
-- top-level field, 1 or more for fields nested inside another extension field (the INNER_
-- query families); `path` the slash-joined names from the scope down. Leaves carry their text,
-- and their numeric / time value when the text is one.
CREATE TABLE epcis_fields (
    event_pk BIGINT NOT NULL,
    scope TEXT NOT NULL,
    depth BIGINT NOT NULL,
    ns TEXT NOT NULL,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    text_value TEXT,
    num_value DOUBLE PRECISION,
    time_value BIGINT
);
CREATE INDEX epcis_fields_name ON epcis_fields (ns, name, scope, depth);
CREATE INDEX epcis_fields_event ON epcis_fields (event_pk);

-- Namespace prefixes seen in captured documents, so that a query may name an extension field
-- as prefix:local (the first declaration of a prefix wins).
CREATE TABLE epcis_prefixes (
    prefix TEXT PRIMARY KEY,
    uri TEXT NOT NULL
);

-- Capture jobs (EPCIS 2.0 REST binding, /capture/{captureID}).
CREATE TABLE epcis_capture_jobs (
    capture_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    running BIGINT NOT NULL,
    success BIGINT NOT NULL,
    error_behaviour TEXT NOT NULL,
    errors TEXT NOT NULL DEFAULT '[]',
    event_count BIGINT NOT NULL DEFAULT 0,
    stored_count BIGINT NOT NULL DEFAULT 0,
    captured_by_user BIGINT,
    captured_by_entity BIGINT
);
CREATE INDEX epcis_capture_jobs_created ON epcis_capture_jobs (created_at);

-- Named queries: the query parameters as a JSON object of string lists.
CREATE TABLE epcis_queries (
    name TEXT PRIMARY KEY,
    query TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by_user BIGINT
);

-- Webhook subscriptions to named queries.
CREATE TABLE epcis_subscriptions (
    id TEXT PRIMARY KEY,
    query_name TEXT NOT NULL REFERENCES epcis_queries (name),
    dest TEXT NOT NULL,
    signature_token TEXT,
    stream BIGINT NOT NULL,
    schedule TEXT,
    report_if_empty BIGINT NOT NULL DEFAULT 0,
    min_record_time BIGINT NOT NULL,
    epc_format TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_notified_at TEXT,
    created_by_user BIGINT,
    created_by_entity BIGINT
);
CREATE INDEX epcis_subscriptions_query ON epcis_subscriptions (query_name);
