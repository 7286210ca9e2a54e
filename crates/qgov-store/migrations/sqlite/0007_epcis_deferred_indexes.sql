-- Secondary indexes of the EPCIS event tables set aside during a bulk load
-- (`Store::epcis_defer_indexes`): each definition is kept here until
-- `Store::epcis_restore_indexes` recreates it, which every start of the store also does, so an
-- interrupted bulk load never leaves the repository without its indexes.
CREATE TABLE epcis_deferred_indexes (
    name TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    deferred_at TEXT NOT NULL
);
