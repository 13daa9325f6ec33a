//! The KDE bounds against the `f64` double loop of `infoplane_tests::reference`, their
//! closed-form limits, their pruning modes, split work, input groups and errors.

// Fixture sizes are small counts, and f64 draws become f32 data on purpose.
#![allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]

use infoplane_core::estimator::{Layer, Part, RowSums};
use infoplane_core::kde::{CUTOFF_REL, KdeBoth, KdeBound, KdePlan, Pruning};
use infoplane_core::{Error, MatRef, PlanePoint, Stream, StreamRng, math};
use infoplane_tests::fixtures::{self, IDS_SEED, LABEL_SEED, LAYER_SEED};
use infoplane_tests::reference::{kde_mi_from_terms, kde_row_terms_f64};
use infoplane_tests::tolerance::{
    KDE_GAUSSIAN_LATTICE, KDE_GAUSSIAN_RANDOM, KDE_MI_BITS, KDE_TERM,
};

const BOUNDS: [KdeBound; 2] = [KdeBound::Upper, KdeBound::Lower];

fn plan(n: usize, d: usize, bound: KdeBound, var: f32) -> KdePlan {
    KdePlan::new(n, d, bound, var).unwrap()
}

/// Per-row terms `[a, b, c]` of all rows.
fn terms(p: &KdePlan, t: &[f32], y: &[u32], g: Option<&[u32]>) -> Vec<[f64; 3]> {
    let n = y.len();
    let mut out = vec![0.0; 3 * n];
    let mut s = vec![0u64; p.scratch_req().words()];
    let layer = Layer::new(MatRef::new(t, n, p.d()).unwrap(), y, g).unwrap();
    p.row_terms(&layer, 0..n, &mut out, &mut s).unwrap();
    out.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect()
}

fn mi(p: &KdePlan, t: &[f32], y: &[u32], g: Option<&[u32]>) -> PlanePoint {
    let mut s = vec![0u64; p.scratch_req().words()];
    let layer = Layer::new(MatRef::new(t, y.len(), p.d()).unwrap(), y, g).unwrap();
    p.estimate(&layer, &mut s).unwrap()
}

fn bits(p: PlanePoint) -> (u64, u64) {
    (p.i_xt.in_bits().to_bits(), p.i_ty.in_bits().to_bits())
}

fn max_diff(a: &[[f64; 3]], b: &[[f64; 3]]) -> f64 {
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| (0..3).map(move |k| (x[k] - y[k]).abs()))
        .fold(0.0, f64::max)
}

fn log2(x: f64) -> f64 {
    math::log2_f64(x)
}

