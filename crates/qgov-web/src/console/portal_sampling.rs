//! "One public" on the portal, without login: published sampling results with the columns
//! of Chinese sampling notices (searchable, paged, exported to XLSX by the public API), and
//! the public page of each draw — commitment first, seed and result after the reveal, with
//! the files and the command that let anyone recompute it (`qgov draw verify`).

use super::links::{ListState, PER_PAGE, with_query};
use super::sampling::{DrawnLine, drawn_lines, local_time};
use super::widgets::{FilterControl, Pager};
use super::{Chrome, Failure, OrFail, PageResult, render};
use crate::AppState;
use crate::i18n::Tr;
use crate::tabular::{self, Format};
use askama::Template;
use axum::Router;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use qgov_store::StoreError;
use qgov_store::sampling::{DrawInputs, DrawRecord, PublicQuery, PublishedResult, SamplingTask};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sampling", get(results))
        .route("/sampling/draws", get(draws))
        .route("/sampling/draws/{id}", get(draw_page))
        .route("/sampling/draws/{id}/targets.csv", get(targets_csv))
        .route("/sampling/draws/{id}/inspectors.csv", get(inspectors_csv))
}

/// The published columns, in the order of the notices (序号 first).
pub const COLUMNS: [&str; 16] = [
    "no",
    "producer_name",
    "producer_address",
    "sampled_name",
    "sampled_address",
    "product_name",
    "specification",
    "brand",
    "production_date_batch",
    "failing_items",
    "category",
    "announcement_no",
    "announcement_date",
    "task_source",
    "lab",
    "remarks",
];

#[derive(Template)]
#[template(path = "sampling/portal_results.html")]
struct ResultsPage {
    c: Chrome,
    t: Tr,
    q: String,
    filters: Vec<FilterControl>,
    headers: Vec<String>,
    rows: Vec<(PublishedResult, usize)>,
    total: i64,
    pager: Pager,
    export: String,
}

impl ResultsPage {
    fn o(&self, v: &Option<String>) -> String {
        v.clone().unwrap_or_default()
    }
    fn verdict(&self, v: &str) -> String {
        self.t.value("verdict", v)
    }
}

async fn results(
    State(s): State<AppState>,
    t: Tr,
    OriginalUri(uri): OriginalUri,
    Query(p): Query<HashMap<String, String>>,
) -> PageResult {
    let state = ListState::parse(&p, &[], &["verdict", "category"]);
    let q = PublicQuery {
        q: Some(state.q.clone()).filter(|x| !x.is_empty()),
        verdict: Some(state.filter("verdict").to_owned()).filter(|x| !x.is_empty()),
        category: Some(state.filter("category").to_owned()).filter(|x| !x.is_empty()),
        limit: i64::from(PER_PAGE),
        offset: i64::from(PER_PAGE) * i64::from(state.page - 1),
    };
    let (items, total) = s.store.public_results(&q).await.or_fail(t)?;
    let first = q.offset as usize;
    let rows = items.into_iter().enumerate().map(|(i, r)| (r, first + i + 1)).collect();
    let mut verdicts = vec![(String::new(), t.get("filter-all"), state.filter("verdict").is_empty())];
    verdicts.extend(
        ["fail", "pass"].iter().map(|v| ((*v).to_owned(), t.value("verdict", v), state.filter("verdict") == *v)),
    );
    let filters = vec![
        FilterControl {
            name: "verdict".into(),
            label: t.get("sf-verdict"),
            value: state.filter("verdict").into(),
            options: verdicts,
        },
        FilterControl::text(t, "category", state.filter("category")),
    ];
    let export = with_query(
        "/api/v1/public/sampling-results",
        &[
            ("q", &state.q),
            ("verdict", state.filter("verdict")),
            ("category", state.filter("category")),
            ("format", "xlsx"),
        ],
    );
    let path = uri.path_and_query().map(|x| x.as_str()).unwrap_or("/sampling");
    let page = ResultsPage {
        c: Chrome::public(t, t.get("portal-sampling-title"), path),
        t,
        q: state.q.clone(),
        filters,
        headers: COLUMNS.iter().map(|c| t.get(&format!("pub-{c}"))).collect(),
        rows,
        total,
        pager: Pager::new(t, &state, "/sampling", total, PER_PAGE),
        export,
    };
    Ok(render(StatusCode::OK, &page))
}

/// A task with its draw, for the public list.
struct DrawLine {
    task: SamplingTask,
    draw: DrawRecord,
}

#[derive(Template)]
#[template(path = "sampling/portal_draws.html")]
struct DrawsPage {
    c: Chrome,
    t: Tr,
    lines: Vec<DrawLine>,
}

