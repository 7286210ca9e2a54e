//! Supervision sampling on disk: the check-item list, credit classes and inspector conflicts,
//! annual plans and tasks, verifiable draws, samples with their results, workflow events and
//! deadline steps, rectification orders and evidence, publication ("one public"), overdue steps
//! and figures. The rules (deadlines, transitions, judgement, draw) are in `qgov-sampling`; this
//! module stores their inputs and outcomes, each change in one audited transaction.

pub mod drafts;

use crate::audit::WriteTx;
use crate::{Actor, Result, Store, StoreError, now};
use drafts::{CheckItemDraft, EvidenceDraft, PlanDraft, PublicationDraft, SampleDraft, Scope, TaskDraft};
use qgov_domain::FieldErrors;
use qgov_sampling::calendar::WorkCalendar;
use qgov_sampling::deadline::{self, Due, Regime, StepKind};
use qgov_sampling::draw::{self, Assignment, CreditRiskClass, DrawInput, Inspector as DrawInspector, Target};
use qgov_sampling::judgement::{self, Limit, LimitKind, Measurement, Verdict};
use qgov_sampling::workflow::{self, Case, Event, EventKind, OpenStep, Outcome, SampleStatus, SamplingPurpose};
use serde::Serialize;
use sha2::Digest;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use std::collections::HashMap;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

type Tx = Transaction<'static, Any>;

/// An instant as fixed-width RFC 3339 UTC text with microseconds (sorts as text).
pub fn fmt_ts(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

fn parse_ts(s: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| StoreError::Db(sqlx::Error::Decode(Box::new(e))))
}

fn parse_day(s: &str) -> Result<time::Date> {
    qgov_sampling::calendar::parse_date(s).map_err(|e| StoreError::Db(sqlx::Error::Decode(e.into())))
}

fn json_list<T: serde::de::DeserializeOwned>(row: &AnyRow, col: &str) -> Result<Vec<T>> {
    let s: String = row.try_get(col)?;
    Ok(serde_json::from_str(&s).unwrap_or_default())
}

fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> StoreError {
    let mut e = FieldErrors::new();
    e.push(field, code, message);
    StoreError::Invalid(e)
}

/// Why the workflow refused an event (the message names the rule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Refused {
    pub reason: String,
}

// ---------------------------------------------------------------- records

/// 随机抽查事项.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CheckItem {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub sub_items: Vec<String>,
    pub legal_basis: String,
    pub authority: String,
    pub object_type: String,
    pub ratio: Option<String>,
    pub frequency: Option<String>,
    pub method: String,
    pub inspector_requirements: Option<String>,
    pub category: String,
    pub remarks: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl CheckItem {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: r.try_get("id")?,
            code: r.try_get("code")?,
            name: r.try_get("name")?,
            sub_items: json_list(r, "sub_items")?,
            legal_basis: r.try_get("legal_basis")?,
            authority: r.try_get("authority")?,
            object_type: r.try_get("object_type")?,
            ratio: r.try_get("ratio")?,
            frequency: r.try_get("frequency")?,
            method: r.try_get("method")?,
            inspector_requirements: r.try_get("inspector_requirements")?,
            category: r.try_get("category")?,
            remarks: r.try_get("remarks")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    }
}

/// 年度抽查工作计划.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SamplingPlan {
    pub id: i64,
    pub year: i64,
    pub name: String,
    pub department_id: i64,
    pub department_code: String,
    pub description: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl SamplingPlan {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: r.try_get("id")?,
            year: r.try_get("year")?,
            name: r.try_get("name")?,
            department_id: r.try_get("department_id")?,
            department_code: r.try_get("department_code")?,
            description: r.try_get("description")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    }
}

/// A task of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SamplingTask {
    pub id: i64,
    pub plan_id: i64,
    pub name: String,
    pub targeted: bool,
    pub scope: Scope,
    pub count: Option<i64>,
    /// Ratios per credit class in force (the task's, or the defaults).
    pub ratios: Option<String>,
    pub per_target: i64,
    pub period_start: String,
    pub period_end: String,
    pub initiating_department_code: String,
    pub inspecting_department_codes: Vec<String>,
    pub check_item_codes: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

const TASK_SELECT: &str = "SELECT t.*, d.code AS initiating_department_code FROM sampling_tasks t JOIN departments d ON d.id = t.initiating_department_id";

impl SamplingTask {
    fn from_row(r: &AnyRow) -> Result<Self> {
        let scope: String = r.try_get("scope")?;
        Ok(Self {
            id: r.try_get("id")?,
            plan_id: r.try_get("plan_id")?,
            name: r.try_get("name")?,
            targeted: r.try_get::<i64, _>("targeted")? != 0,
            scope: serde_json::from_str(&scope).unwrap_or_default(),
            count: r.try_get("draw_count")?,
            ratios: r.try_get("ratios")?,
            per_target: r.try_get("per_target")?,
            period_start: r.try_get("period_start")?,
            period_end: r.try_get("period_end")?,
            initiating_department_code: r.try_get("initiating_department_code")?,
            inspecting_department_codes: json_list(r, "inspecting_department_ids")?,
            check_item_codes: json_list(r, "check_item_ids")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    }
}

/// The draw of a task: public commitment first, seed and result after the reveal.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DrawRecord {
    pub task_id: i64,
    /// hex(SHA-256(seed)), published before the draw.
    pub commitment: String,
    pub committed_at: String,
    pub seed_hex: Option<String>,
    pub revealed_at: Option<String>,
    pub algorithm: Option<String>,
    /// SHA-256 of `inputs` as stored.
    pub inputs_hash: Option<String>,
    /// Everything the draw used: targets, inspectors, mode, inspectors per target.
    #[schema(value_type = Object)]
    pub inputs: Option<serde_json::Value>,
    /// `[{"target": credit code, "inspectors": [certificate no, …]}, …]`.
    #[schema(value_type = Object)]
    pub assignments: Option<Vec<Assignment>>,
}

/// The inputs of a draw, stored with it so anyone can recompute it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct DrawInputs {
    /// `count:N` or the ratios `A=…,B=…`.
    pub mode: String,
    pub per_target: usize,
    pub targets: Vec<Target>,
    pub inspectors: Vec<DrawInspector>,
}

impl DrawInputs {
    /// The draw input these describe.
    pub fn to_input(&self) -> Option<DrawInput> {
        let mode = match self.mode.strip_prefix("count:") {
            Some(n) => draw::Mode::Count(n.parse().ok()?),
            None => draw::Mode::parse_ratios(&self.mode).ok()?,
        };
        let mut input = DrawInput::new(self.targets.clone(), self.inspectors.clone(), mode);
        input.per_target = self.per_target;
        Some(input)
    }
}

/// One test result row.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TestResult {
    /// 1 = first test, 2 = re-test.
    pub round: i64,
    pub test_item: String,
    pub measured: String,
    pub unit: String,
    /// As published in 标准值, e.g. `≤0.02mg/kg`.
    pub limit: String,
    pub standard_code: String,
    pub verdict: String,
    pub recorded_at: String,
}

/// One workflow event.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SampleEvent {
    pub kind: String,
    pub at: String,
    pub from_status: String,
    pub to_status: String,
    pub outcome: Option<String>,
    pub lab: Option<String>,
    pub note: Option<String>,
    pub actor: String,
}

/// A deadline step with its due date and state.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SampleStep {
    pub rule_id: String,
    /// What has to happen.
    pub step: String,
    pub legal_basis: String,
    /// `obligation` (can be overdue) or `window` (expires).
    pub kind: String,
    pub started_at: String,
    /// Last local (UTC+8) day in time.
    pub due_on: String,
    /// Exact instant for hour limits.
    pub due_at: Option<String>,
    pub not_before: Option<String>,
    /// The due date used the Monday–Friday fallback: show it as "estimated (Mon–Fri)".
    pub estimated: bool,
    pub done_at: Option<String>,
    /// `done`, `open`, `overdue` or `expired`.
    pub state: String,
}

/// 责令整改通知书.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RectificationOrder {
    pub id: i64,
    pub sample_id: i64,
    pub entity_id: i64,
    pub order_no: String,
    pub requirements: Option<String>,
    pub ordered_at: String,
    pub due_on: Option<String>,
    pub closed_at: Option<String>,
    pub evidence: Vec<Evidence>,
}

/// Rectification evidence and its verification.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Evidence {
    pub id: i64,
    pub description: String,
    pub files: Vec<String>,
    pub submitted_at: String,
    pub submitted_by: String,
    /// `accepted`, `rejected` or none yet.
    pub verification: Option<String>,
    pub verified_at: Option<String>,
    pub verified_by: Option<String>,
    pub verification_note: Option<String>,
}

/// A publication of a sample's result.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Publication {
    pub announcement_no: String,
    pub announcement_date: String,
    pub task_source: String,
    pub lab: String,
    pub remarks: Option<String>,
    pub published_at: String,
}

/// A sample with everything about it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Sample {
    pub id: i64,
    pub sample_no: String,
    pub task_id: Option<i64>,
    pub regime: String,
    pub purpose: String,
    pub product_name: String,
    pub brand: Option<String>,
    pub specification: Option<String>,
    pub batch_no: Option<String>,
    pub production_date: Option<String>,
    pub quantity: Option<String>,
    pub product_category: String,
    pub standard_code: String,
    pub sampled_entity_id: i64,
    pub sampled_uscc: String,
    pub sampled_name: String,
    pub sampled_address: Option<String>,
    pub producer_name: Option<String>,
    pub producer_address: Option<String>,
    pub producer_entity_id: Option<i64>,
    pub sampler_ids: Vec<i64>,
    pub photos: Vec<String>,
    pub rapid_test: bool,
    pub lab: Option<String>,
    pub retest_lab: Option<String>,
    pub status: String,
    /// `pass` / `fail` once judged (risk monitoring: none).
    pub verdict: Option<String>,
    pub sampled_at: String,
    pub last_event_at: String,
    /// Events possible now.
    pub next_events: Vec<String>,
    pub results: Vec<TestResult>,
    pub events: Vec<SampleEvent>,
    pub steps: Vec<SampleStep>,
    pub rectification: Option<RectificationOrder>,
    pub publication: Option<Publication>,
}

/// A line of a sample list.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SampleSummary {
    pub id: i64,
    pub sample_no: String,
    pub regime: String,
    pub purpose: String,
    pub product_name: String,
    pub product_category: String,
    pub sampled_uscc: String,
    pub sampled_name: String,
    pub status: String,
    pub verdict: Option<String>,
    pub sampled_at: String,
}

