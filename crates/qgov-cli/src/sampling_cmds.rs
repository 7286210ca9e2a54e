//! `qgov draw`, `qgov sampling` and `qgov calendar`: thin shells over `qgov-sampling`.
//!
//! Each command's work is a plain function (CSV in, values out) so it can be tested without a
//! process; `run` only reads files and prints.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use qgov_sampling::calendar::{Coverage, WorkCalendar, parse_date};
use qgov_sampling::draw::{self, Assignment, CreditRiskClass, DrawInput, DrawOutcome, Inspector, Mode, Target};
use qgov_sampling::gbt2828::{self, Aql, InspectionLevel, InspectionState, LotOutcome, Plan, Severity};

/// Sampling-related commands, flattened into the top-level `qgov` command.
#[derive(clap::Subcommand, Debug)]
pub enum SamplingCommands {
    /// Double-random draw of targets and inspectors (双随机抽取), or `verify` / `commit`.
    Draw(Box<DrawArgs>),
    /// GB/T 2828.1 sampling plans and switching rules.
    Sampling {
        #[command(subcommand)]
        cmd: PlanCmd,
    },
    /// The Chinese working-day calendar.
    Calendar {
        #[command(subcommand)]
        cmd: CalendarCmd,
    },
}

/// `qgov draw [FLAGS] | qgov draw verify … | qgov draw commit …`
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct DrawArgs {
    #[command(subcommand)]
    cmd: Option<DrawSub>,
    #[command(flatten)]
    inputs: DrawInputArgs,
    /// Print the result as JSON: [{"target": ID, "inspectors": [ID, …]}, …].
    #[arg(long)]
    json: bool,
}

#[derive(clap::Subcommand, Debug)]
enum DrawSub {
    /// Recompute a published draw from its inputs and revealed seed; fails with the differences.
    Verify(VerifyArgs),
    /// Print the commitment hex(SHA-256(seed)) to publish before the draw.
    Commit {
        /// The seed, as hex (at least 16 random bytes).
        #[arg(long)]
        seed: String,
    },
}

#[derive(clap::Args, Debug)]
struct VerifyArgs {
    #[command(flatten)]
    inputs: DrawInputArgs,
    /// The commitment published before the draw (hex).
    #[arg(long, required = true)]
    commitment: Option<String>,
    /// The published result: a JSON list of {"target", "inspectors"} (or an object with "assignments").
    #[arg(long, required = true)]
    result: Option<PathBuf>,
}

/// Inputs shared by `draw` and `draw verify`. Options are `Option` so that `subcommand_negates_reqs`
/// can lift the requirement when a subcommand is given.
#[derive(clap::Args, Debug)]
struct DrawInputArgs {
    /// Targets CSV with columns id,name,credit_class,grid (optional: specialties, last_inspectors; `;`-separated).
    #[arg(long, required = true)]
    targets: Option<PathBuf>,
    /// Inspectors CSV with columns id,name,unit,conflicts (optional: grid, specialties; `;`-separated).
    #[arg(long, required = true)]
    inspectors: Option<PathBuf>,
    /// The seed, as hex (at least 16 random bytes).
    #[arg(long, required = true)]
    seed: Option<String>,
    #[command(flatten)]
    mode: ModeArgs,
    /// Inspectors per target.
    #[arg(long, default_value_t = draw::DEFAULT_PER_TARGET)]
    per_target: usize,
    /// Never send an inspector to a target in the inspector's own grid (needs a `grid` column).
    #[arg(long)]
    avoid_same_grid: bool,
}

#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
struct ModeArgs {
    /// Draw exactly N targets.
    #[arg(long)]
    count: Option<usize>,
    /// Draw ⌈ratio × class size⌉ per credit class, e.g. A=0.05,B=0.2,C=0.6,D=1.
    #[arg(long)]
    ratio: Option<String>,
}

