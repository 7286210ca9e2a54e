//! Draw benchmark: 500,000 targets, 2,000 inspectors, conflicts, last inspectors and grid avoidance.
//! Run with `cargo bench -p qgov-sampling --bench draw`.

use qgov_sampling::draw::{CreditRiskClass, DrawInput, Inspector, Mode, Target, draw};

fn main() {
    divan::main();
}

fn directory() -> DrawInput {
    let classes = CreditRiskClass::ALL;
    let targets: Vec<Target> = (0..500_000)
        .map(|i| Target {
            id: format!("91120116MA{i:08}"),
            name: format!("企业{i}"),
            // 40 % A, 30 % B, 20 % C, 10 % D.
            credit_class: classes[[0, 0, 0, 0, 1, 1, 1, 2, 2, 3][i % 10]],
            grid: format!("G{:02}", i % 40),
            specialties_needed: vec![],
            last_inspectors: vec![format!("I{:04}", (i * 7) % 2000), format!("I{:04}", (i * 13) % 2000)],
        })
        .collect();
    let inspectors: Vec<Inspector> = (0..2000)
        .map(|k| Inspector {
            id: format!("I{k:04}"),
            name: format!("检查员{k}"),
            unit: format!("U{}", k % 12),
            grid: Some(format!("G{:02}", k % 40)),
            specialties: vec![],
            conflicts: (0..3).map(|j| format!("91120116MA{:08}", (k * 251 + j * 97) % 500_000)).collect(),
        })
        .collect();
    let mut input = DrawInput::new(targets, inspectors, Mode::parse_ratios("A=0.05,B=0.2,C=0.6,D=1").unwrap());
    input.avoid_same_grid = true;
    input
}

/// Risk-based ratios A=5 %, B=20 %, C=60 %, D=100 %: 150,000 of the 500,000 targets drawn.
#[divan::bench(sample_count = 10)]
fn ratio_draw_500k_targets_2k_inspectors(bencher: divan::Bencher) {
    let input = directory();
    bencher.bench(|| draw(divan::black_box(&input), b"benchmark-seed-0123456789").unwrap());
}

/// A fixed count of 25,000 targets (5 %) from the same directory.
#[divan::bench(sample_count = 10)]
fn count_draw_25k_of_500k_targets(bencher: divan::Bencher) {
    let mut input = directory();
    input.mode = Mode::Count(25_000);
    bencher.bench(|| draw(divan::black_box(&input), b"benchmark-seed-0123456789").unwrap());
}
