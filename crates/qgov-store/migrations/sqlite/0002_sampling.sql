-- Supervision sampling, "double random, one public" (SQLite). Twin of ../postgres/0002_sampling.sql:
-- same tables, same columns, engine-specific types only. Times are fixed-width RFC 3339 UTC text,
-- local (UTC+8) dates are YYYY-MM-DD text, JSON lists are text, flags are 0/1 integers.

-- Credit risk class history per market entity (国市监信发〔2022〕6号); the current class is the
-- newest row whose `since` is not in the future.
CREATE TABLE entity_credit_class (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entity_id INTEGER NOT NULL REFERENCES market_entities (id),
    class TEXT NOT NULL CHECK (class IN ('A', 'B', 'C', 'D')),
    since TEXT NOT NULL,
    reason TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX entity_credit_class_entity ON entity_credit_class (entity_id, since);

-- Declared conflicts of interest (回避): never draw this inspector for this entity.
CREATE TABLE inspector_conflicts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    inspector_id INTEGER NOT NULL REFERENCES inspectors (id),
    entity_id INTEGER NOT NULL REFERENCES market_entities (id),
    reason TEXT,
    declared_at TEXT NOT NULL,
    UNIQUE (inspector_id, entity_id)
);

-- 随机抽查事项清单.
CREATE TABLE check_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    sub_items TEXT NOT NULL DEFAULT '[]',
    legal_basis TEXT NOT NULL,
    authority TEXT NOT NULL,
    object_type TEXT NOT NULL,
    ratio TEXT,
    frequency TEXT,
    method TEXT NOT NULL,
    inspector_requirements TEXT,
    category TEXT NOT NULL,
    remarks TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- 年度抽查工作计划.
CREATE TABLE sampling_plans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    year INTEGER NOT NULL,
    name TEXT NOT NULL,
    department_id INTEGER NOT NULL REFERENCES departments (id),
    description TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- A task of a plan: scope, count or ratio per credit class, period, units, check items.
CREATE TABLE sampling_tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id INTEGER NOT NULL REFERENCES sampling_plans (id),
    name TEXT NOT NULL,
    targeted INTEGER NOT NULL,
    scope TEXT NOT NULL DEFAULT '{}',
    draw_count INTEGER,
    ratios TEXT,
    per_target INTEGER NOT NULL,
    period_start TEXT NOT NULL,
    period_end TEXT NOT NULL,
    initiating_department_id INTEGER NOT NULL REFERENCES departments (id),
    inspecting_department_ids TEXT NOT NULL DEFAULT '[]',
    check_item_ids TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX sampling_tasks_plan ON sampling_tasks (plan_id);

-- One draw per task: the commitment is stored (and public) before the seed is revealed.
CREATE TABLE sampling_draws (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id INTEGER NOT NULL UNIQUE REFERENCES sampling_tasks (id),
    commitment TEXT NOT NULL,
    committed_at TEXT NOT NULL,
    seed_hex TEXT,
    revealed_at TEXT,
    algorithm TEXT,
    inputs_hash TEXT,
    inputs_json TEXT,
    result_json TEXT
);

-- The drawn targets with their inspectors (also the "last inspectors" of an entity).
CREATE TABLE draw_assignments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    draw_id INTEGER NOT NULL REFERENCES sampling_draws (id),
    position INTEGER NOT NULL,
    entity_id INTEGER NOT NULL REFERENCES market_entities (id),
    inspectors TEXT NOT NULL,
    drawn_at TEXT NOT NULL
);
CREATE INDEX draw_assignments_entity ON draw_assignments (entity_id, drawn_at);

-- Limits table for automatic judgement.
CREATE TABLE sampling_limits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    standard_code TEXT NOT NULL,
    product_category TEXT NOT NULL,
    test_item TEXT NOT NULL,
    kind TEXT NOT NULL,
    min_value REAL,
    max_value REAL,
    unit TEXT NOT NULL,
    microbial INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    UNIQUE (standard_code, product_category, test_item)
);