/// `qgov sampling …`
#[derive(clap::Subcommand, Debug)]
pub enum PlanCmd {
    /// The single sampling plan for a lot (GB/T 2828.1 Tables 1 and 2-A/2-B/2-C).
    Plan {
        /// Lot size N.
        #[arg(long)]
        lot_size: u32,
        /// Inspection level: S-1, S-2, S-3, S-4, I, II, III.
        #[arg(long, default_value = "II")]
        level: String,
        /// AQL, one of the preferred values 0.010 … 1000.
        #[arg(long)]
        aql: String,
        /// normal, tightened or reduced.
        #[arg(long, default_value = "normal")]
        severity: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Apply the switching rules to a sequence of lot outcomes, starting on normal inspection.
    Switch {
        /// Comma-separated outcomes: A (accepted, Ac 0/1), A3 (accepted, Ac ≥ 2, also at one step
        /// tighter AQL), A0 (accepted, Ac ≥ 2, not at tighter AQL), R (not accepted).
        #[arg(long)]
        outcomes: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `qgov calendar …`
#[derive(clap::Subcommand, Debug)]
pub enum CalendarCmd {
    /// The date N working days after DATE (DATE itself not counted).
    AddWorkdays {
        /// Start date, YYYY-MM-DD.
        date: String,
        /// Number of working days.
        days: u32,
        /// Extra year files to load (format of crates/qgov-sampling/data/cn-workdays-YYYY.txt).
        #[arg(long = "year-file")]
        year_files: Vec<PathBuf>,
    },
    /// Whether DATE is a working day.
    IsWorkday {
        /// Date, YYYY-MM-DD.
        date: String,
        /// Extra year files to load.
        #[arg(long = "year-file")]
        year_files: Vec<PathBuf>,
    },
}

/// Runs one of the sampling commands.
pub fn run(cmd: SamplingCommands) -> Result<()> {
    match cmd {
        SamplingCommands::Draw(args) => run_draw(*args),
        SamplingCommands::Sampling { cmd: PlanCmd::Plan { lot_size, level, aql, severity, json } } => {
            let p = sampling_plan(lot_size, &level, &aql, &severity)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&p)?);
            } else {
                println!(
                    "code letter {}: inspect {} item(s){}, accept if ≤ {} nonconforming, reject if ≥ {}",
                    p.code_letter,
                    p.sample_size,
                    if p.hundred_percent { " (100 % inspection)" } else { "" },
                    p.accept,
                    p.reject
                );
            }
            Ok(())
        }
        SamplingCommands::Sampling { cmd: PlanCmd::Switch { outcomes, json } } => {
            let states = switch_states(&outcomes)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&states)?);
            } else {
                for (i, s) in states.iter().enumerate() {
                    println!("lot {}: next {}", i + 1, serde_json::to_value(s)?.as_str().unwrap_or_default());
                }
            }
            Ok(())
        }
        SamplingCommands::Calendar { cmd: CalendarCmd::AddWorkdays { date, days, year_files } } => {
            let cal = calendar_with(&year_files)?;
            let (result, warning) = add_workdays(&cal, &date, days)?;
            if let Some(w) = warning {
                eprintln!("warning: {w}");
            }
            println!("{result}");
            Ok(())
        }
        SamplingCommands::Calendar { cmd: CalendarCmd::IsWorkday { date, year_files } } => {
            let cal = calendar_with(&year_files)?;
            let d = parse_date(&date).map_err(|e| anyhow!(e))?;
            if !cal.has_year(d.year()) {
                eprintln!("warning: no holiday data for {}; assumed Monday–Friday", d.year());
            }
            println!("{}", cal.is_working_day(d));
            Ok(())
        }
    }
}

fn run_draw(args: DrawArgs) -> Result<()> {
    match args.cmd {
        Some(DrawSub::Commit { seed }) => {
            println!("{}", draw::commitment(&parse_seed(&seed)?));
            Ok(())
        }
        Some(DrawSub::Verify(v)) => {
            let (input, seed) = load_inputs(&v.inputs)?;
            let result_path = v.result.context("--result is required")?;
            let text = std::fs::read_to_string(&result_path)
                .with_context(|| format!("cannot read {}", result_path.display()))?;
            let published = parse_published(&text).with_context(|| format!("{}", result_path.display()))?;
            let commitment = v.commitment.context("--commitment is required")?;
            draw::verify(&input, &seed, &commitment, &published)
                .map_err(|m| anyhow!("{m}"))
                .with_context(|| format!("verification of {} failed", result_path.display()))?;
            println!("OK: {} assignments recomputed with {}", published.len(), draw::ALGORITHM);
            Ok(())
        }
        None => {
            let (input, seed) = load_inputs(&args.inputs)?;
            let outcome = run_draw_core(&input, &seed)?;
            eprintln!("algorithm {}; commitment {}", outcome.algorithm, outcome.commitment);
            if args.json {
                println!("{}", serde_json::to_string_pretty(&outcome.assignments)?);
            } else {
                for a in &outcome.assignments {
                    println!("{}\t{}", a.target, a.inspectors.join(", "));
                }
            }
            Ok(())
        }
    }
}