#[test]
fn matches_the_f64_double_loop_with_and_without_groups() {
    let cases: [(usize, usize, f32, u32); 6] = [
        (1, 3, 1e-3, 1),
        (9, 1, 0.05, 2),
        (203, 2, 0.02, 3),
        (300, 10, 1e-3, 2),
        (257, 10, 0.1, 4),
        (150, 5, 1.0, 3),
    ];
    for (case, &(n, d, var, classes)) in cases.iter().enumerate() {
        let seed = LAYER_SEED + case as u64;
        let groups = fixtures::ids(n, (n as u32 / 3).max(1), IDS_SEED + case as u64);
        for t in [
            fixtures::layer(n, d, seed),
            fixtures::clustered_layer(n, d, 5, seed),
        ] {
            let y = fixtures::labels(n, classes, LABEL_SEED + case as u64);
            for bound in BOUNDS {
                for g in [None, Some(groups.as_slice())] {
                    let want =
                        kde_row_terms_f64(&t, d, &y, g, f64::from(var), bound == KdeBound::Upper);
                    let (want_xt, want_ty) = kde_mi_from_terms(&want, &y, g);
                    for prune in [Pruning::Cutoff, Pruning::ExactZeros] {
                        let p = plan(n, d, bound, var).with_pruning(prune);
                        let got = terms(&p, &t, &y, g);
                        let err = max_diff(&got, &want);
                        assert!(err <= KDE_TERM, "n={n} d={d} {bound:?} {prune:?}: {err:e}");
                        let pt = mi(&p, &t, &y, g);
                        assert!((pt.i_xt.in_bits() - want_xt).abs() <= KDE_MI_BITS, "{pt:?}");
                        assert!((pt.i_ty.in_bits() - want_ty).abs() <= KDE_MI_BITS, "{pt:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn exact_zero_pruning_is_bit_identical_to_every_pair() {
    for (n, d, var) in [(200usize, 4usize, 1e-3f32), (131, 10, 0.05), (64, 1, 2e-4)] {
        let g = fixtures::ids(n, 40, IDS_SEED);
        for t in [
            fixtures::layer(n, d, 7),
            fixtures::clustered_layer(n, d, 3, 7),
        ] {
            let y = fixtures::labels(n, 3, 7);
            for bound in BOUNDS {
                let exact = plan(n, d, bound, var).with_pruning(Pruning::ExactZeros);
                let every = exact.with_pruning(Pruning::Nothing);
                for groups in [None, Some(g.as_slice())] {
                    let a = terms(&exact, &t, &y, groups);
                    let b = terms(&every, &t, &y, groups);
                    let to_bits = |v: &[[f64; 3]]| {
                        v.iter().flatten().map(|x| x.to_bits()).collect::<Vec<_>>()
                    };
                    assert_eq!(to_bits(&a), to_bits(&b), "n={n} d={d} {bound:?}");
                }
            }
        }
    }
}

#[test]
fn cutoff_moves_each_term_by_less_than_its_bound() {
    // 1-D points spaced so that many kernel arguments fall between the cut-off threshold
    // (about 34 here) and the exact-zero one (87): the cut-off really skips mass.
    let n = 400;
    let t: Vec<f32> = (0..n).map(|i| (i as f32) * 0.03).collect();
    let y = fixtures::labels(n, 2, 3);
    let g = fixtures::ids(n, 50, 3);
    for var in [1e-3f32, 4e-3, 1e-2] {
        for bound in BOUNDS {
            let on = terms(&plan(n, 1, bound, var), &t, &y, Some(&g));
            let off = terms(
                &plan(n, 1, bound, var).with_pruning(Pruning::ExactZeros),
                &t,
                &y,
                Some(&g),
            );
            let err = max_diff(&on, &off);
            assert!(err <= CUTOFF_REL, "{var} {bound:?}: {err:e}");
            assert!(err > 0.0, "the cut-off skipped nothing at σ² = {var}");
        }
    }
}

#[test]
fn ranges_and_parts_give_the_bits_of_one_call() {
    let (n, d, var) = (173usize, 6usize, 0.01f32);
    let g = fixtures::ids(n, 30, IDS_SEED);
    for t in [
        fixtures::layer(n, d, 11),
        fixtures::clustered_layer(n, d, 4, 11),
    ] {
        let y = fixtures::labels(n, 3, 11);
        for groups in [None, Some(g.as_slice())] {
            let layer = Layer::new(MatRef::new(&t, n, d).unwrap(), &y, groups).unwrap();
            for prune in [Pruning::Cutoff, Pruning::ExactZeros] {
                let p = plan(n, d, KdeBound::Upper, var).with_pruning(prune);
                let whole = terms(&p, &t, &y, groups);
                let mut s = vec![0u64; p.scratch_req().words()];
                // Row ranges: each row's terms are the same in any range.
                for cuts in [[0usize, 1, n], [0, 86, n], [0, 100, 101], [0, n, n]] {
                    let mut out = vec![0.0; 3 * n];
                    let mut start = 0;
                    for &end in cuts.iter().skip(1).chain(core::iter::once(&n)) {
                        let end = end.max(start);
                        p.row_terms(&layer, start..end, &mut out[3 * start..3 * end], &mut s)
                            .unwrap();
                        start = end;
                    }
                    let want: Vec<u64> = whole.iter().flatten().map(|v| v.to_bits()).collect();
                    let got: Vec<u64> = out.iter().map(|v| v.to_bits()).collect();
                    assert_eq!(got, want, "{cuts:?} {prune:?}");
                }
                // Parts, merged in any order: the bits of one estimate.
                let one = p.estimate(&layer, &mut s).unwrap();
                for parts in [1usize, 2, 3, 7, 40] {
                    let sums: Vec<RowSums> = (0..parts)
                        .map(|index| {
                            p.estimate_part(
                                &layer,
                                Part {
                                    index,
                                    count: parts,
                                },
                                &mut s,
                            )
                            .unwrap()
                        })
                        .collect();
                    let fwd = sums.iter().fold(RowSums::default(), |a, &b| a.merge(b));
                    let back = sums
                        .iter()
                        .rev()
                        .fold(RowSums::default(), |a, &b| a.merge(b));
                    assert_eq!(fwd, back);
                    let pt = p.finish(&layer, fwd, &mut s).unwrap();
                    assert_eq!(bits(pt), bits(one), "{parts} parts");
                }
                assert_eq!(
                    p.estimate_part(&layer, Part { index: 2, count: 2 }, &mut s),
                    Err(Error::InvalidParameter { name: "parts" })
                );
            }
        }
    }
}

/// Both bounds in one walk give each bound's bits alone: every pruning mode, with and
/// without input groups, on spread, clustered and saturated layers (2048 rows span several
/// blocks of query leaves), whole and in parts.
#[test]
fn both_bounds_in_one_walk_have_the_bits_of_each_alone() {
    let cases: [(usize, usize, f32, u32); 4] = [
        (1, 3, 1e-3, 1),
        (37, 1, 0.05, 2),
        (173, 6, 0.01, 4),
        (2100, 3, 1e-3, 8),
    ];
    for (n, d, var, protos) in cases {
        let g = fixtures::ids(n, (n as u32 / 3).max(1), IDS_SEED);
        let y = fixtures::labels(n, 3, LABEL_SEED);
        // tanh of a wide spread: most values at ±1 within a few ulps, as saturated layers.
        let saturated: Vec<f32> = fixtures::layer(n, d, LAYER_SEED)
            .iter()
            .map(|v| math::tanh(8.0 * v))
            .collect();
        for t in [
            fixtures::layer(n, d, LAYER_SEED),
            fixtures::clustered_layer(n, d, protos, LAYER_SEED),
            saturated,
        ] {
            for groups in [None, Some(g.as_slice())] {
                let layer = Layer::new(MatRef::new(&t, n, d).unwrap(), &y, groups).unwrap();
                let modes: &[Pruning] = if n > 300 {
                    &[Pruning::Cutoff]
                } else {
                    &[Pruning::Cutoff, Pruning::ExactZeros, Pruning::Nothing]
                };
                for &prune in modes {
                    let both = KdeBoth::new(n, d, var).unwrap().with_pruning(prune);
                    let mut s = vec![0u64; both.scratch_req().words()];
                    let alone = BOUNDS.map(|b| {
                        bits(
                            plan(n, d, b, var)
                                .with_pruning(prune)
                                .estimate(&layer, &mut s)
                                .unwrap(),
                        )
                    });
                    let got = both.estimate(&layer, &mut s).unwrap().map(bits);
                    assert_eq!(
                        got,
                        alone,
                        "n {n} d {d} {prune:?} groups {}",
                        groups.is_some()
                    );
                    for parts in [2usize, 5] {
                        let mut sums = [RowSums::default(); 2];
                        for index in 0..parts.min(both.max_parts()) {
                            let count = parts.min(both.max_parts());
                            let p = both
                                .estimate_part(&layer, Part { index, count }, &mut s)
                                .unwrap();
                            sums = [sums[0].merge(p[0]), sums[1].merge(p[1])];
                        }
                        let got = both.finish(&layer, sums, &mut s).unwrap().map(bits);
                        assert_eq!(got, alone, "{parts} parts");
                    }
                }
            }
        }
    }
    // Its scratch is checked like any plan's.
    let both = KdeBoth::new(16, 2, 1e-3).unwrap();
    let t = fixtures::layer(16, 2, LAYER_SEED);
    let y = fixtures::labels(16, 2, LABEL_SEED);
    let layer = Layer::new(MatRef::new(&t, 16, 2).unwrap(), &y, None).unwrap();
    let short = both.scratch_req().words() - 1;
    assert_eq!(
        both.estimate(&layer, &mut vec![0u64; short]),
        Err(Error::ScratchTooSmall {
            needed: short + 1,
            got: short
        })
    );
}

/// Parts that share one tree (built once, walked from two threads at once) give the bits
/// of parts that each build their own, for each bound alone and both together, every
/// pruning mode, with and without input groups; a tree of another shape is refused.
#[test]
fn parts_on_one_shared_tree_have_the_bits_of_parts_on_their_own() {
    for (n, d, var) in [(5usize, 2usize, 1e-3f32), (300, 4, 0.01), (2100, 3, 1e-3)] {
        let g = fixtures::ids(n, (n as u32 / 3).max(1), IDS_SEED);
        let y = fixtures::labels(n, 3, LABEL_SEED);
        for t in [
            fixtures::layer(n, d, LAYER_SEED),
            fixtures::clustered_layer(n, d, 4, LAYER_SEED),
        ] {
            for groups in [None, Some(g.as_slice())] {
                let layer = Layer::new(MatRef::new(&t, n, d).unwrap(), &y, groups).unwrap();
                // The large case (several blocks of query leaves) once per layer and grouping.
                let (modes, counts): (&[Pruning], &[usize]) = if n > 300 {
                    (&[Pruning::Cutoff], &[2])
                } else {
                    (&[Pruning::Cutoff, Pruning::ExactZeros], &[1, 2, 7])
                };
                for &prune in modes {
                    let both = KdeBoth::new(n, d, var).unwrap().with_pruning(prune);
                    let mut s = vec![0u64; both.scratch_req().words()];
                    let mut tree_buf = vec![0u64; both.tree_req().words()];
                    let tree = both.tree(&layer, &mut tree_buf).unwrap();
                    for &count in counts {
                        let count = count.min(both.max_parts());
                        let own: Vec<[RowSums; 2]> = (0..count)
                            .map(|index| {
                                both.estimate_part(&layer, Part { index, count }, &mut s)
                                    .unwrap()
                            })
                            .collect();
                        // The shared tree's parts, two threads at a time.
                        let shared: Vec<[RowSums; 2]> = std::thread::scope(|scope| {
                            let jobs: Vec<_> = (0..count)
                                .map(|index| {
                                    let (both, tree) = (&both, &tree);
                                    scope.spawn(move || {
                                        let mut w = vec![0u64; both.walk_req().words()];
                                        both.estimate_part_on(tree, Part { index, count }, &mut w)
                                            .unwrap()
                                    })
                                })
                                .collect();
                            jobs.into_iter().map(|j| j.join().unwrap()).collect()
                        });
                        assert_eq!(own, shared, "n {n} {prune:?} {count} parts");
                        // Each bound alone on the same tree.
                        for (b, bound) in BOUNDS.into_iter().enumerate() {
                            let p = plan(n, d, bound, var).with_pruning(prune);
                            let mut w = vec![0u64; p.walk_req().words()];
                            for (index, own) in own.iter().enumerate() {
                                let part = Part { index, count };
                                let alone = p.estimate_part(&layer, part, &mut s).unwrap();
                                assert_eq!(own[b], alone, "{bound:?}");
                                let on_tree = p.estimate_part_on(&tree, part, &mut w).unwrap();
                                assert_eq!(on_tree, alone, "{bound:?}");
                            }
                        }
                    }
                }
            }
        }
    }
    // The walk's scratch is checked, and a tree of another layer shape is refused.
    let t = fixtures::layer(16, 2, LAYER_SEED);
    let y = fixtures::labels(16, 2, LABEL_SEED);
    let layer = Layer::new(MatRef::new(&t, 16, 2).unwrap(), &y, None).unwrap();
    let p = plan(16, 2, KdeBound::Upper, 1e-3);
    let mut tree_buf = vec![0u64; p.tree_req().words()];
    assert!(matches!(
        p.tree(&layer, &mut tree_buf[1..]),
        Err(Error::ScratchTooSmall { .. })
    ));
    let tree = p.tree(&layer, &mut tree_buf).unwrap();
    let short = p.walk_req().words() - 1;
    assert!(matches!(
        p.estimate_part_on(&tree, Part::WHOLE, &mut vec![0u64; short]),
        Err(Error::ScratchTooSmall { .. })
    ));
    let other = plan(8, 4, KdeBound::Upper, 1e-3);
    let mut w = vec![0u64; other.walk_req().words()];
    assert!(matches!(
        other.estimate_part_on(&tree, Part::WHOLE, &mut w),
        Err(Error::DimensionMismatch { .. })
    ));
}

#[test]
fn row_permutation_changes_only_rounding() {
    let (n, d, var) = (240usize, 5usize, 0.02f32);
    let t = fixtures::clustered_layer(n, d, 6, 5);
    let y = fixtures::labels(n, 4, 5);
    let g = fixtures::ids(n, 60, 5);
    let perm = fixtures::permutation(n as u32, 5);
    let tp: Vec<f32> = perm
        .iter()
        .flat_map(|&i| t[i as usize * d..(i as usize + 1) * d].to_vec())
        .collect();
    let yp: Vec<u32> = perm.iter().map(|&i| y[i as usize]).collect();
    let gp: Vec<u32> = perm.iter().map(|&i| g[i as usize]).collect();
    for prune in [Pruning::Cutoff, Pruning::ExactZeros] {
        let p = plan(n, d, KdeBound::Upper, var).with_pruning(prune);
        let a = terms(&p, &t, &y, Some(&g));
        let b = terms(&p, &tp, &yp, Some(&gp));
        for (k, &i) in perm.iter().enumerate() {
            for c in 0..3 {
                assert!((a[i as usize][c] - b[k][c]).abs() <= 1e-11);
            }
        }
        let (pa, pb) = (mi(&p, &t, &y, Some(&g)), mi(&p, &tp, &yp, Some(&gp)));
        assert!((pa.i_xt.in_bits() - pb.i_xt.in_bits()).abs() <= 1e-11);
        assert!((pa.i_ty.in_bits() - pb.i_ty.in_bits()).abs() <= 1e-11);
    }
}

/// `½ Σ_k [ln(1 + λ_k/v) + λ_k/(λ_k + v)]`: the limit of `I_upper` for `v = σ²` and of
/// `I_lower` for `v = 4σ²` (SPEC: known limit for tests).
fn gaussian_limit(lams: &[f64], v: f64) -> f64 {
    0.5 * lams
        .iter()
        .map(|&l| math::ln_f64(1.0 + l / v) + l / (l + v))
        .sum::<f64>()
}

#[test]
fn gaussian_limit_on_a_lattice_in_two_dimensions() {
    // A Fibonacci lattice (N = 987, generator 610) mapped to N(0, I) by Box–Muller, then
    // scaled by √λ = (1, 0.5) and rotated by 30°: Σ has eigenvalues 1 and 0.25.
    let (n, step) = (987usize, 610usize);
    let lams = [1.0f64, 0.25];
    let (c, s) = (
        math::cos_f64(core::f64::consts::PI / 6.0),
        math::cos_f64(core::f64::consts::PI / 3.0),
    );
    let mut t = vec![0.0f32; 2 * n];
    for i in 0..n {
        let u1 = (i as f64 + 0.5) / n as f64;
        let u2 = ((i * step) % n) as f64 / n as f64 + 0.5 / n as f64;
        let r = math::sqrt_f64(-2.0 * math::ln_f64(u1));
        let angle = core::f64::consts::TAU * u2;
        let z0 = r * math::cos_f64(angle);
        let z1 = r * math::cos_f64(angle - core::f64::consts::FRAC_PI_2) * 0.5;
        t[2 * i] = (c * z0 - s * z1) as f32;
        t[2 * i + 1] = (s * z0 + c * z1) as f32;
    }
    let y = vec![0u32; n];
    let var = 0.5f32;
    let up = mi(&plan(n, 2, KdeBound::Upper, var), &t, &y, None)
        .i_xt
        .in_nats();
    let lo = mi(&plan(n, 2, KdeBound::Lower, var), &t, &y, None)
        .i_xt
        .in_nats();
    let want_up = gaussian_limit(&lams, f64::from(var));
    let want_lo = gaussian_limit(&lams, 4.0 * f64::from(var));
    assert!(
        (up - want_up).abs() <= KDE_GAUSSIAN_LATTICE,
        "{up} vs {want_up}"
    );
    assert!(
        (lo - want_lo).abs() <= KDE_GAUSSIAN_LATTICE,
        "{lo} vs {want_lo}"
    );
}

#[test]
fn gaussian_limit_from_random_draws_in_three_dimensions() {
    let n = 1500;
    let lams = [2.0f64, 1.0, 0.1];
    let mut r = StreamRng::new(100, Stream::Noise);
    let t: Vec<f32> = (0..n)
        .flat_map(|_| lams.map(|l| (f64::from(r.normal_f32()) * math::sqrt_f64(l)) as f32))
        .collect();
    let y = vec![7u32; n];
    let var = 0.3f32;
    let up = mi(&plan(n, 3, KdeBound::Upper, var), &t, &y, None);
    let lo = mi(&plan(n, 3, KdeBound::Lower, var), &t, &y, None);
    let want_up = gaussian_limit(&lams, f64::from(var));
    let want_lo = gaussian_limit(&lams, 4.0 * f64::from(var));
    assert!((up.i_xt.in_nats() - want_up).abs() <= KDE_GAUSSIAN_RANDOM);
    assert!((lo.i_xt.in_nats() - want_lo).abs() <= KDE_GAUSSIAN_RANDOM);
    // One class: H(T|Y) = H(T), so I(T;Y) = 0 up to rounding.
    assert!(up.i_ty.in_bits().abs() <= 1e-9 && lo.i_ty.in_bits().abs() <= 1e-9);
    assert!(lo.i_xt.in_nats() < up.i_xt.in_nats());
}

#[test]
fn separated_classes_give_one_bit_and_identical_classes_none() {
    let n = 200;
    let mut r = StreamRng::new(9, Stream::Noise);
    // Two clusters far apart (D·s = 5000 > 87: exact zeros), one class each.
    let mut t = Vec::new();
    let mut y = Vec::new();
    for i in 0..n {
        let centre = if i % 2 == 0 { -5.0 } else { 5.0 };
        t.push(centre + 0.05 * r.normal_f32());
        y.push((i % 2) as u32);
    }
    let p = mi(&plan(n, 1, KdeBound::Upper, 0.01), &t, &y, None);
    assert!((p.i_ty.in_bits() - 1.0).abs() <= 1e-12, "{p:?}");
    // Identical classes: every point twice, once per class. Each row's class sum is exactly
    // half its full sum, and I(T;Y) = 0.
    let base = fixtures::layer(n / 2, 2, 9);
    let t: Vec<f32> = base.chunks(2).flat_map(|r| [r, r].concat()).collect();
    let y: Vec<u32> = (0..n).map(|i| (i % 2) as u32).collect();
    for bound in BOUNDS {
        let p = mi(&plan(n, 2, bound, 0.05), &t, &y, None);
        assert!(p.i_ty.in_bits().abs() <= 1e-9, "{p:?}");
    }
    // Labels far apart as integers are still just two classes.
    let y: Vec<u32> = (0..n)
        .map(|i| if i % 2 == 0 { 1 } else { 65_537 })
        .collect();
    assert!(
        mi(&plan(n, 2, KdeBound::Upper, 0.05), &t, &y, None)
            .i_ty
            .in_bits()
            .abs()
            <= 1e-9
    );
    let y: Vec<u32> = (0..n)
        .map(|i| if i < n / 2 { u32::MAX } else { 0 })
        .collect();
    let p = mi(&plan(n, 2, KdeBound::Upper, 1e-9), &t, &y, None);
    assert!((p.i_ty.in_bits() - 1.0).abs() <= 1e-12);
}

#[test]
fn tiny_noise_saturates_at_log2_n() {
    let (n, d) = (300usize, 3usize);
    let t = fixtures::layer(n, d, 4);
    let y = fixtures::labels(n, 8, 4);
    let mut counts = [0u32; 8];
    for &v in &y {
        counts[v as usize] += 1;
    }
    let h_y: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n as f64;
            -p * log2(p)
        })
        .sum();
    for bound in BOUNDS {
        let p = mi(&plan(n, d, bound, 1e-9), &t, &y, None);
        assert!((p.i_xt.in_bits() - log2(n as f64)).abs() <= 1e-12, "{p:?}");
        assert!((p.i_ty.in_bits() - h_y).abs() <= 1e-12, "{p:?}");
    }
    // All rows equal: a single point, nothing to learn.
    let same = vec![0.25f32; n * d];
    let p = mi(&plan(n, d, KdeBound::Upper, 1e-9), &same, &y, None);
    assert!(p.i_xt.in_bits().abs() <= 1e-12 && p.i_ty.in_bits().abs() <= 1e-12);
    // One row.
    let p = mi(&plan(1, 2, KdeBound::Upper, 0.1), &[0.5, -0.5], &[3], None);
    assert_eq!((p.i_xt.in_bits(), p.i_ty.in_bits()), (0.0, 0.0));
}

#[test]
fn one_input_repeated_carries_no_information_about_x() {
    // The case: every row is the same input (say, one input under many weight
    // draws). Without groups KDE reports about log2 N; with them, 0.
    let (n, d) = (512usize, 6usize);
    let t = fixtures::layer(n, d, 21);
    let y = fixtures::labels(n, 2, 21);
    let one = vec![3u32; n];
    for bound in BOUNDS {
        let p = plan(n, d, bound, 1e-3);
        let without = mi(&p, &t, &y, None);
        assert!(without.i_xt.in_bits() > 8.0, "{without:?}");
        let with = mi(&p, &t, &y, Some(&one));
        assert!(with.i_xt.in_bits().abs() <= 1e-12, "{with:?}");
        // I(T;Y) does not depend on the input groups.
        assert_eq!(
            with.i_ty.in_bits().to_bits(),
            without.i_ty.in_bits().to_bits()
        );
    }
    // Every input distinct, given explicitly: the same bits as no groups.
    let distinct: Vec<u32> = (0..n as u32).rev().collect();
    let p = plan(n, d, KdeBound::Upper, 1e-3);
    assert_eq!(
        bits(mi(&p, &t, &y, Some(&distinct))),
        bits(mi(&p, &t, &y, None))
    );
}

#[test]
fn results_stay_within_their_ranges() {
    for (seed, (n, d, var)) in [(50usize, 2usize, 0.05f32), (97, 7, 0.01), (33, 12, 1.0)]
        .into_iter()
        .enumerate()
    {
        let t = fixtures::clustered_layer(n, d, 4, seed as u64);
        let y = fixtures::labels(n, 3, seed as u64);
        let g = fixtures::ids(n, 10, seed as u64);
        let up = mi(&plan(n, d, KdeBound::Upper, var), &t, &y, None);
        let lo = mi(&plan(n, d, KdeBound::Lower, var), &t, &y, None);
        for p in [up, lo] {
            assert!(p.i_xt.in_bits() >= 0.0 && p.i_xt.in_bits() <= log2(n as f64) + 1e-12);
            assert!(p.i_ty.in_bits() >= -1e-9 && p.i_ty.in_bits() <= log2(3.0) + 1e-9);
        }
        assert!(lo.i_xt.in_bits() <= up.i_xt.in_bits());
        let tt = terms(&plan(n, d, KdeBound::Upper, var), &t, &y, Some(&g));
        let ln_n = math::ln_f64(n as f64);
        assert!(tt.iter().flatten().all(|&v| (0.0..=ln_n).contains(&v)));
        // c_i ≤ a_i and b_i ≤ a_i: subsets of the same kernel values.
        assert!(tt.iter().all(|r| r[1] <= r[0] && r[2] <= r[0]));
    }
}

#[test]
fn errors() {
    let up = KdeBound::Upper;
    assert_eq!(KdePlan::new(0, 3, up, 0.1), Err(Error::EmptyInput));
    assert_eq!(KdePlan::new(3, 0, up, 0.1), Err(Error::EmptyInput));
    #[cfg(target_pointer_width = "64")]
    assert_eq!(KdePlan::new(1 << 32, 1, up, 0.1), Err(Error::TooLarge));
    assert_eq!(
        KdePlan::new(8, usize::MAX - 1, up, 0.1),
        Err(Error::TooLarge)
    );
    assert_eq!(
        KdePlan::new(1 << 20, usize::MAX / 64, up, 0.1),
        Err(Error::TooLarge)
    );
    for bad in [0.0f32, -1.0, f32::NAN, f32::INFINITY, 1e-45, 1e-39] {
        for bound in BOUNDS {
            assert_eq!(
                KdePlan::new(10, 2, bound, bad),
                Err(Error::InvalidParameter { name: "noise_var" }),
                "{bad}"
            );
        }
    }
    assert!(KdePlan::new(10, 2, up, 2e-39).is_ok());
    // The scratch formula, and a plan built in const context.
    const P: KdePlan = match KdePlan::new(17, 3, KdeBound::Lower, 0.5) {
        Ok(p) => p,
        Err(_) => panic!(),
    };
    // 24 slots: 72 coordinates (36 words), three u32 per slot (3 × 12), 5 node boxes of 6
    // (15 words), a key and an index per row (9 + 9), then the sums of one block of query
    // leaves (all 3 here): 24 f64 per slot (576 words).
    assert_eq!(P.scratch_req().words(), 36 + 36 + 15 + 9 + 9 + 576);
    assert_eq!((P.n(), P.d(), P.bound()), (17, 3, KdeBound::Lower));

    let (n, d) = (10usize, 2usize);
    let p = plan(n, d, up, 0.1);
    let t = fixtures::layer(n, d, 1);
    let y = vec![0u32; n];
    let layer = Layer::new(MatRef::new(&t, n, d).unwrap(), &y, None).unwrap();
    let mut s = vec![0u64; p.scratch_req().words()];
    let mut out = vec![0.0f64; 3 * n];
    let wrong = Layer::new(MatRef::new(&t, d, n).unwrap(), &y[..d], None).unwrap();
    assert_eq!(
        p.estimate(&wrong, &mut s),
        Err(Error::DimensionMismatch {
            dim: "rows",
            expected: 10,
            got: 2
        })
    );
    assert_eq!(
        p.row_terms(&layer, 2..5, &mut out, &mut s),
        Err(Error::ShapeMismatch {
            expected: 9,
            got: 30
        })
    );
    #[allow(clippy::reversed_empty_ranges)]
    let backwards = 5..2;
    for rows in [backwards, 0..11, 11..11] {
        assert_eq!(
            p.row_terms(&layer, rows, &mut out[..0], &mut s),
            Err(Error::InvalidParameter { name: "rows" })
        );
    }
    assert_eq!(p.row_terms(&layer, 4..4, &mut out[..0], &mut s), Ok(()));
    let short = p.scratch_req().words() - 1;
    assert_eq!(
        p.estimate(&layer, &mut s[..short]),
        Err(Error::ScratchTooSmall {
            needed: p.scratch_req().words(),
            got: short
        })
    );
    let mut nan = t.clone();
    nan[7] = f32::NAN;
    assert_eq!(
        Layer::new(MatRef::new(&nan, n, d).unwrap(), &y, None).map(|_| ()),
        Err(Error::NonFinite { index: 7 })
    );
}

#[test]
fn huge_and_extreme_values_stay_finite() {
    // Distances that overflow f32, and a noise so large that s rounds to 0.
    let t = [3e38f32, -3e38, 0.0, 1e-30, -1e-30, 3e38];
    let y = [0u32, 1, 0, 1, 0, 1];
    let g = [0u32, 0, 1, 1, 2, 2];
    for var in [1e-3f32, 1.0, 3e38] {
        for bound in BOUNDS {
            let p = mi(&plan(6, 1, bound, var), &t, &y, Some(&g));
            assert!(p.i_xt.in_bits().is_finite() && p.i_ty.in_bits().is_finite());
            let tt = terms(
                &plan(6, 1, bound, var).with_pruning(Pruning::ExactZeros),
                &t,
                &y,
                Some(&g),
            );
            assert!(tt.iter().flatten().all(|v| v.is_finite() && *v >= 0.0));
        }
    }
}
