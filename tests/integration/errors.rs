//! Bad input gives the documented error, never a panic (R10, R11).

use infoplane_core::data::tishby_dataset;
use infoplane_core::dataset::group_rows;
use infoplane_core::{
    Activation, BatchOrder, BinRule, BinningPlan, Error, MatRef, MlpPlan, MlpShape, Optimizer,
    Stream, StreamRng, Trainer,
};
use infoplane_tests::fixtures;

const RULE: BinRule = BinRule::Edges {
    n_edges: 30,
    lo: -1.0,
    hi: 1.0,
    idnns: false,
};

#[test]
fn binning_plan_rejects_bad_parameters() {
    assert_eq!(BinningPlan::new(0, 3, RULE), Err(Error::EmptyInput));
    assert_eq!(BinningPlan::new(3, 0, RULE), Err(Error::EmptyInput));
    let bins = Err(Error::InvalidParameter { name: "bins" });
    let range = Err(Error::InvalidParameter { name: "range" });
    let size = Err(Error::InvalidParameter { name: "bin_size" });
    assert_eq!(
        BinningPlan::new(
            3,
            1,
            BinRule::Edges {
                n_edges: 1,
                lo: -1.0,
                hi: 1.0,
                idnns: false
            }
        ),
        bins
    );
    assert_eq!(
        BinningPlan::new(3, 1, BinRule::LayerRange { n_edges: 0 }),
        bins
    );
    assert_eq!(
        BinningPlan::new(
            3,
            1,
            BinRule::Edges {
                n_edges: 30,
                lo: 1.0,
                hi: 1.0,
                idnns: true
            }
        ),
        range
    );
    assert_eq!(
        BinningPlan::new(
            3,
            1,
            BinRule::Edges {
                n_edges: 30,
                lo: 1.0,
                hi: -1.0,
                idnns: false
            }
        ),
        range
    );
    assert_eq!(
        BinningPlan::new(
            3,
            1,
            BinRule::Edges {
                n_edges: 30,
                lo: f32::NAN,
                hi: 1.0,
                idnns: false
            }
        ),
        range
    );
    assert_eq!(
        BinningPlan::new(
            3,
            1,
            BinRule::Edges {
                n_edges: 30,
                lo: -1.0,
                hi: f32::INFINITY,
                idnns: false
            }
        ),
        range
    );
    for bad in [0.0, -0.5, f32::NAN, f32::INFINITY] {
        assert_eq!(
            BinningPlan::new(3, 1, BinRule::Size { size: bad }),
            size,
            "size {bad}"
        );
    }
    assert_eq!(BinningPlan::new(usize::MAX, 1, RULE), Err(Error::TooLarge));
}

