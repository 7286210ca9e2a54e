//! The "double random" draw (双随机抽取): random inspection targets, then random inspectors.
//!
//! Policy basis: 国办发〔2015〕58号 and 国发〔2019〕5号 (random choice of targets and of inspectors);
//! at least two inspectors per check and recusal on conflict of interest (食品生产经营监督检查管理办法
//! Art. 23). The draw is verifiable: the organiser publishes [`commitment`]`(seed)` before the draw,
//! reveals the seed afterwards, and anyone can re-run [`verify`] on the same inputs.
//!
//! # Algorithm `qgov-draw-v1/chacha20/sha256` (changing any step requires a new version string)
//!
//! 1. Key: SHA-256 of `"qgov-draw-v1/rng\0"` followed by the seed bytes; the stream is ChaCha20
//!    (rand_chacha `ChaCha20Rng::from_seed`, 64-bit words via `next_u64`). The prefix keeps the key
//!    different from the published commitment (plain SHA-256 of the seed), which would otherwise let
//!    anyone compute the draw before the seed is revealed.
//! 2. `below(n)`: draw 64-bit words until one is < 2^64 − (2^64 mod n), return it mod n (unbiased).
//! 3. Targets are sorted by id (byte order), so input order does not matter. Strata: one stratum of
//!    all targets in [`Mode::Count`]; classes A, B, C, D in that order in [`Mode::Ratio`], taking
//!    ⌈ratio × class size⌉ computed exactly on the decimal ratio. In each stratum a partial
//!    Fisher–Yates shuffle picks k targets: for i in 0..k, swap item i with item i + below(len − i).
//!    The output lists targets stratum by stratum in the order they were picked.
//! 4. Every inspector (sorted by id) gets a tie-break key `next_u64()`. For each picked target, in
//!    output order, the eligible inspector with the smallest (assignments so far, key, id position)
//!    is taken, first once for each needed specialty not yet covered (restricted to inspectors with
//!    it), then until `per_target` are assigned. Each inspector taken gets a fresh key `next_u64()`,
//!    in the order taken. This spreads the workload (loads differ by at most one unless exclusions
//!    force otherwise) while ties are broken at random.
//!
//! Eligible means: no declared conflict with the target, not among its last inspectors, and, with
//! `avoid_same_grid`, not working in the target's grid.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::fmt;
use std::str::FromStr;

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Name and version of the draw algorithm; recorded with every draw.
pub const ALGORITHM: &str = "qgov-draw-v1/chacha20/sha256";

/// Seeds shorter than this are refused: the commitment is a plain hash, so a short seed could be
/// found by trying them all before the reveal.
pub const MIN_SEED_BYTES: usize = 16;

/// Default number of inspectors per target (at least two inspectors per check).
pub const DEFAULT_PER_TARGET: usize = 2;

/// Enterprise credit risk class (企业信用风险分类, 国市监信发〔2022〕6号): A low … D high.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CreditRiskClass {
    /// 信用风险低 (low).
    A,
    /// 信用风险一般 (normal).
    B,
    /// 信用风险较高 (elevated).
    C,
    /// 信用风险高 (high).
    D,
}

impl CreditRiskClass {
    /// All classes, in stratum order.
    pub const ALL: [CreditRiskClass; 4] = [Self::A, Self::B, Self::C, Self::D];
}

impl FromStr for CreditRiskClass {
    type Err = DrawError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "A" => Ok(Self::A),
            "B" => Ok(Self::B),
            "C" => Ok(Self::C),
            "D" => Ok(Self::D),
            _ => Err(DrawError::UnknownClass(s.to_string())),
        }
    }
}

impl fmt::Display for CreditRiskClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

/// A candidate inspection target from the target directory (检查对象名录库).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Stable identifier, e.g. the unified social credit code.
    pub id: String,
    /// Name, for people reading the result.
    pub name: String,
    /// Credit risk class, the stratum in ratio mode.
    pub credit_class: CreditRiskClass,
    /// Grid or street the target is located in.
    pub grid: String,
    /// Specialties the inspection team must cover (each by at least one inspector).
    #[serde(default)]
    pub specialties_needed: Vec<String>,
    /// Inspectors of the previous check, who must not be drawn again for this target.
    #[serde(default)]
    pub last_inspectors: Vec<String>,
}

/// An inspector from the inspector directory (执法检查人员名录库).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspector {
    /// Stable identifier.
    pub id: String,
    /// Name.
    pub name: String,
    /// Unit (department) the inspector belongs to.
    pub unit: String,
    /// Grid the inspector works in, for `avoid_same_grid`.
    #[serde(default)]
    pub grid: Option<String>,
    /// Specialties.
    #[serde(default)]
    pub specialties: Vec<String>,
    /// Ids of targets with a declared conflict of interest (回避).
    #[serde(default)]
    pub conflicts: Vec<String>,
}

/// An exact non-negative decimal ratio ≤ 1, e.g. `0.05`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    numerator: u64,
    denominator: u64,
}

impl Ratio {
    /// ⌈ratio × size⌉, computed exactly.
    pub fn ceil_of(self, size: usize) -> usize {
        let p = u128::from(self.numerator) * size as u128;
        p.div_ceil(u128::from(self.denominator)) as usize
    }
}

