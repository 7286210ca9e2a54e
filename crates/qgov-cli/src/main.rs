//! The `qgov` command: serve the platform, seed and serve a demo district, migrate,
//! manage accounts and tokens, verify the audit trail, import registers, and the
//! sampling tools (draws, GB/T 2828.1 plans, the working-day calendar).
//!
//! Settings come from defaults, then `QGOV_…` environment variables, then flags; this
//! file is the one place that reads them.

mod demo;
mod epcis_cmds;
mod import;
mod sampling_cmds;
mod trace_cmds;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use qgov_domain::Role;
use qgov_store::{Actor, NewUser, Store};
use std::io::Read;
use std::process::ExitCode;

/// mimalloc rather than glibc's allocator: a farm lot's trace or recall answer allocates and
/// frees tens of thousands of small blocks beside a few large ones, and glibc spent about a
/// fifth of such a request in `malloc`, `free` and `malloc_consolidate` (perf, 1 M events).
/// Built without its transparent-huge-page advice (feature `no_thp`): a capture document
/// builds and drops rows by the megabyte, and every fresh 2 MiB huge page the kernel had to
/// zero cost about a tenth of a capture's CPU time (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Default embedded database of `qgov serve`.
const DEFAULT_DATABASE_URL: &str = "sqlite://qgov-data/qgov.db";
/// Embedded database of `qgov demo`.
const DEMO_DATABASE_URL: &str = "sqlite://qgov-demo/qgov.db";

#[derive(Parser, Debug)]
#[command(name = "qgov", version, about = "qgov — quality governance for a district market regulator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Debug, Clone)]
struct DbArgs {
    /// Database: sqlite://PATH (embedded, default) or postgres://USER@HOST/DB.
    #[arg(long, env = "QGOV_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    database_url: String,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the portal, console and API.
    Serve {
        #[command(flatten)]
        db: DbArgs,
        /// Address to listen on (port 0 picks a free port).
        #[arg(long, env = "QGOV_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Mark cookies Secure (when served over HTTPS, directly or behind a proxy).
        #[arg(long, env = "QGOV_SECURE_COOKIES")]
        secure_cookies: bool,
    },
    /// Create or reuse a demo district under ./qgov-demo/, then serve it.
    Demo {
        /// Address to listen on.
        #[arg(long, env = "QGOV_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Database to seed (default: the embedded ./qgov-demo/qgov.db).
        #[arg(long, default_value = DEMO_DATABASE_URL)]
        database_url: String,
        /// Seed and exit without serving.
        #[arg(long)]
        no_serve: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        cmd: UserCmd,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        cmd: TokenCmd,
    },
    /// The tamper-evident audit trail.
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
    },
    /// Import a register from CSV or XLSX (all-or-nothing unless --skip-invalid), or capture
    /// EPCIS documents (`qgov import epcis FILE…`).
    Import(import::ImportArgs),
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        cmd: BenchCmd,
    },
    #[command(flatten)]
    Sampling(sampling_cmds::SamplingCommands),
}

#[derive(Subcommand, Debug)]
enum BenchCmd {
    /// EPCIS capture throughput and query latency on the embedded SQLite, with a naive
    /// row-per-event baseline.
    Capture(epcis_cmds::BenchCaptureArgs),
    /// Trace index: a generated food chain captured into the database, the index rebuilt from
    /// it, trace and recall-scope latencies against a recursive SQL query on the same data.
    Trace(trace_cmds::BenchTraceArgs),
}

