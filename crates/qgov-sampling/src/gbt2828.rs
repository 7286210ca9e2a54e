//! GB/T 2828.1-2012 single sampling plans and switching rules.
//!
//! GB/T 2828.1-2012 is identical to ISO 2859-1:1999 ("Sampling procedures for inspection by
//! attributes — Part 1"). The tables live in `data/gbt2828-1-table-*.txt` as text grids that can be
//! compared cell by cell with the printed standard: Table 1 (sample-size code letters), Table 2-A
//! (normal), 2-B (tightened) and 2-C (reduced, the 1999 version in which Re = Ac + 1; *not* the
//! ANSI Z1.4 / MIL-STD-105E reduced table with its Ac/Re gap).
//!
//! [`plan`] turns lot size, inspection level, AQL and severity into a [`Plan`]; [`switch`] and
//! [`Switching`] apply the switching rules of clause 9.3 with the switching score of 9.3.3.2.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

const TABLE_1: &str = include_str!("../data/gbt2828-1-table-1.txt");
const TABLE_2A: &str = include_str!("../data/gbt2828-1-table-2a.txt");
const TABLE_2B: &str = include_str!("../data/gbt2828-1-table-2b.txt");
const TABLE_2C: &str = include_str!("../data/gbt2828-1-table-2c.txt");

/// Code letters in table order (I and O are not used by the standard).
const LETTERS: [char; 17] = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'J', 'K', 'L', 'M', 'N', 'P', 'Q', 'R', 'S'];

/// The 26 AQL columns of Tables 2-A/2-B/2-C, in thousandths of a percent (0.010 % = 10).
const AQL_MILLI: [u32; 26] = [
    10, 15, 25, 40, 65, 100, 150, 250, 400, 650, 1_000, 1_500, 2_500, 4_000, 6_500, 10_000, 15_000, 25_000, 40_000,
    65_000, 100_000, 150_000, 250_000, 400_000, 650_000, 1_000_000,
];

/// Errors from plan look-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Lot size must be at least 1.
    #[error("lot size must be at least 1")]
    EmptyLot,
    /// Not one of the inspection levels S-1..S-4, I, II, III.
    #[error("unknown inspection level `{0}` (expected S-1, S-2, S-3, S-4, I, II or III)")]
    UnknownLevel(String),
    /// Not one of the 26 preferred AQL values of the standard.
    #[error("unknown AQL `{0}` (expected one of 0.010, 0.015, 0.025, …, 650, 1000)")]
    UnknownAql(String),
    /// Not normal, tightened or reduced.
    #[error("unknown severity `{0}` (expected normal, tightened or reduced)")]
    UnknownSeverity(String),
    /// Not one of the lot outcomes A, A3, A0, R.
    #[error("unknown lot outcome `{0}` (expected A, A3, A0 or R)")]
    UnknownOutcome(String),
    /// The table has no plan for this combination (cannot happen with the shipped data; tested).
    #[error("no plan in table {table} for code letter {letter} at AQL {aql}")]
    NoPlan {
        /// Table name, e.g. "2-B".
        table: &'static str,
        /// Code letter where the look-up started.
        letter: CodeLetter,
        /// AQL column.
        aql: Aql,
    },
}

/// Inspection level (GB/T 2828.1 §10.1, Table 1): special S-1..S-4 or general I, II, III.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum InspectionLevel {
    /// Special level S-1.
    #[serde(rename = "S-1")]
    S1,
    /// Special level S-2.
    #[serde(rename = "S-2")]
    S2,
    /// Special level S-3.
    #[serde(rename = "S-3")]
    S3,
    /// Special level S-4.
    #[serde(rename = "S-4")]
    S4,
    /// General level I.
    I,
    /// General level II (the default unless otherwise specified, §10.1).
    II,
    /// General level III.
    III,
}

impl InspectionLevel {
    /// All levels in Table 1 column order.
    pub const ALL: [InspectionLevel; 7] = [Self::S1, Self::S2, Self::S3, Self::S4, Self::I, Self::II, Self::III];

    fn column(self) -> usize {
        Self::ALL.iter().position(|l| *l == self).expect("level is in ALL")
    }
}

impl FromStr for InspectionLevel {
    type Err = PlanError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_uppercase().as_str() {
            "S-1" | "S1" => Self::S1,
            "S-2" | "S2" => Self::S2,
            "S-3" | "S3" => Self::S3,
            "S-4" | "S4" => Self::S4,
            "I" | "1" => Self::I,
            "II" | "2" => Self::II,
            "III" | "3" => Self::III,
            _ => return Err(PlanError::UnknownLevel(s.to_string())),
        })
    }
}

/// Inspection severity: which master table applies (§9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Normal inspection, Table 2-A.
    Normal,
    /// Tightened inspection, Table 2-B.
    Tightened,
    /// Reduced inspection, Table 2-C.
    Reduced,
}

impl FromStr for Severity {
    type Err = PlanError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "normal" | "正常" => Self::Normal,
            "tightened" | "加严" => Self::Tightened,
            "reduced" | "放宽" => Self::Reduced,
            _ => return Err(PlanError::UnknownSeverity(s.to_string())),
        })
    }
}

