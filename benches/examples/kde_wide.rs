//! Times the KDE bounds on one wide layer and checks them against a float64 reference of the
//! formulas: the figures behind the wide-layer path.
//!
//! ```text
//! cargo run --release -p infoplane-benches --example kde_wide -- [upper|lower|both] THREADS REPS [N D VAR] [--reference] [--tree|--wide]
//! ```
//!
//! `--tree` and `--wide` force a path (see `KdePlan::with_wide`); without either, the plan's
//! own choice.
//!
//! The layer is `fixtures::tanh_layer(N, D, 4)` (default 10000 × 1024, σ² = 0.1), labels in
//! 10 classes. With `--mnist DIR` it is instead the 1024-unit layer of Saxe et al.'s MNIST
//! network (`saxe-mnist`: 784-1024-20-20-20-10 tanh, Glorot uniform, seed `--seed S`, default
//! 0) on the data set's test rows (the first N of them) with their labels, after
//! `--train-epochs E` epochs (default 0) of SGD lr 1e-3 over the training rows in order in
//! batches of 128: the layer a measured epoch of `infoplane run --preset saxe-mnist` hands the
//! KDE. Each repetition is one estimate as the CLI runs it: on one thread the whole
//! estimate, on more the shared work once, then one part per thread. Prints every time and
//! the median; with `--reference` also the largest difference, in bits, of I(X;T) and I(T;Y)
//! against the float64 reference (which takes a minute or two at the default size).
// A bench harness that cannot set up its input has nothing sensible to do but stop.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]
#![allow(clippy::cast_precision_loss)]

use infoplane_core::estimator::{Layer, Part, RowSums};
use infoplane_core::{KdeBoth, KdeBound, KdePlan, MatRef, PlanePoint};
use infoplane_tests::fixtures;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let reference = args.iter().any(|a| a == "--reference");
    let path = if args.iter().any(|a| a == "--tree") {
        Some(false)
    } else if args.iter().any(|a| a == "--wide") {
        Some(true)
    } else {
        None
    };
    // Positional arguments: neither an option nor an option's value.
    let valued = ["--mnist", "--train-epochs", "--seed"];
    let pos: Vec<&String> = args
        .iter()
        .enumerate()
        .filter(|&(i, a)| {
            !a.starts_with("--") && (i == 0 || !valued.contains(&args[i - 1].as_str()))
        })
        .map(|(_, a)| a)
        .collect();
    let which = pos.first().map_or("upper", |s| s.as_str()).to_string();
    let threads: usize = pos.get(1).map_or(1, |s| s.parse().expect("threads"));
    let reps: usize = pos.get(2).map_or(3, |s| s.parse().expect("reps"));
    let n: usize = pos.get(3).map_or(10_000, |s| s.parse().expect("n"));
    let d: usize = pos.get(4).map_or(1024, |s| s.parse().expect("d"));
    let var: f32 = pos.get(5).map_or(0.1, |s| s.parse().expect("var"));
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let (t, y, n, d) = if let Some(dir) = opt("--mnist") {
        let epochs: usize = opt("--train-epochs").map_or(0, |s| s.parse().expect("epochs"));
        let seed: u64 = opt("--seed").map_or(0, |s| s.parse().expect("seed"));
        let (t, y) = mnist_layer(std::path::Path::new(&dir), n, epochs, seed);
        let n = y.len();
        (t, y, n, 1024)
    } else {
        let t = fixtures::tanh_layer(n, d, 4);
        let y: Vec<u32> = (0..n).map(|i| u32::try_from(i % 10).unwrap_or(0)).collect();
        (t, y, n, d)
    };
    let tm = MatRef::new(&t, n, d).expect("n × d");
    let layer = Layer::new(tm, &y, None).expect("layer");
    let mut times = Vec::new();
    let mut last: Vec<PlanePoint> = Vec::new();
    for _ in 0..reps {
        let start = Instant::now();
        last = match which.as_str() {
            "both" => both(&layer, var, threads, path).to_vec(),
            "lower" => vec![one(&layer, KdeBound::Lower, var, threads, path)],
            _ => vec![one(&layer, KdeBound::Upper, var, threads, path)],
        };
        let s = start.elapsed().as_secs_f64();
        println!("{which} n={n} d={d} var={var} threads={threads}: {s:.3} s");
        times.push(s);
    }
    times.sort_by(f64::total_cmp);
    println!("median {:.3} s over {reps}", times[reps / 2]);
    for p in &last {
        println!(
            "I(X;T) = {} bits, I(T;Y) = {} bits",
            p.i_xt.in_bits(),
            p.i_ty.in_bits()
        );
    }
    if reference {
        let bounds: Vec<f64> = match which.as_str() {
            "both" => vec![2.0, 8.0],
            "lower" => vec![8.0],
            _ => vec![2.0],
        };
        for (p, c) in last.iter().zip(bounds) {
            let (ixt, ity) = reference_bits(&t, &y, n, d, var, c);
            println!(
                "c={c}: reference I(X;T) = {ixt}, I(T;Y) = {ity}; |diff| = {:.3e}, {:.3e} bits",
                (p.i_xt.in_bits() - ixt).abs(),
                (p.i_ty.in_bits() - ity).abs()
            );
        }
    }
}

