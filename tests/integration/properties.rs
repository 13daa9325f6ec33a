//! Bounds and invariances of the binning estimates on seeded random layers.

use crate::util::{binning, bits, log2, pattern, permute, permute_rows, rules};
use infoplane_core::BinRule;
use infoplane_tests::fixtures::{self, IDS_SEED, LABEL_SEED, LAYER_SEED, PERMUTATION_SEED};
use infoplane_tests::reference::binning_mi;
use infoplane_tests::tolerance::MI_ABS;

/// (n, d, classes, input groups) of the property fixtures.
const CASES: [(usize, usize, u32, u32); 6] = [
    (50, 1, 2, 10),
    (128, 2, 3, 40),
    (400, 3, 2, 100),
    (1000, 4, 10, 300),
    (333, 12, 4, 333),
    (200, 40, 2, 20),
];

/// The layers of one case: independent values and clustered rows.
fn layers(n: usize, d: usize, seed: u64) -> [Vec<f32>; 2] {
    [
        fixtures::layer(n, d, seed),
        fixtures::clustered_layer(n, d, u32::try_from(n / 10 + 1).unwrap(), seed),
    ]
}

#[test]
fn information_is_bounded_by_the_entropies() {
    for (c, &(n, d, classes, groups)) in CASES.iter().enumerate() {
        let seed = LAYER_SEED + 100 + c as u64;
        let y = fixtures::labels(n, classes, seed ^ LABEL_SEED);
        let ids = fixtures::ids(n, groups, seed ^ IDS_SEED);
        for t in layers(n, d, seed) {
            for rule in rules() {
                for x in [None, Some(ids.as_slice())] {
                    let (i_xt, i_ty) = bits(binning(&t, d, &y, x, rule));
                    let r = binning_mi(&t, d, &y, x, rule).unwrap();
                    let what = format!("n={n} d={d} {rule:?} ids={}", x.is_some());
                    assert!(i_ty >= 0.0 && i_xt >= 0.0, "{what}");
                    assert!(
                        i_ty <= r.h_t.min(r.h_y) + MI_ABS,
                        "{what}: I(T;Y) {i_ty} H(T) {} H(Y) {}",
                        r.h_t,
                        r.h_y
                    );
                    assert!(
                        i_xt <= r.h_t.min(r.h_x) + MI_ABS,
                        "{what}: I(X;T) {i_xt} H(T) {} H(X) {}",
                        r.h_t,
                        r.h_x
                    );
                    assert!(i_xt <= log2(n as f64) + MI_ABS, "{what}");
                    assert!(
                        r.h_t <= log2(r.distinct_t as f64) + MI_ABS,
                        "{what}: H(T) above log₂ of its support"
                    );
                    if x.is_none() {
                        // Every input distinct: I(X;T) = H(T) ≥ I(T;Y).
                        assert!(i_ty <= i_xt + MI_ABS, "{what}");
                    }
                }
            }
        }
    }
}

#[test]
fn relabelling_classes_and_inputs_changes_nothing() {
    for (c, &(n, d, classes, groups)) in CASES.iter().enumerate() {
        let seed = LAYER_SEED + 200 + c as u64;
        let y = fixtures::labels(n, classes, seed ^ LABEL_SEED);
        let ids = fixtures::ids(n, groups, seed ^ IDS_SEED);
        // A random bijection of the class values, and one onto sparse, huge values.
        let perm = fixtures::permutation(classes, seed);
        let y_perm: Vec<u32> = y.iter().map(|&v| perm[v as usize]).collect();
        let y_sparse: Vec<u32> = y.iter().map(|&v| u32::MAX - 7 * perm[v as usize]).collect();
        let id_perm = fixtures::permutation(groups, seed + 1);
        let ids_perm: Vec<u32> = ids.iter().map(|&v| id_perm[v as usize] * 65_537).collect();
        for t in layers(n, d, seed) {
            for rule in rules() {
                let base = pattern(binning(&t, d, &y, Some(&ids), rule));
                let what = format!("n={n} d={d} {rule:?}");
                assert_eq!(
                    pattern(binning(&t, d, &y_perm, Some(&ids), rule)),
                    base,
                    "{what}: permuted classes"
                );
                assert_eq!(
                    pattern(binning(&t, d, &y_sparse, Some(&ids), rule)),
                    base,
                    "{what}: sparse classes"
                );
                assert_eq!(
                    pattern(binning(&t, d, &y, Some(&ids_perm), rule)),
                    base,
                    "{what}: relabelled inputs"
                );
            }
        }
    }
}

