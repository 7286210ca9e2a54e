//! Trace pages: a backward or forward trace drawn as our own server-rendered SVG (columns by
//! hop distance from the root, material flowing left to right) with the places it went
//! through, and the recall-scope table grouped by street and grid (sortable, shared with an
//! enterprise by a regulator, the shares listed from the store as `GET
//! /api/v1/trace/scope/shares` lists them), both with the FSMA 204-style export. The same
//! access rules and shaping as `/api/v1/trace`.

use super::links::{self, ListState};
use super::widgets::HeaderCell;
use super::{Failure, OrFail, PageResult, Signed, render};
use crate::AppState;
use crate::i18n::Tr;
use crate::problem::ApiError;
use crate::trace::{
    NodeOut, ScopeItemOut, ScopeOut, TraceOut, Visibility, parse_direction, parse_id, run_scope, run_trace, scope_out,
    trace_out,
};
use askama::Template;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use qgov_domain::{FieldErrors, UnifiedCreditCode};
use qgov_store::trace::TraceShareEntry;
use qgov_store::{Actor, ListQuery, MarketEntity, StoreError};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/trace", get(trace_page))
        .route("/console/trace/scope", get(scope_page))
        .route("/console/trace/scope/shares", post(share_scope))
        .route("/console/trace/export", get(trace_download))
        .route("/console/trace/scope/export", get(scope_download))
}

/// Above this many nodes the drawing collapses serialised items into their lot (or into one
/// node per column when the lot is unknown) and says how many it folded.
const MAX_DRAWN: usize = 300;
const COL_W: usize = 270;
const ROW_H: usize = 34;
const BOX_W: usize = 240;
const BOX_H: usize = 24;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A short label: the scheme and value of a URN, or the tail of a URI, at most 34 chars.
fn short(id: &str) -> String {
    let s = id.strip_prefix("urn:epc:id:").or_else(|| id.strip_prefix("urn:epc:class:")).unwrap_or(id);
    if s.chars().count() > 34 {
        format!("…{}", s.chars().rev().take(33).collect::<Vec<_>>().into_iter().rev().collect::<String>())
    } else {
        s.to_owned()
    }
}

struct Drawn {
    id: String,
    label: String,
    kind: String,
    depth: u32,
    folded: usize,
}

