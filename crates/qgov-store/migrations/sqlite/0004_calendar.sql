-- Working-day calendar years loaded by an administrator (SQLite). Twin of ../postgres/0004_calendar.sql.
-- The State Council publishes each year's holidays and make-up working days (调休) in a notice;
-- 2025 and 2026 are built in, later years (or corrections) are loaded here. A loaded year
-- replaces the built-in data of that year; `source` is the year file as loaded
-- (`year YYYY`, `off …`, `work …` lines), so the calendar can be rebuilt from the table alone.
CREATE TABLE work_calendar_years (
    year INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    loaded_at TEXT NOT NULL,
    loaded_by TEXT NOT NULL
);