impl FromStr for Ratio {
    type Err = DrawError;
    /// Parses a decimal between 0 and 1 with at most 9 decimals (`0.05`, `1`, `0.6`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || DrawError::BadRatio(s.to_string());
        let t = s.trim();
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        if int.is_empty() || frac.len() > 9 || !(int.bytes().chain(frac.bytes())).all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let denominator = 10u64.pow(frac.len() as u32);
        let int: u64 = int.parse().map_err(|_| bad())?;
        let frac_v: u64 = if frac.is_empty() { 0 } else { frac.parse().map_err(|_| bad())? };
        let numerator = int.checked_mul(denominator).and_then(|v| v.checked_add(frac_v)).ok_or_else(bad)?;
        if numerator > denominator {
            return Err(bad());
        }
        Ok(Ratio { numerator, denominator })
    }
}

/// How many targets to draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Exactly this many targets, drawn from all targets as one stratum.
    Count(usize),
    /// Per credit class, ⌈ratio × class size⌉ targets; classes not listed draw none.
    Ratio(BTreeMap<CreditRiskClass, Ratio>),
}

impl Mode {
    /// Parses `A=0.05,B=0.2,C=0.6,D=1`.
    pub fn parse_ratios(text: &str) -> Result<Mode, DrawError> {
        let mut map = BTreeMap::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (class, ratio) = part.split_once('=').ok_or_else(|| DrawError::BadRatio(part.to_string()))?;
            let class: CreditRiskClass = class.parse()?;
            if map.insert(class, ratio.parse()?).is_some() {
                return Err(DrawError::BadRatio(format!("class {class} given twice")));
            }
        }
        if map.is_empty() {
            return Err(DrawError::BadRatio(text.to_string()));
        }
        Ok(Mode::Ratio(map))
    }
}

/// Everything a draw depends on besides the seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrawInput {
    /// Candidate targets.
    pub targets: Vec<Target>,
    /// Candidate inspectors.
    pub inspectors: Vec<Inspector>,
    /// How many targets to draw.
    pub mode: Mode,
    /// Inspectors per target (at least 1; default 2).
    pub per_target: usize,
    /// Never send an inspector to a target in their own grid.
    pub avoid_same_grid: bool,
}

impl DrawInput {
    /// Input with the defaults: 2 inspectors per target, same-grid inspectors allowed.
    pub fn new(targets: Vec<Target>, inspectors: Vec<Inspector>, mode: Mode) -> Self {
        DrawInput { targets, inspectors, mode, per_target: DEFAULT_PER_TARGET, avoid_same_grid: false }
    }
}

/// One drawn target and its inspectors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// Target id.
    pub target: String,
    /// Inspector ids, in the order they were drawn.
    pub inspectors: Vec<String>,
}

/// The result of a draw, with what is needed to check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawOutcome {
    /// The algorithm used ([`ALGORITHM`]).
    pub algorithm: String,
    /// hex(SHA-256(seed)), as published before the draw.
    pub commitment: String,
    /// Drawn targets with their inspectors.
    pub assignments: Vec<Assignment>,
}

/// Why a draw could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrawError {
    /// The seed is too short to keep the commitment from being brute-forced.
    #[error("seed has {0} bytes; at least {MIN_SEED_BYTES} random bytes are required")]
    SeedTooShort(usize),
    /// Two targets share an id.
    #[error("duplicate target id `{0}`")]
    DuplicateTarget(String),
    /// Two inspectors share an id.
    #[error("duplicate inspector id `{0}`")]
    DuplicateInspector(String),
    /// Not a credit class A–D.
    #[error("unknown credit class `{0}` (expected A, B, C or D)")]
    UnknownClass(String),
    /// Not a ratio between 0 and 1.
    #[error("bad ratio `{0}` (expected CLASS=DECIMAL between 0 and 1, e.g. A=0.05,B=0.2)")]
    BadRatio(String),
    /// Count mode asked for more targets than there are.
    #[error("cannot draw {requested} targets from {available}")]
    CountTooLarge {
        /// Targets requested.
        requested: usize,
        /// Targets available.
        available: usize,
    },
    /// `per_target` was 0.
    #[error("at least one inspector per target is required")]
    NoInspectorsPerTarget,
    /// Not enough eligible inspectors for a target.
    #[error(
        "target `{target}` needs {needed} inspectors but only {eligible} are eligible (after conflicts, last inspectors and grid avoidance)"
    )]
    NotEnoughInspectors {
        /// Target id.
        target: String,
        /// Inspectors required.
        needed: usize,
        /// Eligible inspectors found.
        eligible: usize,
    },
    /// No eligible inspector has a specialty the target needs.
    #[error("target `{target}` needs specialty `{specialty}` but no eligible inspector has it")]
    SpecialtyUncovered {
        /// Target id.
        target: String,
        /// The specialty.
        specialty: String,
    },
}

/// hex(SHA-256(seed)): published before the draw, checked against the revealed seed afterwards.
pub fn commitment(seed: &[u8]) -> String {
    hex::encode(Sha256::digest(seed))
}

/// The random stream of the algorithm (steps 1 and 2).
struct Stream(ChaCha20Rng);