/// Sample list filters.
#[derive(Debug, Clone, Default)]
pub struct SampleQuery {
    pub q: Option<String>,
    pub status: Option<String>,
    pub purpose: Option<String>,
    pub task_id: Option<i64>,
    /// Enterprise accounts: only samples where this entity is sampled unit or named producer.
    pub entity: Option<i64>,
    pub limit: i64,
    pub offset: i64,
}

/// A step past its due date and not done.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OverdueStep {
    pub sample_id: i64,
    pub sample_no: String,
    pub sampled_name: String,
    pub rule_id: String,
    pub step: String,
    pub legal_basis: String,
    pub due_on: String,
    pub due_at: Option<String>,
    pub estimated: bool,
    /// Local days since the due day.
    pub days_late: i64,
}

/// A pass rate over a group.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PassRate {
    pub purpose: String,
    pub product_category: String,
    /// `YYYY-MM` of sampling.
    pub period: String,
    pub judged: i64,
    pub passed: i64,
    /// passed / judged, 0–1.
    pub rate: f64,
}

/// Figures for the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SamplingFigures {
    pub pass_rates: Vec<PassRate>,
    /// Pass rate per purpose over everything selected.
    pub pass_rate_by_purpose: Vec<PassRate>,
    pub rectification_orders: i64,
    pub rectifications_closed: i64,
    /// closed / orders (1 when there are no orders).
    pub rectification_completion_rate: f64,
}

/// A published result with the columns of Chinese sampling notices.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PublishedResult {
    pub sample_no: String,
    /// 标称生产企业名称 / 地址.
    pub producer_name: Option<String>,
    pub producer_address: Option<String>,
    /// 被抽样单位名称 / 地址.
    pub sampled_name: String,
    pub sampled_address: Option<String>,
    /// 食品名称 (product name).
    pub product_name: String,
    /// 规格型号.
    pub specification: Option<String>,
    /// 商标.
    pub brand: Option<String>,
    /// 生产日期/批号.
    pub production_date_batch: Option<String>,
    /// 不合格项目║检验结果║标准值, one line per failing item.
    pub failing_items: String,
    /// 分类.
    pub category: String,
    /// `pass` or `fail`.
    pub verdict: String,
    pub purpose: String,
    /// 公告号 / 公告日期.
    pub announcement_no: String,
    pub announcement_date: String,
    /// 任务来源.
    pub task_source: String,
    /// 检验机构.
    pub lab: String,
    /// 备注.
    pub remarks: Option<String>,
}

/// Search over published results.
#[derive(Debug, Clone, Default)]
pub struct PublicQuery {
    pub q: Option<String>,
    pub verdict: Option<String>,
    pub category: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// The details of a workflow event as sent by a caller.
#[derive(Debug, Clone, PartialEq)]
pub struct EventInput {
    pub kind: EventKind,
    pub at: OffsetDateTime,
    pub outcome: Option<Outcome>,
    pub lab: Option<String>,
    pub note: Option<String>,
}

// ---------------------------------------------------------------- store

async fn department_id(tx: &mut Tx, field: &str, code: &str) -> Result<i64> {
    sqlx::query_scalar("SELECT id FROM departments WHERE code = $1")
        .bind(code)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| invalid(field, "unknown-department", format!("no department with code {code:?}")))
}

async fn entity_id(tx: &mut Tx, field: &str, uscc: &str) -> Result<i64> {
    sqlx::query_scalar("SELECT id FROM market_entities WHERE uscc = $1")
        .bind(uscc)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| invalid(field, "unknown-entity", format!("no market entity with credit code {uscc}")))
}

fn step_state(
    kind: &str,
    done_at: &Option<String>,
    due_on: time::Date,
    due_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> &'static str {
    match (done_at, deadline::is_late(due_on, due_at, now)) {
        (Some(_), _) => "done",
        (None, false) => "open",
        (None, true) if kind == "window" => "expired",
        (None, true) => "overdue",
    }
}

impl Store {
    // ---- the list and the directories

    pub async fn create_check_item(&self, actor: &Actor, d: &CheckItemDraft) -> Result<CheckItem> {
        let mut w = WriteTx::begin(self).await?;
        let t = now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO check_items (code, name, sub_items, legal_basis, authority, object_type, ratio, frequency, method, \
             inspector_requirements, category, remarks, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING id",
        )
        .bind(&d.code)
        .bind(&d.name)
        .bind(serde_json::to_string(&d.sub_items).unwrap_or_default())
        .bind(&d.legal_basis)
        .bind(&d.authority)
        .bind(&d.object_type)
        .bind(&d.ratio)
        .bind(&d.frequency)
        .bind(&d.method)
        .bind(&d.inspector_requirements)
        .bind(&d.category)
        .bind(&d.remarks)
        .bind(&t)
        .fetch_one(&mut *w.tx)
        .await
        .map_err(|e| crate::on_unique(e, "code", &d.code))?;
        let rec = fetch_check_item(&mut w.tx, id).await?;
        w.audit(actor, "check_items.create", "check_items", &id.to_string(), &(), &rec).await?;
        w.commit().await?;
        Ok(rec)
    }

    pub async fn update_check_item(&self, actor: &Actor, id: i64, d: &CheckItemDraft) -> Result<CheckItem> {
        let mut w = WriteTx::begin(self).await?;
        let before = fetch_check_item(&mut w.tx, id).await?;
        sqlx::query(
            "UPDATE check_items SET code = $1, name = $2, sub_items = $3, legal_basis = $4, authority = $5, object_type = $6, \
             ratio = $7, frequency = $8, method = $9, inspector_requirements = $10, category = $11, remarks = $12, updated_at = $13 WHERE id = $14",
        )
        .bind(&d.code)
        .bind(&d.name)
        .bind(serde_json::to_string(&d.sub_items).unwrap_or_default())
        .bind(&d.legal_basis)
        .bind(&d.authority)
        .bind(&d.object_type)
        .bind(&d.ratio)
        .bind(&d.frequency)
        .bind(&d.method)
        .bind(&d.inspector_requirements)
        .bind(&d.category)
        .bind(&d.remarks)
        .bind(now())
        .bind(id)
        .execute(&mut *w.tx)
        .await
        .map_err(|e| crate::on_unique(e, "code", &d.code))?;
        let after = fetch_check_item(&mut w.tx, id).await?;
        w.audit(actor, "check_items.update", "check_items", &id.to_string(), &before, &after).await?;
        w.commit().await?;
        Ok(after)
    }

    pub async fn check_item(&self, id: i64) -> Result<CheckItem> {
        let row = sqlx::query("SELECT * FROM check_items WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        CheckItem::from_row(&row.ok_or(StoreError::NotFound)?)
    }

    pub async fn list_check_items(&self) -> Result<Vec<CheckItem>> {
        let rows = sqlx::query("SELECT * FROM check_items ORDER BY code").fetch_all(&self.pool).await?;
        rows.iter().map(CheckItem::from_row).collect()
    }

    /// Records an entity's credit risk class from `since` (a local date) on.
    pub async fn set_credit_class(
        &self,
        actor: &Actor,
        entity_id: i64,
        class: CreditRiskClass,
        since: time::Date,
        reason: Option<&str>,
    ) -> Result<()> {
        let mut w = WriteTx::begin(self).await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM market_entities WHERE id = $1")
            .bind(entity_id)
            .fetch_optional(&mut *w.tx)
            .await?;
        exists.ok_or(StoreError::NotFound)?;
        sqlx::query(
            "INSERT INTO entity_credit_class (entity_id, class, since, reason, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(entity_id)
        .bind(class.to_string())
        .bind(since.to_string())
        .bind(reason)
        .bind(now())
        .execute(&mut *w.tx)
        .await?;
        let after = serde_json::json!({ "class": class.to_string(), "since": since.to_string(), "reason": reason });
        w.audit(actor, "credit_class.set", "enterprises", &entity_id.to_string(), &(), &after).await?;
        w.commit().await?;
        Ok(())
    }

    /// The entity's class in force today, if any was recorded.
    pub async fn credit_class(&self, entity_id: i64) -> Result<Option<CreditRiskClass>> {
        let today = deadline::local_date(OffsetDateTime::now_utc()).to_string();
        let c: Option<String> = sqlx::query_scalar(
            "SELECT class FROM entity_credit_class WHERE entity_id = $1 AND since <= $2 ORDER BY since DESC, id DESC LIMIT 1",
        )
        .bind(entity_id)
        .bind(today)
        .fetch_optional(&self.pool)
        .await?;
        Ok(c.and_then(|c| c.parse().ok()))
    }

    /// Records a declared conflict of interest (the inspector is never drawn for the entity).
    pub async fn declare_conflict(
        &self,
        actor: &Actor,
        inspector_id: i64,
        entity_id: i64,
        reason: Option<&str>,
    ) -> Result<()> {
        let mut w = WriteTx::begin(self).await?;
        sqlx::query(
            "INSERT INTO inspector_conflicts (inspector_id, entity_id, reason, declared_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(inspector_id)
        .bind(entity_id)
        .bind(reason)
        .bind(now())
        .execute(&mut *w.tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
                invalid("entity_id", "unknown", "unknown inspector or entity")
            }
            _ => crate::on_unique(e, "conflict", &format!("{inspector_id}/{entity_id}")),
        })?;
        let after = serde_json::json!({ "entity_id": entity_id, "reason": reason });
        w.audit(actor, "inspectors.conflict", "inspectors", &inspector_id.to_string(), &(), &after).await?;
        w.commit().await?;
        Ok(())
    }

    // ---- plans and tasks

    pub async fn create_plan(&self, actor: &Actor, d: &PlanDraft) -> Result<SamplingPlan> {
        let mut w = WriteTx::begin(self).await?;
        let dep = department_id(&mut w.tx, "department_code", &d.department_code).await?;
        let t = now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sampling_plans (year, name, department_id, description, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
        )
        .bind(d.year)
        .bind(&d.name)
        .bind(dep)
        .bind(&d.description)
        .bind(&t)
        .fetch_one(&mut *w.tx)
        .await?;
        let rec = fetch_plan(&mut w.tx, id).await?;
        w.audit(actor, "sampling_plans.create", "sampling_plans", &id.to_string(), &(), &rec).await?;
        w.commit().await?;
        Ok(rec)
    }

    pub async fn plan(&self, id: i64) -> Result<SamplingPlan> {
        let mut tx = self.pool.begin().await?;
        fetch_plan(&mut tx, id).await
    }

    pub async fn list_plans(&self) -> Result<Vec<SamplingPlan>> {
        let rows = sqlx::query("SELECT p.*, d.code AS department_code FROM sampling_plans p JOIN departments d ON d.id = p.department_id ORDER BY p.year DESC, p.id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(SamplingPlan::from_row).collect()
    }

    pub async fn create_task(&self, actor: &Actor, d: &TaskDraft) -> Result<SamplingTask> {
        let mut w = WriteTx::begin(self).await?;
        let initiating = task_references(&mut w.tx, d).await?;
        let ratios = match d.count {
            Some(_) => None,
            None => Some(d.ratios.clone().unwrap_or_else(|| drafts::DEFAULT_RATIOS.to_owned())),
        };
        let t = now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sampling_tasks (plan_id, name, targeted, scope, draw_count, ratios, per_target, period_start, period_end, \
             initiating_department_id, inspecting_department_ids, check_item_ids, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING id",
        )
        .bind(d.plan_id)
        .bind(&d.name)
        .bind(i64::from(d.targeted))
        .bind(serde_json::to_string(&d.scope).unwrap_or_default())
        .bind(d.count)
        .bind(ratios)
        .bind(d.per_target)
        .bind(d.period_start.to_string())
        .bind(d.period_end.to_string())
        .bind(initiating)
        .bind(serde_json::to_string(&d.inspecting_department_codes).unwrap_or_default())
        .bind(serde_json::to_string(&d.check_item_codes).unwrap_or_default())
        .bind(&t)
        .fetch_one(&mut *w.tx)
        .await?;
        let rec = fetch_task(&mut w.tx, id).await?;
        w.audit(actor, "sampling_tasks.create", "sampling_tasks", &id.to_string(), &(), &rec).await?;
        w.commit().await?;
        Ok(rec)
    }

    pub async fn task(&self, id: i64) -> Result<SamplingTask> {
        let mut tx = self.pool.begin().await?;
        fetch_task(&mut tx, id).await
    }

    pub async fn list_tasks(&self, plan_id: Option<i64>) -> Result<Vec<SamplingTask>> {
        let rows = match plan_id {
            Some(p) => {
                sqlx::query(sqlx::AssertSqlSafe(format!("{TASK_SELECT} WHERE t.plan_id = $1 ORDER BY t.id")))
                    .bind(p)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!("{TASK_SELECT} ORDER BY t.id"))).fetch_all(&self.pool).await?
            }
        };
        rows.iter().map(SamplingTask::from_row).collect()
    }