/// Lays a trace out in columns by hop distance and draws it; returns the SVG and how many
/// instance nodes were folded into summaries.
fn draw(t: &TraceOut, tr: &Tr) -> (String, usize) {
    let backward = t.direction == "backward";
    let depth_of = |n: &NodeOut| if n.depth == u32::MAX { 0 } else { n.depth };
    let collapse = t.nodes.len() > MAX_DRAWN;
    // Node id → drawn node id.
    let mut map: HashMap<&str, String> = HashMap::new();
    let mut drawn: BTreeMap<String, Drawn> = BTreeMap::new();
    let mut folded_total = 0;
    for n in &t.nodes {
        let key = if collapse && n.kind == "instance" && *n.id != *t.root {
            folded_total += 1;
            match &n.lot {
                Some(lot) => format!("fold:{lot}"),
                None => format!("fold:depth:{}", depth_of(n)),
            }
        } else {
            n.id.to_string()
        };
        map.insert(&n.id, key.clone());
        let d = drawn.entry(key.clone()).or_insert_with(|| Drawn {
            id: n.id.to_string(),
            label: short(&n.id),
            kind: n.kind.to_owned(),
            depth: depth_of(n),
            folded: 0,
        });
        if key.starts_with("fold:") {
            d.folded += 1;
            d.depth = d.depth.min(depth_of(n));
            d.kind = "folded".into();
            let items = tr.arg("trace-folded", "count", d.folded);
            d.label = match &n.lot {
                Some(lot) => format!("{} · {items}", short(lot)),
                None => items,
            };
            d.id = n.lot.as_deref().unwrap_or_default().to_owned();
        }
    }
    let max_depth = drawn.values().map(|d| d.depth).max().unwrap_or(0) as usize;
    let mut columns: Vec<Vec<&str>> = vec![vec![]; max_depth + 1];
    for (key, d) in &drawn {
        let col = if backward { max_depth - d.depth as usize } else { d.depth as usize };
        columns[col].push(key);
    }
    let rows = columns.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let (w, h) = ((max_depth + 1) * COL_W + 20, rows * ROW_H + 20);
    let mut pos: HashMap<&str, (usize, usize)> = HashMap::new();
    for (c, col) in columns.iter().enumerate() {
        // Centre short columns against the tallest one.
        let top = (rows - col.len()) * ROW_H / 2;
        for (r, key) in col.iter().enumerate() {
            pos.insert(key, (10 + c * COL_W, 10 + top + r * ROW_H));
        }
    }
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"trace-graph\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\">",
        esc(&tr.get("trace-graph"))
    );
    svg.push_str("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" class=\"trace-arrow\"/></marker></defs>");
    let mut seen = std::collections::HashSet::new();
    for e in &t.edges {
        let (Some(a), Some(b)) = (map.get(&*e.from), map.get(&*e.to)) else { continue };
        if a == b || !seen.insert((a.clone(), b.clone())) {
            continue;
        }
        let ((x1, y1), (x2, y2)) = (pos[a.as_str()], pos[b.as_str()]);
        let (sx, tx) = if x1 <= x2 { (x1 + BOX_W, x2) } else { (x1, x2 + BOX_W) };
        svg.push_str(&format!(
            "<line class=\"trace-edge rel-{}\" x1=\"{sx}\" y1=\"{}\" x2=\"{tx}\" y2=\"{}\" marker-end=\"url(#arrow)\"><title>{} {}</title></line>",
            esc(e.relation),
            y1 + BOX_H / 2,
            y2 + BOX_H / 2,
            esc(e.biz_step.as_deref().unwrap_or(e.event_type)),
            esc(&e.event_time)
        ));
    }
    for (key, d) in &drawn {
        let (x, y) = pos[key.as_str()];
        let root = if *key == t.root { " root" } else { "" };
        let label = esc(&d.label);
        let body = format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"4\"/><text x=\"{}\" y=\"{}\">{label}</text><title>{}</title>",
            x + 8,
            y + 16,
            esc(&d.id)
        );
        if d.kind == "folded" || d.id.is_empty() {
            svg.push_str(&format!("<g class=\"trace-node kind-{}{root}\">{body}</g>", esc(&d.kind)));
        } else {
            let href = links::with_query("/console/trace", &[("id", &d.id), ("direction", &t.direction)]);
            svg.push_str(&format!(
                "<a href=\"{}\"><g class=\"trace-node kind-{}{root}\">{body}</g></a>",
                esc(&href),
                esc(&d.kind)
            ));
        }
    }
    svg.push_str("</svg>");
    (svg, folded_total)
}

/// What was wrong with a trace request's parameters, in the reader's language where the
/// catalogue has the words (the id); other fields (direction, format) name their choices.
fn invalid_detail(t: &Tr, errors: &FieldErrors) -> String {
    let parts: Vec<String> = errors
        .0
        .iter()
        .map(|e| if e.field == "id" { t.get("trace-bad-id") } else { format!("{}: {}", e.field, e.message) })
        .collect();
    parts.join("; ")
}

/// The page for a refused trace request. A bad id, direction or format is the caller's
/// mistake (400 saying what was wrong); `Failure::from_api` would log it and answer 500.
fn refused(t: Tr, e: ApiError) -> Failure {
    match e {
        ApiError::Invalid(errors) => Failure::new(t, StatusCode::BAD_REQUEST).with_detail(invalid_detail(&t, &errors)),
        other => Failure::from_api(t, other),
    }
}

async fn visibility(s: &AppState, who: &Signed, shared_root: Option<&str>) -> Result<Visibility, ApiError> {
    Visibility::of(&s.store, who.user.role, who.user.entity_id, shared_root).await
}

