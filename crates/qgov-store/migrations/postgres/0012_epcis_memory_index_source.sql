-- Twin of ../sqlite/0012_epcis_memory_index_source.sql: a covering index the SQLite store reads
-- its in-memory indexes from at start. PostgreSQL has no such indexes: nothing changes here.
SELECT 1;
