//! The console (`/console`, signed-in staff and enterprises) and the public portal (`/`).

use crate::AppState;
use crate::i18n::Tr;
use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;

pub fn router() -> Router<AppState> {
    Router::new()
}

pub fn not_found_page(tr: Tr) -> impl IntoResponse {
    (StatusCode::NOT_FOUND, tr.get("app-name"))
}