/// A product a trace passes through: its GTIN, its name in the products register (if it is
/// there), and how many of the trace's objects (items and lots) are of it.
#[derive(Debug, PartialEq)]
struct ProductRow {
    gtin: String,
    name: Option<String>,
    objects: usize,
}

/// The products of a trace's nodes, by GTIN.
fn products(t: &TraceOut) -> Vec<ProductRow> {
    let mut by: BTreeMap<&str, ProductRow> = BTreeMap::new();
    for n in &t.nodes {
        let Some(gtin) = n.gtin.as_deref() else { continue };
        let row = by.entry(gtin).or_insert_with(|| ProductRow { gtin: gtin.to_owned(), name: None, objects: 0 });
        row.objects += 1;
        if row.name.is_none() {
            row.name = n.product.as_deref().map(str::to_owned);
        }
    }
    by.into_values().collect()
}

#[derive(Template)]
#[template(path = "trace.html")]
struct TracePage {
    c: super::Chrome,
    t: Tr,
    id: String,
    backward: bool,
    error: Option<String>,
    result: Option<TraceOut>,
    svg: String,
    folded: usize,
    products: Vec<ProductRow>,
    scope_href: String,
    csv_href: String,
    xlsx_href: String,
}

async fn trace_page(State(s): State<AppState>, who: Signed, Query(p): Query<HashMap<String, String>>) -> PageResult {
    let t = who.t;
    let id = p.get("id").cloned().unwrap_or_default();
    let dir = p.get("direction").cloned().unwrap_or_else(|| "backward".into());
    let mut page = TracePage {
        c: who.chrome(t.get("trace-title")),
        t,
        id: id.clone(),
        backward: dir != "forward",
        error: None,
        result: None,
        svg: String::new(),
        folded: 0,
        products: vec![],
        scope_href: links::with_query("/console/trace/scope", &[("id", &id)]),
        csv_href: links::with_query("/console/trace/export", &[("id", &id), ("direction", &dir), ("format", "csv")]),
        xlsx_href: links::with_query("/console/trace/export", &[("id", &id), ("direction", &dir), ("format", "xlsx")]),
    };
    if id.trim().is_empty() {
        return Ok(render(StatusCode::OK, &page));
    }
    let outcome: Result<TraceOut, ApiError> = async {
        let canonical = parse_id(Some(&id))?;
        let direction = parse_direction(Some(&dir))?;
        let vis = visibility(&s, &who, None).await?;
        let t = {
            let ix = s.trace.current(&s.store).await?;
            run_trace(&ix, &canonical, direction, &vis)?
        };
        let reg = s.registers.current(&s.store).await?;
        Ok(trace_out(&t, &reg))
    }
    .await;
    let status = match outcome {
        Ok(out) => {
            let (svg, folded) = draw(&out, &t);
            page.products = products(&out);
            (page.svg, page.folded, page.result) = (svg, folded, Some(out));
            StatusCode::OK
        }
        Err(ApiError::Invalid(errors)) => {
            page.error = Some(invalid_detail(&t, &errors));
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(ApiError::NotFound) => {
            page.error = Some(t.get("trace-not-found"));
            StatusCode::NOT_FOUND
        }
        Err(other) => return Err(Failure::from_api(t, other)),
    };
    Ok(render(status, &page))
}

/// Items of a recall scope that sit in one street / grid.
struct Area {
    street: String,
    grid: String,
    items: usize,
    places: Vec<String>,
}

/// One row of the scope table: the item and its lot as a short label.
struct ScopeRow {
    i: ScopeItemOut,
    lot: String,
}

/// The share form as last submitted: what was typed and what was wrong with it.
#[derive(Default)]
struct ShareForm {
    value: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "trace_scope.html")]
