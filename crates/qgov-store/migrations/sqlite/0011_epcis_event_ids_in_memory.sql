-- eventIDs are kept unique by the store's in-memory map on SQLite (src/epcis/ids.rs), not by
-- a unique index: most are event hashes, so each new event wrote a random leaf of that index,
-- the largest single cost of a capture once the index outgrew the page cache. SQLite cannot
-- drop the index of a UNIQUE column, so the table is rebuilt without it (no other table
-- refers to it by foreign key), with the indexes it keeps.
CREATE TABLE epcis_events_rebuilt (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    event_time INTEGER NOT NULL,
    event_time_zone_offset TEXT NOT NULL,
    record_time INTEGER NOT NULL,
    action TEXT,
    biz_step TEXT,
    disposition TEXT,
    read_point TEXT,
    read_point_gln TEXT,
    biz_location TEXT,
    biz_location_gln TEXT,
    transformation_id TEXT,
    error_declaration_time INTEGER,
    error_reason TEXT,
    capture_id TEXT NOT NULL,
    captured_by_user INTEGER,
    captured_by_entity INTEGER,
    body TEXT NOT NULL
);
INSERT INTO epcis_events_rebuilt SELECT id, event_id, event_type, event_time, event_time_zone_offset,
    record_time, action, biz_step, disposition, read_point, read_point_gln, biz_location,
    biz_location_gln, transformation_id, error_declaration_time, error_reason, capture_id,
    captured_by_user, captured_by_entity, body FROM epcis_events;
DROP TABLE epcis_events;
ALTER TABLE epcis_events_rebuilt RENAME TO epcis_events;
CREATE INDEX epcis_events_event_time ON epcis_events (event_time);
CREATE INDEX epcis_events_record_time ON epcis_events (record_time);
CREATE INDEX epcis_events_type ON epcis_events (event_type);
CREATE INDEX epcis_events_biz_step ON epcis_events (biz_step);
CREATE INDEX epcis_events_disposition ON epcis_events (disposition);
CREATE INDEX epcis_events_transformation ON epcis_events (transformation_id);
CREATE INDEX epcis_events_error_time ON epcis_events (error_declaration_time);
CREATE INDEX epcis_events_entity ON epcis_events (captured_by_entity);
-- A bulk load interrupted before this migration recorded these for rebuilding; they exist now.
DELETE FROM epcis_deferred_indexes WHERE name IN (
    'epcis_events_event_time', 'epcis_events_record_time', 'epcis_events_type',
    'epcis_events_biz_step', 'epcis_events_disposition', 'epcis_events_transformation',
    'epcis_events_error_time', 'epcis_events_entity');
