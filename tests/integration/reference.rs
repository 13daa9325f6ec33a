//! The fast binning kernel against the map-based reference, and the references themselves
//! against hand-computed values.

use crate::util::{bin_mi, binning, bits, pattern, rules};
use infoplane_core::dataset::group_rows;
use infoplane_core::{BinRule, BinningPlan, Error, MatRef};
use infoplane_tests::fixtures::{self, IDS_SEED, LABEL_SEED, LAYER_SEED};
use infoplane_tests::reference::{
    RefBinner, bin_rows, binning_mi, binning_mi_formula, digitize, linspace_f32, symbols_mi,
    symbols_mi_formula,
};
use infoplane_tests::tolerance::MI_ABS;

#[test]
fn reference_linspace_and_digitize_by_hand() {
    assert_eq!(linspace_f32(-1.0, 1.0, 3), [-1.0, 0.0, 1.0]);
    assert_eq!(linspace_f32(0.0, 1.0, 5), [0.0, 0.25, 0.5, 0.75, 1.0]);
    let e = linspace_f32(-1.0, 1.0, 30);
    assert_eq!(e.len(), 30);
    assert_eq!((e[0], e[29]), (-1.0, 1.0));
    // Edge 1 of Tishby's 30 is −1 + 2/29 in f64, rounded to f32.
    #[allow(clippy::cast_possible_truncation)]
    let e1 = (2.0f64 / 29.0 - 1.0) as f32;
    assert_eq!(e[1], e1);
    assert!(e.windows(2).all(|w| w[0] < w[1]));
    let edges = [0.0f32, 1.0, 2.0];
    assert_eq!(
        [-0.5, 0.0, 0.5, 1.0, 2.0, 7.0].map(|v| digitize(&edges, v)),
        [0, 1, 1, 2, 3, 3]
    );
}

#[test]
fn reference_symbols_by_hand() {
    let edges = |idnns| {
        RefBinner::new(
            BinRule::Edges {
                n_edges: 3,
                lo: 0.0,
                hi: 2.0,
                idnns,
            },
            &[],
        )
        .unwrap()
    };
    // Edges 0, 1, 2: default mode clips into intervals 0 and 1, hi in the last one.
    assert_eq!(
        [-5.0, 0.0, 0.5, 1.0, 1.5, 2.0, 9.0].map(|v| edges(false).symbol(v)),
        [0, 0, 0, 1, 1, 1, 1]
    );
    // IDNNs mode: left-edge index (1, 2), v ≥ hi gets cell 3, and v < lo wraps into it.
    assert_eq!(
        [-5.0, 0.0, 0.5, 1.0, 1.5, 2.0, 9.0].map(|v| edges(true).symbol(v)),
        [3, 1, 1, 2, 2, 3, 3]
    );
    let size = RefBinner::new(BinRule::Size { size: 0.5 }, &[]).unwrap();
    assert_eq!(
        [-1.0, -0.25, 0.0, 0.49, 0.5, 3.2].map(|v| size.symbol(v)),
        [-2, -1, 0, 0, 1, 6]
    );
    // Per-layer range: edges from the layer's min to max.
    let t = [2.0f32, 4.0, 3.0, 6.0];
    // Edges 2, 4, 6 (from min 2 to max 6), default mode.
    assert_eq!(
        bin_rows(&t, 1, BinRule::LayerRange { n_edges: 3 }).unwrap(),
        [[0], [1], [0], [1]]
    );
    assert_eq!(
        bin_rows(&t, 2, BinRule::LayerRange { n_edges: 3 }).unwrap(),
        [[0, 1], [0, 1]]
    );
}