struct ScopePage {
    c: super::Chrome,
    t: Tr,
    root: String,
    scope: ScopeOut,
    rows: Vec<ScopeRow>,
    headers: Vec<HeaderCell>,
    areas: Vec<Area>,
    trace_href: String,
    csv_href: String,
    xlsx_href: String,
    /// Staff see with whom the scope was shared; enterprises do not.
    shares: Option<Vec<TraceShareEntry>>,
    /// Regulators and admins may share: the form, and the enterprises to pick from.
    can_share: bool,
    enterprises: Vec<(String, String)>,
    form: ShareForm,
    /// The enterprise the scope was just shared with (after the redirect).
    shared: Option<String>,
}

fn areas(items: &[ScopeItemOut], unknown: &str) -> Vec<Area> {
    let mut by: BTreeMap<(String, String), Area> = BTreeMap::new();
    for i in items {
        let street = i.street.clone().unwrap_or_else(|| unknown.to_owned());
        let grid = i.grid.clone().unwrap_or_default();
        let a = by.entry((street.clone(), grid.clone())).or_insert(Area { street, grid, items: 0, places: vec![] });
        a.items += 1;
        let place = i.last_location_name.clone().or_else(|| i.last_location.clone()).unwrap_or_default();
        if !place.is_empty() && !a.places.contains(&place) {
            a.places.push(place);
        }
    }
    by.into_values().collect()
}

/// Columns of the scope table: (sort key, catalogue key of the heading, sortable). Sorting
/// is `sort=…&dir=desc`, as in the register lists.
const SCOPE_COLUMNS: &[(&str, &str, bool)] = &[
    ("id", "epcis-identifier", true),
    ("product", "trace-product", false),
    ("lot", "trace-lot", true),
    ("location", "trace-last-location", true),
    ("area", "trace-area", false),
    ("owner", "trace-owner", true),
    ("disposition", "epcis-disposition", true),
    ("quantity", "trace-quantity", false),
    ("last_seen", "trace-last-seen", true),
];

/// The sort of the scope table asked for in `p`, and its headings with the links that sort
/// it. The links keep the id (the way a list's filters are kept); the export links are built
/// apart and stay unsorted.
fn scope_headers(t: Tr, p: &HashMap<String, String>) -> (ListState, Vec<HeaderCell>) {
    let sortable: Vec<&str> = SCOPE_COLUMNS.iter().filter(|c| c.2).map(|c| c.0).collect();
    let state = ListState::parse(p, &sortable, &["id"]);
    let headers = SCOPE_COLUMNS
        .iter()
        .map(|(column, label, sortable)| HeaderCell {
            label: t.get(label),
            ..HeaderCell::new(t, &state, "/console/trace/scope", column, *sortable)
        })
        .collect();
    (state, headers)
}

/// What an item is sorted by in `column`: places and owners by their registered name where
/// they have one (what the reader sees), else by identifier.
fn sort_key<'a>(i: &'a ScopeItemOut, column: &str) -> Option<&'a str> {
    match column {
        "id" => Some(&i.id),
        "lot" => i.lot.as_deref(),
        "location" => i.last_location_name.as_deref().or(i.last_location.as_deref()),
        "owner" => i.owner_name.as_deref().or(i.owner.as_deref()),
        "disposition" => i.disposition.as_deref(),
        "last_seen" => i.last_seen.as_deref(),
        _ => None,
    }
}

/// Sorts scope items by a column: empty values last whichever the direction, ties in the
/// order the trace found them (the API's order). Times are fixed-width RFC 3339 UTC, so
/// comparing them as text orders them in time.
fn sort_items(items: &mut [ScopeItemOut], column: Option<&str>, desc: bool) {
    let Some(column) = column else { return };
    items.sort_by(|a, b| match (sort_key(a, column), sort_key(b, column)) {
        (Some(x), Some(y)) if desc => y.cmp(x),
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    });
}

