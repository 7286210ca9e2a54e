-- Seeds the server generated for a task's draw (SQLite). Twin of ../postgres/0005_draw_seeds.sql.
-- When the console commits a draw, the server picks the random seed, publishes only its SHA-256
-- (sampling_draws.commitment) and keeps the seed here, sealed, until the reveal; the seed is never
-- shown before `draw_reveal` copies it into sampling_draws.seed_hex.
CREATE TABLE sampling_sealed_seeds (
    task_id INTEGER PRIMARY KEY REFERENCES sampling_tasks (id),
    seed_hex TEXT NOT NULL,
    created_at TEXT NOT NULL
);