#[test]
fn binning_rejects_bad_calls() {
    let plan = BinningPlan::new(4, 2, RULE).unwrap();
    let t = [0.1f32, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
    let m = MatRef::new(&t, 4, 2).unwrap();
    let y = [0u32, 1, 0, 1];
    let mut s = vec![0u64; plan.scratch_req().words()];
    // Shapes: a transposed layer says which dimension is wrong.
    let wrong = MatRef::new(&t, 2, 4).unwrap();
    let y2 = [0u32, 1];
    assert_eq!(
        crate::util::bin_mi(&plan, wrong, &y2, None, &mut s),
        Err(Error::DimensionMismatch {
            dim: "rows",
            expected: 4,
            got: 2
        })
    );
    let wide = MatRef::new(&[0.0; 12], 4, 3).unwrap();
    assert_eq!(
        crate::util::bin_mi(&plan, wide, &y, None, &mut s),
        Err(Error::DimensionMismatch {
            dim: "columns",
            expected: 2,
            got: 3
        })
    );
    assert_eq!(
        Error::DimensionMismatch {
            dim: "columns",
            expected: 2,
            got: 3
        }
        .to_string(),
        "dimension mismatch: 3 columns, expected 2"
    );
    let short = MatRef::new(&t[..6], 3, 2).unwrap();
    assert_eq!(
        crate::util::bin_mi(&plan, short, &y, None, &mut s),
        Err(Error::DimensionMismatch {
            dim: "rows",
            expected: 3,
            got: 4
        })
    );
    assert_eq!(
        crate::util::bin_mi(&plan, m, &y[..3], None, &mut s),
        Err(Error::DimensionMismatch {
            dim: "rows",
            expected: 4,
            got: 3
        })
    );
    assert_eq!(
        crate::util::bin_mi(&plan, m, &y, Some(&[0, 1, 2, 3, 4]), &mut s),
        Err(Error::DimensionMismatch {
            dim: "rows",
            expected: 4,
            got: 5
        })
    );
    // Scratch.
    let need = plan.scratch_req().words();
    for got in [0, 1, need - 1] {
        assert_eq!(
            crate::util::bin_mi(&plan, m, &y, None, &mut vec![0u64; got]),
            Err(Error::ScratchTooSmall { needed: need, got }),
        );
    }
    assert!(crate::util::bin_mi(&plan, m, &y, None, &mut vec![0u64; need]).is_ok());
    // Non-finite activations, reported at their flat index.
    for (index, bad) in [
        (0, f32::NAN),
        (5, f32::INFINITY),
        (7, f32::NEG_INFINITY),
        (3, -f32::NAN),
    ] {
        let mut t2 = t;
        t2[index] = bad;
        let m2 = MatRef::new(&t2, 4, 2).unwrap();
        for rule in crate::util::rules() {
            let p = BinningPlan::new(4, 2, rule).unwrap();
            assert_eq!(
                crate::util::bin_mi(&p, m2, &y, None, &mut vec![0u64; p.scratch_req().words()]),
                Err(Error::NonFinite { index }),
                "{rule:?}"
            );
        }
    }
    // The first of several.
    let mut t3 = t;
    t3[6] = f32::NAN;
    t3[2] = f32::INFINITY;
    assert_eq!(
        crate::util::bin_mi(&plan, MatRef::new(&t3, 4, 2).unwrap(), &y, None, &mut s),
        Err(Error::NonFinite { index: 2 })
    );
}

#[test]
fn binning_never_panics_on_any_small_shape() {
    // Every combination of plan size, matrix shape, label and id lengths and scratch length
    // in a small range: the call returns Ok or an error, and Ok only for consistent input.
    let data = fixtures::layer(30, 1, 3);
    for n in 1..5usize {
        for d in 1..4usize {
            for rule in crate::util::rules() {
                let plan = BinningPlan::new(n, d, rule).unwrap();
                for (rows, cols) in [(n, d), (n + 1, d), (n, d + 1), (n - 1, d), (1, 1)] {
                    let m = MatRef::new(&data[..rows * cols], rows, cols).unwrap();
                    for nl in [n - 1, n, n + 1] {
                        let y = vec![1u32; nl];
                        for ids in [None, Some(vec![0u32; n]), Some(vec![2u32; n + 1])] {
                            for extra in [0usize, 1, 2] {
                                let len = (plan.scratch_req().words() + extra).saturating_sub(1);
                                let r = crate::util::bin_mi(
                                    &plan,
                                    m,
                                    &y,
                                    ids.as_deref(),
                                    &mut vec![7u64; len],
                                );
                                let consistent = rows == n
                                    && cols == d
                                    && nl == n
                                    && ids.as_ref().is_none_or(|x| x.len() == n);
                                assert_eq!(
                                    r.is_ok(),
                                    consistent && extra > 0,
                                    "n={n} d={d} {rows}x{cols} labels {nl} ids {ids:?} scratch {len}: {r:?}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn group_rows_errors() {
    let x = [0.0f32, 1.0, 2.0, f32::NAN];
    let m = MatRef::new(&x[..3], 3, 1).unwrap();
    assert_eq!(
        group_rows(m, &mut [0; 2], &mut [0; 3]),
        Err(Error::ShapeMismatch {
            expected: 3,
            got: 2
        })
    );
    assert_eq!(
        group_rows(m, &mut [0; 3], &mut [0; 2]),
        Err(Error::ScratchTooSmall { needed: 3, got: 2 })
    );
    let bad = MatRef::new(&x, 2, 2).unwrap();
    assert_eq!(
        group_rows(bad, &mut [0; 2], &mut [0; 2]),
        Err(Error::NonFinite { index: 3 })
    );
}

fn small_plan(batch: usize) -> MlpPlan {
    MlpPlan::new(MlpShape::new(&[3, 4, 2], Activation::Tanh).unwrap(), batch).unwrap()
}

#[test]
fn mlp_shape_and_plan_errors() {
    let widths = Err(Error::InvalidParameter { name: "widths" });
    assert_eq!(MlpShape::new(&[], Activation::Tanh).map(|_| ()), widths);
    assert_eq!(MlpShape::new(&[3], Activation::Tanh).map(|_| ()), widths);
    assert_eq!(
        MlpShape::new(&[3, 0, 2], Activation::Tanh).map(|_| ()),
        widths
    );
    assert_eq!(
        MlpShape::new(&[3, 4, 1], Activation::Tanh).map(|_| ()),
        widths,
        "softmax needs 2 outputs"
    );
    assert_eq!(
        MlpShape::new(&[2; 18], Activation::Tanh).map(|_| ()),
        widths,
        "more than MAX_LAYERS"
    );
    assert!(MlpShape::new(&[2; 17], Activation::Tanh).is_ok());
    assert_eq!(
        MlpShape::new(&[u32::MAX, 2], Activation::Tanh).map(|_| ()),
        Err(Error::TooLarge)
    );
    assert_eq!(
        MlpShape::new(&[65_536, 65_536, 2], Activation::Tanh).map(|_| ()),
        Err(Error::TooLarge)
    );
    let shape = MlpShape::new(&[3, 4, 2], Activation::Tanh).unwrap();
    assert_eq!(
        MlpPlan::new(shape.clone(), 0).map(|_| ()),
        Err(Error::InvalidParameter { name: "batch" })
    );
    assert_eq!(
        MlpPlan::new(shape, usize::MAX).map(|_| ()),
        Err(Error::TooLarge)
    );
}

#[test]
fn mlp_gradient_errors() {
    let plan = small_plan(4);
    let n_p = plan.shape().param_len();
    let p = vec![0.1f32; n_p];
    let x = fixtures::layer(6, 3, 1);
    let xm = MatRef::new(&x, 6, 3).unwrap();
    let y = [0u32, 1, 1, 0, 1, 0];
    let mut g = vec![0.0f32; n_p];
    let mut s = vec![0.0f32; plan.scratch_len()];
    let rows = [0u32, 1, 2];
    assert!(plan.gradient(&p, xm, &y, &rows, &mut g, &mut s).is_ok());
    let sm = |expected, got| Err(Error::ShapeMismatch { expected, got });
    assert_eq!(
        plan.gradient(&p[1..], xm, &y, &rows, &mut g, &mut s),
        sm(n_p, n_p - 1)
    );
    assert_eq!(
        plan.gradient(&p, xm, &y, &rows, &mut g[1..], &mut s),
        sm(n_p, n_p - 1)
    );
    assert_eq!(
        plan.gradient(&p, xm, &y[..5], &rows, &mut g, &mut s),
        sm(6, 5)
    );
    let x2 = MatRef::new(&x, 9, 2).unwrap();
    assert_eq!(
        plan.gradient(&p, x2, &[0; 9], &rows, &mut g, &mut s),
        sm(3, 2)
    );
    assert_eq!(
        plan.gradient(&p, xm, &y, &[], &mut g, &mut s),
        Err(Error::EmptyInput)
    );
    let rows_err = Err(Error::InvalidParameter { name: "rows" });
    assert_eq!(
        plan.gradient(&p, xm, &y, &[0, 1, 2, 3, 4], &mut g, &mut s),
        rows_err,
        "more rows than the batch"
    );
    assert_eq!(
        plan.gradient(&p, xm, &y, &[0, 6], &mut g, &mut s),
        rows_err,
        "row past the end"
    );
    assert_eq!(
        plan.gradient(&p, xm, &y, &[u32::MAX], &mut g, &mut s),
        rows_err
    );
    let mut y_bad = y;
    y_bad[2] = 2;
    assert_eq!(
        plan.gradient(&p, xm, &y_bad, &rows, &mut g, &mut s),
        Err(Error::InvalidParameter { name: "labels" })
    );
    // A bad label in a row that is not used is not an error.
    assert!(
        plan.gradient(&p, xm, &y_bad, &[0, 1], &mut g, &mut s)
            .is_ok()
    );
    let need = plan.scratch_len();
    assert_eq!(
        plan.gradient(&p, xm, &y, &rows, &mut g, &mut s[..need - 1]),
        Err(Error::ScratchTooSmall {
            needed: need,
            got: need - 1
        })
    );
    let mut x_nan = x.clone();
    x_nan[3 * 2 + 1] = f32::NAN;
    let xn = MatRef::new(&x_nan, 6, 3).unwrap();
    assert_eq!(
        plan.gradient(&p, xn, &y, &[0, 2], &mut g, &mut s),
        Err(Error::NonFinite { index: 7 })
    );
    assert!(
        plan.gradient(&p, xn, &y, &[0, 1], &mut g, &mut s).is_ok(),
        "the NaN is in an unused row"
    );
}

#[test]
fn mlp_evaluate_errors() {
    let plan = small_plan(2);
    let n_p = plan.shape().param_len();
    let p = vec![0.1f32; n_p];
    let x = fixtures::layer(5, 3, 1);
    let xm = MatRef::new(&x, 5, 3).unwrap();
    let y = [0u32, 1, 1, 0, 1];
    let a = plan.shape().activation_len();
    let mut layers = vec![0.0f32; 5 * a];
    let mut nll = vec![0.0f32; 5];
    let mut s = vec![0.0f32; plan.scratch_len()];
    assert!(
        plan.evaluate(&p, xm, &y, &mut layers, &mut nll, &mut s)
            .is_ok()
    );
    let sm = |expected, got| Err(Error::ShapeMismatch { expected, got });
    assert_eq!(
        plan.evaluate(&p, xm, &y, &mut layers[1..], &mut nll, &mut s),
        sm(5 * a, 5 * a - 1)
    );
    assert_eq!(
        plan.evaluate(&p, xm, &y, &mut layers, &mut nll[1..], &mut s),
        sm(5, 4)
    );
    assert_eq!(
        plan.evaluate(&p[..n_p - 1], xm, &y, &mut layers, &mut nll, &mut s),
        sm(n_p, n_p - 1)
    );
    assert_eq!(
        plan.evaluate(&p, xm, &y[1..], &mut layers, &mut nll, &mut s),
        sm(5, 4)
    );
    let empty = MatRef::new(&[], 0, 3).unwrap();
    assert_eq!(
        plan.evaluate(&p, empty, &[], &mut [], &mut [], &mut s),
        Err(Error::EmptyInput)
    );
    assert_eq!(
        plan.evaluate(&p, xm, &[0, 1, 1, 0, 2], &mut layers, &mut nll, &mut s),
        Err(Error::InvalidParameter { name: "labels" })
    );
    assert_eq!(
        plan.evaluate(&p, xm, &y, &mut layers, &mut nll, &mut s[..3]),
        Err(Error::ScratchTooSmall {
            needed: plan.scratch_len(),
            got: 3
        })
    );
    let mut x_inf = x.clone();
    x_inf[14] = f32::INFINITY;
    let xi = MatRef::new(&x_inf, 5, 3).unwrap();
    assert_eq!(
        plan.evaluate(&p, xi, &y, &mut layers, &mut nll, &mut s),
        Err(Error::NonFinite { index: 14 })
    );
}

#[test]
fn optimizer_trainer_and_data_errors() {
    let opt = Optimizer::adam(1e-3);
    let mut p = vec![0.0f32; 4];
    assert_eq!(
        opt.step(1, &mut p, &[0.0; 3], &mut [0.0; 8]),
        Err(Error::ShapeMismatch {
            expected: 4,
            got: 3
        })
    );
    assert_eq!(
        opt.step(1, &mut p, &[0.0; 4], &mut [0.0; 7]),
        Err(Error::ShapeMismatch {
            expected: 8,
            got: 7
        })
    );
    assert_eq!(
        opt.step(0, &mut p, &[0.0; 4], &mut [0.0; 8]),
        Err(Error::InvalidParameter { name: "step" })
    );
    assert_eq!(
        Optimizer::sgd(0.1).step(1, &mut p, &[0.0; 4], &mut [0.0; 4]),
        Err(Error::ShapeMismatch {
            expected: 0,
            got: 4
        })
    );
    assert!(Trainer::new(small_plan(2), Optimizer::sgd(-1.0), BatchOrder::Fixed).is_err());

    let trainer = Trainer::new(small_plan(2), opt, BatchOrder::Fixed).unwrap();
    let n_p = trainer.plan().shape().param_len();
    let mut params = vec![0.1f32; n_p];
    let mut state = vec![0.0f32; trainer.state_len()];
    let x = fixtures::layer(4, 3, 2);
    let xm = MatRef::new(&x, 4, 3).unwrap();
    let y = [0u32, 1, 0, 1];
    let mut rng = StreamRng::new(0, Stream::Shuffle);
    let mut step = 0;
    let need = trainer.scratch_len();
    assert_eq!(
        trainer.epoch(
            &mut params,
            &mut state,
            &mut step,
            xm,
            &y,
            &mut [0, 1, 2, 3],
            &mut rng,
            &mut vec![0.0; need - 1]
        ),
        Err(Error::ScratchTooSmall {
            needed: need,
            got: need - 1
        })
    );
    assert_eq!(
        trainer.epoch(
            &mut params,
            &mut state,
            &mut step,
            xm,
            &y,
            &mut [],
            &mut rng,
            &mut vec![0.0; need]
        ),
        Err(Error::EmptyInput)
    );
    assert_eq!(step, 0, "failed epochs take no steps");

    assert_eq!(
        MatRef::new(&[0.0; 5], 2, 3).map(|_| ()),
        Err(Error::ShapeMismatch {
            expected: 6,
            got: 5
        })
    );
    assert_eq!(
        MatRef::new(&[], usize::MAX, 2).map(|_| ()),
        Err(Error::TooLarge)
    );
    assert_eq!(
        tishby_dataset(&mut [0.0; 10], &mut [0; 4096]),
        Err(Error::ShapeMismatch {
            expected: 4096 * 12,
            got: 10
        })
    );
    assert_eq!(
        tishby_dataset(&mut vec![0.0; 4096 * 12], &mut [0; 4095]),
        Err(Error::ShapeMismatch {
            expected: 4096,
            got: 4095
        })
    );
}

#[test]
fn errors_display_lowercase_without_trailing_period() {
    let all = [
        Error::ScratchTooSmall { needed: 3, got: 2 },
        Error::ShapeMismatch {
            expected: 3,
            got: 2,
        },
        Error::EmptyInput,
        Error::NonFinite { index: 7 },
        Error::TooLarge,
        Error::InvalidParameter { name: "bins" },
    ];
    for e in all {
        let s = e.to_string();
        assert!(s.chars().next().is_some_and(|c| c.is_lowercase()), "{s}");
        assert!(!s.ends_with('.'), "{s}");
    }
    assert!(Error::NonFinite { index: 7 }.to_string().contains('7'));
    assert!(
        Error::InvalidParameter { name: "bins" }
            .to_string()
            .contains("bins")
    );
}

#[test]
fn non_finite_parameters_never_give_ok_with_non_finite_outputs() {
    // Parameters are caller state (R8) and can diverge; a kernel either rejects them or its
    // outputs are finite. Huge-but-finite parameters overflow the logits to ±inf.
    let plan = MlpPlan::new(MlpShape::new(&[2, 3, 2], Activation::Relu).unwrap(), 4).unwrap();
    let n_p = plan.shape().param_len();
    let x = [1.0f32, 1.0, -1.0, 2.0];
    let xm = MatRef::new(&x, 2, 2).unwrap();
    let y = [0u32, 1];
    let mut s = vec![0.0f32; plan.scratch_len()];
    let mut failures = Vec::new();
    for (name, p) in [
        ("NaN", vec![f32::NAN; n_p]),
        ("inf", vec![f32::INFINITY; n_p]),
        ("3e38", vec![3e38f32; n_p]),
    ] {
        let mut layers = vec![0.0f32; 2 * plan.shape().activation_len()];
        let mut nll = vec![0.0f32; 2];
        let r = plan.evaluate(&p, xm, &y, &mut layers, &mut nll, &mut s);
        if r.is_ok() && !layers.iter().chain(&nll).all(|v| v.is_finite()) {
            failures.push(format!(
                "evaluate with {name} parameters: Ok, layers {layers:?}, nll {nll:?}"
            ));
        }
        let mut g = vec![0.0f32; n_p];
        let r = plan.gradient(&p, xm, &y, &[0, 1], &mut g, &mut s);
        if r.is_ok() && !g.iter().all(|v| v.is_finite()) {
            failures.push(format!(
                "gradient with {name} parameters: Ok, gradient {g:?}"
            ));
        }
    }
    let mut p = vec![1.0f32; 2];
    let r = Optimizer::adam(0.1).step(1, &mut p, &[f32::NAN, 1.0], &mut [0.0; 4]);
    if r.is_ok() && !p.iter().all(|v| v.is_finite()) {
        failures.push(format!(
            "Adam step with a NaN gradient: Ok, parameters {p:?}"
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Fuzz regression (`fuzz/seeds/mlp_sgd_step/adam-second-moment-overflow`): with |g| > 1.8e19,
/// g² overflows Adam's second moment to +∞ while the update m / √∞ rounds to 0 and leaves the
/// parameters finite; `step` returned `Ok` with an infinite state. It must report `Overflow`.
#[test]
fn adam_second_moment_overflow_is_reported() {
    let mut p = [0.5f32, -0.5];
    let mut state = [0.0f32; 4];
    let r = Optimizer::adam(1e-3).step(1, &mut p, &[2e19, 1.0], &mut state);
    assert_eq!(r, Err(Error::Overflow));
    // Just below the overflow the same step is fine and everything stays finite.
    let mut p = [0.5f32, -0.5];
    let mut state = [0.0f32; 4];
    Optimizer::adam(1e-3)
        .step(1, &mut p, &[1e19, 1.0], &mut state)
        .unwrap();
    assert!(p.iter().chain(&state).all(|v| v.is_finite()));
}

/// A bin size so small that a value's bin number `floor(v / size)` would pass ±2⁶² used to be
/// clamped, merging every such value into one bin without a word (`--bin-size 1e-25` gave
/// 3.998 bits on Tishby's net); it is an error, and the largest size that overflows is the
/// boundary.
#[test]
fn a_bin_size_whose_bin_numbers_overflow_is_an_error() {
    use crate::util::bin_mi;
    let t = [0.5f32, -0.25, 0.75, 1.0];
    let labels = [0u32, 1, 0, 1];
    let at = |size: f32| {
        let plan = BinningPlan::new(4, 1, BinRule::Size { size }).unwrap();
        let mut scratch = vec![0u64; plan.scratch_req().words()];
        bin_mi(
            &plan,
            MatRef::new(&t, 4, 1).unwrap(),
            &labels,
            None,
            &mut scratch,
        )
    };
    let bad = Err(Error::InvalidParameter { name: "bin_size" });
    assert_eq!(at(1e-25), bad);
    assert_eq!(at(f32::MIN_POSITIVE), bad);
    // 1.0 / 2⁻⁶² = 2⁶² reaches the limit; one size step up, 1.0 / size < 2⁶².
    let limit = 1.0 / 4.611_686e18f32;
    assert_eq!(at(limit), bad);
    let ok = at(limit * 1.000_001).unwrap();
    // Every value alone in its bin: I(X;T) = log2 4, I(T;Y) = H(Y) = 1 bit.
    assert!((ok.i_xt.in_bits() - 2.0).abs() < 1e-12, "{ok:?}");
    assert!((ok.i_ty.in_bits() - 1.0).abs() < 1e-12, "{ok:?}");
}