CREATE TABLE samples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sample_no TEXT NOT NULL UNIQUE,
    task_id INTEGER REFERENCES sampling_tasks (id),
    regime TEXT NOT NULL,
    purpose TEXT NOT NULL,
    product_name TEXT NOT NULL,
    brand TEXT,
    specification TEXT,
    batch_no TEXT,
    production_date TEXT,
    quantity TEXT,
    product_category TEXT NOT NULL,
    standard_code TEXT NOT NULL,
    sampled_entity_id INTEGER NOT NULL REFERENCES market_entities (id),
    producer_name TEXT,
    producer_address TEXT,
    producer_entity_id INTEGER REFERENCES market_entities (id),
    sampler_ids TEXT NOT NULL,
    photos TEXT NOT NULL DEFAULT '[]',
    rapid_test INTEGER NOT NULL DEFAULT 0,
    lab TEXT,
    retest_lab TEXT,
    status TEXT NOT NULL,
    verdict TEXT,
    only_microbial INTEGER NOT NULL DEFAULT 0,
    sampled_at TEXT NOT NULL,
    last_event_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX samples_entity ON samples (sampled_entity_id);
CREATE INDEX samples_producer ON samples (producer_entity_id);
CREATE INDEX samples_status ON samples (status);

-- Test results per item (round 1 = first test, 2 = re-test).
CREATE TABLE sample_results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sample_id INTEGER NOT NULL REFERENCES samples (id),
    round INTEGER NOT NULL,
    test_item TEXT NOT NULL,
    measured TEXT NOT NULL,
    measured_value REAL,
    unit TEXT NOT NULL,
    limit_text TEXT NOT NULL,
    standard_code TEXT NOT NULL,
    verdict TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX sample_results_sample ON sample_results (sample_id);

CREATE TABLE sample_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sample_id INTEGER NOT NULL REFERENCES samples (id),
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    outcome TEXT,
    lab TEXT,
    note TEXT,
    actor TEXT NOT NULL
);
CREATE INDEX sample_events_sample ON sample_events (sample_id);

-- Deadline steps with due dates from the rules; done_at NULL = open.
CREATE TABLE sample_steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sample_id INTEGER NOT NULL REFERENCES samples (id),
    rule_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    started_at TEXT NOT NULL,
    due_on TEXT NOT NULL,
    due_at TEXT,
    not_before TEXT,
    estimated INTEGER NOT NULL,
    done_at TEXT
);
CREATE INDEX sample_steps_open ON sample_steps (done_at, due_on);
CREATE INDEX sample_steps_sample ON sample_steps (sample_id);

-- 责令整改通知书 (stop-sale + rectification order).
CREATE TABLE rectification_orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sample_id INTEGER NOT NULL UNIQUE REFERENCES samples (id),
    entity_id INTEGER NOT NULL REFERENCES market_entities (id),
    order_no TEXT NOT NULL UNIQUE,
    requirements TEXT,
    ordered_at TEXT NOT NULL,
    due_on TEXT,
    closed_at TEXT
);

-- Evidence uploaded by the enterprise, and the regulator's verification of it.
CREATE TABLE rectification_evidence (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id INTEGER NOT NULL REFERENCES rectification_orders (id),
    description TEXT NOT NULL,
    files TEXT NOT NULL DEFAULT '[]',
    submitted_at TEXT NOT NULL,
    submitted_by TEXT NOT NULL,
    verification TEXT,
    verified_at TEXT,
    verified_by TEXT,
    verification_note TEXT
);
CREATE INDEX rectification_evidence_order ON rectification_evidence (order_id);

-- "One public": the published result of a sample.
CREATE TABLE sampling_publications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sample_id INTEGER NOT NULL UNIQUE REFERENCES samples (id),
    announcement_no TEXT NOT NULL,
    announcement_date TEXT NOT NULL,
    task_source TEXT NOT NULL,
    lab TEXT NOT NULL,
    remarks TEXT,
    published_at TEXT NOT NULL
);
CREATE INDEX sampling_publications_date ON sampling_publications (announcement_date);