/// A sample-size code letter (A..R, plus S which only tightened inspection uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CodeLetter(u8);

impl CodeLetter {
    /// The letter for a character, if the standard uses it.
    pub fn from_char(c: char) -> Option<Self> {
        LETTERS.iter().position(|l| *l == c.to_ascii_uppercase()).map(|i| CodeLetter(i as u8))
    }

    /// The letter as a character.
    pub fn as_char(self) -> char {
        LETTERS[usize::from(self.0)]
    }

    fn index(self) -> usize {
        usize::from(self.0)
    }
}

impl fmt::Display for CodeLetter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

impl Serialize for CodeLetter {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One of the 26 preferred AQL values (§5.3), from 0.010 to 1000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Aql(u8);

impl Aql {
    /// All AQL columns in table order.
    pub fn all() -> impl Iterator<Item = Aql> {
        (0..AQL_MILLI.len() as u8).map(Aql)
    }

    /// The AQL one step tighter (the column to its left), used by the switching score; `None` for 0.010.
    pub fn one_step_tighter(self) -> Option<Aql> {
        self.0.checked_sub(1).map(Aql)
    }

    /// Value in thousandths of a percent (1.0 % → 1000).
    pub fn milli_percent(self) -> u32 {
        AQL_MILLI[usize::from(self.0)]
    }

    fn column(self) -> usize {
        usize::from(self.0)
    }
}

impl FromStr for Aql {
    type Err = PlanError;
    /// Accepts the decimal forms of the preferred values, e.g. `1`, `1.0`, `0.01`, `0.010`, `6.5`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || PlanError::UnknownAql(s.to_string());
        let t = s.trim();
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(unknown());
        }
        let frac = frac.trim_end_matches('0');
        if frac.len() > 3 || int.len() > 7 {
            return Err(unknown());
        }
        let int: u32 = int.parse().map_err(|_| unknown())?;
        let frac_milli: u32 = format!("{frac:0<3}").parse().map_err(|_| unknown())?;
        let milli = int * 1000 + frac_milli;
        AQL_MILLI.iter().position(|m| *m == milli).map(|i| Aql(i as u8)).ok_or_else(unknown)
    }
}

impl fmt::Display for Aql {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.milli_percent();
        match m {
            m if m < 100 => write!(f, "0.{m:03}"),
            m if m < 1_000 => write!(f, "0.{:02}", m / 10),
            m if m < 10_000 => write!(f, "{}.{}", m / 1000, (m % 1000) / 100),
            m => write!(f, "{}", m / 1000),
        }
    }
}

impl Serialize for Aql {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One cell of a master table, as printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// A plan: acceptance number Ac and rejection number Re.
    Plan {
        /// Acceptance number Ac.
        accept: u32,
        /// Rejection number Re.
        reject: u32,
    },
    /// "↓": use the first plan below the arrow.
    Down,
    /// "↑": use the first plan above the arrow.
    Up,
    /// Blank: the table has no plan here (only row S of Table 2-B).
    Blank,
}

/// A resolved master-table plan (after following arrows), before capping at the lot size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MasterPlan {
    /// Code letter of the row the plan was found in.
    pub letter: CodeLetter,
    /// Sample size n of that row.
    pub sample_size: u32,
    /// Acceptance number Ac.
    pub accept: u32,
    /// Rejection number Re.
    pub reject: u32,
}

/// The plan to use for a lot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Code letter from Table 1, before any arrow is followed.
    pub code_letter: CodeLetter,
    /// Number of items to inspect: n of the plan used, capped at the lot size.
    pub sample_size: u32,
    /// Acceptance number Ac: accept the lot when the sample has at most this many nonconforming items.
    pub accept: u32,
    /// Rejection number Re: reject the lot at this many or more.
    pub reject: u32,
    /// True when n ≥ lot size, so the whole lot is inspected (table footnote: "if sample size equals
    /// or exceeds lot size, carry out 100 % inspection"); Ac/Re still apply to the count found.
    pub hundred_percent: bool,
    /// Code letter of the plan actually used (differs from `code_letter` when an arrow was followed).
    pub plan_letter: CodeLetter,
    /// The master table consulted.
    pub severity: Severity,
    /// AQL column consulted.
    pub aql: Aql,
}

struct MasterTable {
    name: &'static str,
    sizes: Vec<u32>,
    cells: Vec<[Cell; 26]>,
}

/// A Table 1 row: lot size from, to (inclusive; `None` = and over), letter per level column.
type Table1Row = (u32, Option<u32>, [CodeLetter; 7]);

struct Tables {
    table1: Vec<Table1Row>,
    normal: MasterTable,
    tightened: MasterTable,
    reduced: MasterTable,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| Tables {
        table1: parse_table1(TABLE_1).expect("embedded Table 1 is valid"),
        normal: parse_master("2-A", TABLE_2A).expect("embedded Table 2-A is valid"),
        tightened: parse_master("2-B", TABLE_2B).expect("embedded Table 2-B is valid"),
        reduced: parse_master("2-C", TABLE_2C).expect("embedded Table 2-C is valid"),
    })
}