/// Finds the enterprise a regulator typed (a credit code, or a name) among the register
/// entries that match it: the one with exactly that code or name, else the only match.
/// The error is the catalogue key saying what was wrong.
fn pick_enterprise<'a>(typed: &str, found: &'a [MarketEntity]) -> Result<&'a MarketEntity, &'static str> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Err("err-required");
    }
    if let Some(e) = found.iter().find(|e| e.uscc == typed || e.name == typed) {
        return Ok(e);
    }
    match found {
        [one] => Ok(one),
        [] => Err("trace-share-unknown"),
        _ => Err("trace-share-ambiguous"),
    }
}

async fn scope_page(State(s): State<AppState>, who: Signed, Query(p): Query<HashMap<String, String>>) -> PageResult {
    scope_view(&s, &who, &p, ShareForm::default()).await
}

async fn scope_view(s: &AppState, who: &Signed, p: &HashMap<String, String>, form: ShareForm) -> PageResult {
    let t = who.t;
    let id = p.get("id").cloned().unwrap_or_default();
    let canonical =
        parse_id(Some(&id)).map_err(|_| Failure::new(t, StatusCode::BAD_REQUEST).with_detail(t.get("trace-bad-id")))?;
    let vis = visibility(s, who, Some(&canonical)).await.or_fail(t)?;
    let found = {
        let ix = s.trace.current(&s.store).await.or_fail(t)?;
        run_scope(&ix, &canonical, &vis).map_err(|e| refused(t, e))?
    };
    let reg = s.registers.current(&s.store).await.or_fail(t)?;
    let mut scope = scope_out(&found, &reg);
    let (state, headers) = scope_headers(t, p);
    let areas = areas(&scope.items, &t.get("trace-unknown-area"));
    let mut items = std::mem::take(&mut scope.items);
    sort_items(&mut items, state.sort.as_deref(), state.desc);
    let rows =
        items.into_iter().map(|i| ScopeRow { lot: i.lot.as_deref().map(short).unwrap_or_default(), i }).collect();
    let staff = who.role() != qgov_domain::Role::Enterprise;
    let can_share = who.role().can_edit_registers();
    let shares = if staff { Some(s.store.trace_shares(&canonical).await.or_fail(t)?) } else { None };
    let enterprises = if can_share {
        let q = ListQuery { per_page: 500, sort: Some("name".into()), ..Default::default() };
        s.store.list_entities(&q).await.or_fail(t)?.items.into_iter().map(|e| (e.uscc, e.name)).collect()
    } else {
        vec![]
    };
    let shared =
        p.get("shared").and_then(|u| shares.as_ref()?.iter().find(|r| &r.uscc == u)).map(|r| r.entity_name.clone());
    let status = if form.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = ScopePage {
        c: who.chrome(t.get("trace-scope-title")),
        t,
        root: id.clone(),
        areas,
        rows,
        headers,
        trace_href: links::with_query("/console/trace", &[("id", &id), ("direction", "forward")]),
        csv_href: links::with_query("/console/trace/scope/export", &[("id", &id), ("format", "csv")]),
        xlsx_href: links::with_query("/console/trace/scope/export", &[("id", &id), ("format", "xlsx")]),
        scope,
        shares,
        can_share,
        enterprises,
        form,
        shared,
    };
    Ok(render(status, &page))
}