/// The 1024-unit layer of the saxe-mnist network on the first `limit` test rows of the data
/// set in `dir` (row-major, `rows × 1024`) and those rows' labels, after `epochs` epochs of
/// SGD over the training rows in order.
fn mnist_layer(
    dir: &std::path::Path,
    limit: usize,
    epochs: usize,
    seed: u64,
) -> (Vec<f32>, Vec<u32>) {
    use infoplane_core::{Activation, Init, MlpPlan, MlpShape, Optimizer, Stream, StreamRng};
    let (ds, _) = infoplane_cli::mnist::load(dir).expect("the MNIST files");
    let train = ds.split().unwrap_or(ds.rows() * 4 / 5);
    let shape = MlpShape::new(&[784, 1024, 20, 20, 20, 10], Activation::Tanh).expect("shape");
    let plan = MlpPlan::new(shape, 128).expect("plan");
    let mut params = vec![0.0f32; plan.shape().param_len()];
    let mut rng = StreamRng::new(seed, Stream::Init);
    plan.init(Init::GlorotUniform, &mut params, &mut rng)
        .expect("init");
    let mut scratch = vec![0.0f32; plan.scratch_len()];
    let mut grads = vec![0.0f32; params.len()];
    let sgd = Optimizer::sgd(1e-3);
    let mut state = vec![0.0f32; sgd.state_len(params.len())];
    let mut step = 0;
    let train_rows: Vec<u32> = (0..u32::try_from(train).expect("rows")).collect();
    for _ in 0..epochs {
        for batch in train_rows.chunks(128) {
            plan.gradient(
                &params,
                ds.inputs(),
                ds.labels(),
                batch,
                &mut grads,
                &mut scratch,
            )
            .expect("gradient");
            step += 1;
            sgd.step(step, &mut params, &grads, &mut state)
                .expect("step");
        }
    }
    let test: Vec<u32> = (u32::try_from(train).expect("rows")
        ..u32::try_from(ds.rows()).expect("rows"))
        .take(limit)
        .collect();
    let sub = ds.subset("test", &test).expect("test rows");
    let rows = sub.rows();
    let mut layers = vec![0.0f32; rows * plan.shape().activation_len()];
    let mut nll = vec![0.0f32; rows];
    plan.evaluate(
        &params,
        sub.inputs(),
        sub.labels(),
        &mut layers,
        &mut nll,
        &mut scratch,
    )
    .expect("evaluate");
    layers.truncate(rows * 1024);
    (layers, sub.labels().to_vec())
}

/// Sums of the parts of an estimate, one part per thread.
fn parts<F: Fn(Part) -> R + Sync, R: Send>(threads: usize, f: F) -> Vec<R> {
    std::thread::scope(|scope| {
        let f = &f;
        let jobs: Vec<_> = (0..threads)
            .map(|index| {
                scope.spawn(move || {
                    f(Part {
                        index,
                        count: threads,
                    })
                })
            })
            .collect();
        jobs.into_iter()
            .map(|j| j.join().expect("thread"))
            .collect()
    })
}