    // ---- the draw

    /// Stores the seed commitment of a task's draw (before the seed is known to anyone else).
    pub async fn draw_commit(&self, actor: &Actor, task_id: i64, commitment: &str) -> Result<DrawRecord> {
        let c = commitment.trim().to_ascii_lowercase();
        if c.len() != 64 || !c.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid("commitment", "bad-commitment", "must be the 64 hex digits of SHA-256(seed)"));
        }
        let mut w = WriteTx::begin(self).await?;
        fetch_task(&mut w.tx, task_id).await?;
        sqlx::query("INSERT INTO sampling_draws (task_id, commitment, committed_at) VALUES ($1, $2, $3)")
            .bind(task_id)
            .bind(&c)
            .bind(now())
            .execute(&mut *w.tx)
            .await
            .map_err(|e| crate::on_unique(e, "draw", &format!("task {task_id}")))?;
        let rec = fetch_draw(&mut w.tx, task_id).await?;
        w.audit(actor, "draws.commit", "sampling_tasks", &task_id.to_string(), &(), &rec).await?;
        w.commit().await?;
        Ok(rec)
    }

    /// Reveals the seed, computes the draw from the task's filtered directory and the inspector
    /// directory (conflicts, last inspectors), stores inputs, result and assignments, audited.
    pub async fn draw_reveal(&self, actor: &Actor, task_id: i64, seed_hex: &str) -> Result<DrawRecord> {
        let seed = hex::decode(seed_hex.trim()).map_err(|_| invalid("seed", "bad-seed", "must be hex"))?;
        if seed.len() < draw::MIN_SEED_BYTES {
            return Err(invalid(
                "seed",
                "seed-too-short",
                format!("at least {} random bytes are required", draw::MIN_SEED_BYTES),
            ));
        }
        let mut w = WriteTx::begin(self).await?;
        let task = fetch_task(&mut w.tx, task_id).await?;
        let before = fetch_draw(&mut w.tx, task_id).await.map_err(|e| match e {
            StoreError::NotFound => invalid("seed", "not-committed", "commit to the seed first (POST …/draw/commit)"),
            e => e,
        })?;
        if before.revealed_at.is_some() {
            return Err(StoreError::Conflict { field: "draw", value: format!("task {task_id} was drawn already") });
        }
        if draw::commitment(&seed) != before.commitment {
            return Err(invalid("seed", "commitment-mismatch", "the seed does not hash to the published commitment"));
        }
        let inputs = draw_inputs(&mut w.tx, &task).await?;
        let input = inputs
            .to_input()
            .ok_or_else(|| invalid("ratios", "bad-mode", "the task's count or ratios are unusable"))?;
        let outcome = draw::draw(&input, &seed).map_err(|e| invalid("draw", "draw-failed", e.to_string()))?;
        let inputs_json = serde_json::to_string(&inputs).unwrap_or_default();
        let inputs_hash = hex::encode(sha2::Sha256::digest(inputs_json.as_bytes()));
        let t = now();
        sqlx::query(
            "UPDATE sampling_draws SET seed_hex = $1, revealed_at = $2, algorithm = $3, inputs_hash = $4, inputs_json = $5, result_json = $6 WHERE task_id = $7",
        )
        .bind(hex::encode(&seed))
        .bind(&t)
        .bind(&outcome.algorithm)
        .bind(&inputs_hash)
        .bind(&inputs_json)
        .bind(serde_json::to_string(&outcome.assignments).unwrap_or_default())
        .bind(task_id)
        .execute(&mut *w.tx)
        .await?;
        let draw_id: i64 = sqlx::query_scalar("SELECT id FROM sampling_draws WHERE task_id = $1")
            .bind(task_id)
            .fetch_one(&mut *w.tx)
            .await?;
        for (i, a) in outcome.assignments.iter().enumerate() {
            let eid = entity_id(&mut w.tx, "target", &a.target).await?;
            sqlx::query("INSERT INTO draw_assignments (draw_id, position, entity_id, inspectors, drawn_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(draw_id)
                .bind(i as i64)
                .bind(eid)
                .bind(serde_json::to_string(&a.inspectors).unwrap_or_default())
                .bind(&t)
                .execute(&mut *w.tx)
                .await?;
        }
        let after = fetch_draw(&mut w.tx, task_id).await?;
        let audit_after = serde_json::json!({
            "seed_hex": after.seed_hex, "algorithm": after.algorithm, "inputs_hash": after.inputs_hash,
            "commitment": after.commitment, "assignments": after.assignments,
        });
        w.audit(
            actor,
            "draws.reveal",
            "sampling_tasks",
            &task_id.to_string(),
            &serde_json::json!({ "commitment": before.commitment }),
            &audit_after,
        )
        .await?;
        w.commit().await?;
        Ok(after)
    }

    /// A task's draw (commitment only until revealed).
    pub async fn draw_of(&self, task_id: i64) -> Result<DrawRecord> {
        let mut tx = self.pool.begin().await?;
        fetch_draw(&mut tx, task_id).await
    }

    // ---- limits

    /// Adds or replaces limit rows (keyed by standard, category and item), all or nothing.
    pub async fn upsert_limits(&self, actor: &Actor, limits: &[Limit]) -> Result<usize> {
        let mut w = WriteTx::begin(self).await?;
        for l in limits {
            sqlx::query(
                "DELETE FROM sampling_limits WHERE standard_code = $1 AND product_category = $2 AND test_item = $3",
            )
            .bind(&l.standard_code)
            .bind(&l.product_category)
            .bind(&l.test_item)
            .execute(&mut *w.tx)
            .await?;
            sqlx::query(
                "INSERT INTO sampling_limits (standard_code, product_category, test_item, kind, min_value, max_value, unit, microbial, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&l.standard_code)
            .bind(&l.product_category)
            .bind(&l.test_item)
            .bind(l.kind.key())
            .bind(l.min)
            .bind(l.max)
            .bind(&l.unit)
            .bind(i64::from(l.microbial))
            .bind(now())
            .execute(&mut *w.tx)
            .await?;
        }
        w.audit(actor, "limits.import", "sampling_limits", "*", &(), &limits).await?;
        w.commit().await?;
        Ok(limits.len())
    }

    pub async fn list_limits(&self, standard_code: Option<&str>, category: Option<&str>) -> Result<Vec<Limit>> {
        let rows = sqlx::query(
            "SELECT * FROM sampling_limits WHERE ($1 = '' OR standard_code = $1) AND ($2 = '' OR product_category = $2) \
             ORDER BY standard_code, product_category, test_item",
        )
        .bind(standard_code.unwrap_or(""))
        .bind(category.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(limit_from_row).collect()
    }

    // ---- samples and the workflow

    pub async fn create_sample(&self, actor: &Actor, d: &SampleDraft) -> Result<Sample> {
        let mut w = WriteTx::begin(self).await?;
        let cal = calendar_in(&mut w.tx).await?;
        let mut errors = FieldErrors::new();
        let sampled: Option<i64> = sqlx::query_scalar("SELECT id FROM market_entities WHERE uscc = $1")
            .bind(&d.sampled_uscc)
            .fetch_optional(&mut *w.tx)
            .await?;
        if sampled.is_none() {
            errors.push(
                "sampled_uscc",
                "unknown-entity",
                format!("no market entity with credit code {}", d.sampled_uscc),
            );
        }
        let mut producer: Option<i64> = None;
        if let Some(p) = &d.producer_uscc {
            producer = sqlx::query_scalar("SELECT id FROM market_entities WHERE uscc = $1")
                .bind(p)
                .fetch_optional(&mut *w.tx)
                .await?;
            if producer.is_none() {
                errors.push("producer_uscc", "unknown-entity", format!("no market entity with credit code {p}"));
            }
        }
        for s in &d.sampler_ids {
            let found: Option<i64> = sqlx::query_scalar("SELECT id FROM inspectors WHERE id = $1")
                .bind(*s)
                .fetch_optional(&mut *w.tx)
                .await?;
            if found.is_none() {
                errors.push("sampler_ids", "unknown-inspector", format!("no inspector {s}"));
            }
        }
        if let Some(t) = d.task_id {
            let found: Option<i64> = sqlx::query_scalar("SELECT id FROM sampling_tasks WHERE id = $1")
                .bind(t)
                .fetch_optional(&mut *w.tx)
                .await?;
            if found.is_none() {
                errors.push("task_id", "unknown-task", format!("no task {t}"));
            }
        }
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        let at = fmt_ts(d.sampled_at);
        let t = now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO samples (sample_no, task_id, regime, purpose, product_name, brand, specification, batch_no, production_date, quantity, \
             product_category, standard_code, sampled_entity_id, producer_name, producer_address, producer_entity_id, sampler_ids, photos, \
             rapid_test, lab, status, sampled_at, last_event_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $22, $23, $23) RETURNING id",
        )
        .bind(&d.sample_no)
        .bind(d.task_id)
        .bind(d.regime.key())
        .bind(d.purpose.key())
        .bind(&d.product_name)
        .bind(&d.brand)
        .bind(&d.specification)
        .bind(&d.batch_no)
        .bind(&d.production_date)
        .bind(&d.quantity)
        .bind(&d.product_category)
        .bind(&d.standard_code)
        .bind(sampled)
        .bind(&d.producer_name)
        .bind(&d.producer_address)
        .bind(producer)
        .bind(serde_json::to_string(&d.sampler_ids).unwrap_or_default())
        .bind(serde_json::to_string(&d.photos).unwrap_or_default())
        .bind(i64::from(d.rapid_test))
        .bind(&d.lab)
        .bind(SampleStatus::Sampled.key())
        .bind(&at)
        .bind(&t)
        .fetch_one(&mut *w.tx)
        .await
        .map_err(|e| crate::on_unique(e, "sample_no", &d.sample_no))?;
        let steps = workflow::initial_steps(d.regime, d.purpose, &cal, d.sampled_at)
            .map_err(|e| invalid("sampled_at", "out-of-range", e.to_string()))?;
        insert_steps(&mut w.tx, id, &steps, &at).await?;
        let rec = fetch_sample(&mut w.tx, id).await?;
        w.audit(actor, "samples.create", "samples", &id.to_string(), &(), &rec).await?;
        w.commit().await?;
        Ok(rec)
    }

    pub async fn sample(&self, id: i64) -> Result<Sample> {
        let mut tx = self.pool.begin().await?;
        fetch_sample(&mut tx, id).await
    }

    pub async fn list_samples(&self, q: &SampleQuery) -> Result<(Vec<SampleSummary>, i64)> {
        let pattern = format!("%{}%", q.q.as_deref().unwrap_or("").to_lowercase());
        let where_sql = "($1 = '%%' OR LOWER(s.product_name) LIKE $1 OR LOWER(s.sample_no) LIKE $1 OR LOWER(e.name) LIKE $1) \
             AND ($2 = '' OR s.status = $2) AND ($3 = '' OR s.purpose = $3) AND ($4 = 0 OR s.task_id = $4) \
             AND ($5 = 0 OR s.sampled_entity_id = $5 OR s.producer_entity_id = $5)";
        let from = "FROM samples s JOIN market_entities e ON e.id = s.sampled_entity_id";
        let bind = |sql: String| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(pattern.clone())
                .bind(q.status.clone().unwrap_or_default())
                .bind(q.purpose.clone().unwrap_or_default())
                .bind(q.task_id.unwrap_or(0))
                .bind(q.entity.unwrap_or(0))
        };
        let total: i64 =
            bind(format!("SELECT COUNT(*) AS n {from} WHERE {where_sql}")).fetch_one(&self.pool).await?.try_get("n")?;
        let rows = bind(format!(
            "SELECT s.*, e.uscc AS sampled_uscc, e.name AS sampled_name {from} WHERE {where_sql} ORDER BY s.sampled_at DESC, s.id DESC LIMIT {} OFFSET {}",
            q.limit.clamp(1, 500),
            q.offset.max(0)
        ))
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(SampleSummary {
                    id: r.try_get("id")?,
                    sample_no: r.try_get("sample_no")?,
                    regime: r.try_get("regime")?,
                    purpose: r.try_get("purpose")?,
                    product_name: r.try_get("product_name")?,
                    product_category: r.try_get("product_category")?,
                    sampled_uscc: r.try_get("sampled_uscc")?,
                    sampled_name: r.try_get("sampled_name")?,
                    status: r.try_get("status")?,
                    verdict: r.try_get("verdict")?,
                    sampled_at: r.try_get("sampled_at")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((items, total))
    }

    /// Records test results, judges them against the limits table and applies the
    /// `record_result` event (round 1) or `retest_result` (round 2, after an accepted re-test).
    /// `Ok(Err(refused))` when the workflow refuses; judgement problems are field errors.
    pub async fn record_results(
        &self,
        actor: &Actor,
        sample_id: i64,
        measurements: &[Measurement],
        at: OffsetDateTime,
    ) -> Result<Result<Sample, Refused>> {
        let mut w = WriteTx::begin(self).await?;
        let before = fetch_sample(&mut w.tx, sample_id).await?;
        let (round, kind) = if before.status == SampleStatus::RetestAccepted.key() {
            (2, EventKind::RetestResult)
        } else {
            (1, EventKind::RecordResult)
        };
        if measurements.is_empty() {
            return Err(invalid("items", "required", "give at least one measured item"));
        }
        let table = fetch_limits(&mut w.tx, &before.standard_code, &before.product_category).await?;
        let judged = judgement::judge(&table, &before.standard_code, &before.product_category, measurements).map_err(
            |errs| {
                let mut e = FieldErrors::new();
                for err in errs {
                    let code = match err {
                        judgement::JudgementError::UnitMismatch { .. } => "unit-mismatch",
                        judgement::JudgementError::NoLimit { .. } => "no-limit",
                        judgement::JudgementError::BadLimit { .. } => "bad-limit",
                    };
                    e.push("items", code, err.to_string());
                }
                StoreError::Invalid(e)
            },
        )?;
        let outcome = if judged.overall == Verdict::Pass { Outcome::Pass } else { Outcome::Fail };
        let input = EventInput { kind, at, outcome: Some(outcome), lab: None, note: None };
        let only_microbial = judged.only_microbial_failures();
        sqlx::query("UPDATE samples SET only_microbial = $1 WHERE id = $2")
            .bind(i64::from(only_microbial))
            .bind(sample_id)
            .execute(&mut *w.tx)
            .await?;
        let at_text = fmt_ts(at);
        for item in &judged.items {
            sqlx::query(
                "INSERT INTO sample_results (sample_id, round, test_item, measured, measured_value, unit, limit_text, standard_code, verdict, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(sample_id)
            .bind(round)
            .bind(&item.measurement.test_item)
            .bind(item.measurement.value.display())
            .bind(match item.measurement.value {
                judgement::Measured::Value(v) => Some(v),
                judgement::Measured::NotDetected => None,
            })
            .bind(&item.measurement.unit)
            .bind(item.limit.display())
            .bind(&item.limit.standard_code)
            .bind(item.verdict.key())
            .bind(&at_text)
            .execute(&mut *w.tx)
            .await?;
        }
        let mut case = case_of(&mut w.tx, &before).await?;
        case.only_microbial_failures = only_microbial;
        match apply_event(&mut w.tx, actor, &before, case, &input).await? {
            Err(r) => Ok(Err(r)),
            Ok(()) => {
                let verdict = if before.purpose == SamplingPurpose::RiskMonitoring.key() {
                    None
                } else {
                    Some(judged.overall.key())
                };
                sqlx::query("UPDATE samples SET verdict = $1 WHERE id = $2")
                    .bind(verdict)
                    .bind(sample_id)
                    .execute(&mut *w.tx)
                    .await?;
                let after = fetch_sample(&mut w.tx, sample_id).await?;
                w.audit(
                    actor,
                    &format!("samples.{}", kind.key()),
                    "samples",
                    &sample_id.to_string(),
                    &before.status,
                    &serde_json::json!({ "status": after.status, "results": judged.items.len(), "verdict": verdict }),
                )
                .await?;
                w.commit().await?;
                Ok(Ok(after))
            }
        }
    }

    /// Applies a workflow event. `Ok(Err(refused))` says why the workflow refuses it.
    pub async fn sample_event(
        &self,
        actor: &Actor,
        sample_id: i64,
        input: &EventInput,
        requirements: Option<&str>,
    ) -> Result<Result<Sample, Refused>> {
        if matches!(input.kind, EventKind::RecordResult | EventKind::RetestResult) {
            return Ok(Err(Refused {
                reason: "record results with POST …/results; the verdict comes from the limits table".into(),
            }));
        }
        let mut w = WriteTx::begin(self).await?;
        let before = fetch_sample(&mut w.tx, sample_id).await?;
        let case = case_of(&mut w.tx, &before).await?;
        if let Err(r) = apply_event(&mut w.tx, actor, &before, case, input).await? {
            return Ok(Err(r));
        }
        let at = fmt_ts(input.at);
        match input.kind {
            EventKind::AcceptRetest => {
                sqlx::query("UPDATE samples SET retest_lab = $1 WHERE id = $2")
                    .bind(&input.lab)
                    .bind(sample_id)
                    .execute(&mut *w.tx)
                    .await?;
            }
            EventKind::OrderRectification => {
                let entity = before.producer_entity_id.unwrap_or(before.sampled_entity_id);
                let due: Option<String> = sqlx::query_scalar(
                    "SELECT due_on FROM sample_steps WHERE sample_id = $1 AND done_at IS NULL AND rule_id LIKE '%.rectification' ORDER BY id DESC LIMIT 1",
                )
                .bind(sample_id)
                .fetch_optional(&mut *w.tx)
                .await?;
                sqlx::query("INSERT INTO rectification_orders (sample_id, entity_id, order_no, requirements, ordered_at, due_on) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(sample_id)
                    .bind(entity)
                    .bind(format!("ZG-{}", before.sample_no))
                    .bind(requirements.or(input.note.as_deref()))
                    .bind(&at)
                    .bind(due)
                    .execute(&mut *w.tx)
                    .await?;
            }
            EventKind::RejectEvidence | EventKind::Reinspect => {
                let verdict = match input.kind {
                    EventKind::RejectEvidence => "rejected",
                    _ if input.outcome == Some(Outcome::Pass) => "accepted",
                    _ => "rejected",
                };
                sqlx::query(
                    "UPDATE rectification_evidence SET verification = $1, verified_at = $2, verified_by = $3, verification_note = $4 \
                     WHERE verification IS NULL AND order_id IN (SELECT id FROM rectification_orders WHERE sample_id = $5)",
                )
                .bind(verdict)
                .bind(&at)
                .bind(&actor.0)
                .bind(&input.note)
                .bind(sample_id)
                .execute(&mut *w.tx)
                .await?;
            }
            _ => {}
        }
        let after = fetch_sample(&mut w.tx, sample_id).await?;
        if matches!(after.status.as_str(), "closed" | "licence_revoked") {
            sqlx::query("UPDATE rectification_orders SET closed_at = $1 WHERE sample_id = $2 AND closed_at IS NULL")
                .bind(&at)
                .bind(sample_id)
                .execute(&mut *w.tx)
                .await?;
        }
        let after = fetch_sample(&mut w.tx, sample_id).await?;
        w.audit(
            actor,
            &format!("samples.{}", input.kind.key()),
            "samples",
            &sample_id.to_string(),
            &before.status,
            &serde_json::json!({ "status": after.status, "note": input.note, "lab": input.lab }),
        )
        .await?;
        w.commit().await?;
        Ok(Ok(after))
    }

    /// Evidence from the enterprise the order is addressed to (`entity_id` is checked against
    /// the order; another entity gets `NotFound`). Applies `submit_evidence`.
    pub async fn submit_evidence(
        &self,
        actor: &Actor,
        sample_id: i64,
        entity_id: Option<i64>,
        d: &EvidenceDraft,
    ) -> Result<Result<Sample, Refused>> {
        let mut w = WriteTx::begin(self).await?;
        let before = fetch_sample(&mut w.tx, sample_id).await?;
        let order: Option<(i64, i64)> =
            sqlx::query("SELECT id, entity_id FROM rectification_orders WHERE sample_id = $1")
                .bind(sample_id)
                .fetch_optional(&mut *w.tx)
                .await?
                .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?)))
                .transpose()?;
        let Some((order_id, order_entity)) = order else {
            return match entity_id {
                Some(e) if e != before.sampled_entity_id && Some(e) != before.producer_entity_id => {
                    Err(StoreError::NotFound)
                }
                _ => Ok(Err(Refused { reason: "no rectification has been ordered for this sample".into() })),
            };
        };
        if entity_id.is_some_and(|e| e != order_entity) {
            return Err(StoreError::NotFound);
        }
        let at = OffsetDateTime::now_utc();
        let case = case_of(&mut w.tx, &before).await?;
        let input = EventInput {
            kind: EventKind::SubmitEvidence,
            at: at.max(case.last_event_at),
            outcome: None,
            lab: None,
            note: Some(d.description.clone()),
        };
        if let Err(r) = apply_event(&mut w.tx, actor, &before, case, &input).await? {
            return Ok(Err(r));
        }
        sqlx::query("INSERT INTO rectification_evidence (order_id, description, files, submitted_at, submitted_by) VALUES ($1, $2, $3, $4, $5)")
            .bind(order_id)
            .bind(&d.description)
            .bind(serde_json::to_string(&d.files).unwrap_or_default())
            .bind(fmt_ts(input.at))
            .bind(&actor.0)
            .execute(&mut *w.tx)
            .await?;
        let after = fetch_sample(&mut w.tx, sample_id).await?;
        w.audit(
            actor,
            "samples.submit_evidence",
            "samples",
            &sample_id.to_string(),
            &before.status,
            &serde_json::json!({ "status": after.status, "description": d.description, "files": d.files.len() }),
        )
        .await?;
        w.commit().await?;
        Ok(Ok(after))
    }

    /// Publishes a sample's final result (not for risk monitoring; only once a verdict is final).
    pub async fn publish_result(
        &self,
        actor: &Actor,
        sample_id: i64,
        d: &PublicationDraft,
    ) -> Result<Result<Sample, Refused>> {
        let mut w = WriteTx::begin(self).await?;
        let before = fetch_sample(&mut w.tx, sample_id).await?;
        if before.purpose == SamplingPurpose::RiskMonitoring.key() {
            return Ok(Err(Refused { reason: "risk-monitoring results are not published with a verdict".into() }));
        }
        let final_states = [
            "passed",
            "failure_confirmed",
            "rectification_ordered",
            "evidence_submitted",
            "reinspection_failed",
            "announced",
            "suspended",
            "closed",
            "licence_revoked",
        ];
        if !final_states.contains(&before.status.as_str()) || before.verdict.is_none() {
            return Ok(Err(Refused { reason: format!("the result is not final yet (status `{}`)", before.status) }));
        }
        let lab = if before.verdict.as_deref() == Some("fail") {
            before.retest_lab.clone().or(before.lab.clone())
        } else {
            before.lab.clone()
        };
        let t = now();
        sqlx::query(
            "INSERT INTO sampling_publications (sample_id, announcement_no, announcement_date, task_source, lab, remarks, published_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(sample_id)
        .bind(&d.announcement_no)
        .bind(d.announcement_date.to_string())
        .bind(&d.task_source)
        .bind(lab.unwrap_or_default())
        .bind(&d.remarks)
        .bind(&t)
        .execute(&mut *w.tx)
        .await
        .map_err(|e| crate::on_unique(e, "publication", &before.sample_no))?;
        sqlx::query("UPDATE sample_steps SET done_at = $1 WHERE sample_id = $2 AND done_at IS NULL AND rule_id LIKE '%.publication'")
            .bind(&t)
            .bind(sample_id)
            .execute(&mut *w.tx)
            .await?;
        let after = fetch_sample(&mut w.tx, sample_id).await?;
        w.audit(actor, "samples.publish", "samples", &sample_id.to_string(), &(), &after.publication).await?;
        w.commit().await?;
        Ok(Ok(after))
    }

    /// Obligations past their due date and not done, most overdue first.
    pub async fn overdue_steps(&self, at: OffsetDateTime) -> Result<Vec<OverdueStep>> {
        let rows = sqlx::query(
            "SELECT st.*, s.sample_no, e.name AS sampled_name FROM sample_steps st JOIN samples s ON s.id = st.sample_id \
             JOIN market_entities e ON e.id = s.sampled_entity_id WHERE st.done_at IS NULL AND st.kind = 'obligation' AND st.due_on <= $1 \
             ORDER BY st.due_on, st.id",
        )
        .bind(deadline::local_date(at).to_string())
        .fetch_all(&self.pool)
        .await?;
        let today = deadline::local_date(at);
        let mut out = vec![];
        for r in &rows {
            let rule_id: String = r.try_get("rule_id")?;
            let due_on: String = r.try_get("due_on")?;
            let due_at: Option<String> = r.try_get("due_at")?;
            let due_day = parse_day(&due_on)?;
            let due_instant = due_at.as_deref().map(parse_ts).transpose()?;
            if !deadline::is_late(due_day, due_instant, at) {
                continue;
            }
            let rule = deadline::rule_by_id(&rule_id);
            out.push(OverdueStep {
                sample_id: r.try_get("sample_id")?,
                sample_no: r.try_get("sample_no")?,
                sampled_name: r.try_get("sampled_name")?,
                step: rule.map_or("", |r| r.step).to_owned(),
                legal_basis: rule.map_or("", |r| r.legal_basis).to_owned(),
                rule_id,
                due_on,
                due_at,
                estimated: r.try_get::<i64, _>("estimated")? != 0,
                days_late: (today - due_day).whole_days(),
            });
        }
        Ok(out)
    }

    /// Pass rates per purpose, category and period (`YYYY-MM` of sampling, optionally limited
    /// to periods from..=to) and the rectification completion rate.
    pub async fn sampling_figures(&self, from: Option<&str>, to: Option<&str>) -> Result<SamplingFigures> {
        let rows = sqlx::query(
            "SELECT purpose, product_category, SUBSTR(sampled_at, 1, 7) AS period, verdict, COUNT(*) AS n FROM samples \
             WHERE verdict IS NOT NULL AND ($1 = '' OR SUBSTR(sampled_at, 1, 7) >= $1) AND ($2 = '' OR SUBSTR(sampled_at, 1, 7) <= $2) \
             GROUP BY purpose, product_category, SUBSTR(sampled_at, 1, 7), verdict",
        )
        .bind(from.unwrap_or(""))
        .bind(to.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        let mut groups: std::collections::BTreeMap<(String, String, String), (i64, i64)> = Default::default();
        let mut by_purpose: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
        for r in &rows {
            let key = (
                r.try_get::<String, _>("purpose")?,
                r.try_get::<String, _>("product_category")?,
                r.try_get::<String, _>("period")?,
            );
            let n: i64 = r.try_get("n")?;
            let passed = if r.try_get::<String, _>("verdict")? == "pass" { n } else { 0 };
            let g = groups.entry(key.clone()).or_default();
            g.0 += n;
            g.1 += passed;
            let p = by_purpose.entry(key.0).or_default();
            p.0 += n;
            p.1 += passed;
        }
        let rate = |(judged, passed): (i64, i64)| if judged == 0 { 0.0 } else { passed as f64 / judged as f64 };
        let pass_rates = groups
            .into_iter()
            .map(|((purpose, product_category, period), c)| PassRate {
                purpose,
                product_category,
                period,
                judged: c.0,
                passed: c.1,
                rate: rate(c),
            })
            .collect();
        let pass_rate_by_purpose = by_purpose
            .into_iter()
            .map(|(purpose, c)| PassRate {
                purpose,
                product_category: String::new(),
                period: String::new(),
                judged: c.0,
                passed: c.1,
                rate: rate(c),
            })
            .collect();
        let orders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rectification_orders").fetch_one(&self.pool).await?;
        let closed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rectification_orders WHERE closed_at IS NOT NULL")
            .fetch_one(&self.pool)
            .await?;
        Ok(SamplingFigures {
            pass_rates,
            pass_rate_by_purpose,
            rectification_orders: orders,
            rectifications_closed: closed,
            rectification_completion_rate: if orders == 0 { 1.0 } else { closed as f64 / orders as f64 },
        })
    }

    /// Published results, newest announcement first; searchable by product, company,
    /// announcement number; filterable by verdict and category.
    pub async fn public_results(&self, q: &PublicQuery) -> Result<(Vec<PublishedResult>, i64)> {
        let pattern = format!("%{}%", q.q.as_deref().unwrap_or("").to_lowercase());
        let from = "FROM sampling_publications p JOIN samples s ON s.id = p.sample_id JOIN market_entities e ON e.id = s.sampled_entity_id";
        let where_sql = "($1 = '%%' OR LOWER(s.product_name) LIKE $1 OR LOWER(e.name) LIKE $1 OR LOWER(COALESCE(s.producer_name, '')) LIKE $1 \
             OR LOWER(p.announcement_no) LIKE $1 OR LOWER(COALESCE(s.brand, '')) LIKE $1) AND ($2 = '' OR s.verdict = $2) AND ($3 = '' OR s.product_category = $3)";
        let bind = |sql: String| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(pattern.clone())
                .bind(q.verdict.clone().unwrap_or_default())
                .bind(q.category.clone().unwrap_or_default())
        };
        let total: i64 =
            bind(format!("SELECT COUNT(*) AS n {from} WHERE {where_sql}")).fetch_one(&self.pool).await?.try_get("n")?;
        let rows = bind(format!(
            "SELECT p.*, s.id AS sid, s.sample_no, s.product_name, s.specification, s.brand, s.batch_no, s.production_date, s.product_category, \
             s.verdict, s.purpose, s.producer_name, s.producer_address, e.name AS sampled_name, e.address AS sampled_address \
             {from} WHERE {where_sql} ORDER BY p.announcement_date DESC, p.id DESC LIMIT {} OFFSET {}",
            q.limit.clamp(1, 10_000),
            q.offset.max(0)
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let sid: i64 = r.try_get("sid")?;
            let fails = sqlx::query(
                "SELECT test_item, measured, unit, limit_text FROM sample_results WHERE sample_id = $1 AND verdict = 'fail' \
                 AND round = (SELECT MAX(round) FROM sample_results WHERE sample_id = $1) ORDER BY id",
            )
            .bind(sid)
            .fetch_all(&self.pool)
            .await?;
            let failing_items = fails
                .iter()
                .map(|f| {
                    Ok(format!(
                        "{}║{}{}║{}",
                        f.try_get::<String, _>(0)?,
                        f.try_get::<String, _>(1)?,
                        f.try_get::<String, _>(2)?,
                        f.try_get::<String, _>(3)?
                    ))
                })
                .collect::<Result<Vec<_>>>()?
                .join("\n");
            let batch: Option<String> = r.try_get("batch_no")?;
            let pdate: Option<String> = r.try_get("production_date")?;
            let production_date_batch = match (pdate, batch) {
                (Some(d), Some(b)) => Some(format!("{d}/{b}")),
                (d, b) => d.or(b),
            };
            out.push(PublishedResult {
                sample_no: r.try_get("sample_no")?,
                producer_name: r.try_get("producer_name")?,
                producer_address: r.try_get("producer_address")?,
                sampled_name: r.try_get("sampled_name")?,
                sampled_address: r.try_get("sampled_address")?,
                product_name: r.try_get("product_name")?,
                specification: r.try_get("specification")?,
                brand: r.try_get("brand")?,
                production_date_batch,
                failing_items,
                category: r.try_get("product_category")?,
                verdict: r.try_get::<Option<String>, _>("verdict")?.unwrap_or_default(),
                purpose: r.try_get("purpose")?,
                announcement_no: r.try_get("announcement_no")?,
                announcement_date: r.try_get("announcement_date")?,
                task_source: r.try_get("task_source")?,
                lab: r.try_get("lab")?,
                remarks: r.try_get("remarks")?,
            });
        }
        Ok((out, total))
    }
}

/// A year of the working-day calendar: built in (shipped data) or loaded by an administrator.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CalendarYear {
    pub year: i64,
    /// `builtin` or `loaded` (a loaded year replaces the built-in data of that year).
    pub source: String,
    pub loaded_at: Option<String>,
    pub loaded_by: Option<String>,
}

/// A credit class as recorded (newest first in lists).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CreditClassRecord {
    pub uscc: String,
    pub entity_name: String,
    pub class: String,
    pub since: String,
    pub reason: Option<String>,
}

/// A declared conflict of interest.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ConflictRecord {
    pub inspector_id: i64,
    pub inspector_name: String,
    pub certificate_no: String,
    pub uscc: String,
    pub entity_name: String,
    pub reason: Option<String>,
    pub declared_at: String,
}

