//! The console dashboard: record counts of the registers the user may read, the
//! latest audit records for staff who may read the trail, and an enterprise's own card.

use super::registers::read_scope;
use super::{Chrome, OrFail, PageResult, Signed, render};
use crate::AppState;
use crate::i18n::Tr;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use qgov_domain::Role;
use qgov_store::{Department, Inspector, ListQuery, Location, MarketEntity, Product, Register, RegisterKind};

pub fn router() -> Router<AppState> {
    Router::new().route("/console", get(dashboard)).route("/console/", get(dashboard))
}

/// One tile: register name, count and link.
struct Tile {
    label: String,
    count: i64,
    href: String,
}

/// A recent audit record.
pub struct AuditLine {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
}

impl AuditLine {
    pub fn new(t: Tr, r: qgov_domain::audit::AuditRecord) -> Self {
        Self {
            seq: r.seq,
            at: r.at.get(..19).unwrap_or(&r.at).replace('T', " "),
            actor: r.actor,
            action: t.value("action", &r.action.replace('.', "-")),
            target: format!("{} {}", r.target_type, r.target_id),
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    c: Chrome,
    t: Tr,
    welcome: String,
    tiles: Vec<Tile>,
    own: Option<MarketEntity>,
    lines: Vec<AuditLine>,
    show_audit: bool,
}

async fn count<R: Register>(s: &AppState, owner: Option<i64>) -> qgov_store::Result<i64> {
    Ok(s.store.list::<R>(&ListQuery { per_page: 1, owner_entity_id: owner, ..Default::default() }).await?.total)
}

async fn dashboard(State(s): State<AppState>, who: Signed) -> PageResult {
    let t = who.t;
    let mut tiles = vec![];
    for kind in RegisterKind::ALL {
        let Some(owner) = read_scope(&who.user, kind) else { continue };
        let n = match kind {
            RegisterKind::Enterprises => count::<MarketEntity>(&s, owner).await,
            RegisterKind::Products => count::<Product>(&s, owner).await,
            RegisterKind::Locations => count::<Location>(&s, owner).await,
            RegisterKind::Departments => count::<Department>(&s, owner).await,
            RegisterKind::Inspectors => count::<Inspector>(&s, owner).await,
        }
        .or_fail(t)?;
        tiles.push(Tile {
            label: t.get(&format!("nav-{}", kind.slug())),
            count: n,
            href: format!("/console/{}", kind.slug()),
        });
    }
    let own = match (who.role(), who.user.entity_id) {
        (Role::Enterprise, Some(id)) => Some(s.store.entity(id).await.or_fail(t)?),
        _ => None,
    };
    let show_audit = who.role().can_read_audit();
    let lines = if show_audit {
        s.store.audit_recent(10, 0).await.or_fail(t)?.into_iter().map(|r| AuditLine::new(t, r)).collect()
    } else {
        vec![]
    };
    let page = Dashboard {
        c: who.chrome(t.get("nav-dashboard")),
        t,
        welcome: t.arg("dashboard-welcome", "name", &who.user.username),
        tiles,
        own,
        lines,
        show_audit,
    };
    Ok(render(StatusCode::OK, &page))
}
