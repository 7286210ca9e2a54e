-- What the in-memory indexes of SQLite (src/epcis/ids.rs, src/epcis/places.rs) read at start,
-- as one covering index in key order: about a tenth of the events table, so a store of 10 M
-- events is read in seconds instead of minutes (the table's rows carry the event bodies).
-- Keys only grow, so each capture appends to its right edge: a few pages per document.
CREATE INDEX IF NOT EXISTS epcis_events_memory
    ON epcis_events (id, event_id, read_point, biz_location, read_point_gln, biz_location_gln);