/// Shares a recall scope with an enterprise from the scope page (regulators and admins, as
/// `POST /api/v1/trace/scope/shares`); back to the page saying with whom, or the page again
/// with what was wrong.
async fn share_scope(State(s): State<AppState>, who: Signed, Form(f): Form<HashMap<String, String>>) -> PageResult {
    let t = who.t;
    who.check_csrf(f.get("csrf"))?;
    if !who.role().can_edit_registers() {
        return Err(Failure::forbidden(t));
    }
    let id = f.get("id").cloned().unwrap_or_default();
    let canonical =
        parse_id(Some(&id)).map_err(|_| Failure::new(t, StatusCode::BAD_REQUEST).with_detail(t.get("trace-bad-id")))?;
    {
        // Share only what exists: a typo must not silently grant nothing.
        let ix = s.trace.current(&s.store).await.or_fail(t)?;
        run_scope(&ix, &canonical, &Visibility::All).map_err(|e| refused(t, e))?;
    }
    let typed = f.get("enterprise").map(|v| v.trim().to_owned()).unwrap_or_default();
    let found = if typed.is_empty() {
        vec![]
    } else if UnifiedCreditCode::parse(&typed).is_ok() {
        match s.store.entity_by_uscc(&typed).await {
            Ok(e) => vec![e],
            Err(StoreError::NotFound) => vec![],
            Err(e) => return Err(Failure::internal(t, e)),
        }
    } else {
        let q = ListQuery { q: Some(typed.clone()), per_page: 20, ..Default::default() };
        s.store.list_entities(&q).await.or_fail(t)?.items
    };
    let entity = match pick_enterprise(&typed, &found) {
        Ok(e) => e,
        Err(code) => {
            let form = ShareForm { value: typed, error: Some(t.get(code)) };
            // The page is the scope page: its language switch (and anything else that links
            // back "here") must return to the GET URL, not to this POST-only one.
            let at_scope = Signed { path: links::with_query("/console/trace/scope", &[("id", &id)]), ..who };
            let p = HashMap::from([("id".to_owned(), id)]);
            return scope_view(&s, &at_scope, &p, form).await;
        }
    };
    s.store.trace_share(&Actor::user(&who.user.username), &canonical, entity.id, Some(who.user.id)).await.or_fail(t)?;
    let back = links::with_query("/console/trace/scope", &[("id", &id), ("shared", &entity.uscc)]);
    Ok(Redirect::to(&format!("{back}#shares")).into_response())
}

fn with_lang(who: &Signed, mut p: HashMap<String, String>) -> HashMap<String, String> {
    if who.t.lang_code().starts_with("en") {
        p.entry("lang".into()).or_insert_with(|| "en".into());
    }
    p
}

async fn trace_download(
    State(s): State<AppState>,
    who: Signed,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    let p = with_lang(&who, p);
    crate::api::trace::trace_export(&s, who.user.role, who.user.entity_id, &p).await.map_err(|e| refused(who.t, e))
}

