//! Textbook values, for the core estimator and for the reference that controls it.

use crate::util::{binning, bits, log2, pattern, rules};
use infoplane_core::BinRule;
use infoplane_tests::fixtures::{self, LAYER_SEED};
use infoplane_tests::reference::{binning_mi, linspace_f32};
use infoplane_tests::tolerance::CLOSED_FORM_ABS;

const TISHBY_EDGES: BinRule = BinRule::Edges {
    n_edges: 30,
    lo: -1.0,
    hi: 1.0,
    idnns: false,
};
const TISHBY_EDGES_IDNNS: BinRule = BinRule::Edges {
    n_edges: 30,
    lo: -1.0,
    hi: 1.0,
    idnns: true,
};

/// Midpoint of interval `j` of Tishby's 30 edges on [−1, 1].
fn centre(j: usize) -> f32 {
    let e = linspace_f32(-1.0, 1.0, 30);
    f32::midpoint(e[j], e[j + 1])
}

fn assert_close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= CLOSED_FORM_ABS,
        "{what}: got {got}, want {want}"
    );
}

#[test]
fn uniform_over_k_bins_gives_log2_k() {
    for &k in &[1usize, 2, 3, 5, 8, 16, 29] {
        for &m in &[1usize, 3, 4] {
            // m samples at the centre of each of k intervals, labels and inputs all distinct.
            let t: Vec<f32> = (0..k * m).map(|i| centre(i % k)).collect();
            let y: Vec<u32> = (0..k * m).map(|i| u32::try_from(i).unwrap()).collect();
            let want = log2(k as f64);
            for rule in [TISHBY_EDGES, TISHBY_EDGES_IDNNS] {
                let (i_xt, i_ty) = bits(binning(&t, 1, &y, None, rule));
                let what = format!("k={k} m={m} {rule:?}");
                assert_close(i_xt, want, &what);
                // Every sample its own class: I(T;Y) = H(T) too.
                assert_close(i_ty, want, &what);
                let r = binning_mi(&t, 1, &y, None, rule).unwrap();
                assert_close(r.h_t, want, &format!("reference {what}"));
                assert_eq!(r.distinct_t, k);
                if k.is_power_of_two() && m.is_power_of_two() {
                    // log₂(km) − m·k·log₂m / km is exact in binary.
                    assert_eq!(i_xt, want, "{what}");
                }
            }
        }
    }
    // Fixed-size bins: values in k consecutive bins of size 0.25 around zero.
    let size = BinRule::Size { size: 0.25 };
    let t: Vec<f32> = (0..12).map(|i| (i % 6) as f32 * 0.25 - 0.625).collect();
    let y = vec![0u32; 12];
    assert_close(
        bits(binning(&t, 1, &y, None, size)).0,
        log2(6.0),
        "size 0.25, 6 bins",
    );
}

#[test]
fn distinct_inputs_give_i_xt_equal_h_t() {
    for (s, rule) in rules().into_iter().enumerate() {
        let n = 500;
        let t = fixtures::clustered_layer(n, 3, 40, LAYER_SEED + s as u64);
        let y = fixtures::labels(n, 3, LAYER_SEED);
        let distinct = fixtures::permutation(500, LAYER_SEED + 1);
        let none = binning(&t, 3, &y, None, rule);
        let some = binning(&t, 3, &y, Some(&distinct), rule);
        assert_eq!(
            pattern(none),
            pattern(some),
            "{rule:?}: x_ids all distinct must equal None"
        );
        let r = binning_mi(&t, 3, &y, Some(&distinct), rule).unwrap();
        assert_eq!(r.h_t_given_x, 0.0);
        assert!(
            (none.i_xt.in_bits() - r.h_t).abs() <= CLOSED_FORM_ABS,
            "{rule:?}"
        );
    }
}

