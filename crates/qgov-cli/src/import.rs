//! `qgov import REGISTER FILE`: the same parse and all-or-nothing import as the API,
//! with a progress bar for large files.

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use qgov_store::{Actor, ImportMode, Register, RegisterKind, Store};
use qgov_web::tabular::{self, Format};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// enterprises, products, locations, departments or inspectors; or `epcis` for EPCIS
    /// documents (JSON-LD or XML).
    register: String,
    /// A .csv or .xlsx file whose first row names the columns (registers), or one or more
    /// EPCIS documents (epcis).
    #[arg(required = true, num_args = 1..)]
    files: Vec<PathBuf>,
    /// Store the good rows and report the bad ones (default: refuse the whole file).
    #[arg(long)]
    skip_invalid: bool,
    /// EPCIS only: a large backlog. The query indexes are set aside while the files are
    /// captured and rebuilt once at the end (queries meanwhile are correct but slow).
    #[arg(long)]
    bulk: bool,
    #[arg(long, env = "QGOV_DATABASE_URL", default_value = crate::DEFAULT_DATABASE_URL)]
    database_url: String,
}

pub async fn run(a: ImportArgs) -> Result<ExitCode> {
    if a.register == "epcis" {
        let store = crate::open(&a.database_url).await?;
        return crate::epcis_cmds::import(&store, &a.files, a.bulk).await;
    }
    if a.bulk {
        bail!("--bulk is for `qgov import epcis`; register imports are one transaction already");
    }
    let [file] = a.files.as_slice() else { bail!("give exactly one file to import into a register") };
    let Some(kind) = RegisterKind::from_slug(&a.register) else {
        bail!(
            "unknown register {:?}: expected enterprises, products, locations, departments, inspectors or epcis",
            a.register
        );
    };
    let name = file.display().to_string();
    let format =
        Format::from_file_name(&name).with_context(|| format!("{name}: the file must end in .csv or .xlsx"))?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {name}"))?;
    let store = crate::open(&a.database_url).await?;
    let mode = if a.skip_invalid { ImportMode::SkipInvalid } else { ImportMode::AllOrNothing };
    match kind {
        RegisterKind::Enterprises => import::<qgov_store::MarketEntity>(&store, &name, format, &bytes, mode).await,
        RegisterKind::Products => import::<qgov_store::Product>(&store, &name, format, &bytes, mode).await,
        RegisterKind::Locations => import::<qgov_store::Location>(&store, &name, format, &bytes, mode).await,
        RegisterKind::Departments => import::<qgov_store::Department>(&store, &name, format, &bytes, mode).await,
        RegisterKind::Inspectors => import::<qgov_store::Inspector>(&store, &name, format, &bytes, mode).await,
    }
}

async fn import<R: Register>(
    store: &Store,
    name: &str,
    format: Format,
    bytes: &[u8],
    mode: ImportMode,
) -> Result<ExitCode> {
    let rows = tabular::read(format, bytes, R::KIND.columns()).with_context(|| name.to_owned())?;
    let bar = ProgressBar::new(rows.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} rows")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(format!("importing {name}"));
    let parsed = rows.iter().map(|r| (r.number, R::parse_draft(&|k: &str| r.get(k)))).collect();
    let progress = |n: usize| bar.set_position(n as u64);
    let outcome = store.import::<R>(&Actor::system(), parsed, mode, &progress).await?;
    bar.finish_and_clear();
    match outcome {
        Ok(report) => {
            println!("{name}: imported {} {}", report.inserted, R::KIND.slug());
            for e in &report.skipped {
                eprintln!("{name}: row {}, column {}: {} (skipped)", e.row, e.column, e.reason);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("{name}: row {}, column {}: {}", e.row, e.column, e.reason);
            }
            eprintln!("{name}: refused, {} problem(s); nothing was stored", errors.len());
            Ok(ExitCode::FAILURE)
        }
    }
}
