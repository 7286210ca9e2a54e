//! The console (`/console`, signed-in staff and enterprises), the public portal (`/`)
//! and the browsable API documentation (`/api/v1/docs`).
//!
//! Server-rendered askama pages that work without JavaScript. Every page is built from
//! a [`Chrome`] (header, navigation, language switch, user menu) and its own template;
//! every string comes from the Fluent catalogues through [`Tr`]. Access rules are the
//! API's ([`crate::api::registers::access`]), so the console never shows more than the
//! API would.

mod accounts;
mod docs;
mod epcis;
mod home;
pub mod links;
mod portal;
mod portal_sampling;
mod registers;
mod sampling;
mod sampling_samples;
mod session;
mod trace;
mod widgets;

use crate::AppState;
use crate::auth::{SESSION_COOKIE, cookie};
use crate::i18n::Tr;
use crate::problem::ApiError;
use askama::Template;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use qgov_domain::Role;
use qgov_store::{RegisterKind, StoreError, User};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/static/qgov.css", get(stylesheet))
        .route("/static/qgov.js", get(script))
        .route("/api/v1/docs", get(docs::page))
        .merge(portal::router())
        .merge(session::router())
        .merge(home::router())
        .merge(accounts::router())
        .merge(registers::router())
        .merge(epcis::router())
        .merge(sampling::router())
        .merge(sampling_samples::router())
        .merge(portal_sampling::router())
        .merge(trace::router())
}

/// The 404 page (also the fallback of the whole application outside `/api`).
pub fn not_found_page(tr: Tr) -> impl IntoResponse {
    Failure::new(tr, StatusCode::NOT_FOUND)
}

const CSS: &str = include_str!("../../static/qgov.css");
const JS: &str = include_str!("../../static/qgov.js");

async fn stylesheet() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], CSS)
}

async fn script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], JS)
}

/// One entry of the main navigation.
#[derive(Debug, Clone)]
pub struct NavItem {
    pub label: String,
    pub href: String,
    pub active: bool,
}

/// The frame of every page: title, navigation, language switch and user menu.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub t: Tr,
    pub title: String,
    pub nav: Vec<NavItem>,
    /// Signed-in user name and role label.
    pub user: Option<(String, String)>,
    pub csrf: String,
    pub lang_href: String,
    /// Where the app name links to (the portal for visitors, the dashboard for users).
    pub home: &'static str,
}

impl Chrome {
    /// Frame of a public page (portal, login, errors).
    pub fn public(t: Tr, title: String, path: &str) -> Self {
        let nav = vec![
            NavItem { label: t.get("nav-portal"), href: "/".into(), active: path == "/" },
            NavItem { label: t.get("nav-registry"), href: "/registry".into(), active: path.starts_with("/registry") },
            NavItem {
                label: t.get("nav-public-sampling"),
                href: "/sampling".into(),
                active: path.starts_with("/sampling"),
            },
            NavItem {
                label: t.get("nav-api-docs"),
                href: "/api/v1/docs".into(),
                active: path.starts_with("/api/v1/docs"),
            },
        ];
        Self { t, title, nav, user: None, csrf: String::new(), lang_href: lang_href(t, path), home: "/" }
    }

    /// Frame of a console page for `user`; `path` is the current path and query.
    pub fn console(t: Tr, title: String, user: &User, csrf: &str, path: &str) -> Self {
        let only_path = path.split('?').next().unwrap_or(path);
        let item = |key: &str, href: &str| NavItem {
            label: t.get(key),
            href: href.to_owned(),
            active: if href == "/console" { only_path == "/console" } else { only_path.starts_with(href) },
        };
        let mut nav = vec![item("nav-dashboard", "/console")];
        for kind in RegisterKind::ALL {
            if registers::read_scope(user, kind).is_some() {
                nav.push(item(&format!("nav-{}", kind.slug()), &format!("/console/{}", kind.slug())));
            }
        }
        // Sampling: staff see the whole section, an enterprise its own samples and orders.
        nav.push(item("nav-sampling", "/console/sampling"));
        nav.push(item("nav-events", "/console/events"));
        nav.push(item("nav-trace", "/console/trace"));
        if user.role.can_read_audit() {
            nav.push(item("nav-audit", "/console/audit"));
        }
        nav.push(item("nav-tokens", "/console/tokens"));
        if user.role.is_admin() {
            nav.push(item("nav-users", "/console/users"));
        }
        nav.push(item("nav-api-docs", "/api/v1/docs"));
        Self {
            t,
            title,
            nav,
            user: Some((user.username.clone(), t.value("role", user.role.as_str()))),
            csrf: csrf.to_owned(),
            lang_href: lang_href(t, path),
            home: "/console",
        }
    }

