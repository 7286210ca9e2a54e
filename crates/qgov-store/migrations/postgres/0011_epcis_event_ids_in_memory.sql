-- Twin of ../sqlite/0011_epcis_event_ids_in_memory.sql, which rebuilds the SQLite events table
-- without its unique eventID index because SQLite keeps eventIDs unique in memory.
-- PostgreSQL keeps its unique index: nothing changes here.
SELECT 1;
