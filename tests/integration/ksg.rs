//! The k-NN estimator (`ksg`): against the all-pairs reference to 1e-9 bits, on correlated
//! Gaussians against the closed form, and on data with heavy exact ties.

// Fixture sizes are small counts; f64 draws become f32 data on purpose.
#![allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]

use infoplane_core::estimator::{Estimator, Layer, Part, Settings};
use infoplane_core::{MatRef, PlanePoint, Stream, StreamRng};
use infoplane_tests::reference::{knn_columns, ksg_nats, ross_nats};

const LN2: f64 = core::f64::consts::LN_2;

/// Standard normal pairs by Box–Muller on a fixed stream.
fn normals(len: usize, seed: u64) -> Vec<f64> {
    let mut r = StreamRng::new(seed, Stream::Noise);
    let mut out = Vec::with_capacity(len + 1);
    while out.len() < len {
        let u1 = (f64::from(r.next_u32()) + 0.5) / 4_294_967_296.0;
        let u2 = f64::from(r.next_u32()) / 4_294_967_296.0;
        let rad = libm::sqrt(-2.0 * libm::log(u1));
        let a = 2.0 * core::f64::consts::PI * u2;
        out.push(rad * libm::cos(a));
        out.push(rad * libm::sin(a));
    }
    out.truncate(len);
    out
}

/// `n` samples of `(x, t)`, each `d`-dimensional, coordinate `c` of `t` correlated `rho`
/// with coordinate `c` of `x`: I(X;T) = −d/2 · ln(1 − rho²) nats.
fn gaussians(n: usize, d: usize, rho: f64, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let z = normals(2 * n * d, seed);
    let s = libm::sqrt(1.0 - rho * rho);
    let x: Vec<f32> = z[..n * d].iter().map(|&v| v as f32).collect();
    let t: Vec<f32> = z[..n * d]
        .iter()
        .zip(&z[n * d..])
        .map(|(&a, &b)| (rho * a + s * b) as f32)
        .collect();
    (x, t)
}

fn settings(k: u32, standardize: bool) -> Settings {
    Settings {
        k,
        standardize,
        ..Settings::DEFAULT
    }
}

/// The estimate through the plan API, whole and in 3 parts on shared trees (the same bits
/// asserted), with the inputs `x` (`dx` columns) or the input groups `g`.
fn estimate(
    s: Settings,
    x: Option<(&[f32], usize)>,
    g: Option<&[u32]>,
    t: &[f32],
    d: usize,
    y: &[u32],
) -> PlanePoint {
    let n = y.len();
    let mut plan = Estimator::new("ksg", s).unwrap().plan(n, d).unwrap();
    let mut layer = Layer::new(MatRef::new(t, n, d).unwrap(), y, g).unwrap();
    if let Some((x, dx)) = x {
        plan = plan.with_inputs(dx).unwrap();
        layer = layer.with_x(MatRef::new(x, n, dx).unwrap().into()).unwrap();
    }
    let mut scratch = vec![0u64; plan.scratch_req().words()];
    let whole = plan.estimate(&layer, &mut scratch).unwrap();
    let mut shared = vec![0u64; plan.shared_req().unwrap().words()];
    let prepared = plan.prepare(&layer, &mut shared).unwrap();
    let mut w = vec![0u64; plan.part_req().unwrap().words()];
    let merged = (0..3)
        .map(|index| {
            plan.estimate_part_on(&prepared, Part { index, count: 3 }, &mut w)
                .unwrap()
        })
        .reduce(|a, b| a.merge(b).unwrap())
        .unwrap();
    let split = plan.finish(&layer, merged, &mut scratch).unwrap();
    assert_eq!(
        (
            whole.i_xt.in_bits().to_bits(),
            whole.i_ty.in_bits().to_bits()
        ),
        (
            split.i_xt.in_bits().to_bits(),
            split.i_ty.in_bits().to_bits()
        )
    );
    whole
}

fn bits_clamped(nats: f64) -> f64 {
    nats.max(0.0) / LN2
}

/// Quantised values: each coordinate rounded to a multiple of `step`, so exact ties abound.
fn quantise(v: &[f32], step: f32) -> Vec<f32> {
    v.iter().map(|&a| (a / step).round() * step).collect()
}