    /// Label of the language switch (the other language's own name).
    pub fn lang_label(&self) -> String {
        self.t.get("lang-switch")
    }
}

fn lang_href(t: Tr, path: &str) -> String {
    let set = match t.lang.other() {
        crate::i18n::Lang::Zh => "zh",
        crate::i18n::Lang::En => "en",
    };
    links::with_query("/lang", &[("set", set), ("back", links::safe_back(path))])
}

/// Render a template with a status; a template error is logged and becomes a plain 500.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// An error page: 403, 404, 429, 500 … rendered as HTML in the visitor's language.
#[derive(Debug)]
pub struct Failure {
    t: Tr,
    status: StatusCode,
    detail: Option<String>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    c: Chrome,
    t: Tr,
    code: u16,
    heading: String,
    message: String,
    detail: Option<String>,
}

impl Failure {
    pub fn new(t: Tr, status: StatusCode) -> Self {
        Self { t, status, detail: None }
    }
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
    pub fn not_found(t: Tr) -> Self {
        Self::new(t, StatusCode::NOT_FOUND)
    }
    pub fn forbidden(t: Tr) -> Self {
        Self::new(t, StatusCode::FORBIDDEN)
    }
    /// A form came back without this session's CSRF token.
    pub fn bad_csrf(t: Tr) -> Self {
        Self::new(t, StatusCode::FORBIDDEN).with_detail(t.get("error-csrf"))
    }
    /// The page for an error of the shared API helpers.
    pub fn from_api(t: Tr, e: ApiError) -> Self {
        match e {
            ApiError::NotFound => Self::not_found(t),
            ApiError::Forbidden(_) | ApiError::Unauthorized => Self::forbidden(t),
            ApiError::BadRequest(m) => Self::new(t, StatusCode::BAD_REQUEST).with_detail(m),
            other => Self::internal(t, other),
        }
    }
    pub fn internal(t: Tr, cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "console request failed");
        Self::new(t, StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let t = self.t;
        let code = self.status.as_u16();
        let key = match code {
            400 | 403 | 404 | 429 => code.to_string(),
            _ => "500".into(),
        };
        let page = ErrorPage {
            c: Chrome::public(t, t.get(&format!("error-{key}-title")), ""),
            t,
            code,
            heading: t.get(&format!("error-{key}-title")),
            message: t.get(&format!("error-{key}-message")),
            detail: self.detail,
        };
        render(self.status, &page)
    }
}

/// Turn a storage or API error into an error page.
pub trait OrFail<T> {
    fn or_fail(self, t: Tr) -> Result<T, Failure>;
}

impl<T> OrFail<T> for Result<T, StoreError> {
    fn or_fail(self, t: Tr) -> Result<T, Failure> {
        self.map_err(|e| match e {
            StoreError::NotFound => Failure::not_found(t),
            other => Failure::internal(t, other),
        })
    }
}

impl<T> OrFail<T> for Result<T, ApiError> {
    fn or_fail(self, t: Tr) -> Result<T, Failure> {
        self.map_err(|e| Failure::from_api(t, e))
    }
}

/// The result of a console handler.
pub type PageResult = Result<Response, Failure>;