fn data_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

fn parse_table1(text: &str) -> Result<Vec<Table1Row>, String> {
    let mut rows = Vec::new();
    for (line, l) in data_lines(text).skip(1) {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() != 9 {
            return Err(format!("Table 1 line {line}: expected 9 fields"));
        }
        let from: u32 = f[0].parse().map_err(|_| format!("Table 1 line {line}: bad lot size"))?;
        let to = if f[1] == "-" {
            None
        } else {
            Some(f[1].parse::<u32>().map_err(|_| format!("Table 1 line {line}: bad lot size"))?)
        };
        let mut letters = [CodeLetter(0); 7];
        for (k, s) in f[2..].iter().enumerate() {
            let c = s.chars().next().filter(|_| s.len() == 1).ok_or(format!("Table 1 line {line}: bad letter"))?;
            letters[k] = CodeLetter::from_char(c).ok_or(format!("Table 1 line {line}: bad letter {s}"))?;
        }
        rows.push((from, to, letters));
    }
    Ok(rows)
}

fn parse_master(name: &'static str, text: &str) -> Result<MasterTable, String> {
    let mut lines = data_lines(text);
    let (_, header) = lines.next().ok_or("empty table")?;
    let columns: Vec<Aql> = header
        .split_whitespace()
        .skip(2)
        .map(|s| s.parse::<Aql>().map_err(|e| format!("table {name} header: {e}")))
        .collect::<Result<_, _>>()?;
    if columns != Aql::all().collect::<Vec<_>>() {
        return Err(format!("table {name}: header must list the 26 AQL columns in order"));
    }
    let mut sizes = Vec::new();
    let mut cells = Vec::new();
    for (line, l) in lines {
        let f: Vec<&str> = l.split_whitespace().collect();
        let err = |m: &str| format!("table {name} line {line}: {m}");
        if f.len() != 28 {
            return Err(err("expected letter, n and 26 cells"));
        }
        let letter = f[0].chars().next().and_then(CodeLetter::from_char).ok_or_else(|| err("bad letter"))?;
        if letter.index() != sizes.len() {
            return Err(err("code letters must be listed in order from A"));
        }
        sizes.push(f[1].parse().map_err(|_| err("bad sample size"))?);
        let mut row = [Cell::Blank; 26];
        for (k, s) in f[2..].iter().enumerate() {
            row[k] = match *s {
                "↓" => Cell::Down,
                "↑" => Cell::Up,
                "·" => Cell::Blank,
                plan => {
                    let (a, r) = plan.split_once('/').ok_or_else(|| err("bad cell"))?;
                    Cell::Plan {
                        accept: a.parse().map_err(|_| err("bad Ac"))?,
                        reject: r.parse().map_err(|_| err("bad Re"))?,
                    }
                }
            };
        }
        cells.push(row);
    }
    Ok(MasterTable { name, sizes, cells })
}

fn master(severity: Severity) -> &'static MasterTable {
    let t = tables();
    match severity {
        Severity::Normal => &t.normal,
        Severity::Tightened => &t.tightened,
        Severity::Reduced => &t.reduced,
    }
}

/// Table 1: the sample-size code letter for a lot size and inspection level.
/// A lot of 1 item uses the first row (2 to 8); the plan is then 100 % inspection anyway.
pub fn code_letter(lot_size: u32, level: InspectionLevel) -> Result<CodeLetter, PlanError> {
    if lot_size == 0 {
        return Err(PlanError::EmptyLot);
    }
    let rows = &tables().table1;
    let row = rows.iter().find(|(_, to, _)| to.is_none_or(|to| lot_size <= to)).expect("Table 1 ends with an open row");
    Ok(row.2[level.column()])
}

/// The printed cell of a master table, or `None` when the letter has no row in that table.
pub fn cell(severity: Severity, letter: CodeLetter, aql: Aql) -> Option<Cell> {
    master(severity).cells.get(letter.index()).map(|row| row[aql.column()])
}

/// Sample size n of a code letter in a master table (2-C uses smaller sizes than 2-A/2-B).
pub fn table_sample_size(severity: Severity, letter: CodeLetter) -> Option<u32> {
    master(severity).sizes.get(letter.index()).copied()
}

/// Looks up a master-table plan, following arrows: n, Ac and Re all come from the plan the arrow
/// points to (§10.2: "the sample size is given by the new code letter, not the original one").
pub fn master_plan(severity: Severity, letter: CodeLetter, aql: Aql) -> Result<MasterPlan, PlanError> {
    let table = master(severity);
    let no_plan = || PlanError::NoPlan { table: table.name, letter, aql };
    let mut row = letter.index();
    // Each step moves one row; more steps than rows would mean a cycle.
    for _ in 0..=table.cells.len() {
        match table.cells.get(row).map(|r| r[aql.column()]).ok_or_else(no_plan)? {
            Cell::Plan { accept, reject } => {
                return Ok(MasterPlan { letter: CodeLetter(row as u8), sample_size: table.sizes[row], accept, reject });
            }
            Cell::Down => row += 1,
            Cell::Up => row = row.checked_sub(1).ok_or_else(no_plan)?,
            Cell::Blank => return Err(no_plan()),
        }
    }
    Err(no_plan())
}