#[derive(Subcommand, Debug)]
enum UserCmd {
    /// Create an account; the password is read from standard input.
    Create {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        username: String,
        /// admin, regulator, inspector or enterprise.
        #[arg(long)]
        role: String,
        /// Credit code of the market entity (enterprise accounts).
        #[arg(long)]
        enterprise: Option<String>,
        /// Department code (regulators, inspectors), e.g. amr.
        #[arg(long)]
        department: Option<String>,
        /// Read the password from standard input (required: never from the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Subcommand, Debug)]
enum TokenCmd {
    /// Create a bearer token for a user; the token is printed alone on the last line.
    Create {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        username: String,
        /// A name to recognise the token by.
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCmd {
    /// Walk the hash chain; exit 0 with the record count when intact, 1 naming the
    /// first broken record otherwise.
    Verify {
        #[command(flatten)]
        db: DbArgs,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Sampling(cmd) = cli.command {
        return report(sampling_cmds::run(cmd).map(|_| ExitCode::SUCCESS));
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    report(rt.block_on(run(cli.command)))
}

fn report(r: Result<ExitCode>) -> ExitCode {
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn open(url: &str) -> Result<Store> {
    Store::connect(url).await.with_context(|| format!("cannot open the database {url}"))
}

async fn run(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Serve { db, listen, secure_cookies } => {
            let store = open(&db.database_url).await?;
            serve(store, &listen, qgov_web::Config { secure_cookies }).await?;
        }
        Command::Demo { listen, database_url, no_serve } => {
            let store = open(&database_url).await?;
            let demo = demo::seed(&store).await?;
            println!("qgov demo district: {database_url}");
            println!("demo accounts (username / password / role):");
            for (user, pass, role) in &demo.accounts {
                println!("  {user:<12} {pass:<20} {role}");
            }
            if let Some(lot) = &demo.trace_root {
                println!(
                    "try a trace (signed in): {}",
                    qgov_web::console::links::with_query("/console/trace", &[("id", lot)])
                );
            }
            if !no_serve {
                serve(store, &listen, qgov_web::Config::default()).await?;
            }
        }
        Command::Migrate { db } => {
            let store = Store::connect_without_migrating(&db.database_url).await?;
            store.migrate().await?;
            println!("migrations applied to {}", db.database_url);
        }
        Command::User { cmd: UserCmd::Create { db, username, role, enterprise, department, password_stdin: _ } } => {
            let role: Role = role.parse()?;
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password).context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\n', '\r']).to_owned();
            let store = open(&db.database_url).await?;
            let entity_id = match &enterprise {
                Some(code) => Some(
                    store
                        .entity_by_uscc(&code.trim().to_ascii_uppercase())
                        .await
                        .with_context(|| format!("--enterprise {code}: no such market entity in the register"))?
                        .id,
                ),
                None => None,
            };
            let department_id = match &department {
                Some(code) => Some(
                    store
                        .department_by_code(code)
                        .await
                        .with_context(|| format!("--department {code}: no such department"))?
                        .id,
                ),
                None => None,
            };
            if role == Role::Enterprise && entity_id.is_none() {
                bail!("an enterprise account needs --enterprise CREDIT_CODE");
            }
            let user = store
                .create_user(&Actor::system(), &NewUser { username, password, role, department_id, entity_id })
                .await
                .map_err(store_error)?;
            println!("created user {} (id {}, role {})", user.username, user.id, user.role);
        }
        Command::Token { cmd: TokenCmd::Create { db, username, name } } => {
            let store = open(&db.database_url).await?;
            let user =
                store.user_by_username(&username).await.with_context(|| format!("no user named {username:?}"))?;
            let (token, secret) = store.create_token(&Actor::system(), user.id, &name).await?;
            println!("token {} ({}) for {} — shown once, store it now:", token.id, token.name, user.username);
            println!("{secret}");
        }
        Command::Audit { cmd: AuditCmd::Verify { db } } => {
            let store = open(&db.database_url).await?;
            match store.audit_verify().await? {
                Ok(v) => {
                    println!("audit chain intact: {} records, head {}", v.count, v.head_hash);
                }
                Err(broken) => {
                    eprintln!("audit chain BROKEN: {broken}");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Command::Import(args) => return import::run(args).await,
        Command::Bench { cmd: BenchCmd::Capture(args) } => return epcis_cmds::bench_capture(args).await,
        Command::Bench { cmd: BenchCmd::Trace(args) } => return trace_cmds::bench_trace(args).await,
        Command::Sampling(_) => unreachable!("handled before the runtime starts"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Turn validation errors into a readable message.
fn store_error(e: qgov_store::StoreError) -> anyhow::Error {
    match e {
        qgov_store::StoreError::Invalid(fe) => anyhow::anyhow!("invalid input: {fe}"),
        other => other.into(),
    }
}

async fn serve(store: Store, listen: &str, config: qgov_web::Config) -> Result<()> {
    let app = qgov_web::Application::bind(listen, store.clone(), config)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    println!("listening on http://{}", app.local_addr());
    // A large SQLite store reads its EPCIS place index in the background, not in the first query.
    let warm = store.clone();
    tokio::spawn(async move {
        if let Err(e) = warm.epcis_warm().await {
            tracing::warn!(error = %e, "EPCIS place index could not be read at start");
        }
    });
    use std::io::Write;
    std::io::stdout().flush().ok();
    app.run(shutdown_signal()).await?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}