fn one(
    layer: &Layer<'_>,
    bound: KdeBound,
    var: f32,
    threads: usize,
    path: Option<bool>,
) -> PlanePoint {
    let mut plan = KdePlan::new(layer.n(), layer.d(), bound, var).expect("plan");
    if let Some(wide) = path {
        plan = plan.with_wide(wide).expect("plan");
    }
    let mut s = vec![0u64; plan.scratch_req().words()];
    if threads == 1 {
        return plan.estimate(layer, &mut s).expect("estimate");
    }
    let mut shared = vec![0u64; plan.tree_req().words()];
    let tree = plan.tree(layer, &mut shared).expect("tree");
    let sums = parts(threads, |part| {
        let mut w = vec![0u64; plan.walk_req().words()];
        plan.estimate_part_on(&tree, part, &mut w).expect("part")
    });
    let sums = sums.into_iter().fold(RowSums::default(), RowSums::merge);
    plan.finish(layer, sums, &mut s).expect("finish")
}

fn both(layer: &Layer<'_>, var: f32, threads: usize, path: Option<bool>) -> [PlanePoint; 2] {
    let mut both = KdeBoth::new(layer.n(), layer.d(), var).expect("plan");
    if let Some(wide) = path {
        both = both.with_wide(wide).expect("plan");
    }
    let mut s = vec![0u64; both.scratch_req().words()];
    if threads == 1 {
        return both.estimate(layer, &mut s).expect("estimate");
    }
    let mut shared = vec![0u64; both.tree_req().words()];
    let tree = both.tree(layer, &mut shared).expect("tree");
    let sums = parts(threads, |part| {
        let mut w = vec![0u64; both.walk_req().words()];
        both.estimate_part_on(&tree, part, &mut w).expect("part")
    });
    let [mut u, mut l] = [RowSums::default(); 2];
    for [a, b] in sums {
        u = u.merge(a);
        l = l.merge(b);
    }
    both.finish(layer, [u, l], &mut s).expect("finish")
}

/// I(X;T) and I(T;Y) in bits by the formulas in float64 (`D` from the f32 values in f64,
/// `exp` and `ln` of std), every pair, rows split over the available cores.
fn reference_bits(t: &[f32], y: &[u32], n: usize, d: usize, var: f32, c: f64) -> (f64, f64) {
    let s = 1.0 / (c * f64::from(var));
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = n.div_ceil(threads);
    let terms: Vec<(f64, f64)> = std::thread::scope(|scope| {
        let jobs: Vec<_> = (0..threads)
            .map(|k| {
                scope.spawn(move || {
                    let mut out = Vec::new();
                    for i in k * chunk..((k + 1) * chunk).min(n) {
                        let (mut a, mut b) = (0.0f64, 0.0f64);
                        let ri = &t[i * d..(i + 1) * d];
                        for j in 0..n {
                            let rj = &t[j * d..(j + 1) * d];
                            let dist: f64 = ri
                                .iter()
                                .zip(rj)
                                .map(|(&p, &q)| {
                                    let e = f64::from(p) - f64::from(q);
                                    e * e
                                })
                                .sum();
                            #[allow(clippy::disallowed_methods)] // a reference, not core numerics
                            let k = (-dist * s).exp();
                            a += k;
                            if y[j] == y[i] {
                                b += k;
                            }
                        }
                        #[allow(clippy::disallowed_methods)]
                        out.push((a.ln(), b.ln()));
                    }
                    out
                })
            })
            .collect();
        jobs.into_iter()
            .flat_map(|j| j.join().expect("thread"))
            .collect()
    });
    let nf = n as f64;
    let mut counts = std::collections::BTreeMap::new();
    for &l in y {
        *counts.entry(l).or_insert(0usize) += 1;
    }
    #[allow(clippy::disallowed_methods)]
    let sy: f64 = counts.values().map(|&c| c as f64 * (c as f64).ln()).sum();
    #[allow(clippy::disallowed_methods)]
    let h = nf.ln() - terms.iter().map(|t| t.0).sum::<f64>() / nf;
    let ity = h - (sy - terms.iter().map(|t| t.1).sum::<f64>()) / nf;
    let ln2 = core::f64::consts::LN_2;
    (h.max(0.0) / ln2, ity / ln2)
}