impl DrawsPage {
    fn time(&self, s: &str) -> String {
        local_time(s)
    }
}

async fn draws(State(s): State<AppState>, t: Tr) -> PageResult {
    let mut lines = vec![];
    for task in s.store.list_tasks(None).await.or_fail(t)?.into_iter().rev() {
        match s.store.draw_of(task.id).await {
            Ok(draw) => lines.push(DrawLine { task, draw }),
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(Failure::internal(t, e)),
        }
    }
    Ok(render(
        StatusCode::OK,
        &DrawsPage { c: Chrome::public(t, t.get("portal-draws-title"), "/sampling/draws"), t, lines },
    ))
}

#[derive(Template)]
#[template(path = "sampling/portal_draw.html")]
struct DrawPage {
    c: Chrome,
    t: Tr,
    task: SamplingTask,
    draw: DrawRecord,
    drawn: Vec<DrawnLine>,
    mode_flag: String,
    per_target: usize,
    targets: usize,
    inspectors: usize,
}

impl DrawPage {
    fn time(&self, s: &str) -> String {
        local_time(s)
    }
}

async fn load(s: &AppState, t: Tr, id: &str) -> Result<(SamplingTask, DrawRecord, Option<DrawInputs>), Failure> {
    let id: i64 = id.parse().map_err(|_| Failure::not_found(t))?;
    let task = s.store.task(id).await.or_fail(t)?;
    let draw = s.store.draw_of(id).await.or_fail(t)?;
    let inputs = draw.inputs.clone().and_then(|v| serde_json::from_value(v).ok());
    Ok((task, draw, inputs))
}

async fn draw_page(State(s): State<AppState>, t: Tr, Path(id): Path<String>) -> PageResult {
    let (task, draw, inputs) = load(&s, t, &id).await?;
    let mode_flag = match inputs.as_ref().map(|i| i.mode.as_str()) {
        Some(m) => match m.strip_prefix("count:") {
            Some(n) => format!("--count {n}"),
            None => format!("--ratio {m}"),
        },
        None => String::new(),
    };
    let page = DrawPage {
        c: Chrome::public(t, format!("{} · {}", t.get("portal-draw-title"), task.name), "/sampling/draws"),
        t,
        drawn: drawn_lines(&draw),
        per_target: inputs.as_ref().map_or(0, |i| i.per_target),
        targets: inputs.as_ref().map_or(0, |i| i.targets.len()),
        inspectors: inputs.as_ref().map_or(0, |i| i.inspectors.len()),
        mode_flag,
        task,
        draw,
    };
    Ok(render(StatusCode::OK, &page))
}

fn csv_response(name: &str, header_row: &[&str], rows: Vec<Vec<String>>) -> Result<axum::response::Response, String> {
    let header: Vec<String> = header_row.iter().map(|h| (*h).to_owned()).collect();
    let bytes = tabular::write(Format::Csv, &header, &rows).map_err(|e| e.to_string())?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        bytes,
    )
        .into_response())
}

/// The draw's targets in the CSV form `qgov draw verify --targets` reads.
async fn targets_csv(State(s): State<AppState>, t: Tr, Path(id): Path<String>) -> PageResult {
    let (_, _, inputs) = load(&s, t, &id).await?;
    let inputs = inputs.ok_or_else(|| Failure::not_found(t))?;
    let rows = inputs
        .targets
        .iter()
        .map(|x| {
            vec![
                x.id.clone(),
                x.name.clone(),
                x.credit_class.to_string(),
                x.grid.clone(),
                x.specialties_needed.join(";"),
                x.last_inspectors.join(";"),
            ]
        })
        .collect();
    csv_response(
        &format!("draw-{id}-targets.csv"),
        &["id", "name", "credit_class", "grid", "specialties", "last_inspectors"],
        rows,
    )
    .map_err(|e| Failure::internal(t, e))
}

/// The draw's inspectors in the CSV form `qgov draw verify --inspectors` reads.
async fn inspectors_csv(State(s): State<AppState>, t: Tr, Path(id): Path<String>) -> PageResult {
    let (_, _, inputs) = load(&s, t, &id).await?;
    let inputs = inputs.ok_or_else(|| Failure::not_found(t))?;
    let rows = inputs
        .inspectors
        .iter()
        .map(|x| {
            vec![
                x.id.clone(),
                x.name.clone(),
                x.unit.clone(),
                x.conflicts.join(";"),
                x.grid.clone().unwrap_or_default(),
                x.specialties.join(";"),
            ]
        })
        .collect();
    csv_response(
        &format!("draw-{id}-inspectors.csv"),
        &["id", "name", "unit", "conflicts", "grid", "specialties"],
        rows,
    )
    .map_err(|e| Failure::internal(t, e))
}
