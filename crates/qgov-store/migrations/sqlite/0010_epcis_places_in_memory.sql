-- The places events name (read point, business location, their GLNs, sources and
-- destinations) are indexed in memory on SQLite (src/epcis/places.rs): a document that names
-- hundreds of sites touched a leaf page per site in each of these B-trees, and SQLite writes
-- every touched page whole, twice. The columns and rows stay; only the indexes go.
DROP INDEX IF EXISTS epcis_events_read_point;
DROP INDEX IF EXISTS epcis_events_biz_location;
DROP INDEX IF EXISTS epcis_events_read_point_gln;
DROP INDEX IF EXISTS epcis_events_biz_location_gln;
DROP INDEX IF EXISTS epcis_source_dest_id;
DROP INDEX IF EXISTS epcis_source_dest_gln;
-- A bulk load interrupted before this migration must not bring them back.
DELETE FROM epcis_deferred_indexes WHERE name IN (
    'epcis_events_read_point', 'epcis_events_biz_location', 'epcis_events_read_point_gln',
    'epcis_events_biz_location_gln', 'epcis_source_dest_id', 'epcis_source_dest_gln');