impl Store {
    // ---- the working-day calendar

    /// The calendar deadlines are computed with: the built-in years, replaced or extended by
    /// the years an administrator loaded.
    pub async fn work_calendar(&self) -> Result<WorkCalendar> {
        let mut tx = self.pool.begin().await?;
        calendar_in(&mut tx).await
    }

    /// Every year with official data, ascending.
    pub async fn calendar_years(&self) -> Result<Vec<CalendarYear>> {
        let mut out: std::collections::BTreeMap<i64, CalendarYear> = WorkCalendar::builtin()
            .years()
            .into_iter()
            .map(|y| {
                let year = i64::from(y);
                (year, CalendarYear { year, source: "builtin".into(), loaded_at: None, loaded_by: None })
            })
            .collect();
        for r in sqlx::query("SELECT year, loaded_at, loaded_by FROM work_calendar_years ORDER BY year")
            .fetch_all(&self.pool)
            .await?
        {
            let year: i64 = r.try_get("year")?;
            out.insert(
                year,
                CalendarYear {
                    year,
                    source: "loaded".into(),
                    loaded_at: r.try_get("loaded_at")?,
                    loaded_by: r.try_get("loaded_by")?,
                },
            );
        }
        Ok(out.into_values().collect())
    }

    /// Loads one year file (the State Council's notice as `year` / `off` / `work` lines; see
    /// [`WorkCalendar::load_year`]), replacing any data held for that year. Deadlines computed
    /// from now on use it; steps already stored keep their due dates. Returns the year.
    pub async fn load_calendar_year(&self, actor: &Actor, text: &str) -> Result<i32> {
        let year =
            WorkCalendar::empty().load_year(text).map_err(|e| invalid("source", "bad-calendar", e.to_string()))?;
        let mut w = WriteTx::begin(self).await?;
        let before: Option<String> = sqlx::query_scalar("SELECT source FROM work_calendar_years WHERE year = $1")
            .bind(i64::from(year))
            .fetch_optional(&mut *w.tx)
            .await?;
        sqlx::query("DELETE FROM work_calendar_years WHERE year = $1")
            .bind(i64::from(year))
            .execute(&mut *w.tx)
            .await?;
        sqlx::query("INSERT INTO work_calendar_years (year, source, loaded_at, loaded_by) VALUES ($1, $2, $3, $4)")
            .bind(i64::from(year))
            .bind(text)
            .bind(now())
            .bind(&actor.0)
            .execute(&mut *w.tx)
            .await?;
        w.audit(
            actor,
            "calendar.load",
            "work_calendar_years",
            &year.to_string(),
            &serde_json::json!({ "source": before }),
            &serde_json::json!({ "source": text }),
        )
        .await?;
        w.commit().await?;
        Ok(year)
    }

