-- Three columns of an event are empty for most events: transformationID (only
-- TransformationEvents have one), errorDeclaration (only corrections) and the capturing
-- enterprise (not set for regulator and system captures). A B-tree index still holds an entry
-- for every NULL, so each capture wrote three index entries per event that no query reads:
-- every filter on these columns (equality, IN, a time range, EXISTS_errorDeclaration, the
-- enterprise visibility rule) implies the value is present, and both engines then use an
-- index restricted to present values.
DROP INDEX IF EXISTS epcis_events_transformation;
DROP INDEX IF EXISTS epcis_events_error_time;
DROP INDEX IF EXISTS epcis_events_entity;
-- A bulk load interrupted before this migration must not bring back the full ones.
DELETE FROM epcis_deferred_indexes WHERE name IN (
    'epcis_events_transformation', 'epcis_events_error_time', 'epcis_events_entity');
CREATE INDEX epcis_events_transformation ON epcis_events (transformation_id)
    WHERE transformation_id IS NOT NULL;
CREATE INDEX epcis_events_error_time ON epcis_events (error_declaration_time)
    WHERE error_declaration_time IS NOT NULL;
CREATE INDEX epcis_events_entity ON epcis_events (captured_by_entity)
    WHERE captured_by_entity IS NOT NULL;
