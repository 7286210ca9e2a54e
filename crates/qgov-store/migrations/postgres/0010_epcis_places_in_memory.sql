-- Twin of ../sqlite/0010_epcis_places_in_memory.sql, which drops the B-tree indexes on the
-- places events name because SQLite answers those filters from memory. PostgreSQL keeps its
-- indexes (it does not use the in-memory place index): nothing changes here.
SELECT 1;