impl Stream {
    fn new(seed: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(b"qgov-draw-v1/rng\0");
        h.update(seed);
        Stream(ChaCha20Rng::from_seed(h.finalize().into()))
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` by rejection sampling (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        let rem = (u64::MAX % n + 1) % n; // 2^64 mod n
        loop {
            let x = self.next_u64();
            if x <= u64::MAX - rem {
                return x % n;
            }
        }
    }
}

/// Runs the draw. The same input and seed give the same result on every machine.
pub fn draw(input: &DrawInput, seed: &[u8]) -> Result<DrawOutcome, DrawError> {
    if seed.len() < MIN_SEED_BYTES {
        return Err(DrawError::SeedTooShort(seed.len()));
    }
    if input.per_target == 0 {
        return Err(DrawError::NoInspectorsPerTarget);
    }
    let mut rng = Stream::new(seed);
    let picked = pick_targets(input, &mut rng)?;
    let assignments = assign_inspectors(input, &picked, &mut rng)?;
    Ok(DrawOutcome { algorithm: ALGORITHM.to_string(), commitment: commitment(seed), assignments })
}

/// Step 3: indices of the picked targets, in output order.
fn pick_targets(input: &DrawInput, rng: &mut Stream) -> Result<Vec<usize>, DrawError> {
    let sorted = targets_in_id_order(&input.targets)?;
    let strata: Vec<(Vec<usize>, usize)> = match &input.mode {
        Mode::Count(k) => {
            if *k > sorted.len() {
                return Err(DrawError::CountTooLarge { requested: *k, available: sorted.len() });
            }
            vec![(sorted.into_iter().map(|(i, _)| i as usize).collect(), *k)]
        }
        Mode::Ratio(ratios) => {
            let mut members: [Vec<usize>; 4] = Default::default();
            for (i, class) in sorted {
                members[class as usize].push(i as usize);
            }
            CreditRiskClass::ALL
                .iter()
                .zip(members)
                .map(|(class, members)| {
                    let k = ratios.get(class).map_or(0, |r| r.ceil_of(members.len()));
                    (members, k)
                })
                .collect()
        }
    };
    let mut picked = Vec::new();
    for (mut items, k) in strata {
        let len = items.len();
        for i in 0..k {
            let j = i + rng.below((len - i) as u64) as usize;
            items.swap(i, j);
        }
        picked.extend_from_slice(&items[..k]);
    }
    Ok(picked)
}

/// (index, credit class) of every target, sorted by id (byte order); refuses duplicate ids.
///
/// Speed (the draw is bound by memory traffic over the targets' scattered strings): ids of one
/// district share a prefix (the region code of the credit code), so a plain string sort spends
/// its time in `memcmp`. Each id is keyed instead by the 16 bytes after a prefix that all ids
/// share, big-endian and zero-padded, which orders exactly like the ids themselves; strings are
/// compared only on equal keys. The shared prefix is guessed from a sample and checked while the
/// keys are built, so the ids are read once (a wrong guess only costs a rebuild).
fn targets_in_id_order(targets: &[Target]) -> Result<Vec<(u32, u8)>, DrawError> {
    let lcp = |a: &[u8], b: &[u8]| a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let first = targets.first().map_or(&b""[..], |t| t.id.as_bytes());
    let step = (targets.len() / 64).max(1);
    let mut common = targets.iter().step_by(step).fold(first.len(), |c, t| lcp(&first[..c], t.id.as_bytes()));
    let mut keyed: Vec<(u128, u32, u8)> = Vec::with_capacity(targets.len());
    'build: loop {
        keyed.clear();
        for (i, t) in targets.iter().enumerate() {
            let id = t.id.as_bytes();
            if id.len() < common || id[..common] != first[..common] {
                common = lcp(&first[..common], id);
                continue 'build;
            }
            let rest = &id[common..];
            let mut window = [0u8; 16];
            let n = rest.len().min(16);
            window[..n].copy_from_slice(&rest[..n]);
            keyed.push((u128::from_be_bytes(window), i as u32, t.credit_class as u8));
        }
        break;
    }
    let by_id = |a: &(u128, u32, u8), b: &(u128, u32, u8)| {
        a.0.cmp(&b.0).then_with(|| targets[a.1 as usize].id.cmp(&targets[b.1 as usize].id))
    };
    keyed.sort_unstable_by(by_id);
    if let Some(w) = keyed.windows(2).find(|w| w[0].0 == w[1].0 && by_id(&w[0], &w[1]).is_eq()) {
        return Err(DrawError::DuplicateTarget(targets[w[0].1 as usize].id.clone()));
    }
    Ok(keyed.into_iter().map(|(_, i, class)| (i, class)).collect())
}

/// What step 4 needs to know about each picked target, gathered in one pass over the targets
/// in memory order (the picks themselves are in random order, and chasing each one's strings
/// there cost more than the whole assignment).
struct PickFacts {
    /// Output ids, by pick number.
    ids: Vec<String>,
    /// Excluded inspector positions of pick n: `excluded[offsets[n]..offsets[n + 1]]`.
    offsets: Vec<u32>,
    excluded: Vec<u32>,
    /// Interned grid of pick n when grids are avoided (`u32::MAX`: none).
    grid: Vec<u32>,
    /// Whether pick n needs specialties (then its target is read in the loop).
    needs_specialties: Vec<bool>,
}

fn pick_facts(
    input: &DrawInput,
    picked: &[usize],
    by_id: &FnvMap<&str, u32>,
    conflicts: &FnvMap<&str, Vec<u32>>,
    grid_ids: &FnvMap<&str, u32>,
) -> PickFacts {
    const NONE: u32 = u32::MAX;
    let mut order_of = vec![NONE; input.targets.len()];
    for (n, &ti) in picked.iter().enumerate() {
        order_of[ti] = n as u32;
    }
    let mut ids = vec![String::new(); picked.len()];
    let mut grid = vec![NONE; picked.len()];
    let mut needs_specialties = vec![false; picked.len()];
    let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(picked.len() * 3);
    for (target, &n) in input.targets.iter().zip(&order_of) {
        if n == NONE {
            continue;
        }
        ids[n as usize] = target.id.clone();
        for p in conflicts.get(target.id.as_str()).into_iter().flatten() {
            pairs.push((n, *p));
        }
        for id in &target.last_inspectors {
            if let Some(p) = by_id.get(id.as_str()) {
                pairs.push((n, *p));
            }
        }
        if input.avoid_same_grid && !target.grid.is_empty() {
            grid[n as usize] = grid_ids.get(target.grid.as_str()).copied().unwrap_or(NONE);
        }
        needs_specialties[n as usize] = !target.specialties_needed.is_empty();
    }
    // Counting sort of the (pick, inspector) pairs by pick.
    let mut offsets = vec![0u32; picked.len() + 1];
    for (n, _) in &pairs {
        offsets[*n as usize + 1] += 1;
    }
    for n in 0..picked.len() {
        offsets[n + 1] += offsets[n];
    }
    let mut fill = offsets.clone();
    let mut excluded = vec![0u32; pairs.len()];
    for (n, p) in pairs {
        excluded[fill[n as usize] as usize] = p;
        fill[n as usize] += 1;
    }
    PickFacts { ids, offsets, excluded, grid, needs_specialties }
}

/// Step 4: inspectors for each picked target.
fn assign_inspectors(input: &DrawInput, picked: &[usize], rng: &mut Stream) -> Result<Vec<Assignment>, DrawError> {
    let inspectors = &input.inspectors;
    let mut order: Vec<usize> = (0..inspectors.len()).collect();
    order.sort_unstable_by(|a, b| inspectors[*a].id.cmp(&inspectors[*b].id));
    if let Some(w) = order.windows(2).find(|w| inspectors[w[0]].id == inspectors[w[1]].id) {
        return Err(DrawError::DuplicateInspector(inspectors[w[0]].id.clone()));
    }
    // From here on an inspector is known by its position p in id order.
    let sorted: Vec<&Inspector> = order.iter().map(|i| &inspectors[*i]).collect();
    let by_id: FnvMap<&str, u32> = sorted.iter().enumerate().map(|(p, x)| (x.id.as_str(), p as u32)).collect();
    let mut conflicts: FnvMap<&str, Vec<u32>> = FnvMap::default();
    for (p, x) in sorted.iter().enumerate() {
        for t in &x.conflicts {
            conflicts.entry(t.as_str()).or_default().push(p as u32);
        }
    }

    let mut load = vec![0u32; sorted.len()];
    let mut heap: BinaryHeap<Reverse<u128>> = (0..sorted.len() as u32).map(|p| entry(0, rng.next_u64(), p)).collect();
    // Grids interned as small integers so the same-grid test is an integer comparison.
    let mut grid_ids: FnvMap<&str, u32> = FnvMap::default();
    let inspector_grid: Vec<u32> = sorted
        .iter()
        .map(|x| match x.grid.as_deref().filter(|g| !g.is_empty()) {
            Some(g) => {
                let next = grid_ids.len() as u32;
                *grid_ids.entry(g).or_insert(next)
            }
            None => u32::MAX - 1, // never equal to a target's grid (u32::MAX means "none")
        })
        .collect();
    let mut facts = pick_facts(input, picked, &by_id, &conflicts, &grid_ids);
    // excluded[p] == stamp marks inspectors excluded for the current target.
    let mut excluded = vec![0usize; sorted.len()];
    let mut stash = Vec::new();
    let mut out = Vec::with_capacity(picked.len());

    for (n, &ti) in picked.iter().enumerate() {
        let stamp = n + 1;
        for p in &facts.excluded[facts.offsets[n] as usize..facts.offsets[n + 1] as usize] {
            excluded[*p as usize] = stamp;
        }
        let target_grid = facts.grid[n];
        let eligible = |p: usize| excluded[p] != stamp && inspector_grid[p] != target_grid;

        let mut chosen: Vec<u32> = Vec::with_capacity(input.per_target);
        if facts.needs_specialties[n] {
            let target = &input.targets[ti];
            let mut needed: Vec<&str> = Vec::new();
            for s in &target.specialties_needed {
                if !needed.contains(&s.as_str()) {
                    needed.push(s);
                }
            }
            for specialty in needed {
                if chosen.iter().any(|p| sorted[*p as usize].specialties.iter().any(|s| s == specialty)) {
                    continue;
                }
                let found = pop_first(&mut heap, &mut stash, |p| {
                    eligible(p) && sorted[p].specialties.iter().any(|s| s == specialty)
                });
                heap.extend(stash.drain(..));
                match found {
                    Some(p) => chosen.push(p),
                    None => {
                        return Err(DrawError::SpecialtyUncovered {
                            target: target.id.clone(),
                            specialty: specialty.to_string(),
                        });
                    }
                }
            }
        }
        while chosen.len() < input.per_target {
            match pop_first(&mut heap, &mut stash, eligible) {
                Some(p) => chosen.push(p),
                None => {
                    heap.extend(stash.drain(..));
                    let eligible_count = (0..sorted.len()).filter(|p| eligible(*p)).count();
                    return Err(DrawError::NotEnoughInspectors {
                        target: std::mem::take(&mut facts.ids[n]),
                        needed: input.per_target,
                        eligible: eligible_count,
                    });
                }
            }
        }
        heap.extend(stash.drain(..));
        for p in &chosen {
            load[*p as usize] += 1;
            heap.push(entry(load[*p as usize], rng.next_u64(), *p));
        }
        out.push(Assignment {
            target: std::mem::take(&mut facts.ids[n]),
            inspectors: chosen.iter().map(|p| sorted[*p as usize].id.clone()).collect(),
        });
    }
    Ok(out)
}

/// A heap entry ordered exactly like the tuple (load, key, position), packed for speed.
fn entry(load: u32, key: u64, position: u32) -> Reverse<u128> {
    Reverse((u128::from(load) << 96) | (u128::from(key) << 32) | u128::from(position))
}

/// FNV-1a: a fast, fixed hasher for the id look-ups (no HashDoS concern: inputs are the
/// regulator's own directories, and the hasher does not affect the result).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FnvMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

/// Pops entries until one satisfies `ok`; the others go to `stash` (to be pushed back).
fn pop_first(
    heap: &mut BinaryHeap<Reverse<u128>>,
    stash: &mut Vec<Reverse<u128>>,
    ok: impl Fn(usize) -> bool,
) -> Option<u32> {
    while let Some(e) = heap.pop() {
        let p = e.0 as u32;
        if ok(p as usize) {
            return Some(p);
        }
        stash.push(e);
    }
    None
}

/// How a published result differs from the recomputed one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    /// The revealed seed does not hash to the published commitment.
    #[error("the seed does not match the commitment: published {published}, seed hashes to {computed}")]
    Commitment {
        /// Commitment as published.
        published: String,
        /// hex(SHA-256(seed)).
        computed: String,
    },
    /// The draw could not be recomputed from these inputs.
    #[error("the draw cannot be recomputed from these inputs: {0}")]
    Recompute(DrawError),
    /// The published result differs from the recomputed draw.
    #[error("the published result differs from the recomputed draw:\n{}", .0.iter().map(|d| format!("  - {d}")).collect::<Vec<_>>().join("\n"))]
    Result(Vec<Difference>),
}

/// One difference between a published and a recomputed result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// Drawn by the recomputation but absent from the published result.
    MissingTarget(String),
    /// Published but not drawn by the recomputation.
    ExtraTarget(String),
    /// The target appears more than once in the published result.
    DuplicateTarget(String),
    /// Same target, different inspectors.
    Inspectors {
        /// Target id.
        target: String,
        /// Inspectors as published.
        published: Vec<String>,
        /// Inspectors recomputed.
        recomputed: Vec<String>,
    },
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::MissingTarget(t) => write!(f, "target {t} was drawn but is missing from the published result"),
            Difference::ExtraTarget(t) => write!(f, "target {t} is published but was not drawn"),
            Difference::DuplicateTarget(t) => write!(f, "target {t} is published more than once"),
            Difference::Inspectors { target, published, recomputed } => write!(
                f,
                "target {target}: published inspectors [{}], recomputed [{}]",
                published.join(", "),
                recomputed.join(", ")
            ),
        }
    }
}

/// Checks a published result: the seed matches the commitment and re-running the draw gives the
/// same targets with the same inspectors. Order is not compared (a notice may sort its list).
pub fn verify(
    input: &DrawInput,
    seed: &[u8],
    published_commitment: &str,
    published: &[Assignment],
) -> Result<(), Mismatch> {
    let computed = commitment(seed);
    if !computed.eq_ignore_ascii_case(published_commitment.trim()) {
        return Err(Mismatch::Commitment { published: published_commitment.to_string(), computed });
    }
    let outcome = draw(input, seed).map_err(Mismatch::Recompute)?;
    let recomputed: BTreeMap<&str, BTreeSet<&str>> = outcome
        .assignments
        .iter()
        .map(|a| (a.target.as_str(), a.inspectors.iter().map(String::as_str).collect()))
        .collect();
    let mut differences = Vec::new();
    let mut seen: BTreeMap<&str, &Assignment> = BTreeMap::new();
    for a in published {
        if seen.insert(a.target.as_str(), a).is_some() {
            differences.push(Difference::DuplicateTarget(a.target.clone()));
        }
    }
    for (t, inspectors) in &recomputed {
        match seen.get(t) {
            None => differences.push(Difference::MissingTarget(t.to_string())),
            Some(a) => {
                let published_set: BTreeSet<&str> = a.inspectors.iter().map(String::as_str).collect();
                if published_set != *inspectors || published_set.len() != a.inspectors.len() {
                    differences.push(Difference::Inspectors {
                        target: t.to_string(),
                        published: a.inspectors.clone(),
                        recomputed: inspectors.iter().map(|s| s.to_string()).collect(),
                    });
                }
            }
        }
    }
    for t in seen.keys() {
        if !recomputed.contains_key(t) {
            differences.push(Difference::ExtraTarget(t.to_string()));
        }
    }
    if differences.is_empty() { Ok(()) } else { Err(Mismatch::Result(differences)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &[u8] = b"0123456789abcdef-test-seed";

    fn target(id: &str, class: CreditRiskClass, grid: &str) -> Target {
        Target {
            id: id.into(),
            name: format!("企业{id}"),
            credit_class: class,
            grid: grid.into(),
            specialties_needed: vec![],
            last_inspectors: vec![],
        }
    }

    fn inspector(id: &str, grid: Option<&str>) -> Inspector {
        Inspector {
            id: id.into(),
            name: format!("检查员{id}"),
            unit: "市场监管所".into(),
            grid: grid.map(Into::into),
            specialties: vec![],
            conflicts: vec![],
        }
    }

    fn directory(n_targets: usize, n_inspectors: usize) -> (Vec<Target>, Vec<Inspector>) {
        let classes = CreditRiskClass::ALL;
        let targets =
            (0..n_targets).map(|i| target(&format!("T{i:04}"), classes[i % 4], &format!("G{}", i % 5))).collect();
        let inspectors =
            (0..n_inspectors).map(|i| inspector(&format!("I{i:03}"), Some(&format!("G{}", i % 5)))).collect();
        (targets, inspectors)
    }

    #[test]
    fn stream_known_answer() {
        // Pins the ChaCha20 stream and the key derivation: if this changes, old draws no longer verify.
        let mut s = Stream::new(&[0u8; 16]);
        let first: Vec<u64> = (0..3).map(|_| s.next_u64()).collect();
        let mut again = Stream::new(&[0u8; 16]);
        assert_eq!(first, (0..3).map(|_| again.next_u64()).collect::<Vec<_>>());
        assert_eq!(first, KNOWN_STREAM);
    }
    /// Standard ChaCha20 keystream (key = SHA-256("qgov-draw-v1/rng\0" ‖ 16 zero bytes), counter 0,
    /// nonce 0), read as little-endian u64: computed independently with Python `cryptography`.
    const KNOWN_STREAM: [u64; 3] = [3407652277537853663, 18251976344857013984, 6245244998348147436];

    #[test]
    fn below_is_in_range_and_unbiased_at_the_edges() {
        let mut s = Stream::new(SEED);
        for n in [1u64, 2, 3, 7, 1 << 63, u64::MAX] {
            for _ in 0..100 {
                assert!(s.below(n) < n);
            }
        }
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            counts[s.below(3) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (9_500..10_500).contains(c)), "{counts:?}");
    }

    #[test]
    fn commitment_is_sha256_hex() {
        assert_eq!(commitment(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn reproducible_and_input_order_independent() {
        let (targets, inspectors) = directory(200, 30);
        let input = DrawInput::new(targets.clone(), inspectors.clone(), Mode::Count(20));
        let a = draw(&input, SEED).unwrap();
        assert_eq!(a.algorithm, ALGORITHM);
        assert_eq!(a.assignments.len(), 20);
        let mut rev_t = targets;
        rev_t.reverse();
        let mut rev_i = inspectors;
        rev_i.reverse();
        let b = draw(&DrawInput::new(rev_t, rev_i, Mode::Count(20)), SEED).unwrap();
        assert_eq!(a, b);
        let c = draw(&input, b"another seed of 16+ bytes").unwrap();
        assert_ne!(a.assignments, c.assignments);
    }

    #[test]
    fn golden_small_draw() {
        // Pins the whole algorithm on a small input; a change here needs a new ALGORITHM version.
        let (targets, inspectors) = directory(12, 6);
        let input = DrawInput::new(targets, inspectors, Mode::Count(3));
        let got = draw(&input, SEED).unwrap();
        let got: Vec<(String, Vec<String>)> = got.assignments.into_iter().map(|a| (a.target, a.inspectors)).collect();
        let want: Vec<(&str, Vec<&str>)> = GOLDEN.iter().map(|(t, i)| (*t, i.to_vec())).collect();
        assert_eq!(
            got.iter().map(|(t, i)| (t.as_str(), i.iter().map(String::as_str).collect())).collect::<Vec<_>>(),
            want
        );
    }
    const GOLDEN: [(&str, [&str; 2]); 3] =
        [("T0005", ["I005", "I002"]), ("T0009", ["I000", "I004"]), ("T0008", ["I003", "I001"])];

    #[test]
    fn ratio_mode_rounds_up_per_class_exactly() {
        let (targets, inspectors) = directory(400, 40); // 100 per class
        let mode = Mode::parse_ratios("A=0.05,B=0.2,C=0.6,D=1").unwrap();
        let out = draw(&DrawInput::new(targets.clone(), inspectors.clone(), mode), SEED).unwrap();
        let class_of: HashMap<&str, CreditRiskClass> =
            targets.iter().map(|t| (t.id.as_str(), t.credit_class)).collect();
        let mut per_class = BTreeMap::new();
        for a in &out.assignments {
            *per_class.entry(class_of[a.target.as_str()]).or_insert(0) += 1;
        }
        use CreditRiskClass::*;
        assert_eq!(per_class, BTreeMap::from([(A, 5), (B, 20), (C, 60), (D, 100)]));
        // Strata are listed A, B, C, D.
        let classes: Vec<_> = out.assignments.iter().map(|a| class_of[a.target.as_str()]).collect();
        assert!(classes.windows(2).all(|w| w[0] <= w[1]));
        // ⌈0.05 × 30⌉ = 2 and ⌈0.1 × 30⌉ = 3 (0.1 × 30 is 3.0000000000000004 in floating point).
        assert_eq!("0.05".parse::<Ratio>().unwrap().ceil_of(30), 2);
        assert_eq!("0.1".parse::<Ratio>().unwrap().ceil_of(30), 3);
        assert_eq!("1".parse::<Ratio>().unwrap().ceil_of(7), 7);
        assert_eq!("0".parse::<Ratio>().unwrap().ceil_of(7), 0);
        assert!("1.5".parse::<Ratio>().is_err());
        assert!("-0.1".parse::<Ratio>().is_err());
        assert!(Mode::parse_ratios("E=0.1").is_err());
        assert!(Mode::parse_ratios("A=0.1,A=0.2").is_err());
    }

    #[test]
    fn inspector_rules_hold() {
        let (mut targets, mut inspectors) = directory(60, 12);
        // Every inspector declares a conflict with a few targets; targets list last inspectors.
        for (k, x) in inspectors.iter_mut().enumerate() {
            x.conflicts = (0..5).map(|j| format!("T{:04}", (k * 5 + j) % 60)).collect();
        }
        for (k, t) in targets.iter_mut().enumerate() {
            t.last_inspectors = vec![format!("I{:03}", k % 12), format!("I{:03}", (k + 1) % 12)];
        }
        let mut input = DrawInput::new(targets.clone(), inspectors.clone(), Mode::Count(60));
        input.avoid_same_grid = true;
        input.per_target = 3;
        let out = draw(&input, SEED).unwrap();
        let t_by_id: HashMap<&str, &Target> = targets.iter().map(|t| (t.id.as_str(), t)).collect();
        let i_by_id: HashMap<&str, &Inspector> = inspectors.iter().map(|x| (x.id.as_str(), x)).collect();
        let mut load: HashMap<&str, usize> = HashMap::new();
        for a in &out.assignments {
            let t = t_by_id[a.target.as_str()];
            assert_eq!(a.inspectors.len(), 3);
            let distinct: BTreeSet<_> = a.inspectors.iter().collect();
            assert_eq!(distinct.len(), 3, "no inspector twice on one target");
            for id in &a.inspectors {
                let x = i_by_id[id.as_str()];
                assert!(!x.conflicts.contains(&t.id), "conflict {id} / {}", t.id);
                assert!(!t.last_inspectors.contains(id), "last inspector {id} / {}", t.id);
                assert_ne!(x.grid.as_deref(), Some(t.grid.as_str()), "same grid {id} / {}", t.id);
                *load.entry(id.as_str()).or_default() += 1;
            }
        }
        // 180 assignments over 12 inspectors: least-loaded choice keeps everyone near 15.
        let (min, max) = (load.values().min().unwrap(), load.values().max().unwrap());
        assert!(max - min <= 3, "{load:?}");
    }

    #[test]
    fn workload_is_balanced_without_exclusions() {
        let (targets, inspectors) = directory(500, 7);
        let out = draw(&DrawInput::new(targets, inspectors, Mode::Count(500)), SEED).unwrap();
        let mut load: HashMap<&str, usize> = HashMap::new();
        for a in &out.assignments {
            for i in &a.inspectors {
                *load.entry(i).or_default() += 1;
            }
        }
        let (min, max) = (load.values().min().unwrap(), load.values().max().unwrap());
        assert!(max - min <= 1, "{load:?}");
    }

    #[test]
    fn specialties_are_covered() {
        let (mut targets, mut inspectors) = directory(20, 10);
        inspectors[7].specialties = vec!["特种设备".into()];
        inspectors[3].specialties = vec!["食品".into(), "特种设备".into()];
        for t in &mut targets {
            t.specialties_needed = vec!["特种设备".into()];
        }
        let out = draw(&DrawInput::new(targets.clone(), inspectors.clone(), Mode::Count(20)), SEED).unwrap();
        for a in &out.assignments {
            assert!(a.inspectors.iter().any(|i| i == "I007" || i == "I003"), "{a:?}");
        }
        targets[0].specialties_needed = vec!["电梯".into()];
        let e = draw(&DrawInput::new(targets, inspectors, Mode::Count(20)), SEED).unwrap_err();
        assert_eq!(e, DrawError::SpecialtyUncovered { target: "T0000".into(), specialty: "电梯".into() });
    }

    #[test]
    fn clear_errors() {
        let (targets, mut inspectors) = directory(10, 3);
        inspectors[0].conflicts = vec!["T0004".into()];
        inspectors[1].conflicts = vec!["T0004".into()];
        let input = DrawInput::new(targets.clone(), inspectors.clone(), Mode::Count(10));
        let e = draw(&input, SEED).unwrap_err();
        assert_eq!(e, DrawError::NotEnoughInspectors { target: "T0004".into(), needed: 2, eligible: 1 });
        assert!(e.to_string().contains("T0004"));
        assert_eq!(draw(&input, b"short").unwrap_err(), DrawError::SeedTooShort(5));
        let e = draw(&DrawInput::new(targets.clone(), inspectors.clone(), Mode::Count(11)), SEED).unwrap_err();
        assert_eq!(e, DrawError::CountTooLarge { requested: 11, available: 10 });
        let mut dup = targets.clone();
        dup.push(dup[3].clone());
        let e = draw(&DrawInput::new(dup, inspectors.clone(), Mode::Count(1)), SEED).unwrap_err();
        assert_eq!(e, DrawError::DuplicateTarget("T0003".into()));
        let mut dup_i = inspectors.clone();
        dup_i.push(dup_i[0].clone());
        let e = draw(&DrawInput::new(targets, dup_i, Mode::Count(1)), SEED).unwrap_err();
        assert_eq!(e, DrawError::DuplicateInspector("I000".into()));
        assert!("Z".parse::<CreditRiskClass>().is_err());
    }

    /// Within a stratum every target is equally likely: over 3,000 fixed seeds, drawing 3 of 10
    /// targets, the selection counts pass a chi-square test (9 degrees of freedom; 27.88 is the
    /// 0.1 % critical value). The seeds are fixed, so the test is deterministic.
    #[test]
    fn targets_are_equally_likely_within_a_stratum() {
        let (targets, inspectors) = directory(40, 10); // 10 per class
        let mode = Mode::Ratio(BTreeMap::from([(CreditRiskClass::B, "0.3".parse().unwrap())]));
        let input = DrawInput::new(targets, inspectors, mode);
        let runs = 3_000u32;
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        for s in 0..runs {
            let seed = format!("fairness-seed-{s:08}");
            for a in draw(&input, seed.as_bytes()).unwrap().assignments {
                *counts.entry(a.target).or_default() += 1;
            }
        }
        assert_eq!(counts.len(), 10, "only class B targets, all of them reachable");
        let expected = f64::from(runs) * 3.0 / 10.0;
        let chi2: f64 = counts.values().map(|c| (f64::from(*c) - expected).powi(2) / expected).sum();
        assert!(chi2 < 27.88, "chi-square {chi2} for {counts:?}");
        // And the draw is not degenerate: it is not always the same targets.
        assert!(counts.values().all(|c| *c > 0));
    }

    #[test]
    fn verify_accepts_the_published_result_and_reports_differences() {
        let (targets, inspectors) = directory(50, 8);
        let input = DrawInput::new(targets, inspectors, Mode::Count(5));
        let out = draw(&input, SEED).unwrap();
        let c = commitment(SEED);
        assert_eq!(verify(&input, SEED, &c, &out.assignments), Ok(()));
        // Sorting the published list does not matter.
        let mut sorted = out.assignments.clone();
        sorted.sort_by(|a, b| a.target.cmp(&b.target));
        for a in &mut sorted {
            a.inspectors.reverse();
        }
        assert_eq!(verify(&input, SEED, &c.to_uppercase(), &sorted), Ok(()));

        assert!(matches!(
            verify(&input, b"0123456789abcdef-other", &c, &out.assignments),
            Err(Mismatch::Commitment { .. })
        ));

        let mut tampered = out.assignments.clone();
        tampered[0].inspectors[0] = "I999".into();
        let removed = tampered.remove(1);
        tampered.push(Assignment { target: "T0049".into(), inspectors: vec!["I000".into(), "I001".into()] });
        let Err(Mismatch::Result(diffs)) = verify(&input, SEED, &c, &tampered) else { panic!("expected differences") };
        assert!(diffs.contains(&Difference::MissingTarget(removed.target.clone())));
        assert!(
            diffs
                .iter()
                .any(|d| matches!(d, Difference::Inspectors { target, .. } if *target == out.assignments[0].target))
        );
        if !out.assignments.iter().any(|a| a.target == "T0049") {
            assert!(diffs.contains(&Difference::ExtraTarget("T0049".into())));
        }
        let msg = Mismatch::Result(diffs).to_string();
        assert!(msg.contains(&removed.target), "{msg}");
    }
}

/// Pins the complete output of draws over rich inputs (conflicts, last inspectors, grid
/// avoidance, specialties, both modes, ids of differing lengths): any change to the result,
/// e.g. by a speed-up, fails here. The fingerprints were taken from the first implementation.
#[cfg(test)]
mod fingerprint {
    use super::*;

    fn rich_input(mode: Mode) -> DrawInput {
        let classes = CreditRiskClass::ALL;
        let targets: Vec<Target> = (0..20_000)
            .map(|i| Target {
                // Ids of different lengths and prefixes, so ordering is not just numeric.
                id: if i % 7 == 0 { format!("X{i}") } else { format!("91120116MA{i:08}") },
                name: format!("企业{i}"),
                credit_class: classes[[0, 0, 0, 0, 1, 1, 1, 2, 2, 3][i % 10]],
                grid: format!("G{:02}", i % 13),
                specialties_needed: if i % 101 == 0 { vec!["特种设备".into()] } else { vec![] },
                last_inspectors: vec![format!("I{:04}", (i * 7) % 300), format!("I{:04}", (i * 13) % 300)],
            })
            .collect();
        let inspectors: Vec<Inspector> = (0..300)
            .map(|k| Inspector {
                id: format!("I{k:04}"),
                name: format!("检查员{k}"),
                unit: format!("U{}", k % 12),
                grid: if k % 17 == 0 { None } else { Some(format!("G{:02}", k % 13)) },
                specialties: if k % 9 == 0 { vec!["特种设备".into()] } else { vec![] },
                conflicts: (0..3).map(|j| format!("91120116MA{:08}", (k * 251 + j * 97) % 20_000)).collect(),
            })
            .collect();
        let mut input = DrawInput::new(targets, inspectors, mode);
        input.avoid_same_grid = true;
        input.per_target = 3;
        input
    }

    fn fingerprint(out: &DrawOutcome) -> String {
        hex::encode(Sha256::digest(serde_json::to_vec(&out.assignments).unwrap()))
    }

    #[test]
    fn ratio_draw_is_unchanged() {
        let out =
            draw(&rich_input(Mode::parse_ratios("A=0.05,B=0.2,C=0.6,D=1").unwrap()), b"fingerprint-seed-0001").unwrap();
        assert_eq!(out.assignments.len(), 400 + 1_200 + 2_400 + 2_000);
        assert_eq!(fingerprint(&out), "f07a1b76cf581c789d6197e6ce11cb2ad4111a1d56783728e902572baf73ffd9");
    }

    #[test]
    fn count_draw_is_unchanged() {
        let out = draw(&rich_input(Mode::Count(2_500)), b"fingerprint-seed-0002").unwrap();
        assert_eq!(fingerprint(&out), "4828fd2fcb30ec81a53aeebcc45b8b7e84e91e4bc0cc1213eadd55fa303131dd");
    }
}