#[test]
fn t_a_function_of_k_equiprobable_classes_gives_log2_k() {
    for &k in &[2u32, 3, 4, 7, 10] {
        let n = usize::try_from(k).unwrap() * 9;
        let y: Vec<u32> = (0..n).map(|i| u32::try_from(i).unwrap() % k).collect();
        // Injective: class c sits in interval 2c (one unit) → I(T;Y) = H(T) = H(Y) = log₂k.
        let t: Vec<f32> = y.iter().map(|&c| centre(2 * c as usize)).collect();
        let want = log2(f64::from(k));
        let (i_xt, i_ty) = bits(binning(&t, 1, &y, None, TISHBY_EDGES));
        assert_close(i_ty, want, &format!("k={k}"));
        assert_close(i_xt, want, &format!("k={k}"));
        let r = binning_mi(&t, 1, &y, None, TISHBY_EDGES).unwrap();
        assert_close(r.i_ty, want, &format!("reference k={k}"));
        assert_close(r.h_t_given_y, 0.0, "reference");
        // Two units, the class spread over both: still a function of Y.
        let t2: Vec<f32> = y
            .iter()
            .flat_map(|&c| [centre(c as usize % 3), centre(c as usize / 3)])
            .collect();
        assert_close(
            bits(binning(&t2, 2, &y, None, TISHBY_EDGES)).1,
            want,
            &format!("2 units k={k}"),
        );
    }
    // Not injective: four equiprobable classes, T = ⌊y / 2⌋ → I(T;Y) = H(T) = 1 bit exactly.
    let y: Vec<u32> = (0..40).map(|i| i % 4).collect();
    let t: Vec<f32> = y.iter().map(|&c| centre(c as usize / 2)).collect();
    assert_eq!(bits(binning(&t, 1, &y, None, TISHBY_EDGES)), (1.0, 1.0));
}

#[test]
fn constant_layer_gives_zero() {
    for rule in rules() {
        for &n in &[1usize, 2, 7, 100, 4096] {
            for &v in &[0.0f32, 0.3, -1.0, 1.0, 5.0] {
                let t = vec![v; n * 3];
                let y = fixtures::labels(n, 2, LAYER_SEED);
                let ids = fixtures::ids(n, 3, LAYER_SEED);
                for x in [None, Some(ids.as_slice())] {
                    let (i_xt, i_ty) = bits(binning(&t, 3, &y, x, rule));
                    let what = format!("{rule:?} n={n} v={v} ids={}", x.is_some());
                    assert_close(i_xt, 0.0, &what);
                    assert_close(i_ty, 0.0, &what);
                    assert!(i_xt >= 0.0 && i_ty >= 0.0, "{what}");
                }
            }
        }
    }
}

#[test]
fn constant_layer_gives_exactly_zero_bits() {
    // H(T) = log₂N − N log₂N / N: the estimator should return 0, not a rounding residue.
    let mut residues = Vec::new();
    for n in 1..=200usize {
        let t = vec![0.25f32; n];
        let y = vec![0u32; n];
        let (i_xt, i_ty) = bits(binning(&t, 1, &y, None, TISHBY_EDGES));
        if i_xt != 0.0 || i_ty != 0.0 {
            residues.push(format!("n={n}: ({i_xt:e}, {i_ty:e})"));
        }
    }
    assert!(
        residues.is_empty(),
        "constant layer not exactly 0 for {} sizes: {:?}",
        residues.len(),
        &residues[..residues.len().min(5)]
    );
}

/// Number of distinct binned rows the core sees, via I(X;T) = H(T) for two equiprobable
/// rows: 1 bit when `a` and `b` land in different cells, 0 when they share one.
fn separates(a: f32, b: f32, rule: BinRule) -> bool {
    let (i_xt, _) = bits(binning(&[a, b], 1, &[0, 0], None, rule));
    assert!(i_xt == 0.0 || i_xt == 1.0, "{i_xt}");
    i_xt == 1.0
}