fn open(path: &Path) -> Result<std::fs::File> {
    std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))
}

fn load_inputs(args: &DrawInputArgs) -> Result<(DrawInput, Vec<u8>)> {
    let targets_path = args.targets.as_deref().context("--targets is required")?;
    let inspectors_path = args.inspectors.as_deref().context("--inspectors is required")?;
    let targets = read_targets(open(targets_path)?, &targets_path.display().to_string())?;
    let inspectors = read_inspectors(open(inspectors_path)?, &inspectors_path.display().to_string())?;
    let seed = parse_seed(args.seed.as_deref().context("--seed is required")?)?;
    let mode = parse_mode(args.mode.count, args.mode.ratio.as_deref())?;
    let mut input = DrawInput::new(targets, inspectors, mode);
    input.per_target = args.per_target;
    input.avoid_same_grid = args.avoid_same_grid;
    Ok((input, seed))
}

/// `--count` or `--ratio` into a [`Mode`].
fn parse_mode(count: Option<usize>, ratio: Option<&str>) -> Result<Mode> {
    match (count, ratio) {
        (Some(n), None) => Ok(Mode::Count(n)),
        (None, Some(r)) => Mode::parse_ratios(r).with_context(|| format!("--ratio {r}")),
        _ => bail!("give exactly one of --count N or --ratio A=…,B=…"),
    }
}

/// Hex seed into bytes.
fn parse_seed(hex: &str) -> Result<Vec<u8>> {
    let h = hex.trim();
    let h = h.strip_prefix("0x").unwrap_or(h);
    if h.is_empty() || !h.len().is_multiple_of(2) || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("--seed must be an even number of hex digits, got `{hex}`");
    }
    let bytes: Vec<u8> =
        (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16)).collect::<Result<_, _>>()?;
    if bytes.len() < draw::MIN_SEED_BYTES {
        bail!(
            "--seed has {} bytes; use at least {} random bytes ({} hex digits)",
            bytes.len(),
            draw::MIN_SEED_BYTES,
            2 * draw::MIN_SEED_BYTES
        );
    }
    Ok(bytes)
}

/// A CSV file with named columns; errors name the file, line and column.
struct Csv {
    source: String,
    columns: HashMap<String, usize>,
    records: Vec<(u64, csv::StringRecord)>,
}

impl Csv {
    fn read(reader: impl Read, source: &str, required: &[&str]) -> Result<Csv> {
        let mut r = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(false).from_reader(reader);
        let headers = r.headers().with_context(|| format!("{source}: cannot read the header row"))?.clone();
        let columns: HashMap<String, usize> = headers
            .iter()
            .enumerate()
            .map(|(i, h)| (h.trim_start_matches('\u{feff}').to_ascii_lowercase(), i))
            .collect();
        for c in required {
            if !columns.contains_key(*c) {
                bail!("{source}: missing column `{c}` (header is `{}`)", headers.iter().collect::<Vec<_>>().join(","));
            }
        }
        let mut records = Vec::new();
        for rec in r.records() {
            let rec = rec.map_err(|e| anyhow!("{source}: {e}"))?;
            let line = rec.position().map_or(0, |p| p.line());
            records.push((line, rec));
        }
        Ok(Csv { source: source.to_string(), columns, records })
    }

    fn field<'a>(&self, rec: &'a csv::StringRecord, column: &str) -> &'a str {
        self.columns.get(column).and_then(|i| rec.get(*i)).unwrap_or("")
    }

    fn required<'a>(&self, line: u64, rec: &'a csv::StringRecord, column: &str) -> Result<&'a str> {
        let v = self.field(rec, column);
        if v.is_empty() {
            bail!("{} line {line}, column {column}: value is empty", self.source);
        }
        Ok(v)
    }

    fn list(&self, rec: &csv::StringRecord, column: &str) -> Vec<String> {
        self.field(rec, column).split(';').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
    }
}