#[test]
fn row_order_changes_nothing() {
    for (c, &(n, d, classes, groups)) in CASES.iter().enumerate() {
        let seed = LAYER_SEED + 300 + c as u64;
        let y = fixtures::labels(n, classes, seed ^ LABEL_SEED);
        let ids = fixtures::ids(n, groups, seed ^ IDS_SEED);
        let perm = fixtures::permutation(u32::try_from(n).unwrap(), seed ^ PERMUTATION_SEED);
        let (y_p, ids_p) = (permute(&y, &perm), permute(&ids, &perm));
        for t in layers(n, d, seed) {
            let t_p = permute_rows(&t, d, &perm);
            for rule in rules() {
                for (x, x_p) in [(None, None), (Some(ids.as_slice()), Some(ids_p.as_slice()))] {
                    assert_eq!(
                        pattern(binning(&t, d, &y, x, rule)),
                        pattern(binning(&t_p, d, &y_p, x_p, rule)),
                        "n={n} d={d} {rule:?} ids={}",
                        x.is_some()
                    );
                }
            }
        }
    }
}

#[test]
fn finer_partitions_never_lose_information() {
    // Size s/2 refines size s exactly: v/(s/2) = 2·(v/s) in binary floating point, so
    // ⌊v/s⌋ = ⌊⌊v/(s/2)⌋ / 2⌋. Adding a unit refines the partition too. Refinement can only
    // raise H(T) and I(T;Y) (data processing).
    for (c, &(n, d, classes, groups)) in CASES.iter().enumerate() {
        let seed = LAYER_SEED + 400 + c as u64;
        let y = fixtures::labels(n, classes, seed ^ LABEL_SEED);
        let ids = fixtures::ids(n, groups, seed ^ IDS_SEED);
        for t in layers(n, d, seed) {
            for &s in &[0.5f32, 0.25, 0.07] {
                let (coarse, fine) = (BinRule::Size { size: s }, BinRule::Size { size: s / 2.0 });
                for x in [None, Some(ids.as_slice())] {
                    let (cx, cy) = bits(binning(&t, d, &y, x, coarse));
                    let (_, fy) = bits(binning(&t, d, &y, x, fine));
                    assert!(cy <= fy + MI_ABS, "size {s}: I(T;Y) {cy} > {fy}");
                    if x.is_none() {
                        let (fx, _) = bits(binning(&t, d, &y, x, fine));
                        assert!(cx <= fx + MI_ABS, "size {s}: H(T) {cx} > {fx}");
                    }
                }
            }
            if d > 1 {
                let first: Vec<f32> = t
                    .chunks(d)
                    .flat_map(|r| r[..d - 1].iter().copied())
                    .collect();
                for rule in rules()
                    .into_iter()
                    .filter(|r| !matches!(r, BinRule::LayerRange { .. }))
                {
                    let (px, py) = bits(binning(&first, d - 1, &y, None, rule));
                    let (fx, fy) = bits(binning(&t, d, &y, None, rule));
                    assert!(
                        px <= fx + MI_ABS && py <= fy + MI_ABS,
                        "{rule:?}: dropping a unit gained information"
                    );
                }
            }
        }
    }
}

#[test]
fn h_t_is_at_most_log2_of_the_cells() {
    // One unit, 30 edges: 29 cells in default mode, 30 in IDNNs mode (29 left edges + the top
    // cell shared by v ≥ hi and v < lo).
    let n = 4096;
    let y = vec![0u32; n];
    let default = BinRule::Edges {
        n_edges: 30,
        lo: -1.0,
        hi: 1.0,
        idnns: false,
    };
    let idnns = BinRule::Edges {
        n_edges: 30,
        lo: -1.0,
        hi: 1.0,
        idnns: true,
    };
    // Inside (−1, 1) both modes make the same 29 cells, nearly uniformly filled: the plug-in
    // H(T) falls short of log₂ 29 by about (cells − 1) / (2N ln 2) ≈ 0.005 bits.
    let inside = fixtures::layer(n, 1, LAYER_SEED + 500);
    let h_default = bits(binning(&inside, 1, &y, None, default)).0;
    assert_eq!(h_default, bits(binning(&inside, 1, &y, None, idnns)).0);
    assert!(
        h_default <= log2(29.0) && h_default > log2(29.0) - 0.05,
        "{h_default}"
    );
    // A third of the values outside [−1, 1]: default mode clips them into the two end cells,
    // IDNNs mode puts them all in its top cell; neither exceeds log₂ of its cell count.
    let wide: Vec<f32> = inside.iter().map(|v| v * 1.5).collect();
    let h_default = bits(binning(&wide, 1, &y, None, default)).0;
    let h_idnns = bits(binning(&wide, 1, &y, None, idnns)).0;
    assert!(h_default <= log2(29.0) + MI_ABS, "{h_default}");
    assert!(h_idnns <= log2(30.0) + MI_ABS, "{h_idnns}");
    // Expected values for these masses: IDNNs ≈ H(1/3, 29 × 2/87) = 4.157, default ≈ 4.288.
    assert!(
        (h_idnns - 4.157).abs() < 0.05 && (h_default - 4.288).abs() < 0.05,
        "{h_idnns} {h_default}"
    );
}
