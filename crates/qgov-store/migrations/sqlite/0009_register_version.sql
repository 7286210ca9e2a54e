-- A counter every write to the registers (market entities, products, locations,
-- departments, inspectors) raises in its own transaction (SQLite). Twin of
-- ../postgres/0009_register_version.sql. A server keeps the registers in memory to label
-- traces and recall scopes, and reads only this row per request to know its copy is current;
-- writes from any process (the API, the console, `qgov import`) raise it.
CREATE TABLE register_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO register_version (id, version) VALUES (1, 0);