/// A signed-in console user. Visitors without a session are sent to the login page,
/// which returns them here afterwards.
pub struct Signed {
    pub t: Tr,
    pub user: User,
    pub csrf: String,
    /// Current path and query (for the language switch and active navigation).
    pub path: String,
}

impl Signed {
    pub fn chrome(&self, title: String) -> Chrome {
        Chrome::console(self.t, title, &self.user, &self.csrf, &self.path)
    }
    /// Refuse a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, submitted: Option<&String>) -> Result<(), Failure> {
        let ok = submitted.is_some_and(|s| {
            let (a, b) = (self.csrf.as_bytes(), s.as_bytes());
            !a.is_empty() && a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
        });
        if ok { Ok(()) } else { Err(Failure::bad_csrf(self.t)) }
    }
    pub fn role(&self) -> Role {
        self.user.role
    }
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let t = Tr::from_request_parts(parts, state).await.unwrap_or_default();
        let path = parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/console".into());
        let session = match cookie(parts, SESSION_COOKIE) {
            Some(secret) => state.store.session(secret).await.map_err(|e| Failure::internal(t, e).into_response())?,
            None => None,
        };
        match session {
            Some(s) if s.user.active => Ok(Signed { t, user: s.user, csrf: s.csrf_token, path }),
            _ => {
                let next = if parts.method == axum::http::Method::GET { path.as_str() } else { "/console" };
                Err(Redirect::to(&links::with_query("/console/login", &[("next", links::safe_back(next))]))
                    .into_response())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;
    use qgov_domain::registers::{EntityStatus, EntityType, Industry, LocationKind};

    /// Keys the console builds at run time (`field-<column>`, vocabulary labels, error
    /// codes …) must exist in both catalogues, or the page would show the bare key.
    #[test]
    fn generated_message_keys_exist_in_both_languages() {
        let mut keys: Vec<String> = vec![];
        for kind in RegisterKind::ALL {
            let slug = kind.slug();
            keys.extend(["nav", "new", "edit", "import"].iter().map(|p| format!("{p}-{slug}")));
            keys.extend(["create", "update"].iter().map(|a| format!("action-{slug}-{a}")));
            keys.extend(
                kind.columns().iter().chain(kind.filterable()).chain(kind.sortable()).map(|c| format!("field-{c}")),
            );
        }
        keys.extend(Industry::ALL.iter().map(|v| format!("industry-{}", v.key())));
        keys.extend(EntityType::ALL.iter().map(|v| format!("entity_type-{}", v.key())));
        keys.extend(EntityStatus::ALL.iter().map(|v| format!("status-{}", v.key())));
        keys.extend(LocationKind::ALL.iter().map(|v| format!("kind-{}", v.key())));
        keys.extend(Role::ALL.iter().map(|r| format!("role-{r}")));
        for code in [
            "required",
            "too-long",
            "unknown-value",
            "id-length",
            "id-charset",
            "id-division",
            "id-org-check",
            "id-check",
            "invalid-id",
            "unknown-entity",
            "unknown-department",
            "bad-code",
            "duplicate-in-file",
            "exists",
            "unknown-field",
            "wrong-type",
            "too-short",
        ] {
            keys.push(format!("err-{code}"));
        }
        for status in ["400", "403", "404", "429", "500"] {
            keys.push(format!("error-{status}-title"));
            keys.push(format!("error-{status}-message"));
        }
        for lang in [Lang::Zh, Lang::En] {
            let t = Tr::new(lang);
            let missing: Vec<&String> = keys.iter().filter(|k| t.get(k) == **k).collect();
            assert!(missing.is_empty(), "{lang:?} lacks {missing:?}");
        }
    }

    #[test]
    fn the_language_switch_points_back_here() {
        assert_eq!(lang_href(Tr::new(Lang::Zh), "/registry?q=a b"), "/lang?set=en&back=%2F");
        assert_eq!(lang_href(Tr::new(Lang::En), "/registry?q=a"), "/lang?set=zh&back=%2Fregistry%3Fq%3Da");
    }
}