/// The single sampling plan for a lot: Table 1 letter, then the master table of `severity`.
pub fn plan(lot_size: u32, level: InspectionLevel, aql: Aql, severity: Severity) -> Result<Plan, PlanError> {
    let code_letter = code_letter(lot_size, level)?;
    let m = master_plan(severity, code_letter, aql)?;
    let hundred_percent = m.sample_size >= lot_size;
    Ok(Plan {
        code_letter,
        sample_size: m.sample_size.min(lot_size),
        accept: m.accept,
        reject: m.reject,
        hundred_percent,
        plan_letter: m.letter,
        severity,
        aql,
    })
}

/// The result of inspecting one lot, as the switching rules need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LotOutcome {
    /// Accepted under a plan with Ac 0 or 1.
    A,
    /// Accepted under a plan with Ac ≥ 2, and it would also have been accepted at the AQL one step tighter.
    A3,
    /// Accepted under a plan with Ac ≥ 2, but it would not have been accepted at the AQL one step tighter.
    A0,
    /// Not accepted.
    R,
}

impl LotOutcome {
    /// Classifies a lot from the count of nonconforming items (or nonconformities) found.
    /// `tighter_accept` is Ac of the plan one AQL step tighter for the same sample (§9.3.3.2);
    /// it is only consulted when `accept` ≥ 2.
    pub fn classify(accept: u32, tighter_accept: Option<u32>, found: u32) -> Self {
        if found > accept {
            LotOutcome::R
        } else if accept <= 1 {
            LotOutcome::A
        } else if tighter_accept.is_some_and(|t| found <= t) {
            LotOutcome::A3
        } else {
            LotOutcome::A0
        }
    }

    fn accepted(self) -> bool {
        self != LotOutcome::R
    }
}

impl FromStr for LotOutcome {
    type Err = PlanError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_uppercase().as_str() {
            "A" => Self::A,
            "A3" => Self::A3,
            "A0" => Self::A0,
            "R" => Self::R,
            _ => return Err(PlanError::UnknownOutcome(s.to_string())),
        })
    }
}

/// Inspection state in the switching scheme (§9.3, Figure 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InspectionState {
    /// Normal inspection (the starting state, §9.2).
    Normal,
    /// Tightened inspection.
    Tightened,
    /// Reduced inspection.
    Reduced,
    /// Acceptance inspection discontinued (§9.4) until the supplier has improved quality.
    Discontinued,
}

/// Switching threshold for normal → reduced (§9.3.3.1 a).
pub const SWITCHING_SCORE_LIMIT: u32 = 30;

/// The switching-rule state machine of GB/T 2828.1 §9.3 (ISO 2859-1:1999 9.3).
///
/// Assumptions, documented because the standard leaves them to the responsible authority:
/// the normal → reduced conditions "production at a steady rate" and "reduced inspection considered
/// desirable by the responsible authority" (9.3.3.1 b, c) are taken as met, so a switching score of
/// 30 is enough; "production irregular or delayed" (9.3.4 b, c) is not modelled, so only a
/// non-accepted lot ends reduced inspection. Discontinuation is absorbing here: resuming (on tightened
/// inspection, §9.4) is a decision of the responsible authority — start a new [`Switching::tightened`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switching {
    state: InspectionState,
    score: u32,
    /// Outcomes (accepted?) of up to the last 5 lots on normal inspection since it began.
    normal_recent: VecDeque<bool>,
    /// Consecutive accepted lots on tightened inspection.
    tightened_accepted_run: u32,
    /// Lots not accepted since tightened inspection began.
    tightened_not_accepted: u32,
}

impl Default for Switching {
    fn default() -> Self {
        Self::new()
    }
}

impl Switching {
    /// Starts on normal inspection with switching score 0 (§9.2, 9.3.3.2).
    pub fn new() -> Self {
        Self::in_state(InspectionState::Normal)
    }

    /// Starts on tightened inspection (e.g. resuming after discontinuation, §9.4).
    pub fn tightened() -> Self {
        Self::in_state(InspectionState::Tightened)
    }

    fn in_state(state: InspectionState) -> Self {
        Switching {
            state,
            score: 0,
            normal_recent: VecDeque::with_capacity(5),
            tightened_accepted_run: 0,
            tightened_not_accepted: 0,
        }
    }

    /// The state that applies to the next lot.
    pub fn state(&self) -> InspectionState {
        self.state
    }

    /// The current switching score (only kept on normal inspection).
    pub fn score(&self) -> u32 {
        self.score
    }

    fn enter(&mut self, state: InspectionState) {
        // Every switch starts the counters afresh, including the switching score.
        *self = Self::in_state(state);
    }

