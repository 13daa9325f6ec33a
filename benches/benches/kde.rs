//! KDE bounds: one upper-bound estimate (all per-row log-sum-exp terms, then the combination)
//! per iteration, single-threaded and with the rows split over two threads as the CLI does.
//!
//! Run: `cargo bench -p infoplane-benches --bench kde`. Targets: ≤ 4 ms for a 4096 × 10
//! layer at σ² = 1e-3 on a 2-core machine, ≤ 0.5 s for 10000 × 20 at σ² = 0.1, ≤ 2 s for
//! 10000 × 1024 at σ² = 0.1 on 2 cores (group `kde_wide_*`).
//! `benches/compare/kde_numpy.py` times ibsgd's formula in numpy float32 on the same shapes.
// Bench setup that fails is a bug in the fixtures or in core; stopping with the error is the
// only sensible reaction, so `expect` is allowed here (not in library code, R29).
#![allow(clippy::expect_used)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use infoplane_benches::TishbyNet;
use infoplane_core::estimator::{Layer, Part, RowSums};
use infoplane_core::{KdeBoth, KdeBound, KdePlan, MatRef};
use infoplane_tests::fixtures;
use std::hint::black_box;

/// One estimate with the work split into `scratch.len()` parts by the tree's leaves, one
/// thread each, like the CLI's `estimate --threads`; the bits do not depend on the split.
fn estimate(plan: &KdePlan, layer: &Layer<'_>, scratch: &mut [Vec<u64>]) -> f64 {
    let count = scratch.len();
    let sums = if count == 1 {
        let s = scratch.first_mut().expect("one scratch");
        plan.estimate_part(layer, Part::WHOLE, s).expect("estimate")
    } else {
        let parts: Vec<RowSums> = std::thread::scope(|scope| {
            let jobs: Vec<_> = scratch
                .iter_mut()
                .enumerate()
                .map(|(index, s)| {
                    scope.spawn(move || {
                        plan.estimate_part(layer, Part { index, count }, s)
                            .expect("estimate")
                    })
                })
                .collect();
            jobs.into_iter()
                .map(|j| j.join().expect("thread"))
                .collect()
        });
        parts.into_iter().fold(RowSums::default(), RowSums::merge)
    };
    let s = scratch.first_mut().expect("one scratch");
    plan.finish(layer, sums, s).expect("finish").i_xt.in_nats()
}

fn bench_case(
    c: &mut Criterion,
    group: &str,
    id: &str,
    t: &[f32],
    (n, d): (usize, usize),
    var: f32,
) {
    bench_case_bound(c, group, id, t, (n, d), var, (KdeBound::Upper, false));
}

/// [`bench_case`] for either bound, on the tree or the wide path (`KdePlan::with_wide`).
fn bench_case_bound(
    c: &mut Criterion,
    group: &str,
    id: &str,
    t: &[f32],
    (n, d): (usize, usize),
    var: f32,
    (bound, wide): (KdeBound, bool),
) {
    let y = fixtures::labels(n, 2, 7);
    let plan = KdePlan::new(n, d, bound, var)
        .and_then(|p| p.with_wide(wide))
        .expect("plan");
    let tm = MatRef::new(t, n, d).expect("n × d");
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(n as u64));
    if n > 5000 {
        g.sample_size(10);
    }
    for threads in [1usize, 2] {
        // Scratch is allocated once per thread, outside the timed loop (R28).
        let mut scratch = vec![vec![0u64; plan.scratch_req().words()]; threads];
        g.bench_with_input(
            BenchmarkId::new(format!("{id},threads={threads}"), n),
            &tm,
            |b, &tm| {
                // The layer's checks (lengths, finiteness) are timed too, as every caller pays
                // them.
                b.iter(|| {
                    let layer = Layer::new(black_box(tm), &y, None).expect("layer");
                    black_box(estimate(&plan, &layer, &mut scratch))
                });
            },
        );
    }
    g.finish();
}

fn kde(c: &mut Criterion) {
    let (n, d) = (4096, 10);
    bench_case(
        c,
        "kde_upper",
        "uniform n=4096,d=10,var=1e-3",
        &fixtures::layer(n, d, 1),
        (n, d),
        1e-3,
    );
    let net = TishbyNet::new().expect("network");
    for layer in [1usize, 5] {
        let (t, w) = net.hidden_layer(layer).expect("layer");
        bench_case(
            c,
            "kde_upper",
            &format!("tishby layer {layer} n=4096,d={w},var=1e-3"),
            &t,
            (n, w),
            1e-3,
        );
    }
    let (n, d) = (10_000, 20);
    bench_case(
        c,
        "kde_upper",
        "uniform n=10000,d=20,var=0.1",
        &fixtures::layer(n, d, 2),
        (n, d),
        0.1,
    );
}