#[test]
fn ksg_equals_the_all_pairs_reference() {
    let labels = |n: usize, classes: u32, seed: u64| -> Vec<u32> {
        let mut r = StreamRng::new(seed, Stream::Noise);
        (0..n).map(|_| r.below(classes)).collect()
    };
    let mut cases = 0;
    // d = 8 and 10: 16 and 20 joint columns, the all-pairs scan (ALL_PAIRS_DIMS); the others
    // query the trees.
    assert_eq!(infoplane_core::estimator::ksg::ALL_PAIRS_DIMS, 16);
    for (n, d, rho, seed) in [
        (300, 1, 0.6, 1),
        (400, 3, 0.5, 2),
        (250, 5, 0.8, 3),
        (203, 8, 0.6, 4),
        (150, 10, 0.7, 5),
    ] {
        let (x, t) = gaussians(n, d, rho, seed);
        for (name, x, t) in [
            ("continuous", x.clone(), t.clone()),
            ("quantised 0.5", quantise(&x, 0.5), quantise(&t, 0.5)),
            ("quantised 2", quantise(&x, 2.0), quantise(&t, 2.0)),
        ] {
            // Classes: the sign of t's first coordinate with some noise, and a singleton.
            let mut y: Vec<u32> = labels(n, 3, seed + 10);
            for (i, v) in y.iter_mut().enumerate() {
                if t[i * d] > 0.3 {
                    *v = 3;
                }
            }
            y[7] = 99;
            for k in [1u32, 3, 5] {
                for standardize in [true, false] {
                    let s = settings(k, standardize);
                    let p = estimate(s, Some((&x, d)), None, &t, d, &y);
                    let (xs, ts) = (
                        knn_columns(&x, d, standardize),
                        knn_columns(&t, d, standardize),
                    );
                    let want_x = bits_clamped(ksg_nats(&xs, d, &ts, d, k as usize));
                    let want_y = bits_clamped(ross_nats(&ts, d, &y, k as usize).unwrap());
                    let what = format!("{name} n={n} d={d} k={k} standardize={standardize}");
                    assert!(
                        (p.i_xt.in_bits() - want_x).abs() <= 1e-9,
                        "I(X;T) {what}: {} vs {want_x}",
                        p.i_xt.in_bits()
                    );
                    assert!(
                        (p.i_ty.in_bits() - want_y).abs() <= 1e-9,
                        "I(T;Y) {what}: {} vs {want_y}",
                        p.i_ty.in_bits()
                    );
                    // Discrete inputs (groups): Ross's form over the groups.
                    let g: Vec<u32> = (0..n as u32).map(|i| i % 37).collect();
                    let p = estimate(s, None, Some(&g), &t, d, &y);
                    let want_g = bits_clamped(ross_nats(&ts, d, &g, k as usize).unwrap());
                    assert!(
                        (p.i_xt.in_bits() - want_g).abs() <= 1e-9,
                        "I(X;T) by groups {what}: {} vs {want_g}",
                        p.i_xt.in_bits()
                    );
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 90);
}

#[test]
fn ksg_on_correlated_gaussians_approaches_the_closed_form() {
    // −d/2 ln(1 − ρ²) nats. The mean error over three seeds must shrink from N = 500 to
    // N = 16 000 and end small: KSG is nearly unbiased in one dimension and underestimates
    // in ten joint dimensions (Kraskov et al. 2004, figures 4 and 9).
    for (d, rho, bound) in [(1usize, 0.6f64, 0.02f64), (5, 0.6, 0.3)] {
        let truth = -(d as f64) / 2.0 * libm::log(1.0 - rho * rho) / LN2;
        let err = |n: usize| -> f64 {
            (0..3)
                .map(|seed| {
                    let (x, t) = gaussians(n, d, rho, 100 + seed);
                    let y = vec![0u32; n];
                    let p = estimate(Settings::DEFAULT, Some((&x, d)), None, &t, d, &y);
                    (p.i_xt.in_bits() - truth).abs()
                })
                .sum::<f64>()
                / 3.0
        };
        let (small, large) = (err(500), err(16_000));
        println!("d={d}: truth {truth:.4} bits, mean |error| N=500 {small:.4}, N=16000 {large:.4}");
        assert!(large < small, "d={d}: {large} !< {small}");
        assert!(large < bound, "d={d}: {large}");
    }
}

#[test]
fn ties_keep_the_error_bounded_as_n_grows() {
    // X uniform on 8 values; T = X with probability 3/4, else uniform on the 8: exact ties
    // everywhere. I(X;T) = H(T) − H(T|X) with H(T) = 3 bits and
    // H(T|X) = −p ln p − 7 q ln q for p = 3/4 + 1/32, q = 1/32.
    let (p, q) = (0.75 + 1.0 / 32.0, 1.0 / 32.0);
    let truth = 3.0 - (-(p * libm::log2(p)) - 7.0 * q * libm::log2(q));
    let mut last = f64::INFINITY;
    for n in [1000usize, 4000, 16_000] {
        let mut r = StreamRng::new(77, Stream::Noise);
        let mut x = Vec::with_capacity(n);
        let mut t = Vec::with_capacity(n);
        for _ in 0..n {
            let a = r.below(8);
            let b = if r.below(4) < 3 { a } else { r.below(8) };
            x.push(a as f32);
            t.push(b as f32);
        }
        let y: Vec<u32> = x.iter().map(|&v| v as u32 % 2).collect();
        let got = estimate(Settings::DEFAULT, Some((&x, 1)), None, &t, 1, &y);
        let err = (got.i_xt.in_bits() - truth).abs();
        // I(T;Y): Y = X mod 2, T keeps it with probability 3/4 + 1/8.
        let py = 0.875;
        let truth_y = 1.0 + py * libm::log2(py) + (1.0 - py) * libm::log2(1.0 - py);
        let err_y = (got.i_ty.in_bits() - truth_y).abs();
        println!(
            "n={n}: I(X;T) {} (truth {truth}), I(T;Y) {} (truth {truth_y})",
            got.i_xt.in_bits(),
            got.i_ty.in_bits()
        );
        assert!(err < 0.1 && err_y < 0.05, "n={n}: {err} {err_y}");
        assert!(err < last, "n={n}: error grew from {last} to {err}");
        if n == 16_000 {
            assert!(err < 0.02 && err_y < 0.02, "n={n}: {err} {err_y}");
        }
        last = err;
    }
}
