//! qgov's HTTP layer: the JSON API under `/api/v1` (with its OpenAPI document), the
//! console under `/console` and the public portal at `/`.
//!
//! Thin shell: handlers parse requests, check who is calling, call the [`Store`] and
//! render JSON or HTML. Rules live in `qgov-domain`, SQL in `qgov-store`.

pub mod api;
pub mod auth;
pub mod console;
pub mod epcis;
pub mod i18n;
pub mod problem;
pub mod tabular;
pub mod trace;

use auth::LoginThrottle;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use qgov_store::Store;
use std::net::SocketAddr;
use std::sync::Arc;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// Largest accepted request body (imports included).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Largest accepted JSON body of an ordinary API call.
pub const MAX_JSON_BYTES: usize = 1024 * 1024;

/// Server settings.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Mark cookies `Secure` (set when qgov is served over HTTPS, directly or behind a proxy).
    pub secure_cookies: bool,
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub throttle: Arc<LoginThrottle>,
    /// The trace index, rebuilt from the database at start and caught up per request.
    pub trace: Arc<trace::TraceState>,
    /// The registers that label traces, reloaded when a register changed.
    pub registers: Arc<trace::RegistersCache>,
}

/// The whole application as an axum router.
pub fn router(store: Store, config: Config) -> Router {
    router_with_trace(store, config, Arc::default())
}

/// The application over an existing trace index (a server's, or a benchmark's that built it).
pub fn router_with_trace(store: Store, config: Config, trace: Arc<trace::TraceState>) -> Router {
    router_with(store, config, trace, Arc::default())
}

fn router_with(
    store: Store,
    config: Config,
    trace: Arc<trace::TraceState>,
    registers: Arc<trace::RegistersCache>,
) -> Router {
    let state =
        AppState { store, config: Arc::new(config), throttle: Arc::new(LoginThrottle::default()), trace, registers };
    let x_request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(api::router())
        .merge(epcis::router())
        .merge(console::router())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(axum::extract::State(s): axum::extract::State<AppState>) -> impl IntoResponse {
    match s.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "database not reachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}

async fn not_found(uri: axum::http::Uri, tr: i18n::Tr) -> axum::response::Response {
    if uri.path().starts_with("/api/") {
        problem::ApiError::NotFound.into_response()
    } else {
        console::not_found_page(tr).into_response()
    }
}

/// A server bound to its address (port 0 picks a free port), ready to run.
pub struct Application {
    listener: tokio::net::TcpListener,
    router: Router,
    store: Store,
}

impl Application {
    pub async fn bind(addr: &str, store: Store, config: Config) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        // Build the trace index before serving, so the first trace is as fast as the rest
        // (the build time is logged); requests catch it up with later captures.
        let trace = Arc::<trace::TraceState>::default();
        trace.refresh(&store).await.map_err(|e| std::io::Error::other(e.to_string()))?;
        // Likewise the registers that label traces.
        let registers = Arc::<trace::RegistersCache>::default();
        registers.current(&store).await.map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(Self { listener, router: router_with(store.clone(), config, trace, registers), store })
    }
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }
    /// Serve until `shutdown` completes; in-flight requests are finished first. Scheduled
    /// EPCIS subscriptions run for as long as the server does.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let _scheduler = epcis::schedule::spawn_scheduler(self.store);
        axum::serve(self.listener, self.router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await
    }
}