/// Reads the targets CSV (`id,name,credit_class,grid[,specialties][,last_inspectors]`).
fn read_targets(reader: impl Read, source: &str) -> Result<Vec<Target>> {
    let csv = Csv::read(reader, source, &["id", "name", "credit_class", "grid"])?;
    csv.records
        .iter()
        .map(|(line, rec)| {
            let class = csv.required(*line, rec, "credit_class")?;
            let credit_class: CreditRiskClass =
                class.parse().map_err(|e| anyhow!("{source} line {line}, column credit_class: {e}"))?;
            Ok(Target {
                id: csv.required(*line, rec, "id")?.to_string(),
                name: csv.field(rec, "name").to_string(),
                credit_class,
                grid: csv.field(rec, "grid").to_string(),
                specialties_needed: csv.list(rec, "specialties"),
                last_inspectors: csv.list(rec, "last_inspectors"),
            })
        })
        .collect()
}

/// Reads the inspectors CSV (`id,name,unit,conflicts[,grid][,specialties]`).
fn read_inspectors(reader: impl Read, source: &str) -> Result<Vec<Inspector>> {
    let csv = Csv::read(reader, source, &["id", "name", "unit", "conflicts"])?;
    csv.records
        .iter()
        .map(|(line, rec)| {
            let grid = csv.field(rec, "grid");
            Ok(Inspector {
                id: csv.required(*line, rec, "id")?.to_string(),
                name: csv.field(rec, "name").to_string(),
                unit: csv.field(rec, "unit").to_string(),
                grid: (!grid.is_empty()).then(|| grid.to_string()),
                specialties: csv.list(rec, "specialties"),
                conflicts: csv.list(rec, "conflicts"),
            })
        })
        .collect()
}

fn run_draw_core(input: &DrawInput, seed: &[u8]) -> Result<DrawOutcome> {
    draw::draw(input, seed).map_err(|e| anyhow!("draw failed: {e}"))
}

/// A published result: either the bare list or an object with `assignments` (and `algorithm`).
fn parse_published(text: &str) -> Result<Vec<Assignment>> {
    let value: serde_json::Value = serde_json::from_str(text).context("not valid JSON")?;
    if let Some(algorithm) = value.get("algorithm").and_then(|a| a.as_str())
        && algorithm != draw::ALGORITHM
    {
        bail!("result was drawn with `{algorithm}`, this program implements `{}`", draw::ALGORITHM);
    }
    let list = value.get("assignments").cloned().unwrap_or(value);
    serde_json::from_value(list).context("expected a list of {\"target\": ID, \"inspectors\": [ID, …]}")
}

/// `qgov sampling plan`.
fn sampling_plan(lot_size: u32, level: &str, aql: &str, severity: &str) -> Result<Plan> {
    let level: InspectionLevel = level.parse().context("--level")?;
    let aql: Aql = aql.parse().context("--aql")?;
    let severity: Severity = severity.parse().context("--severity")?;
    gbt2828::plan(lot_size, level, aql, severity).context("--lot-size")
}

/// `qgov sampling switch`.
fn switch_states(outcomes: &str) -> Result<Vec<InspectionState>> {
    let parsed: Vec<LotOutcome> = outcomes
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .enumerate()
        .map(|(i, s)| s.parse().with_context(|| format!("--outcomes, lot {}", i + 1)))
        .collect::<Result<_>>()?;
    Ok(gbt2828::switch(&parsed))
}

fn calendar_with(year_files: &[PathBuf]) -> Result<WorkCalendar> {
    let mut cal = WorkCalendar::builtin();
    for f in year_files {
        let text = std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        cal.load_year(&text).with_context(|| format!("{}", f.display()))?;
    }
    Ok(cal)
}