#[test]
fn reference_entropies_by_hand() {
    // Four samples in two bins, classes split 1:1 within the first bin and pure in the second.
    let t = [-0.5f32, -0.5, 0.5, 0.5];
    let rule = BinRule::Edges {
        n_edges: 3,
        lo: -1.0,
        hi: 1.0,
        idnns: false,
    };
    let r = binning_mi(&t, 1, &[0, 1, 1, 1], None, rule).unwrap();
    assert_eq!(r.distinct_t, 2);
    assert_eq!(r.h_t, 1.0);
    assert_eq!(r.h_x, 2.0);
    assert_eq!(r.i_xt, 1.0);
    // H(T|Y) = ¼·0 + ¾·H(1/3, 2/3).
    let h13 =
        -(1.0 / 3.0) * crate::util::log2(1.0 / 3.0) - (2.0 / 3.0) * crate::util::log2(2.0 / 3.0);
    assert!((r.h_t_given_y - 0.75 * h13).abs() < 1e-15);
    // Inputs 0,0,1,1: T is a function of X, so H(T|X) = 0; inputs 0,1,0,1: H(T|X) = 1.
    let r = binning_mi(&t, 1, &[0, 0, 0, 0], Some(&[0, 0, 1, 1]), rule).unwrap();
    assert_eq!((r.h_t_given_x, r.i_xt, r.i_ty, r.h_y), (0.0, 1.0, 0.0, 0.0));
    let r = binning_mi(&t, 1, &[0, 0, 0, 0], Some(&[0, 1, 0, 1]), rule).unwrap();
    assert_eq!((r.h_t_given_x, r.i_xt, r.h_x), (1.0, 0.0, 1.0));
    // The formula version agrees on the same inputs.
    assert_eq!(
        binning_mi_formula(&t, 1, &[0, 1, 1, 1], None, rule)
            .unwrap()
            .0,
        1.0
    );
    assert!(binning_mi(&t, 2, &[0, 1], None, BinRule::Size { size: 1.0 }).is_some());
    assert!(
        binning_mi(&t, 1, &[0, 1], None, rule).is_none(),
        "length mismatch is rejected"
    );
}