    /// Records the outcome of one lot and returns the state for the next lot.
    pub fn record(&mut self, outcome: LotOutcome) -> InspectionState {
        match self.state {
            InspectionState::Normal => {
                if self.normal_recent.len() == 5 {
                    self.normal_recent.pop_front();
                }
                self.normal_recent.push_back(outcome.accepted());
                // 9.3.3.2 a): Ac ≥ 2 → +3 if accepted at one step tighter AQL, else reset;
                // Ac 0 or 1 → +2 if accepted, else reset.
                self.score = match outcome {
                    LotOutcome::A => self.score + 2,
                    LotOutcome::A3 => self.score + 3,
                    LotOutcome::A0 | LotOutcome::R => 0,
                };
                let not_accepted = self.normal_recent.iter().filter(|a| !**a).count();
                if not_accepted >= 2 {
                    // 9.3.1: 2 lots out of 5 or fewer consecutive lots not accepted → tightened.
                    self.enter(InspectionState::Tightened);
                } else if self.score >= SWITCHING_SCORE_LIMIT {
                    // 9.3.3.1: switching score ≥ 30 (steady production and authority approval assumed).
                    self.enter(InspectionState::Reduced);
                }
            }
            InspectionState::Tightened => {
                if outcome.accepted() {
                    self.tightened_accepted_run += 1;
                    if self.tightened_accepted_run >= 5 {
                        // 9.3.2: 5 consecutive lots accepted on tightened inspection → normal.
                        self.enter(InspectionState::Normal);
                    }
                } else {
                    self.tightened_accepted_run = 0;
                    self.tightened_not_accepted += 1;
                    if self.tightened_not_accepted >= 5 {
                        // 9.4: cumulative 5 lots not accepted on tightened inspection → discontinue.
                        self.enter(InspectionState::Discontinued);
                    }
                }
            }
            InspectionState::Reduced => {
                if !outcome.accepted() {
                    // 9.3.4 a): a lot not accepted on reduced inspection → normal.
                    self.enter(InspectionState::Normal);
                }
            }
            InspectionState::Discontinued => {}
        }
        self.state
    }
}