    // ---- the directories

    /// Credit classes as recorded, newest first (at most `limit`).
    pub async fn list_credit_classes(&self, limit: i64) -> Result<Vec<CreditClassRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT e.uscc, e.name, c.class, c.since, c.reason FROM entity_credit_class c JOIN market_entities e ON e.id = c.entity_id \
             ORDER BY c.id DESC LIMIT {}",
            limit.clamp(1, 1000)
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CreditClassRecord {
                    uscc: r.try_get("uscc")?,
                    entity_name: r.try_get("name")?,
                    class: r.try_get("class")?,
                    since: r.try_get("since")?,
                    reason: r.try_get("reason")?,
                })
            })
            .collect()
    }

    /// Declared conflicts of interest, newest first.
    pub async fn list_conflicts(&self) -> Result<Vec<ConflictRecord>> {
        let rows = sqlx::query(
            "SELECT c.inspector_id, i.name AS inspector_name, i.certificate_no, e.uscc, e.name AS entity_name, c.reason, c.declared_at \
             FROM inspector_conflicts c JOIN inspectors i ON i.id = c.inspector_id JOIN market_entities e ON e.id = c.entity_id \
             ORDER BY c.id DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ConflictRecord {
                    inspector_id: r.try_get("inspector_id")?,
                    inspector_name: r.try_get("inspector_name")?,
                    certificate_no: r.try_get("certificate_no")?,
                    uscc: r.try_get("uscc")?,
                    entity_name: r.try_get("entity_name")?,
                    reason: r.try_get("reason")?,
                    declared_at: r.try_get("declared_at")?,
                })
            })
            .collect()
    }

    // ---- editing plans and tasks

    pub async fn update_plan(&self, actor: &Actor, id: i64, d: &PlanDraft) -> Result<SamplingPlan> {
        let mut w = WriteTx::begin(self).await?;
        let before = fetch_plan(&mut w.tx, id).await?;
        let dep = department_id(&mut w.tx, "department_code", &d.department_code).await?;
        sqlx::query(
            "UPDATE sampling_plans SET year = $1, name = $2, department_id = $3, description = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(d.year)
        .bind(&d.name)
        .bind(dep)
        .bind(&d.description)
        .bind(now())
        .bind(id)
        .execute(&mut *w.tx)
        .await?;
        let after = fetch_plan(&mut w.tx, id).await?;
        w.audit(actor, "sampling_plans.update", "sampling_plans", &id.to_string(), &before, &after).await?;
        w.commit().await?;
        Ok(after)
    }

    /// Changes a task. Once its draw is committed the task is frozen: the published
    /// commitment covers a draw over exactly these settings.
    pub async fn update_task(&self, actor: &Actor, id: i64, d: &TaskDraft) -> Result<SamplingTask> {
        let mut w = WriteTx::begin(self).await?;
        let before = fetch_task(&mut w.tx, id).await?;
        let committed: Option<i64> = sqlx::query_scalar("SELECT id FROM sampling_draws WHERE task_id = $1")
            .bind(id)
            .fetch_optional(&mut *w.tx)
            .await?;
        if committed.is_some() {
            return Err(StoreError::Conflict { field: "draw", value: format!("task {id} is frozen by its draw") });
        }
        let initiating = task_references(&mut w.tx, d).await?;
        let ratios = match d.count {
            Some(_) => None,
            None => Some(d.ratios.clone().unwrap_or_else(|| drafts::DEFAULT_RATIOS.to_owned())),
        };
        sqlx::query(
            "UPDATE sampling_tasks SET plan_id = $1, name = $2, targeted = $3, scope = $4, draw_count = $5, ratios = $6, per_target = $7, \
             period_start = $8, period_end = $9, initiating_department_id = $10, inspecting_department_ids = $11, check_item_ids = $12, \
             updated_at = $13 WHERE id = $14",
        )
        .bind(d.plan_id)
        .bind(&d.name)
        .bind(i64::from(d.targeted))
        .bind(serde_json::to_string(&d.scope).unwrap_or_default())
        .bind(d.count)
        .bind(ratios)
        .bind(d.per_target)
        .bind(d.period_start.to_string())
        .bind(d.period_end.to_string())
        .bind(initiating)
        .bind(serde_json::to_string(&d.inspecting_department_codes).unwrap_or_default())
        .bind(serde_json::to_string(&d.check_item_codes).unwrap_or_default())
        .bind(now())
        .bind(id)
        .execute(&mut *w.tx)
        .await?;
        let after = fetch_task(&mut w.tx, id).await?;
        w.audit(actor, "sampling_tasks.update", "sampling_tasks", &id.to_string(), &before, &after).await?;
        w.commit().await?;
        Ok(after)
    }

    // ---- draws with a server-generated seed

    /// Commits to a seed the server generates (32 random bytes): the commitment is public at
    /// once, the seed stays sealed until [`Store::draw_reveal_sealed`].
    pub async fn draw_commit_sealed(&self, actor: &Actor, task_id: i64) -> Result<DrawRecord> {
        let mut seed = [0u8; 32];
        rand::fill(&mut seed);
        let c = draw::commitment(&seed);
        let mut w = WriteTx::begin(self).await?;
        fetch_task(&mut w.tx, task_id).await?;
        let t = now();
        sqlx::query("INSERT INTO sampling_draws (task_id, commitment, committed_at) VALUES ($1, $2, $3)")
            .bind(task_id)
            .bind(&c)
            .bind(&t)
            .execute(&mut *w.tx)
            .await
            .map_err(|e| crate::on_unique(e, "draw", &format!("task {task_id}")))?;
        sqlx::query("INSERT INTO sampling_sealed_seeds (task_id, seed_hex, created_at) VALUES ($1, $2, $3)")
            .bind(task_id)
            .bind(hex::encode(seed))
            .bind(&t)
            .execute(&mut *w.tx)
            .await?;
        let rec = fetch_draw(&mut w.tx, task_id).await?;
        w.audit(actor, "draws.commit", "sampling_tasks", &task_id.to_string(), &(), &rec).await?;
        w.commit().await?;
        Ok(rec)
    }

    /// Reveals the sealed seed of [`Store::draw_commit_sealed`] and draws with it.
    pub async fn draw_reveal_sealed(&self, actor: &Actor, task_id: i64) -> Result<DrawRecord> {
        let seed: Option<String> = sqlx::query_scalar("SELECT seed_hex FROM sampling_sealed_seeds WHERE task_id = $1")
            .bind(task_id)
            .fetch_optional(&self.pool)
            .await?;
        let seed = seed.ok_or_else(|| {
            invalid(
                "seed",
                "no-sealed-seed",
                "this draw was committed with a seed the server does not hold; reveal it with the seed",
            )
        })?;
        self.draw_reveal(actor, task_id, &seed).await
    }
}