/// `qgov calendar add-workdays`: the date and, when a year without data was used, a warning.
fn add_workdays(cal: &WorkCalendar, date: &str, days: u32) -> Result<(String, Option<String>)> {
    let start = parse_date(date).map_err(|e| anyhow!(e))?;
    let (result, coverage) = cal.add_working_days(start, days)?;
    let warning = match coverage {
        Coverage::Complete => None,
        Coverage::Fallback { years } => Some(format!(
            "no official holiday data for {}; Monday–Friday assumed, the date may be wrong",
            years.iter().map(i32::to_string).collect::<Vec<_>>().join(", ")
        )),
    };
    Ok((result.to_string(), warning))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        cmd: SamplingCommands,
    }

    const TARGETS: &str = "id,name,credit_class,grid\nT1,甲公司,A,G1\nT2,乙公司,b,G1\nT3,丙公司,C,G2\nT4,丁公司,D,G2\n";
    const INSPECTORS: &str =
        "id,name,unit,conflicts\nI1,张三,一所,T1;T2\nI2,李四,一所,\nI3,王五,二所,T3\nI4,赵六,二所,\n";
    const SEED: &str = "00112233445566778899aabbccddeeff";

    fn input(mode: Mode) -> DrawInput {
        let t = read_targets(TARGETS.as_bytes(), "targets.csv").unwrap();
        let i = read_inspectors(INSPECTORS.as_bytes(), "inspectors.csv").unwrap();
        DrawInput::new(t, i, mode)
    }

    #[test]
    fn plan_contract_json() {
        let p = sampling_plan(1000, "II", "1.0", "normal").unwrap();
        let json = serde_json::to_value(p).unwrap();
        assert_eq!(json["code_letter"], "J");
        assert_eq!(json["sample_size"], 80);
        assert_eq!(json["accept"], 2);
        assert_eq!(json["reject"], 3);
        let e = sampling_plan(1000, "IV", "1.0", "normal").unwrap_err();
        assert!(format!("{e:#}").contains("--level"), "{e:#}");
        let e = sampling_plan(1000, "II", "1.2", "normal").unwrap_err();
        assert!(format!("{e:#}").contains("1.2"), "{e:#}");
        assert!(sampling_plan(1000, "II", "1.0", "strict").is_err());
    }

    #[test]
    fn switch_contract() {
        let states = switch_states("R,A,A,A,R,A").unwrap();
        assert_eq!(
            serde_json::to_string(&states).unwrap(),
            r#"["normal","normal","normal","normal","tightened","tightened"]"#
        );
        let e = switch_states("A,B").unwrap_err();
        assert!(format!("{e:#}").contains("lot 2"), "{e:#}");
    }

    #[test]
    fn calendar_contract() {
        let cal = WorkCalendar::builtin();
        assert_eq!(add_workdays(&cal, "2025-09-26", 7).unwrap(), ("2025-10-13".to_string(), None));
        let (d, w) = add_workdays(&cal, "2026-12-30", 3).unwrap();
        assert_eq!(d, "2027-01-04");
        assert!(w.unwrap().contains("2027"));
        assert!(add_workdays(&cal, "2025-13-01", 1).is_err());
    }

    #[test]
    fn draw_verify_roundtrip() {
        let seed = parse_seed(SEED).unwrap();
        let input = input(Mode::Count(2));
        let out = run_draw_core(&input, &seed).unwrap();
        let json = serde_json::to_string(&out.assignments).unwrap();
        assert!(json.starts_with(r#"[{"target":"#), "{json}");
        let published = parse_published(&json).unwrap();
        let c = draw::commitment(&seed);
        assert!(draw::verify(&input, &seed, &c, &published).is_ok());
        // The object form with the algorithm is accepted too, a foreign algorithm is refused.
        let obj = serde_json::to_string(&out).unwrap();
        assert_eq!(parse_published(&obj).unwrap(), out.assignments);
        assert!(parse_published(r#"{"algorithm":"other-v9","assignments":[]}"#).is_err());
        // Tampering is reported.
        let mut bad = published.clone();
        bad[0].inspectors = vec!["I9".into(), "I8".into()];
        let e = draw::verify(&input, &seed, &c, &bad).unwrap_err();
        assert!(e.to_string().contains(&bad[0].target));
    }

    #[test]
    fn ratio_mode_and_conflicts_from_csv() {
        let seed = parse_seed(SEED).unwrap();
        let out = run_draw_core(&input(parse_mode(None, Some("A=1,B=1,C=1,D=1")).unwrap()), &seed).unwrap();
        assert_eq!(out.assignments.len(), 4);
        for a in &out.assignments {
            if a.target == "T1" || a.target == "T2" {
                assert!(!a.inspectors.contains(&"I1".to_string()), "I1 declared a conflict with {}", a.target);
            }
            if a.target == "T3" {
                assert!(!a.inspectors.contains(&"I3".to_string()));
            }
        }
    }

    #[test]
    fn bad_input_names_file_row_and_column() {
        let e = read_targets("id,name,credit_class,grid\nT1,x,A,G\nT2,y,E,G\n".as_bytes(), "t.csv").unwrap_err();
        let msg = format!("{e:#}");
        assert!(msg.contains("t.csv line 3, column credit_class"), "{msg}");
        let e = read_targets("id,name,grid\nT1,x,G\n".as_bytes(), "t.csv").unwrap_err();
        assert!(format!("{e:#}").contains("missing column `credit_class`"), "{e:#}");
        let e = read_targets("id,name,credit_class,grid\nT1,x,A\n".as_bytes(), "t.csv").unwrap_err();
        assert!(format!("{e:#}").contains("t.csv"), "{e:#}");
        let e = read_inspectors("id,name,unit,conflicts\n,x,u,\n".as_bytes(), "i.csv").unwrap_err();
        assert!(format!("{e:#}").contains("i.csv line 2, column id"), "{e:#}");
        assert!(parse_seed("xyz").is_err());
        assert!(parse_seed("abc").is_err(), "odd length");
        assert!(format!("{:#}", parse_seed("00ff").unwrap_err()).contains("16"));
        assert!(parse_mode(Some(1), Some("A=1")).is_err());
        assert!(parse_mode(None, Some("E=0.1")).is_err());
    }

    #[test]
    fn clap_shapes() {
        let cli = Cli::try_parse_from([
            "qgov",
            "draw",
            "--targets",
            "t.csv",
            "--inspectors",
            "i.csv",
            "--seed",
            SEED,
            "--count",
            "3",
            "--json",
        ])
        .unwrap();
        assert!(
            matches!(cli.cmd, SamplingCommands::Draw(ref a) if matches!(**a, DrawArgs { cmd: None, json: true, .. }))
        );
        let cli = Cli::try_parse_from(["qgov", "draw", "commit", "--seed", SEED]).unwrap();
        assert!(
            matches!(cli.cmd, SamplingCommands::Draw(ref a) if matches!(**a, DrawArgs { cmd: Some(DrawSub::Commit { .. }), .. }))
        );
        let cli = Cli::try_parse_from([
            "qgov",
            "draw",
            "verify",
            "--targets",
            "t.csv",
            "--inspectors",
            "i.csv",
            "--seed",
            SEED,
            "--ratio",
            "A=0.05,B=0.2,C=0.6,D=1",
            "--commitment",
            "ab",
            "--result",
            "r.json",
        ])
        .unwrap();
        assert!(
            matches!(cli.cmd, SamplingCommands::Draw(ref a) if matches!(**a, DrawArgs { cmd: Some(DrawSub::Verify(_)), .. }))
        );
        // Flags are required without a subcommand, and mode flags are exclusive.
        assert!(Cli::try_parse_from(["qgov", "draw", "--count", "3"]).is_err());
        assert!(
            Cli::try_parse_from([
                "qgov",
                "draw",
                "--targets",
                "t",
                "--inspectors",
                "i",
                "--seed",
                SEED,
                "--count",
                "3",
                "--ratio",
                "A=1"
            ])
            .is_err()
        );
        assert!(Cli::try_parse_from(["qgov", "draw", "verify", "--seed", SEED]).is_err());
        let cli =
            Cli::try_parse_from(["qgov", "sampling", "plan", "--lot-size", "1000", "--aql", "1.0", "--json"]).unwrap();
        assert!(matches!(cli.cmd, SamplingCommands::Sampling { cmd: PlanCmd::Plan { lot_size: 1000, .. } }));
        let cli = Cli::try_parse_from(["qgov", "calendar", "add-workdays", "2025-09-26", "7"]).unwrap();
        assert!(matches!(cli.cmd, SamplingCommands::Calendar { cmd: CalendarCmd::AddWorkdays { days: 7, .. } }));
    }
}