/// Runs the switching rules from normal inspection over a sequence of lot outcomes and returns the
/// state that applies after each lot (i.e. to the following lot).
pub fn switch(outcomes: &[LotOutcome]) -> Vec<InspectionState> {
    let mut s = Switching::new();
    outcomes.iter().map(|o| s.record(*o)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn aql(s: &str) -> Aql {
        s.parse().unwrap()
    }
    fn letter(c: char) -> CodeLetter {
        CodeLetter::from_char(c).unwrap()
    }
    fn mp(sev: Severity, l: char, a: &str) -> (char, u32, u32, u32) {
        let p = master_plan(sev, letter(l), aql(a)).unwrap();
        (p.letter.as_char(), p.sample_size, p.accept, p.reject)
    }

    #[test]
    fn contract_lot_1000_level_ii_aql_1() {
        let p = plan(1000, InspectionLevel::II, aql("1.0"), Severity::Normal).unwrap();
        assert_eq!((p.code_letter.as_char(), p.sample_size, p.accept, p.reject), ('J', 80, 2, 3));
        assert!(!p.hundred_percent);
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.starts_with(r#"{"code_letter":"J","sample_size":80,"accept":2,"reject":3,"#), "{json}");
    }

    #[test]
    fn table_1_cells() {
        use InspectionLevel::*;
        let cases = [
            (2, II, 'A'),
            (8, III, 'B'),
            (9, II, 'B'),
            (15, II, 'B'),
            (16, S3, 'B'),
            (50, S2, 'B'),
            (90, II, 'E'),
            (150, S4, 'D'),
            (280, II, 'G'),
            (281, I, 'F'),
            (500, II, 'H'),
            (501, II, 'J'),
            (1200, III, 'K'),
            (3200, II, 'K'),
            (3201, I, 'J'),
            (10000, S4, 'G'),
            (35000, S4, 'H'),
            (35001, II, 'N'),
            (150000, S1, 'D'),
            (500000, II, 'P'),
            (500001, II, 'Q'),
            (10_000_000, III, 'R'),
            (10_000_000, S3, 'H'),
        ];
        for (lot, level, want) in cases {
            assert_eq!(code_letter(lot, level).unwrap().as_char(), want, "lot {lot} {level:?}");
        }
        assert_eq!(code_letter(0, II), Err(PlanError::EmptyLot));
        assert_eq!(code_letter(1, II).unwrap().as_char(), 'A');
    }

    #[test]
    fn table_2a_cells() {
        use Severity::Normal as N;
        // Direct plans.
        assert_eq!(mp(N, 'A', "6.5"), ('A', 2, 0, 1));
        assert_eq!(mp(N, 'H', "2.5"), ('H', 50, 3, 4));
        assert_eq!(mp(N, 'H', "1.0"), ('H', 50, 1, 2));
        assert_eq!(mp(N, 'J', "0.15"), ('J', 80, 0, 1));
        assert_eq!(mp(N, 'J', "1.5"), ('J', 80, 3, 4));
        assert_eq!(mp(N, 'J', "4.0"), ('J', 80, 7, 8));
        assert_eq!(mp(N, 'K', "10"), ('K', 125, 21, 22));
        assert_eq!(mp(N, 'L', "0.65"), ('L', 200, 3, 4));
        assert_eq!(mp(N, 'Q', "0.010"), ('Q', 1250, 0, 1));
        assert_eq!(mp(N, 'R', "0.025"), ('R', 2000, 1, 2));
        assert_eq!(mp(N, 'R', "0.65"), ('R', 2000, 21, 22));
        assert_eq!(mp(N, 'A', "1000"), ('A', 2, 30, 31));
        assert_eq!(mp(N, 'B', "1000"), ('B', 3, 44, 45));
        assert_eq!(mp(N, 'E', "150"), ('E', 13, 30, 31));
        assert_eq!(mp(N, 'D', "250"), ('D', 8, 30, 31));
        // Arrows: n comes from the plan pointed to.
        assert_eq!(mp(N, 'H', "0.65"), ('J', 80, 1, 2), "↓");
        assert_eq!(mp(N, 'H', "0.40"), ('G', 32, 0, 1), "↑");
        assert_eq!(mp(N, 'A', "0.010"), ('Q', 1250, 0, 1), "long ↓");
        assert_eq!(mp(N, 'A', "10"), ('C', 5, 1, 2), "row A has no plan above");
        assert_eq!(mp(N, 'R', "0.015"), ('P', 800, 0, 1), "row R has no plan below");
        assert_eq!(mp(N, 'L', "10"), ('K', 125, 21, 22));
        assert_eq!(mp(N, 'F', "100"), ('E', 13, 21, 22));
        assert_eq!(mp(N, 'F', "150"), ('E', 13, 30, 31));
        assert_eq!(mp(N, 'C', "1000"), ('B', 3, 44, 45));
        assert_eq!(mp(N, 'K', "0.25"), ('L', 200, 1, 2));
    }

    #[test]
    fn table_2b_cells() {
        use Severity::Tightened as T;
        assert_eq!(mp(T, 'J', "1.0"), ('J', 80, 1, 2));
        assert_eq!(mp(T, 'J', "1.5"), ('J', 80, 2, 3));
        assert_eq!(mp(T, 'J', "4.0"), ('J', 80, 5, 6));
        assert_eq!(mp(T, 'J', "6.5"), ('J', 80, 8, 9));
        assert_eq!(mp(T, 'J', "0.65"), ('K', 125, 1, 2), "↓");
        assert_eq!(mp(T, 'J', "0.40"), ('L', 200, 1, 2), "↓↓");
        assert_eq!(mp(T, 'G', "0.65"), ('G', 32, 0, 1));
        assert_eq!(mp(T, 'A', "10"), ('A', 2, 0, 1));
        assert_eq!(mp(T, 'A', "15"), ('C', 5, 1, 2));
        assert_eq!(mp(T, 'A', "1000"), ('A', 2, 27, 28));
        assert_eq!(mp(T, 'B', "1000"), ('B', 3, 41, 42));
        assert_eq!(mp(T, 'K', "10"), ('K', 125, 18, 19));
        assert_eq!(mp(T, 'L', "10"), ('K', 125, 18, 19), "↑");
        assert_eq!(mp(T, 'R', "0.010"), ('R', 2000, 0, 1));
        assert_eq!(mp(T, 'A', "0.010"), ('R', 2000, 0, 1));
        assert_eq!(mp(T, 'R', "0.015"), ('Q', 1250, 0, 1));
        assert_eq!(mp(T, 'Q', "0.025"), ('S', 3150, 1, 2), "only plan in row S");
        assert_eq!(mp(T, 'R', "0.025"), ('S', 3150, 1, 2));
        assert_eq!(mp(T, 'P', "0.040"), ('R', 2000, 1, 2));
        assert_eq!(cell(T, letter('S'), aql("0.010")), Some(Cell::Blank));
    }

    #[test]
    fn table_2c_cells() {
        use Severity::Reduced as R;
        assert_eq!(table_sample_size(R, letter('K')), Some(50));
        assert_eq!(mp(R, 'J', "1.0"), ('J', 32, 1, 2));
        assert_eq!(mp(R, 'K', "1.0"), ('K', 50, 2, 3));
        assert_eq!(mp(R, 'K', "4.0"), ('K', 50, 6, 7));
        assert_eq!(mp(R, 'K', "6.5"), ('K', 50, 8, 9));
        assert_eq!(mp(R, 'K', "10"), ('K', 50, 10, 11));
        assert_eq!(mp(R, 'K', "0.25"), ('M', 125, 1, 2), "↓↓");
        assert_eq!(mp(R, 'K', "0.15"), ('J', 32, 0, 1), "↑");
        assert_eq!(mp(R, 'A', "10"), ('D', 3, 1, 2));
        assert_eq!(mp(R, 'A', "25"), ('A', 2, 1, 2));
        assert_eq!(mp(R, 'B', "150"), ('B', 2, 7, 8));
        assert_eq!(mp(R, 'C', "150"), ('C', 2, 8, 9));
        assert_eq!(mp(R, 'C', "1000"), ('B', 2, 30, 31));
        assert_eq!(mp(R, 'E', "250"), ('E', 5, 21, 22));
        assert_eq!(mp(R, 'F', "100"), ('E', 5, 10, 11));
        assert_eq!(mp(R, 'Q', "0.025"), ('N', 200, 0, 1), "long ↑: nothing below row Q");
        assert_eq!(mp(R, 'R', "0.040"), ('R', 800, 1, 2));
        assert_eq!(mp(R, 'R', "0.65"), ('R', 800, 10, 11));
    }

    #[test]
    fn every_cell_resolves_with_consecutive_ac_re() {
        for sev in [Severity::Normal, Severity::Tightened, Severity::Reduced] {
            for i in 0..16u8 {
                for a in Aql::all() {
                    let p = master_plan(sev, CodeLetter(i), a).unwrap_or_else(|e| panic!("{sev:?}: {e}"));
                    // Single sampling plans in the 1999 edition always have Re = Ac + 1.
                    assert_eq!(p.reject, p.accept + 1, "{sev:?} {} {a}", CodeLetter(i));
                    // Reduced inspection never inspects more than normal inspection (§9.3.3).
                    if sev == Severity::Reduced {
                        let n = master_plan(Severity::Normal, CodeLetter(i), a).unwrap();
                        assert!(p.sample_size <= n.sample_size);
                    }
                    // Tightened inspection never accepts more for the same sample size.
                    if sev == Severity::Tightened {
                        let n = master_plan(Severity::Normal, CodeLetter(i), a).unwrap();
                        if n.sample_size == p.sample_size {
                            assert!(p.accept <= n.accept, "{} {a}", CodeLetter(i));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn ac_never_decreases_with_looser_aql() {
        for sev in [Severity::Normal, Severity::Tightened, Severity::Reduced] {
            for i in 0..16u8 {
                let mut prev_n_ac: Option<(u32, u32)> = None;
                for a in Aql::all() {
                    let p = master_plan(sev, CodeLetter(i), a).unwrap();
                    if let Some((n, ac)) = prev_n_ac
                        && n == p.sample_size
                    {
                        assert!(p.accept >= ac, "{sev:?} {} {a}", CodeLetter(i));
                    }
                    prev_n_ac = Some((p.sample_size, p.accept));
                }
            }
        }
    }

    #[test]
    fn code_letters_monotone_in_lot_size() {
        let bounds = [2u32, 8, 9, 15, 16, 25, 26, 50, 51, 90, 91, 150, 151, 280, 281, 500, 501, 1200, 1201, 3200];
        for level in InspectionLevel::ALL {
            let mut prev = CodeLetter(0);
            for lot in bounds.iter().copied().chain([3201, 10000, 10001, 35000, 35001, 150000, 500001, u32::MAX]) {
                let l = code_letter(lot, level).unwrap();
                assert!(l >= prev, "{level:?} lot {lot}");
                prev = l;
            }
        }
        // Within a lot-size row, higher levels never give smaller letters.
        for lot in bounds {
            let letters: Vec<_> = InspectionLevel::ALL.iter().map(|l| code_letter(lot, *l).unwrap()).collect();
            assert!(letters[..4].windows(2).all(|w| w[0] <= w[1]));
            assert!(letters[4..].windows(2).all(|w| w[0] <= w[1]));
        }
    }

    #[test]
    fn hundred_percent_when_sample_exceeds_lot() {
        // Lot 10 at level II is letter B; AQL 0.65 points down to n = 20 (F) → inspect all 10.
        let p = plan(10, InspectionLevel::II, aql("0.65"), Severity::Normal).unwrap();
        assert_eq!((p.code_letter.as_char(), p.plan_letter.as_char()), ('B', 'F'));
        assert_eq!((p.sample_size, p.accept, p.reject, p.hundred_percent), (10, 0, 1, true));
        let p = plan(2, InspectionLevel::II, aql("6.5"), Severity::Normal).unwrap();
        assert_eq!((p.sample_size, p.hundred_percent), (2, true));
    }

    #[test]
    fn parses_inputs() {
        assert_eq!(aql("1"), aql("1.0"));
        assert_eq!(aql("0.01"), aql("0.010"));
        assert_eq!(aql("1000").to_string(), "1000");
        assert_eq!(aql("0.010").to_string(), "0.010");
        assert_eq!(aql("0.65").to_string(), "0.65");
        assert_eq!(aql("6.5").to_string(), "6.5");
        for a in Aql::all() {
            assert_eq!(a.to_string().parse::<Aql>().unwrap(), a);
        }
        assert!(matches!("2.0".parse::<Aql>(), Err(PlanError::UnknownAql(_))));
        assert!("abc".parse::<Aql>().is_err());
        assert!("-1".parse::<Aql>().is_err());
        assert_eq!("ii".parse::<InspectionLevel>().unwrap(), InspectionLevel::II);
        assert_eq!("S-3".parse::<InspectionLevel>().unwrap(), InspectionLevel::S3);
        assert!("IV".parse::<InspectionLevel>().is_err());
        assert_eq!("Tightened".parse::<Severity>().unwrap(), Severity::Tightened);
        assert!("strict".parse::<Severity>().is_err());
    }

    use InspectionState::{Discontinued as D, Normal as N, Reduced as Rd, Tightened as T};
    use LotOutcome::{A, A0, A3, R};

    #[test]
    fn normal_to_tightened_two_of_five() {
        assert_eq!(switch(&[R, A, A, A, R]), vec![N, N, N, N, T]);
        // Rejections 5 lots apart are not "2 out of 5 or fewer consecutive lots".
        assert_eq!(switch(&[R, A, A, A, A, R]), vec![N; 6]);
        assert_eq!(switch(&[R, R]), vec![N, T]);
    }

    #[test]
    fn tightened_back_to_normal_after_five_accepted() {
        let mut s = vec![R, R];
        s.extend([A; 4]);
        s.push(R);
        s.extend([A; 5]);
        let states = switch(&s);
        assert_eq!(states[1], T);
        assert_eq!(states[7], T, "run broken by the rejection");
        assert_eq!(states[11], N);
    }

    #[test]
    fn tightened_discontinued_after_five_not_accepted() {
        // 2 rejections on normal → tightened; then 5 more rejections (not consecutive) → discontinued.
        let states = switch(&[R, R, R, A, R, A, R, A, R, A, R, A]);
        assert_eq!(states[1], T);
        assert_eq!(states[9], T, "four not accepted on tightened so far");
        assert_eq!(states[10], D);
        assert_eq!(states[11], D, "discontinuation is absorbing");
    }

    #[test]
    fn switching_score_to_reduced() {
        // Ac 0/1 plans: +2 per accepted lot → 30 after 15 lots.
        let states = switch(&[A; 15]);
        assert_eq!(states[13], N);
        assert_eq!(states[14], Rd);
        // Ac ≥ 2 accepted at tighter AQL: +3 → 30 after 10 lots.
        assert_eq!(switch(&[A3; 10])[9], Rd);
        assert_eq!(switch(&[A3; 9])[8], N);
        // A0 resets the score even though the lot was accepted.
        let mut s = vec![A3; 9];
        s.push(A0);
        s.extend([A3; 9]);
        assert!(switch(&s).iter().all(|x| *x == N));
        // A rejection resets the score too.
        let mut s = vec![A; 14];
        s.push(R);
        s.extend([A; 14]);
        assert!(switch(&s).iter().all(|x| *x == N));
        let mut sw = Switching::new();
        for o in [A, A3, A] {
            sw.record(o);
        }
        assert_eq!(sw.score(), 7);
    }

    #[test]
    fn reduced_back_to_normal_on_rejection_and_score_restarts() {
        let mut s = vec![A; 15];
        s.push(A0);
        s.push(R);
        s.extend([A; 14]);
        s.push(A);
        let states = switch(&s);
        assert_eq!(states[14], Rd);
        assert_eq!(states[15], Rd, "accepted lots keep reduced");
        assert_eq!(states[16], N);
        assert_eq!(states[30], N, "score restarted from 0 on the switch");
        assert_eq!(states[31], Rd);
    }

    #[test]
    fn classify_outcomes() {
        assert_eq!(LotOutcome::classify(1, None, 1), A);
        assert_eq!(LotOutcome::classify(1, None, 2), R);
        assert_eq!(LotOutcome::classify(3, Some(2), 2), A3);
        assert_eq!(LotOutcome::classify(3, Some(2), 3), A0);
        assert_eq!(LotOutcome::classify(3, None, 0), A0);
        assert_eq!("a3".parse::<LotOutcome>().unwrap(), A3);
        assert!("X".parse::<LotOutcome>().is_err());
    }

    proptest! {
        #[test]
        fn switching_invariants(seq in proptest::collection::vec(0u8..4, 0..200)) {
            let outcomes: Vec<LotOutcome> = seq.iter().map(|k| [A, A3, A0, R][usize::from(*k)]).collect();
            let states = switch(&outcomes);
            prop_assert_eq!(states.len(), outcomes.len());
            let mut prev = N;
            for (o, s) in outcomes.iter().zip(&states) {
                // Reduced is only reached from normal; leaving reduced needs a rejection.
                if *s == Rd { prop_assert!(prev == N || prev == Rd); }
                if prev == Rd && *s != Rd { prop_assert_eq!(*o, R); prop_assert_eq!(*s, N); }
                if prev == D { prop_assert_eq!(*s, D); }
                if *s == D { prop_assert!(prev == T || prev == D); }
                prev = *s;
            }
        }

        #[test]
        fn plan_is_consistent(lot in 1u32..2_000_000, lv in 0usize..7, a in 0u8..26, sev in 0usize..3) {
            let sev = [Severity::Normal, Severity::Tightened, Severity::Reduced][sev];
            let p = plan(lot, InspectionLevel::ALL[lv], Aql(a), sev).unwrap();
            prop_assert!(p.sample_size >= 1 && p.sample_size <= lot);
            prop_assert_eq!(p.hundred_percent, p.sample_size == lot
                && table_sample_size(sev, p.plan_letter).unwrap() >= lot);
            prop_assert_eq!(p.reject, p.accept + 1);
        }
    }
}