async fn scope_download(
    State(s): State<AppState>,
    who: Signed,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    let p = with_lang(&who, p);
    crate::api::trace::scope_export(&s, who.user.role, who.user.entity_id, &p).await.map_err(|e| refused(who.t, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;
    use crate::trace::EdgeOut;

    fn node(id: &str, kind: &'static str, lot: Option<&str>, depth: u32) -> NodeOut {
        NodeOut { id: id.into(), kind, lot: lot.map(Into::into), gtin: None, product: None, depth }
    }

    fn edge(from: &str, to: &str) -> EdgeOut {
        EdgeOut {
            from: from.into(),
            to: to.into(),
            relation: "lot_member",
            event_id: None,
            event_type: "ObjectEvent",
            biz_step: None,
            event_time: "2024-03-01T00:00:00.000Z".into(),
        }
    }

    fn forward(n: usize) -> TraceOut {
        let lot = "urn:epc:class:lgtin:0614141.033333.P1";
        let mut nodes = vec![node(lot, "class", None, 0)];
        let mut edges = vec![];
        for i in 0..n {
            let id = format!("urn:epc:id:sgtin:0614141.033333.{i}");
            nodes.push(node(&id, "instance", Some(lot), 1));
            edges.push(edge(lot, &id));
        }
        TraceOut { root: lot.into(), direction: "forward".into(), nodes, edges, locations: vec![] }
    }

    #[test]
    fn small_traces_draw_every_node_in_columns_by_hops() {
        let (svg, folded) = draw(&forward(3), &Tr::new(Lang::En));
        assert_eq!(folded, 0);
        assert_eq!(svg.matches("<rect").count(), 4);
        assert_eq!(svg.matches("<line").count(), 3);
        assert!(svg.contains(">lgtin:0614141.033333.P1</text>") && svg.contains(">sgtin:0614141.033333.2</text>"));
        // The root sits in the first column of a forward trace, its units in the second.
        assert!(svg.contains("<rect x=\"10\"") && svg.contains(&format!("<rect x=\"{}\"", 10 + COL_W)));
    }

    #[test]
    fn the_products_of_a_trace_are_listed_by_gtin_with_their_registered_names() {
        let mut t = forward(3);
        let milk: Option<std::sync::Arc<str>> = Some("06141410333332".into());
        for n in &mut t.nodes {
            n.gtin.clone_from(&milk);
        }
        t.nodes[2].product = Some("纯牛奶 250ml".into());
        t.nodes.push(node("urn:epc:class:lgtin:0614141.044444.L2", "class", None, 1));
        t.nodes.last_mut().unwrap().gtin = Some("06141410444448".into());
        t.nodes.push(node("urn:epc:id:sscc:0614141.1234567890", "container", None, 1));
        assert_eq!(
            products(&t),
            [
                ProductRow { gtin: "06141410333332".into(), name: Some("纯牛奶 250ml".into()), objects: 4 },
                ProductRow { gtin: "06141410444448".into(), name: None, objects: 1 },
            ],
            "named where any node of the GTIN is named; pallets carry no GTIN"
        );
    }

    #[test]
    fn large_traces_fold_items_into_their_lot_and_say_how_many() {
        let (svg, folded) = draw(&forward(500), &Tr::new(Lang::En));
        assert_eq!(folded, 500);
        assert_eq!(svg.matches("<rect").count(), 2, "{svg}");
        assert!(svg.contains("lgtin:0614141.033333.P1 · 500 items"), "{svg}");
    }

    #[test]
    fn bad_parameters_are_refused_with_400_and_what_was_wrong_not_500() {
        let t = Tr::new(Lang::Zh);
        let bad = |field: &str, message: &str| {
            ApiError::Invalid(FieldErrors(vec![qgov_domain::FieldError {
                field: field.into(),
                code: "invalid",
                message: message.into(),
            }]))
        };
        let id = refused(t, bad("id", "not an EPC URN"));
        assert_eq!(id.status, StatusCode::BAD_REQUEST);
        assert_eq!(id.detail.as_deref(), Some(t.get("trace-bad-id").as_str()));
        let format = refused(t, bad("format", "csv or xlsx"));
        assert_eq!(format.status, StatusCode::BAD_REQUEST);
        assert_eq!(format.detail.as_deref(), Some("format: csv or xlsx"));
        assert_eq!(refused(t, ApiError::NotFound).status, StatusCode::NOT_FOUND);
        assert_eq!(refused(t, ApiError::Internal("disk".into())).status, StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn labels_are_escaped() {
        let mut t = forward(1);
        t.nodes[1].id = "https://example.com/<x>&y".into();
        t.edges[0].to = t.nodes[1].id.clone();
        let (svg, _) = draw(&t, &Tr::new(Lang::En));
        assert!(svg.contains("&lt;x&gt;&amp;y") && !svg.contains("<x>"), "{svg}");
    }

    fn item(id: &str, seen: Option<&str>, place: Option<&str>) -> ScopeItemOut {
        ScopeItemOut {
            id: id.into(),
            kind: "instance".into(),
            lot: None,
            gtin: None,
            product: None,
            last_seen: seen.map(Into::into),
            last_location: Some(format!("urn:epc:id:sgln:6901234.000{id}.0")),
            last_location_name: place.map(Into::into),
            street: None,
            grid: None,
            owner: None,
            owner_name: None,
            disposition: None,
            quantity: None,
            uom: None,
        }
    }

    fn ids(items: &[ScopeItemOut]) -> Vec<&str> {
        items.iter().map(|i| i.id.as_str()).collect()
    }

    #[test]
    fn scope_items_sort_by_a_column_with_empty_values_last_and_ties_in_trace_order() {
        let mut items = vec![
            item("1", Some("2024-01-05T01:00:00.000Z"), Some("乙店")),
            item("2", None, None),
            item("3", Some("2024-01-03T01:00:00.000Z"), Some("甲店")),
            item("4", Some("2024-01-05T01:00:00.000Z"), Some("甲店")),
        ];
        sort_items(&mut items, Some("last_seen"), false);
        assert_eq!(ids(&items), ["3", "1", "4", "2"]);
        sort_items(&mut items, Some("last_seen"), true);
        assert_eq!(ids(&items), ["1", "4", "3", "2"], "newest first, ties kept, the unseen still last");
        // A place sorts by its registered name, else by its identifier.
        sort_items(&mut items, Some("location"), false);
        // (Text order, as the register lists sort: `urn:…` before 乙 (U+4E59) before 甲 (U+7532).)
        assert_eq!(ids(&items), ["2", "1", "4", "3"]);
        let before = ids(&items).join(",");
        sort_items(&mut items, None, true);
        assert_eq!(ids(&items).join(","), before, "no sort asked: the trace's order");
    }

    #[test]
    fn sort_links_keep_the_id_and_toggle_the_direction() {
        let p: HashMap<String, String> = [
            ("id", "urn:epc:class:lgtin:6901234.000012.F1D0H0"),
            ("sort", "last_seen"),
            ("dir", "desc"),
            ("page", "3"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let (state, headers) = scope_headers(Tr::new(Lang::Zh), &p);
        assert_eq!((state.sort.as_deref(), state.desc), (Some("last_seen"), true));
        let id = "id=urn%3Aepc%3Aclass%3Algtin%3A6901234.000012.F1D0H0";
        let seen = headers.iter().find(|h| h.sorted == "desc").expect("the sorted column is marked");
        assert_eq!(seen.href.as_deref(), Some(format!("/console/trace/scope?{id}&sort=last_seen").as_str()));
        assert_eq!(headers[0].href.as_deref(), Some(format!("/console/trace/scope?{id}&sort=id").as_str()));
        assert!(headers[1].href.is_none() && headers[1].label == Tr::new(Lang::Zh).get("trace-product"));
        assert_eq!(headers.iter().filter(|h| h.href.is_some()).count(), 6);
        // An unknown column is ignored rather than refused, as in the register lists.
        let bad: HashMap<String, String> = [("sort".to_owned(), "quantity".to_owned())].into();
        assert_eq!(scope_headers(Tr::new(Lang::En), &bad).0.sort, None);
    }

    fn entity(id: i64, uscc: &str, name: &str) -> MarketEntity {
        MarketEntity {
            id,
            uscc: uscc.into(),
            name: name.into(),
            entity_type: "company".into(),
            industry: "food_retail".into(),
            address: None,
            street: None,
            grid: None,
            legal_representative: None,
            licences: vec![],
            status: "active".into(),
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn the_enterprise_to_share_with_is_the_one_named_exactly_or_the_only_match() {
        let shop = entity(1, "91120116MA05K1TQ3X", "天津华源超市有限公司");
        let branch = entity(2, "91120116MA05K1TQ4X", "天津华源超市有限公司塘沽分公司");
        let both = [shop.clone(), branch.clone()];
        assert_eq!(pick_enterprise("天津华源超市有限公司", &both).map(|e| e.id), Ok(1), "an exact name wins");
        assert_eq!(pick_enterprise(" 91120116MA05K1TQ4X ", &both).map(|e| e.id), Ok(2), "so does a credit code");
        assert_eq!(pick_enterprise("华源", &both).map(|e| e.id), Err("trace-share-ambiguous"));
        assert_eq!(pick_enterprise("塘沽分", std::slice::from_ref(&branch)).map(|e| e.id), Ok(2));
        assert_eq!(pick_enterprise("没有", &[]).map(|e| e.id), Err("trace-share-unknown"));
        assert_eq!(pick_enterprise("  ", &both).map(|e| e.id), Err("err-required"));
        for key in ["trace-share-ambiguous", "trace-share-unknown", "err-required"] {
            assert_ne!(Tr::new(Lang::Zh).get(key), key);
        }
    }
}