/// A named label set with its optional input ids.
type Variant = (&'static str, Vec<u32>, Option<Vec<u32>>);

/// The label and input-id variants each case runs with: small labels with distinct inputs,
/// repeated inputs, and labels or ids so large that they force the core's sort path and
/// widen its packed keys past 64 bits.
fn label_id_variants(n: usize, classes: u32, seed: u64) -> Vec<Variant> {
    let y = fixtures::labels(n, classes, seed ^ LABEL_SEED);
    let groups = u32::try_from(n / 4 + 1).unwrap();
    let rep = fixtures::ids(n, groups, seed ^ IDS_SEED);
    let distinct = fixtures::permutation(u32::try_from(n).unwrap(), seed);
    vec![
        ("y small, x none", y.clone(), None),
        ("y small, x distinct", y.clone(), Some(distinct)),
        ("y small, x repeated", y.clone(), Some(rep.clone())),
        (
            "y ×1e6, x repeated ×1000003",
            y.iter().map(|&v| v * 1_000_000).collect(),
            Some(rep.iter().map(|&v| v * 1_000_003).collect()),
        ),
        (
            "y near u32::MAX, x near u32::MAX",
            y.iter().map(|&v| u32::MAX - v).collect(),
            Some(rep.iter().map(|&v| u32::MAX - 3 * v).collect()),
        ),
    ]
}

/// (n, d, classes) combinations: degenerate sizes, the 12-bit task's size, and layers around
/// and far beyond the 64-bit packing limit (12 units × 5 bits fits, 13 does not, 40 is the
/// wide case with 30 edges).
const SHAPES: [(usize, usize, u32); 12] = [
    (1, 1, 1),
    (2, 1, 2),
    (7, 3, 2),
    (64, 2, 3),
    (200, 5, 10),
    (1000, 3, 2),
    (4096, 4, 2),
    (333, 12, 7),
    (300, 13, 2),
    (500, 40, 3),
    (256, 7, 256),
    (97, 1, 5),
];

#[test]
fn binning_matches_map_reference_on_random_layers() {
    let mut failures = Vec::new();
    let mut cases = 0;
    for (s, &(n, d, classes)) in SHAPES.iter().enumerate() {
        let seed = LAYER_SEED + s as u64;
        // Independent values (nearly every row its own symbol under fine bins) and clustered
        // rows (many repeated symbols, near-duplicates differing in one unit).
        let layers = [
            fixtures::layer(n, d, seed),
            fixtures::clustered_layer(n, d, u32::try_from(n / 8 + 1).unwrap(), seed),
        ];
        for (li, t) in layers.iter().enumerate() {
            for rule in rules() {
                let symbols = bin_rows(t, d, rule).unwrap();
                for (what, y, x) in label_id_variants(n, classes, seed) {
                    cases += 1;
                    let x = x.as_deref();
                    let got = binning(t, d, &y, x, rule);
                    let (i_xt, i_ty) = bits(got);
                    let want = symbols_mi(&symbols, &y, x).unwrap();
                    let exact = symbols_mi_formula(&symbols, &y, x).unwrap();
                    let ctx = format!("n={n} d={d} classes={classes} layer={li} {rule:?} {what}");
                    if (i_xt - want.i_xt).abs() > MI_ABS || (i_ty - want.i_ty).abs() > MI_ABS {
                        failures.push(format!(
                            "{ctx}: core ({i_xt}, {i_ty}) reference ({}, {})",
                            want.i_xt, want.i_ty
                        ));
                    }
                    if (i_xt.to_bits(), i_ty.to_bits()) != (exact.0.to_bits(), exact.1.to_bits()) {
                        failures.push(format!("{ctx}: core ({i_xt:e}, {i_ty:e}) not bit-equal to the documented formula ({:e}, {:e})", exact.0, exact.1));
                    }
                    if !(i_xt >= 0.0 && i_ty >= 0.0) {
                        failures.push(format!("{ctx}: negative ({i_xt}, {i_ty})"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

#[test]
fn wide_layer_symbols_are_really_distinguished() {
    // 40 units with 30 edges need 200 bits per row, so the core ranks rows instead of packing
    // them. Rows that differ only in the last unit, or only in the first, must stay distinct.
    let d = 40;
    let rule = BinRule::Edges {
        n_edges: 30,
        lo: -1.0,
        hi: 1.0,
        idnns: false,
    };
    let base = fixtures::layer(1, d, LAYER_SEED);
    let mut t = Vec::new();
    for k in 0..8 {
        let mut row = base.clone();
        let pick = |bit: usize| if k & bit == bit { 0.9 } else { -0.9 };
        row[d - 1] = pick(1);
        row[0] = pick(2);
        row[d / 2] = pick(4);
        t.extend(row);
    }
    let y = [0u32, 1, 0, 1, 0, 1, 0, 1];
    let r = binning_mi(&t, d, &y, None, rule).unwrap();
    let got = binning(&t, d, &y, None, rule);
    assert_eq!(r.distinct_t, 8, "fixture must give 8 distinct binned rows");
    assert_eq!(bits(got), (3.0, 1.0));
    // Duplicating every row keeps 8 symbols, now two samples each.
    let t2: Vec<f32> = t.iter().chain(&t).copied().collect();
    let y2: Vec<u32> = y.iter().chain(&y).copied().collect();
    assert_eq!(bits(binning(&t2, d, &y2, None, rule)), (3.0, 1.0));
}

#[test]
fn group_rows_matches_a_sorted_map() {
    // Rows with repeats, and −0.0 next to 0.0 (equal values, different bits).
    let mut x = fixtures::clustered_layer(300, 3, 20, LAYER_SEED + 99);
    for r in 0..10 {
        x[r * 3] = if r % 2 == 0 { 0.0 } else { -0.0 };
        x[r * 3 + 1] = 0.5;
        x[r * 3 + 2] = -0.25;
    }
    let n = 300;
    let mut ids = vec![u32::MAX; n];
    let mut scratch = vec![u64::MAX; n];
    group_rows(MatRef::new(&x, n, 3).unwrap(), &mut ids, &mut scratch).unwrap();
    // Reference: distinct rows sorted lexicographically by value (−0.0 as 0.0), numbered densely.
    let key = |r: usize| -> Vec<u32> {
        x[r * 3..r * 3 + 3]
            .iter()
            .map(|&v| {
                let v = v + 0.0;
                // Order-preserving map of an f32 to u32 (valid for finite values).
                let b = v.to_bits();
                if b >> 31 == 1 { !b } else { b | 0x8000_0000 }
            })
            .collect()
    };
    let distinct: std::collections::BTreeSet<Vec<u32>> = (0..n).map(key).collect();
    let rank: std::collections::BTreeMap<Vec<u32>, u32> = distinct.into_iter().zip(0..).collect();
    for (r, &id) in ids.iter().enumerate() {
        assert_eq!(id, rank[&key(r)], "row {r}");
    }
    assert_eq!(ids[0], ids[1], "0.0 and -0.0 rows are one input");
}

#[test]
fn group_rows_ids_feed_the_estimator() {
    // x_ids built by group_rows from duplicated inputs give the same estimate as ids built by
    // hand for the same grouping.
    let n = 120;
    let inputs = fixtures::clustered_layer(n, 2, 15, LAYER_SEED + 7);
    let t = fixtures::layer(n, 3, LAYER_SEED + 8);
    let y = fixtures::labels(n, 2, LABEL_SEED);
    let mut ids = vec![0u32; n];
    group_rows(
        MatRef::new(&inputs, n, 2).unwrap(),
        &mut ids,
        &mut vec![0u64; n],
    )
    .unwrap();
    let by_bits: Vec<u32> = {
        let mut seen: Vec<Vec<u32>> = Vec::new();
        inputs
            .chunks(2)
            .map(|row| {
                let k: Vec<u32> = row.iter().map(|v| v.to_bits()).collect();
                let pos = seen.iter().position(|s| *s == k).unwrap_or_else(|| {
                    seen.push(k);
                    seen.len() - 1
                });
                u32::try_from(pos).unwrap()
            })
            .collect()
    };
    let rule = BinRule::Edges {
        n_edges: 6,
        lo: -1.0,
        hi: 1.0,
        idnns: false,
    };
    assert_eq!(
        pattern(binning(&t, 3, &y, Some(&ids), rule)),
        pattern(binning(&t, 3, &y, Some(&by_bits), rule))
    );
    let r = binning_mi(&t, 3, &y, Some(&ids), rule).unwrap();
    assert!(
        r.h_t_given_x > 0.0,
        "fixture must have inputs whose samples land in different cells"
    );
}

#[test]
fn binning_matches_reference_on_extreme_values() {
    // Values at the ends of f32: a fixed-size rule whose bin numbers ⌊v/size⌋ pass ±2⁶² is
    // an error (clamping them would merge every such value into one bin), per-layer
    // edges span ±3e38 (their width overflows f32), subnormals and −0.0 sit at zero, and a
    // single unit whose bins need all 64 bits of a packed key.
    let specials = [
        3.0e38f32, -3.0e38, 1.0e30, -1.0e30, 1.0, -1.0, 0.0, -0.0, 1.0e-40, -1.0e-40, 0.07, -0.07,
        0.035, 1.0e-30,
    ];
    let n = 120;
    let mut picks = fixtures::labels(
        n * 2,
        u32::try_from(specials.len()).unwrap(),
        LAYER_SEED + 77,
    );
    let mut t: Vec<f32> = picks.iter().map(|&k| specials[k as usize]).collect();
    picks.truncate(n);
    let y: Vec<u32> = fixtures::labels(n, 3, LABEL_SEED + 77);
    let zeros = vec![0u32; n];
    let ids = fixtures::ids(n, 30, IDS_SEED + 77);
    let mut extra_rules = rules();
    extra_rules.extend([
        BinRule::Size { size: 1.0e-30 },
        BinRule::Size { size: 3.0e38 },
        BinRule::Edges {
            n_edges: 30,
            lo: -3.0e38,
            hi: 3.0e38,
            idnns: true,
        },
        BinRule::Edges {
            n_edges: 7,
            lo: -1.0e30,
            hi: 1.0e-30,
            idnns: false,
        },
    ]);
    for d in [1usize, 2] {
        if d == 2 {
            // Second unit constant: a zero-width field next to a 64-bit one.
            t = t[..n].iter().flat_map(|&v| [v, 0.5]).collect();
        }
        let t = &t[..n * d];
        for &rule in &extra_rules {
            for (y, x) in [(&y, None), (&zeros, None), (&y, Some(ids.as_slice()))] {
                let exact = binning_mi_formula(t, d, y, x, rule).unwrap();
                let want = binning_mi(t, d, y, x, rule).unwrap();
                let ctx = format!("d={d} {rule:?} ids={}", x.is_some());
                if let BinRule::Size { size } = rule
                    && t.iter().any(|&v| (v / size).abs() >= 4.611_686e18)
                {
                    // Beyond ±2⁶² (f32 holds only integers there, so ⌊q⌋ = q).
                    let plan = BinningPlan::new(n, d, rule).unwrap();
                    let mut scratch = vec![0u64; plan.scratch_req().words()];
                    let m = MatRef::new(t, n, d).unwrap();
                    assert_eq!(
                        bin_mi(&plan, m, y, x, &mut scratch),
                        Err(Error::InvalidParameter { name: "bin_size" }),
                        "{ctx}"
                    );
                    continue;
                }
                let got = bits(binning(t, d, y, x, rule));
                assert_eq!(
                    (got.0.to_bits(), got.1.to_bits()),
                    (exact.0.to_bits(), exact.1.to_bits()),
                    "{ctx}: {got:?} vs {exact:?}"
                );
                assert!(
                    (got.0 - want.i_xt).abs() <= MI_ABS && (got.1 - want.i_ty).abs() <= MI_ABS,
                    "{ctx}"
                );
            }
        }
    }
}

/// Miller–Madow by its textbook formula, literally: each plug-in entropy of `N` samples
/// over `M` occupied cells plus `(M − 1) / (2N)` nats, each class's (and input's) conditional
/// entropy with its own `N_y`, `M_y`, weighted by `N_y / N`. In bits.
#[allow(clippy::cast_precision_loss)]
fn miller_madow_formula(symbols: &[Vec<i64>], labels: &[u32], x: Option<&[u32]>) -> (f64, f64) {
    use std::collections::BTreeMap;
    let n = symbols.len() as f64;
    let h_mm = |rows: &[usize]| {
        let mut counts: BTreeMap<&Vec<i64>, usize> = BTreeMap::new();
        for &r in rows {
            *counts.entry(&symbols[r]).or_default() += 1;
        }
        let m = rows.len() as f64;
        let plug_in: f64 = counts
            .values()
            .map(|&c| {
                let p = c as f64 / m;
                -p * libm::log(p)
            })
            .sum();
        plug_in + (counts.len() as f64 - 1.0) / (2.0 * m)
    };
    let conditional = |ids: &[u32]| {
        let mut by: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (i, &v) in ids.iter().enumerate() {
            by.entry(v).or_default().push(i);
        }
        by.values()
            .map(|rows| rows.len() as f64 / n * h_mm(rows))
            .sum::<f64>()
    };
    let all: Vec<usize> = (0..symbols.len()).collect();
    let h_t = h_mm(&all);
    let i_ty = (h_t - conditional(labels)).max(0.0);
    let i_xt = match x {
        None => h_t,
        Some(x) => (h_t - conditional(x)).max(0.0),
    };
    let ln2 = core::f64::consts::LN_2;
    (i_xt / ln2, i_ty / ln2)
}

#[test]
fn miller_madow_matches_its_formula() {
    use infoplane_core::estimator::Layer;
    let (n, d) = (500usize, 3usize);
    let mut checked = 0;
    for (seed, protos) in [(0u64, 12u32), (1, 60), (2, 400)] {
        let t = fixtures::clustered_layer(n, d, protos, LAYER_SEED + seed);
        let y = fixtures::labels(n, 3, LABEL_SEED + seed);
        let g = fixtures::ids(n, 90, IDS_SEED + seed);
        for rule in rules() {
            let symbols = bin_rows(&t, d, rule).unwrap();
            for groups in [None, Some(g.as_slice())] {
                let plan = BinningPlan::new(n, d, rule).unwrap();
                let layer = Layer::new(MatRef::new(&t, n, d).unwrap(), &y, groups).unwrap();
                let mut s = vec![0u64; plan.scratch_req().words()];
                let off = plan.estimate(&layer, &mut s).unwrap();
                let on = plan
                    .with_miller_madow(true)
                    .estimate(&layer, &mut s)
                    .unwrap();
                let (want_x, want_y) = miller_madow_formula(&symbols, &y, groups);
                assert!(
                    (on.i_xt.in_bits() - want_x).abs() <= MI_ABS
                        && (on.i_ty.in_bits() - want_y).abs() <= MI_ABS,
                    "{rule:?} groups={}: {on:?} vs ({want_x}, {want_y})",
                    groups.is_some()
                );
                // The correction is what it adds to the plug-in value, and off is plug-in.
                let plug = symbols_mi(&symbols, &y, groups).unwrap();
                assert!((off.i_ty.in_bits() - plug.i_ty.max(0.0)).abs() <= MI_ABS);
                checked += 1;
            }
        }
    }
    assert!(checked >= 12, "{checked}");
}

/// Equal-mass bins by a second, literal implementation: per unit, the sorted values, the
/// start of bin j the value of rank ⌈j·N/B⌉, and each value's bin counted by a linear scan.
fn equal_mass_symbols(t: &[f32], d: usize, edges: usize) -> Vec<Vec<i64>> {
    let n = t.len() / d;
    let bins = edges - 1;
    let mut out = vec![vec![0i64; d]; n];
    for u in 0..d {
        let mut sorted: Vec<f32> = (0..n).map(|r| t[r * d + u]).collect();
        sorted.sort_by(f32::total_cmp);
        let starts: Vec<f32> = (1..bins)
            .map(|j| sorted[(j * n).div_ceil(bins).min(n - 1)])
            .collect();
        for (r, row) in out.iter_mut().enumerate() {
            let v = t[r * d + u];
            row[u] = starts.iter().filter(|&&s| s <= v).count() as i64;
        }
    }
    out
}

#[test]
fn equal_mass_binning_matches_a_second_implementation() {
    use infoplane_core::estimator::{Estimator, Layer, Settings};
    let run = |t: &[f32], d: usize, y: &[u32], g: Option<&[u32]>, bins: u32, mm: bool| {
        let n = y.len();
        let s = Settings {
            bins,
            miller_madow: mm,
            ..Settings::DEFAULT
        };
        let plan = Estimator::new("binning-equal-mass", s)
            .unwrap()
            .plan(n, d)
            .unwrap();
        let layer = Layer::new(MatRef::new(t, n, d).unwrap(), y, g).unwrap();
        plan.estimate(&layer, &mut vec![0u64; plan.scratch_req().words()])
            .unwrap()
    };
    // 64 distinct values, 5 edges: four bins of 16, H(T) = 2 bits; classes by halves: 1 bit.
    let t: Vec<f32> = (0..64)
        .map(|i| ((i * 37) % 64) as f32 * 0.01 - 0.3)
        .collect();
    let y: Vec<u32> = t.iter().map(|&v| u32::from(v > 0.015)).collect();
    let p = run(&t, 1, &y, None, 5, false);
    assert_eq!((p.i_xt.in_bits(), p.i_ty.in_bits()), (2.0, 1.0));
    // A constant unit is one bin whatever the edges: nothing.
    let p = run(&[0.25; 40], 1, &[0, 1].repeat(20), None, 30, false);
    assert_eq!((p.i_xt.in_bits(), p.i_ty.in_bits()), (0.0, 0.0));
    // Random and clustered layers (heavy ties), with and without groups and Miller–Madow.
    let (n, d) = (600usize, 4usize);
    let mut checked = 0;
    for (seed, protos) in [(0u64, 0u32), (1, 25), (2, 300)] {
        let t = if protos == 0 {
            fixtures::layer(n, d, LAYER_SEED + seed)
        } else {
            fixtures::clustered_layer(n, d, protos, LAYER_SEED + seed)
        };
        let y = fixtures::labels(n, 4, LABEL_SEED + seed);
        let g = fixtures::ids(n, 150, IDS_SEED + seed);
        for edges in [2u32, 3, 11, 30, 700] {
            let symbols = equal_mass_symbols(&t, d, edges as usize);
            for groups in [None, Some(g.as_slice())] {
                let p = run(&t, d, &y, groups, edges, false);
                let want = symbols_mi(&symbols, &y, groups).unwrap();
                assert!(
                    (p.i_xt.in_bits() - want.i_xt.max(0.0)).abs() <= MI_ABS
                        && (p.i_ty.in_bits() - want.i_ty.max(0.0)).abs() <= MI_ABS,
                    "seed {seed} edges {edges}: {p:?} vs {} {}",
                    want.i_xt,
                    want.i_ty
                );
                let mm = run(&t, d, &y, groups, edges, true);
                let (want_x, want_y) = miller_madow_formula(&symbols, &y, groups);
                assert!(
                    (mm.i_xt.in_bits() - want_x).abs() <= MI_ABS
                        && (mm.i_ty.in_bits() - want_y).abs() <= MI_ABS
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 30);
}