/// Both bounds of one layer: two separate estimates against one [`KdeBoth`] (one tree, one
/// walk, the same bits), single-threaded, on a wide layer (the walk dominates) and on a
/// 2-unit layer in two tight clusters like a late saxe output layer (the pairs dominate).
fn kde_both(c: &mut Criterion) {
    let n = 4096;
    let net = TishbyNet::new().expect("network");
    let (wide, w) = net.hidden_layer(1).expect("layer");
    let cases = [
        (format!("tishby layer 1 n=4096,d={w}"), wide, w),
        (
            "2 clusters n=4096,d=2".to_string(),
            fixtures::clustered_layer(n, 2, 2, 3),
            2,
        ),
    ];
    let y = fixtures::labels(n, 2, 7);
    let mut g = c.benchmark_group("kde_both_bounds");
    g.throughput(Throughput::Elements(n as u64));
    for (id, t, d) in &cases {
        let tm = MatRef::new(t, n, *d).expect("n × d");
        let both = KdeBoth::new(n, *d, 1e-3).expect("plan");
        let [up, lo] = both.plans();
        let mut s = vec![0u64; both.scratch_req().words()];
        g.bench_with_input(
            BenchmarkId::new(format!("{id},separate"), n),
            &tm,
            |b, &tm| {
                b.iter(|| {
                    let layer = Layer::new(black_box(tm), &y, None).expect("layer");
                    let u = up.estimate(&layer, &mut s).expect("upper");
                    let l = lo.estimate(&layer, &mut s).expect("lower");
                    black_box((u, l))
                });
            },
        );
        g.bench_with_input(
            BenchmarkId::new(format!("{id},together"), n),
            &tm,
            |b, &tm| {
                b.iter(|| {
                    let layer = Layer::new(black_box(tm), &y, None).expect("layer");
                    black_box(both.estimate(&layer, &mut s).expect("both"))
                });
            },
        );
    }
    g.finish();
}

/// Small layers (a minibatch, a short test split), where the tree's walk is a large share:
/// uniform rows in (−1, 1) at σ² = 1e-3, and a wide noise (σ² = 1, every pair within reach).
fn kde_small(c: &mut Criterion) {
    let mut g = c.benchmark_group("kde_upper_small");
    for (n, d, var) in [
        (64usize, 10usize, 1e-3f32),
        (64, 3, 1e-3),
        (256, 10, 1e-3),
        (256, 6, 1e-3),
        (256, 3, 1e-3),
        (256, 10, 1.0),
        (1024, 10, 1e-3),
    ] {
        let t = fixtures::layer(n, d, 3);
        let y = fixtures::labels(n, 2, 7);
        let tm = MatRef::new(&t, n, d).expect("n × d");
        let plan = KdePlan::new(n, d, KdeBound::Upper, var).expect("plan");
        let mut s = vec![0u64; plan.scratch_req().words()];
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(
            BenchmarkId::new(format!("d={d},var={var}"), n),
            &tm,
            |b, &tm| {
                b.iter(|| {
                    let layer = Layer::new(black_box(tm), &y, None).expect("layer");
                    black_box(plan.estimate(&layer, &mut s).expect("estimate"))
                });
            },
        );
    }
    g.finish();
}

/// A wide layer like the MNIST net's 1024-unit one (`fixtures::tanh_layer`) at σ² = 0.1,
/// where no node box prunes: the tree against the wide path (a Gram-form filter, then the
/// direct form; `KdePlan::with_wide`), each bound on 1 thread and in 2 parts on 2 threads,
/// and both bounds in one pass of the wide path on 1 thread. Ten samples of several seconds
/// each: run it on its own (`cargo bench -p infoplane-benches --bench kde -- kde_wide`).
fn kde_wide(c: &mut Criterion) {
    let (n, d, var) = (10_000, 1024, 0.1);
    let t = fixtures::tanh_layer(n, d, 4);
    for (group, bound) in [
        ("kde_wide_upper", KdeBound::Upper),
        ("kde_wide_lower", KdeBound::Lower),
    ] {
        for (path, wide) in [("tree", false), ("wide", true)] {
            let id = format!("tanh n=10000,d=1024,var=0.1,{path}");
            bench_case_bound(c, group, &id, &t, (n, d), var, (bound, wide));
        }
    }
    let y = fixtures::labels(n, 2, 7);
    let tm = MatRef::new(&t, n, d).expect("n × d");
    let both = KdeBoth::new(n, d, var)
        .and_then(|b| b.with_wide(true))
        .expect("plan");
    let mut s = vec![0u64; both.scratch_req().words()];
    let mut g = c.benchmark_group("kde_wide_both");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_with_input(
        BenchmarkId::new("tanh n=10000,d=1024,var=0.1,wide,threads=1", n),
        &tm,
        |b, &tm| {
            b.iter(|| {
                let layer = Layer::new(black_box(tm), &y, None).expect("layer");
                black_box(both.estimate(&layer, &mut s).expect("both"))
            });
        },
    );
    g.finish();
}

criterion_group!(benches, kde, kde_both, kde_small, kde_wide);
criterion_main!(benches);
