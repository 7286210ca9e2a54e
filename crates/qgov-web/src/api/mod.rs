//! The JSON API under `/api/v1`, documented by an OpenAPI 3 document generated from
//! these handlers (`/api/v1/openapi.json`, browsable at `/api/v1/docs`).

pub mod accounts;
mod body;
pub mod registers;
pub mod sampling;
pub mod trace;

use crate::AppState;
use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use std::sync::{Arc, LazyLock};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use body::fields_from_json;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "qgov API",
        description = "Quality-governance platform of a district market regulator: registers, accounts and audit trail. \
                       Errors are RFC 9457 problem details (application/problem+json).",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerAuth),
    components(schemas(crate::problem::Problem, crate::problem::ProblemField)),
    tags(
        (name = "registers", description = "Market entities, products, locations, departments, inspectors"),
        (name = "accounts", description = "The calling account and its API tokens; user administration"),
        (name = "audit", description = "The tamper-evident audit trail"),
        (name = "trace", description = "Traceability over EPCIS events: backward and forward traces, recall scope, FSMA 204-style export, sharing a scope with an enterprise"),
        (name = "sampling", description = "Supervision sampling: check-item list, plans, tasks, verifiable double-random draws, samples, statutory workflow, rectification, publication")
    )
)]
struct ApiDoc;

struct BearerAuth;
impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

fn openapi_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(accounts::me))
        .routes(routes!(accounts::list_tokens, accounts::create_token))
        .routes(routes!(accounts::revoke_token))
        .routes(routes!(accounts::list_users, accounts::create_user))
        .routes(routes!(accounts::patch_user))
        .routes(routes!(accounts::audit_list))
        .routes(routes!(accounts::audit_verify))
        .routes(routes!(registers::enterprises::list, registers::enterprises::create))
        .routes(routes!(registers::enterprises::get_one, registers::enterprises::patch))
        .routes(routes!(registers::enterprises::import))
        .routes(routes!(registers::enterprises::export))
        .routes(routes!(registers::products::list, registers::products::create))
        .routes(routes!(registers::products::get_one, registers::products::patch))
        .routes(routes!(registers::products::import))
        .routes(routes!(registers::products::export))
        .routes(routes!(registers::locations::list, registers::locations::create))
        .routes(routes!(registers::locations::get_one, registers::locations::patch))
        .routes(routes!(registers::locations::import))
        .routes(routes!(registers::locations::export))
        .routes(routes!(registers::departments::list, registers::departments::create))
        .routes(routes!(registers::departments::get_one, registers::departments::patch))
        .routes(routes!(registers::departments::import))
        .routes(routes!(registers::departments::export))
        .routes(routes!(registers::inspectors::list, registers::inspectors::create))
        .routes(routes!(registers::inspectors::get_one, registers::inspectors::patch))
        .routes(routes!(registers::inspectors::import))
        .routes(routes!(registers::inspectors::export))
        .routes(routes!(sampling::list_check_items, sampling::create_check_item))
        .routes(routes!(sampling::get_check_item, sampling::patch_check_item))
        .routes(routes!(sampling::set_credit_class))
        .routes(routes!(sampling::declare_conflict))
        .routes(routes!(sampling::list_plans, sampling::create_plan))
        .routes(routes!(sampling::get_plan))
        .routes(routes!(sampling::list_tasks, sampling::create_task))
        .routes(routes!(sampling::get_task))
        .routes(routes!(sampling::draw_commit))
        .routes(routes!(sampling::draw_reveal))
        .routes(routes!(sampling::get_draw))
        .routes(routes!(sampling::list_limits))
        .routes(routes!(sampling::import_limits))
        .routes(routes!(sampling::list_samples, sampling::create_sample))
        .routes(routes!(sampling::get_sample))
        .routes(routes!(sampling::record_results))
        .routes(routes!(sampling::sample_event))
        .routes(routes!(sampling::submit_evidence))
        .routes(routes!(sampling::publish))
        .routes(routes!(sampling::overdue))
        .routes(routes!(sampling::figures))
        .routes(routes!(sampling::rules))
        .routes(routes!(sampling::public_results))
        .routes(routes!(trace::trace))
        .routes(routes!(trace::scope))
        .routes(routes!(trace::export))
        .routes(routes!(trace::export_scope))
        .routes(routes!(trace::share, trace::shares))
}

static OPENAPI: LazyLock<Arc<utoipa::openapi::OpenApi>> =
    LazyLock::new(|| Arc::new(openapi_router().split_for_parts().1));

/// The generated OpenAPI document.
pub fn openapi() -> Arc<utoipa::openapi::OpenApi> {
    OPENAPI.clone()
}

pub fn router() -> Router<AppState> {
    let (router, _) = openapi_router().split_for_parts();
    router.route("/api/v1/openapi.json", get(|| async { axum::Json(openapi()).into_response() }))
}