/// The calendar for deadlines: built-in years, replaced or extended by the loaded ones.
async fn calendar_in(tx: &mut Tx) -> Result<WorkCalendar> {
    let mut cal = WorkCalendar::builtin();
    for source in sqlx::query_scalar::<_, String>("SELECT source FROM work_calendar_years ORDER BY year")
        .fetch_all(&mut **tx)
        .await?
    {
        cal.load_year(&source).map_err(|e| StoreError::Db(sqlx::Error::Decode(e.to_string().into())))?;
    }
    Ok(cal)
}

// ---------------------------------------------------------------- helpers

/// Checks the plan, departments and check items a task names; the initiating unit's id.
async fn task_references(tx: &mut Tx, d: &TaskDraft) -> Result<i64> {
    let mut errors = FieldErrors::new();
    let plan: Option<i64> = sqlx::query_scalar("SELECT id FROM sampling_plans WHERE id = $1")
        .bind(d.plan_id)
        .fetch_optional(&mut **tx)
        .await?;
    if plan.is_none() {
        errors.push("plan_id", "unknown-plan", format!("no plan {}", d.plan_id));
    }
    let initiating: Option<i64> = sqlx::query_scalar("SELECT id FROM departments WHERE code = $1")
        .bind(&d.initiating_department_code)
        .fetch_optional(&mut **tx)
        .await?;
    if initiating.is_none() {
        errors.push(
            "initiating_department_code",
            "unknown-department",
            format!("no department with code {:?}", d.initiating_department_code),
        );
    }
    for code in &d.inspecting_department_codes {
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM departments WHERE code = $1")
            .bind(code)
            .fetch_optional(&mut **tx)
            .await?;
        if found.is_none() {
            errors.push(
                "inspecting_department_codes",
                "unknown-department",
                format!("no department with code {code:?}"),
            );
        }
    }
    for code in &d.check_item_codes {
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM check_items WHERE code = $1")
            .bind(code)
            .fetch_optional(&mut **tx)
            .await?;
        if found.is_none() {
            errors.push("check_item_codes", "unknown-check-item", format!("no check item {code:?}"));
        }
    }
    match initiating {
        Some(id) if errors.is_empty() => Ok(id),
        _ => Err(StoreError::Invalid(errors)),
    }
}