#[test]
fn idnns_mode_top_cell_and_wrap() {
    let (lo, hi) = (-1.0f32, 1.0f32);
    let below_hi = f32::from_bits(hi.to_bits() - 1);
    let above_lo = f32::from_bits(lo.to_bits() - 1); // lo is negative: one step towards 0
    let below_lo = f32::from_bits(lo.to_bits() + 1);
    let idnns = TISHBY_EDGES_IDNNS;
    // v = hi exactly, v > hi and v < lo all share the top cell.
    assert!(!separates(hi, lo - 0.25, idnns));
    assert!(!separates(hi, hi + 3.0, idnns));
    assert!(!separates(below_lo, -1e30, idnns));
    assert!(!separates(hi, below_lo, idnns));
    // ... which is not the cell of the last interval, nor the cell of lo itself.
    assert!(separates(hi, below_hi, idnns));
    assert!(separates(lo, below_lo, idnns));
    assert!(!separates(lo, above_lo, idnns));
    // Three values, one cell: H(T) = 0.
    assert_eq!(
        bits(binning(&[hi, lo - 0.5, 2.0], 1, &[0, 1, 0], None, idnns)),
        (0.0, 0.0)
    );
    // Each value maps to the left edge of its interval: an edge and the values just above it
    // share a cell, the value just below it does not.
    let e = linspace_f32(lo, hi, 30);
    for (j, &edge) in e.iter().enumerate().take(29).skip(1) {
        // No edge of 30 on [−1, 1] is 0, so stepping the bit pattern moves away from or
        // towards 0 by the sign.
        assert_ne!(edge, 0.0);
        let (away, towards) = (
            f32::from_bits(edge.to_bits() + 1),
            f32::from_bits(edge.to_bits() - 1),
        );
        let (up, down) = if edge > 0.0 {
            (away, towards)
        } else {
            (towards, away)
        };
        assert!(down < edge && edge < up);
        assert!(!separates(edge, up, idnns), "edge {j}");
        assert!(separates(edge, down, idnns), "edge {j}");
        assert!(!separates(edge, up, TISHBY_EDGES), "edge {j} default");
        assert!(separates(edge, down, TISHBY_EDGES), "edge {j} default");
    }
}

#[test]
fn default_mode_clips_to_the_range() {
    let (lo, hi) = (-1.0f32, 1.0f32);
    let below_hi = f32::from_bits(hi.to_bits() - 1);
    let d = TISHBY_EDGES;
    // Below lo joins the first interval, above hi the last; hi itself is in the last interval.
    assert!(!separates(lo - 5.0, lo, d));
    assert!(!separates(-1e30, centre(0), d));
    assert!(!separates(hi + 5.0, hi, d));
    assert!(!separates(1e30, below_hi, d));
    assert!(!separates(hi, centre(28), d));
    assert!(separates(lo - 5.0, hi + 5.0, d));
    // The narrow rule clips most of a (−1, 1) layer into its two end intervals.
    let narrow = BinRule::Edges {
        n_edges: 5,
        lo: -0.5,
        hi: 0.5,
        idnns: false,
    };
    assert!(!separates(-0.9, -0.4, narrow));
    assert!(!separates(0.9, 0.3, narrow));
    // Fixed-size bins are unbounded: far values stay apart.
    assert!(separates(-50.0, 50.0, BinRule::Size { size: 0.5 }));
    assert!(separates(1e6, 1e6 + 1.0, BinRule::Size { size: 0.5 }));
}

#[test]
fn layer_range_spans_min_to_max() {
    // Two edges: one interval [min, max]; everything shares it.
    let t = [-3.0f32, 7.0, 0.0, 2.5];
    assert_eq!(
        bits(binning(
            &t,
            1,
            &[0, 1, 0, 1],
            None,
            BinRule::LayerRange { n_edges: 2 }
        ))
        .0,
        0.0
    );
    // Three edges on [−3, 7]: [−3, 2), [2, 7], so {−3, 0} and {2.5, 7}: 1 bit, and it is the
    // layer's range, not [−1, 1], that sets the edges.
    assert_eq!(
        bits(binning(
            &t,
            1,
            &[0, 1, 0, 1],
            None,
            BinRule::LayerRange { n_edges: 3 }
        ))
        .0,
        1.0
    );
    assert_eq!(
        bits(binning(
            &[-3.0, 0.0, 7.0, 2.5],
            1,
            &[0, 0, 1, 1],
            None,
            BinRule::LayerRange { n_edges: 3 }
        ))
        .1,
        1.0
    );
}
