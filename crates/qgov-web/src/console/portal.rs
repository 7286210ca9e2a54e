//! The public portal: what qgov is, the public part of the market-entity register, and
//! the language switch. No login; only fields the law makes public are shown.

use super::links::{self, ListState, PER_PAGE};
use super::widgets::{FilterControl, HeaderCell, Pager};
use super::{Chrome, OrFail, PageResult, render};
use crate::AppState;
use crate::i18n::{LANG_COOKIE, Lang, Tr};
use askama::Template;
use axum::Router;
use axum::extract::{OriginalUri, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use qgov_domain::registers::{EntityStatus, EntityType, Industry};
use qgov_store::MarketEntity;
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(home)).route("/registry", get(registry)).route("/lang", get(switch_language))
}

#[derive(Template)]
#[template(path = "portal_home.html")]
struct HomePage {
    c: Chrome,
    t: Tr,
}

async fn home(t: Tr) -> Response {
    render(StatusCode::OK, &HomePage { c: Chrome::public(t, t.get("portal-title"), "/"), t })
}

/// The public columns of the entity register, in display order.
const PUBLIC_COLUMNS: &[&str] = &["uscc", "name", "industry", "entity_type", "status", "street"];
const PUBLIC_FILTERS: &[&str] = &["industry", "entity_type", "status"];

#[derive(Template)]
#[template(path = "portal_registry.html")]
struct RegistryPage {
    c: Chrome,
    t: Tr,
    q: String,
    filters: Vec<FilterControl>,
    headers: Vec<HeaderCell>,
    rows: Vec<Vec<String>>,
    total: i64,
    pager: Pager,
}

async fn registry(
    State(s): State<AppState>,
    t: Tr,
    OriginalUri(uri): OriginalUri,
    Query(p): Query<HashMap<String, String>>,
) -> PageResult {
    let state = ListState::parse(&p, PUBLIC_COLUMNS, PUBLIC_FILTERS);
    let page = s.store.list::<MarketEntity>(&state.query(None)).await.or_fail(t)?;
    let base = "/registry";
    let headers = PUBLIC_COLUMNS.iter().map(|c| HeaderCell::new(t, &state, base, c, true)).collect();
    let rows = page
        .items
        .iter()
        .map(|e| {
            vec![
                e.uscc.clone(),
                e.name.clone(),
                t.value("industry", &e.industry),
                t.value("entity_type", &e.entity_type),
                t.value("status", &e.status),
                e.street.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let filters = vec![
        FilterControl::vocab(
            t,
            "industry",
            &Industry::ALL.iter().map(|v| v.key()).collect::<Vec<_>>(),
            state.filter("industry"),
        ),
        FilterControl::vocab(
            t,
            "entity_type",
            &EntityType::ALL.iter().map(|v| v.key()).collect::<Vec<_>>(),
            state.filter("entity_type"),
        ),
        FilterControl::vocab(
            t,
            "status",
            &EntityStatus::ALL.iter().map(|v| v.key()).collect::<Vec<_>>(),
            state.filter("status"),
        ),
    ];
    let path = uri.path_and_query().map(|x| x.as_str()).unwrap_or(base);
    let pager = Pager::new(t, &state, base, page.total, PER_PAGE);
    Ok(render(
        StatusCode::OK,
        &RegistryPage {
            c: Chrome::public(t, t.get("registry-title"), path),
            t,
            q: state.q.clone(),
            filters,
            headers,
            rows,
            total: page.total,
            pager,
        },
    ))
}

/// `/lang?set=en|zh&back=/path`: remember the language for a year and go back.
async fn switch_language(Query(p): Query<HashMap<String, String>>) -> Response {
    let lang = p.get("set").and_then(|s| Lang::parse(s)).unwrap_or_default();
    let value = match lang {
        Lang::Zh => "zh",
        Lang::En => "en",
    };
    let back = links::safe_back(p.get("back").map(String::as_str).unwrap_or("/"));
    let cookie = format!("{LANG_COOKIE}={value}; Path=/; Max-Age=31536000; SameSite=Lax");
    ([(header::SET_COOKIE, cookie)], Redirect::to(back)).into_response()
}