async fn fetch_check_item(tx: &mut Tx, id: i64) -> Result<CheckItem> {
    let row = sqlx::query("SELECT * FROM check_items WHERE id = $1").bind(id).fetch_optional(&mut **tx).await?;
    CheckItem::from_row(&row.ok_or(StoreError::NotFound)?)
}

async fn fetch_plan(tx: &mut Tx, id: i64) -> Result<SamplingPlan> {
    let row = sqlx::query("SELECT p.*, d.code AS department_code FROM sampling_plans p JOIN departments d ON d.id = p.department_id WHERE p.id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    SamplingPlan::from_row(&row.ok_or(StoreError::NotFound)?)
}

async fn fetch_task(tx: &mut Tx, id: i64) -> Result<SamplingTask> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{TASK_SELECT} WHERE t.id = $1")))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    SamplingTask::from_row(&row.ok_or(StoreError::NotFound)?)
}

async fn fetch_draw(tx: &mut Tx, task_id: i64) -> Result<DrawRecord> {
    let r = sqlx::query("SELECT * FROM sampling_draws WHERE task_id = $1")
        .bind(task_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    let inputs: Option<String> = r.try_get("inputs_json")?;
    let result: Option<String> = r.try_get("result_json")?;
    Ok(DrawRecord {
        task_id,
        commitment: r.try_get("commitment")?,
        committed_at: r.try_get("committed_at")?,
        seed_hex: r.try_get("seed_hex")?,
        revealed_at: r.try_get("revealed_at")?,
        algorithm: r.try_get("algorithm")?,
        inputs_hash: r.try_get("inputs_hash")?,
        inputs: inputs.and_then(|s| serde_json::from_str(&s).ok()),
        assignments: result.and_then(|s| serde_json::from_str(&s).ok()),
    })
}

/// The target directory filtered by the task's scope, and the inspector directory of its
/// inspecting units (all inspectors when it names none), with conflicts and last inspectors.
async fn draw_inputs(tx: &mut Tx, task: &SamplingTask) -> Result<DrawInputs> {
    let today = deadline::local_date(OffsetDateTime::now_utc()).to_string();
    let s = &task.scope;
    let rows = sqlx::query(
        "SELECT e.id, e.uscc, e.name, COALESCE(e.street, '') AS street, \
         (SELECT c.class FROM entity_credit_class c WHERE c.entity_id = e.id AND c.since <= $5 ORDER BY c.since DESC, c.id DESC LIMIT 1) AS class \
         FROM market_entities e WHERE e.status = 'active' AND ($1 = '' OR e.industry = $1) AND ($2 = '' OR e.entity_type = $2) \
         AND ($3 = '' OR e.street = $3) AND ($4 = '' OR e.grid = $4) ORDER BY e.uscc",
    )
    .bind(s.industry.clone().unwrap_or_default())
    .bind(s.entity_type.clone().unwrap_or_default())
    .bind(s.street.clone().unwrap_or_default())
    .bind(s.grid.clone().unwrap_or_default())
    .bind(&today)
    .fetch_all(&mut **tx)
    .await?;
    // Last inspectors of each entity: those of its most recent draw.
    let mut last: HashMap<i64, Vec<String>> = HashMap::new();
    for r in sqlx::query("SELECT entity_id, inspectors FROM draw_assignments ORDER BY drawn_at, id")
        .fetch_all(&mut **tx)
        .await?
    {
        last.insert(r.try_get("entity_id")?, json_list(&r, "inspectors")?);
    }
    let mut targets = Vec::with_capacity(rows.len());
    for r in &rows {
        let class: Option<String> = r.try_get("class")?;
        let id: i64 = r.try_get("id")?;
        targets.push(Target {
            id: r.try_get("uscc")?,
            name: r.try_get("name")?,
            // Unclassified entities count as B (信用风险一般, the normal class).
            credit_class: class.and_then(|c| c.parse().ok()).unwrap_or(CreditRiskClass::B),
            grid: r.try_get("street")?,
            specialties_needed: vec![],
            last_inspectors: last.remove(&id).unwrap_or_default(),
        });
    }
    let deps = &task.inspecting_department_codes;
    let irows = sqlx::query("SELECT i.id, i.name, i.certificate_no, i.specialties, d.code AS unit FROM inspectors i JOIN departments d ON d.id = i.department_id ORDER BY i.certificate_no")
        .fetch_all(&mut **tx)
        .await?;
    let mut conflicts: HashMap<i64, Vec<String>> = HashMap::new();
    for r in sqlx::query("SELECT c.inspector_id, e.uscc FROM inspector_conflicts c JOIN market_entities e ON e.id = c.entity_id ORDER BY e.uscc").fetch_all(&mut **tx).await? {
        conflicts.entry(r.try_get("inspector_id")?).or_default().push(r.try_get("uscc")?);
    }
    let mut inspectors = vec![];
    for r in &irows {
        let unit: String = r.try_get("unit")?;
        if !deps.is_empty() && !deps.contains(&unit) {
            continue;
        }
        let id: i64 = r.try_get("id")?;
        inspectors.push(DrawInspector {
            id: r.try_get("certificate_no")?,
            name: r.try_get("name")?,
            unit,
            grid: None,
            specialties: json_list(r, "specialties")?,
            conflicts: conflicts.remove(&id).unwrap_or_default(),
        });
    }
    let mode = match task.count {
        Some(n) => format!("count:{n}"),
        None => task.ratios.clone().unwrap_or_else(|| drafts::DEFAULT_RATIOS.to_owned()),
    };
    Ok(DrawInputs { mode, per_target: task.per_target as usize, targets, inspectors })
}

fn limit_from_row(r: &AnyRow) -> Result<Limit> {
    let kind: String = r.try_get("kind")?;
    Ok(Limit {
        standard_code: r.try_get("standard_code")?,
        product_category: r.try_get("product_category")?,
        test_item: r.try_get("test_item")?,
        kind: LimitKind::parse(&kind).unwrap_or(LimitKind::Max),
        min: r.try_get("min_value")?,
        max: r.try_get("max_value")?,
        unit: r.try_get("unit")?,
        microbial: r.try_get::<i64, _>("microbial")? != 0,
    })
}

async fn fetch_limits(tx: &mut Tx, standard: &str, category: &str) -> Result<Vec<Limit>> {
    let rows = sqlx::query("SELECT * FROM sampling_limits WHERE standard_code = $1 AND product_category = $2")
        .bind(standard)
        .bind(category)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(limit_from_row).collect()
}

async fn insert_steps(
    tx: &mut Tx,
    sample_id: i64,
    steps: &[(&'static deadline::DeadlineRule, Due)],
    started_at: &str,
) -> Result<()> {
    for (rule, due) in steps {
        sqlx::query(
            "INSERT INTO sample_steps (sample_id, rule_id, kind, started_at, due_on, due_at, not_before, estimated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(sample_id)
        .bind(rule.id)
        .bind(match rule.kind {
            StepKind::Obligation => "obligation",
            StepKind::Window => "window",
        })
        .bind(started_at)
        .bind(due.due_on.to_string())
        .bind(due.due_at.map(fmt_ts))
        .bind(due.not_before.map(|d| d.to_string()))
        .bind(i64::from(due.is_estimated()))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The workflow's view of a stored sample.
async fn case_of(tx: &mut Tx, s: &Sample) -> Result<Case> {
    let rows = sqlx::query("SELECT rule_id, due_on, due_at, not_before FROM sample_steps WHERE sample_id = $1 AND done_at IS NULL ORDER BY id")
        .bind(s.id)
        .fetch_all(&mut **tx)
        .await?;
    let mut open_steps = vec![];
    for r in &rows {
        let due_at: Option<String> = r.try_get("due_at")?;
        let not_before: Option<String> = r.try_get("not_before")?;
        open_steps.push(OpenStep {
            rule_id: r.try_get("rule_id")?,
            due_on: parse_day(&r.try_get::<String, _>("due_on")?)?,
            due_at: due_at.as_deref().map(parse_ts).transpose()?,
            not_before: not_before.as_deref().map(parse_day).transpose()?,
        });
    }
    let only_microbial: i64 =
        sqlx::query_scalar("SELECT only_microbial FROM samples WHERE id = $1").bind(s.id).fetch_one(&mut **tx).await?;
    Ok(Case {
        regime: Regime::parse(&s.regime).unwrap_or(Regime::Food),
        purpose: SamplingPurpose::parse(&s.purpose).unwrap_or(SamplingPurpose::Supervisory),
        status: SampleStatus::parse(&s.status).unwrap_or(SampleStatus::Sampled),
        rapid_test: s.rapid_test,
        first_lab: s.lab.clone(),
        only_microbial_failures: only_microbial != 0,
        last_event_at: parse_ts(&s.last_event_at)?,
        open_steps,
    })
}

/// Runs the state machine and stores its outcome: status, event, steps done and started.
async fn apply_event(
    tx: &mut Tx,
    actor: &Actor,
    s: &Sample,
    case: Case,
    input: &EventInput,
) -> Result<Result<(), Refused>> {
    let cal = calendar_in(tx).await?;
    let event = Event { kind: input.kind, at: input.at, outcome: input.outcome, lab: input.lab.clone() };
    let t = match workflow::apply(&case, &event, &cal) {
        Ok(t) => t,
        Err(r) => return Ok(Err(Refused { reason: r.to_string() })),
    };
    let at = fmt_ts(input.at);
    sqlx::query("UPDATE samples SET status = $1, last_event_at = $2, updated_at = $3 WHERE id = $4")
        .bind(t.to.key())
        .bind(&at)
        .bind(now())
        .bind(s.id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("INSERT INTO sample_events (sample_id, kind, at, from_status, to_status, outcome, lab, note, actor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(s.id)
        .bind(input.kind.key())
        .bind(&at)
        .bind(t.from.key())
        .bind(t.to.key())
        .bind(input.outcome.map(|o| if o == Outcome::Pass { "pass" } else { "fail" }))
        .bind(&input.lab)
        .bind(&input.note)
        .bind(&actor.0)
        .execute(&mut **tx)
        .await?;
    for rule_id in &t.done {
        sqlx::query("UPDATE sample_steps SET done_at = $1 WHERE sample_id = $2 AND rule_id = $3 AND done_at IS NULL")
            .bind(&at)
            .bind(s.id)
            .bind(rule_id)
            .execute(&mut **tx)
            .await?;
    }
    insert_steps(tx, s.id, &t.open, &at).await?;
    Ok(Ok(()))
}

async fn fetch_sample(tx: &mut Tx, id: i64) -> Result<Sample> {
    let r = sqlx::query(
        "SELECT s.*, e.uscc AS sampled_uscc, e.name AS sampled_name, e.address AS sampled_address FROM samples s \
         JOIN market_entities e ON e.id = s.sampled_entity_id WHERE s.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    let now_t = OffsetDateTime::now_utc();
    let results = sqlx::query("SELECT * FROM sample_results WHERE sample_id = $1 ORDER BY round, id")
        .bind(id)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|x| {
            Ok(TestResult {
                round: x.try_get("round")?,
                test_item: x.try_get("test_item")?,
                measured: x.try_get("measured")?,
                unit: x.try_get("unit")?,
                limit: x.try_get("limit_text")?,
                standard_code: x.try_get("standard_code")?,
                verdict: x.try_get("verdict")?,
                recorded_at: x.try_get("recorded_at")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let events = sqlx::query("SELECT * FROM sample_events WHERE sample_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|x| {
            Ok(SampleEvent {
                kind: x.try_get("kind")?,
                at: x.try_get("at")?,
                from_status: x.try_get("from_status")?,
                to_status: x.try_get("to_status")?,
                outcome: x.try_get("outcome")?,
                lab: x.try_get("lab")?,
                note: x.try_get("note")?,
                actor: x.try_get("actor")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut steps = vec![];
    for x in
        sqlx::query("SELECT * FROM sample_steps WHERE sample_id = $1 ORDER BY id").bind(id).fetch_all(&mut **tx).await?
    {
        let rule_id: String = x.try_get("rule_id")?;
        let kind: String = x.try_get("kind")?;
        let due_on: String = x.try_get("due_on")?;
        let due_at: Option<String> = x.try_get("due_at")?;
        let done_at: Option<String> = x.try_get("done_at")?;
        let state =
            step_state(&kind, &done_at, parse_day(&due_on)?, due_at.as_deref().map(parse_ts).transpose()?, now_t);
        let rule = deadline::rule_by_id(&rule_id);
        steps.push(SampleStep {
            step: rule.map_or("", |r| r.step).to_owned(),
            legal_basis: rule.map_or("", |r| r.legal_basis).to_owned(),
            rule_id,
            kind,
            started_at: x.try_get("started_at")?,
            due_on,
            due_at,
            not_before: x.try_get("not_before")?,
            estimated: x.try_get::<i64, _>("estimated")? != 0,
            done_at,
            state: state.to_owned(),
        });
    }
    let rectification = match sqlx::query("SELECT * FROM rectification_orders WHERE sample_id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
    {
        None => None,
        Some(o) => {
            let order_id: i64 = o.try_get("id")?;
            let evidence = sqlx::query("SELECT * FROM rectification_evidence WHERE order_id = $1 ORDER BY id")
                .bind(order_id)
                .fetch_all(&mut **tx)
                .await?
                .iter()
                .map(|x| {
                    Ok(Evidence {
                        id: x.try_get("id")?,
                        description: x.try_get("description")?,
                        files: json_list(x, "files")?,
                        submitted_at: x.try_get("submitted_at")?,
                        submitted_by: x.try_get("submitted_by")?,
                        verification: x.try_get("verification")?,
                        verified_at: x.try_get("verified_at")?,
                        verified_by: x.try_get("verified_by")?,
                        verification_note: x.try_get("verification_note")?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Some(RectificationOrder {
                id: order_id,
                sample_id: id,
                entity_id: o.try_get("entity_id")?,
                order_no: o.try_get("order_no")?,
                requirements: o.try_get("requirements")?,
                ordered_at: o.try_get("ordered_at")?,
                due_on: o.try_get("due_on")?,
                closed_at: o.try_get("closed_at")?,
                evidence,
            })
        }
    };
    let publication = sqlx::query("SELECT * FROM sampling_publications WHERE sample_id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|p| {
            Ok::<_, StoreError>(Publication {
                announcement_no: p.try_get("announcement_no")?,
                announcement_date: p.try_get("announcement_date")?,
                task_source: p.try_get("task_source")?,
                lab: p.try_get("lab")?,
                remarks: p.try_get("remarks")?,
                published_at: p.try_get("published_at")?,
            })
        })
        .transpose()?;
    let status: String = r.try_get("status")?;
    let next_events = SampleStatus::parse(&status)
        .map_or(vec![], |s| workflow::possible_events(s).iter().map(|e| e.key().to_owned()).collect());
    Ok(Sample {
        id,
        sample_no: r.try_get("sample_no")?,
        task_id: r.try_get("task_id")?,
        regime: r.try_get("regime")?,
        purpose: r.try_get("purpose")?,
        product_name: r.try_get("product_name")?,
        brand: r.try_get("brand")?,
        specification: r.try_get("specification")?,
        batch_no: r.try_get("batch_no")?,
        production_date: r.try_get("production_date")?,
        quantity: r.try_get("quantity")?,
        product_category: r.try_get("product_category")?,
        standard_code: r.try_get("standard_code")?,
        sampled_entity_id: r.try_get("sampled_entity_id")?,
        sampled_uscc: r.try_get("sampled_uscc")?,
        sampled_name: r.try_get("sampled_name")?,
        sampled_address: r.try_get("sampled_address")?,
        producer_name: r.try_get("producer_name")?,
        producer_address: r.try_get("producer_address")?,
        producer_entity_id: r.try_get("producer_entity_id")?,
        sampler_ids: json_list(&r, "sampler_ids")?,
        photos: json_list(&r, "photos")?,
        rapid_test: r.try_get::<i64, _>("rapid_test")? != 0,
        lab: r.try_get("lab")?,
        retest_lab: r.try_get("retest_lab")?,
        status,
        verdict: r.try_get("verdict")?,
        sampled_at: r.try_get("sampled_at")?,
        last_event_at: r.try_get("last_event_at")?,
        next_events,
        results,
        events,
        steps,
        rectification,
        publication,
    })
}
