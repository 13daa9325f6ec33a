//! Binning estimators: one `BinningPlan::estimate` call (I(X;T) and I(T;Y) of one
//! layer) per iteration.
//!
//! Run one group: `cargo bench -p infoplane-benches --bench binning -- mutual_information`.
//! The target is ≤ 0.2 ms for one 4096 × 10 estimate (IDNNs takes 0.16–0.24 s, see
//! PERFORMANCE.md).
// Bench setup that fails is a bug in the fixtures or in core, and the only sensible reaction
// is to stop with the error, so `expect` is allowed here (not in library code, R29).
#![allow(clippy::expect_used)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use infoplane_benches::TishbyNet;
use infoplane_core::estimator::Layer;
use infoplane_core::{BinRule, BinningPlan, MatRef};
use infoplane_tests::fixtures;
use std::hint::black_box;

/// Tishby's edges: 30 on [−1, 1] (29 intervals).
const EDGES_30: BinRule = BinRule::Edges {
    n_edges: 30,
    lo: -1.0,
    hi: 1.0,
    idnns: false,
};
/// The same edges with the IDNNs code's quirks.
const EDGES_30_IDNNS: BinRule = BinRule::Edges {
    n_edges: 30,
    lo: -1.0,
    hi: 1.0,
    idnns: true,
};
/// ibsgd's fixed bin size on the 12-bit task.
const SIZE_007: BinRule = BinRule::Size { size: 0.07 };
/// 30 edges over the layer's own range.
const RANGE_30: BinRule = BinRule::LayerRange { n_edges: 30 };

const RULES: [(&str, BinRule); 4] = [
    ("edges30", EDGES_30),
    ("edges30-idnns", EDGES_30_IDNNS),
    ("size0.07", SIZE_007),
    ("range30", RANGE_30),
];

/// Times one estimate of an `n × d` layer `t` with labels `y` under `rule`.
fn bench_one(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    rule: BinRule,
    t: &[f32],
    y: &[u32],
    (n, d): (usize, usize),
) {
    let plan = BinningPlan::new(n, d, rule).expect("valid binning plan");
    let t = MatRef::new(t, n, d).expect("layer has n × d values");
    // Scratch is allocated once, outside the timed loop (R28).
    let mut scratch = vec![0u64; plan.scratch_req().words()];
    // One untimed call proves the timed calls take the success path, not an early error.
    Layer::new(t, y, None)
        .and_then(|l| plan.estimate(&l, &mut scratch))
        .expect("estimate succeeds");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_with_input(
        BenchmarkId::new(name, format!("n={n},d={d}")),
        &t,
        |b, &t| {
            // The layer's checks (lengths, finiteness) are timed too, as every caller pays them.
            b.iter(|| {
                black_box(
                    Layer::new(black_box(t), black_box(y), None)
                        .and_then(|l| plan.estimate(&l, black_box(&mut scratch))),
                )
            });
        },
    );
}

/// Independent values in (−1, 1) (every binned row of a wide layer is its own symbol), every
/// rule, at the shapes of the Tishby net's layers, plus one larger layer.
fn mutual_information(c: &mut Criterion) {
    let mut g = c.benchmark_group("mutual_information");
    for (n, d) in [(4096, 10), (4096, 3), (4096, 2)] {
        let t = fixtures::layer(n, d, fixtures::LAYER_SEED);
        let y = fixtures::labels(n, 2, fixtures::LABEL_SEED);
        for (name, rule) in RULES {
            bench_one(&mut g, name, rule, &t, &y, (n, d));
        }
    }
    // 20 units × 5 bits = 100 bits per row: too wide to pack into a u64 key, so this takes
    // the rank-by-sort path.
    let (n, d) = (10_000, 20);
    let t = fixtures::layer(n, d, fixtures::LAYER_SEED);
    let y = fixtures::labels(n, 10, fixtures::LABEL_SEED);
    bench_one(&mut g, "edges30", EDGES_30, &t, &y, (n, d));
    g.finish();
}

/// Real tanh activations: the first hidden layer (10 units) and the 3-unit layer of the
/// freshly initialised 12-10-7-5-4-3-2 network over all 4096 inputs. These rows repeat and
/// saturate the way a trained network's do, unlike the independent values above.
fn tishby_layers(c: &mut Criterion) {
    let net = TishbyNet::new().expect("tishby net");
    let mut g = c.benchmark_group("tishby_layer");
    for layer in [1, 5] {
        let (t, d) = net.hidden_layer(layer).expect("hidden layer");
        let n = net.labels.len();
        for (name, rule) in [("edges30-idnns", EDGES_30_IDNNS), ("size0.07", SIZE_007)] {
            bench_one(&mut g, name, rule, &t, &net.labels, (n, d));
        }
    }
    g.finish();
}

criterion_group!(benches, mutual_information, tishby_layers);
criterion_main!(benches);
