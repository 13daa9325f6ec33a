//! Poisoned-scratch tests (R6, R26): a kernel's output bits must not depend on what its
//! scratch (or its output buffers) held on entry, nor on extra scratch beyond
//! `scratch_len()`.

use crate::util::{pattern, rules};
use infoplane_core::dataset::group_rows;
use infoplane_core::{
    Activation, BatchOrder, BinRule, BinningPlan, Init, MatRef, MlpPlan, MlpShape, Optimizer,
    Stream, StreamRng, Trainer,
};
use infoplane_tests::fixtures::{
    self, IDS_SEED, INPUT_SEED, LABEL_SEED, LAYER_SEED, PARAM_SEED, RUN_SEED,
};

/// Fill patterns for `u64` scratch: zero, all ones, and a repeating non-trivial pattern.
const U64_POISONS: [u64; 3] = [0, u64::MAX, 0xdead_beef_0bad_f00d];

#[test]
fn binning_ignores_scratch_contents() {
    // The wide layer (40 units × 5 bits) takes the rank path; kept small because that path
    // bins values inside the sort comparisons, which is slow in debug builds.
    let (n, d) = (300, 5);
    let t = fixtures::clustered_layer(n, d, 40, LAYER_SEED + 900);
    let y = fixtures::labels(n, 3, LABEL_SEED);
    let ids = fixtures::ids(n, 80, IDS_SEED);
    let wide = fixtures::clustered_layer(n, 40, 40, LAYER_SEED + 901);
    for rule in rules() {
        for (t, d) in [(&t, d), (&wide, 40)] {
            let plan = BinningPlan::new(n, d, rule).unwrap();
            let m = MatRef::new(t, n, d).unwrap();
            for x in [None, Some(ids.as_slice())] {
                let mut results = Vec::new();
                for poison in U64_POISONS {
                    let mut scratch = vec![poison; plan.scratch_req().words()];
                    results.push(pattern(
                        crate::util::bin_mi(&plan, m, &y, x, &mut scratch).unwrap(),
                    ));
                    // Extra scratch past scratch_len() is ignored.
                    let mut scratch = vec![poison; plan.scratch_req().words() + 33];
                    results.push(pattern(
                        crate::util::bin_mi(&plan, m, &y, x, &mut scratch).unwrap(),
                    ));
                }
                // After other kernels ran on the same buffer: another rule and size, a run
                // with large labels (sort path), and group_rows.
                let mut shared = vec![0u64; plan.scratch_req().words() + 64];
                let other = BinningPlan::new(n / 2, 3, BinRule::Size { size: 0.01 }).unwrap();
                let half = fixtures::layer(n / 2, 3, 5);
                crate::util::bin_mi(
                    &other,
                    MatRef::new(&half, n / 2, 3).unwrap(),
                    &y[..n / 2],
                    None,
                    &mut shared,
                )
                .unwrap();
                results.push(pattern(
                    crate::util::bin_mi(&plan, m, &y, x, &mut shared).unwrap(),
                ));
                let big: Vec<u32> = y.iter().map(|&v| u32::MAX - v).collect();
                crate::util::bin_mi(&plan, m, &big, Some(&ids), &mut shared).unwrap();
                results.push(pattern(
                    crate::util::bin_mi(&plan, m, &y, x, &mut shared).unwrap(),
                ));
                let mut gids = vec![0u32; n];
                group_rows(m, &mut gids, &mut shared).unwrap();
                results.push(pattern(
                    crate::util::bin_mi(&plan, m, &y, x, &mut shared).unwrap(),
                ));
                assert!(
                    results.windows(2).all(|w| w[0] == w[1]),
                    "{rule:?} d={d} ids={}: {results:?}",
                    x.is_some()
                );
            }
        }
    }
}

#[test]
fn group_rows_ignores_scratch_and_output_contents() {
    let n = 300;
    let x = fixtures::clustered_layer(n, 3, 30, LAYER_SEED + 902);
    let m = MatRef::new(&x, n, 3).unwrap();
    let mut first: Option<Vec<u32>> = None;
    for poison in U64_POISONS {
        for id_fill in [0u32, u32::MAX] {
            let mut ids = vec![id_fill; n];
            group_rows(m, &mut ids, &mut vec![poison; n + 5]).unwrap();
            match &first {
                None => first = Some(ids),
                Some(f) => assert_eq!(*f, ids),
            }
        }
    }
}

const SMALL: [u32; 4] = [5, 4, 3, 3];
const TISHBY: [u32; 7] = [12, 10, 7, 5, 4, 3, 2];

fn net(widths: &[u32], act: Activation, batch: usize, seed: u64) -> (MlpPlan, Vec<f32>) {
    let plan = MlpPlan::new(MlpShape::new(widths, act).unwrap(), batch).unwrap();
    let p = fixtures::uniform(plan.shape().param_len(), 0.8, seed);
    (plan, p)
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Fill patterns for `f32` scratch and output buffers: zero, NaN, infinity and a huge value.
const F32_POISONS: [f32; 4] = [0.0, f32::NAN, f32::INFINITY, -3.0e38];

#[test]
fn mlp_gradient_ignores_scratch_and_output_contents() {
    for act in Activation::ALL {
        let (plan, p) = net(&TISHBY, act, 64, PARAM_SEED + 910);
        let (x, y) = fixtures::tishby();
        let xm = MatRef::new(&x, 4096, 12).unwrap();
        let rows: Vec<u32> = fixtures::permutation(4096, INPUT_SEED)
            .into_iter()
            .take(50)
            .collect();
        let mut results = Vec::new();
        for poison in F32_POISONS {
            let mut g = vec![poison; p.len()];
            let mut scratch = vec![poison; plan.scratch_len()];
            plan.gradient(&p, xm, &y, &rows, &mut g, &mut scratch)
                .unwrap();
            results.push(bits(&g));
            let mut scratch = vec![poison; plan.scratch_len() + 17];
            plan.gradient(&p, xm, &y, &rows, &mut g, &mut scratch)
                .unwrap();
            results.push(bits(&g));
        }
        // After evaluate, and after another network's gradient, on the same buffer.
        let mut shared = vec![0.0f32; plan.scratch_len()];
        let mut layers = vec![0.0f32; 100 * plan.shape().activation_len()];
        let mut nll = vec![0.0f32; 100];
        let x100 = MatRef::new(&x[..1200], 100, 12).unwrap();
        plan.evaluate(&p, x100, &y[..100], &mut layers, &mut nll, &mut shared)
            .unwrap();
        let mut g = vec![0.0f32; p.len()];
        plan.gradient(&p, xm, &y, &rows, &mut g, &mut shared)
            .unwrap();
        results.push(bits(&g));
        let (small, sp) = net(&SMALL, Activation::Relu, 7, PARAM_SEED + 911);
        let sx = fixtures::layer(7, 5, INPUT_SEED);
        let sy = fixtures::labels(7, 3, LABEL_SEED);
        let mut sg = vec![0.0f32; sp.len()];
        small
            .gradient(
                &sp,
                MatRef::new(&sx, 7, 5).unwrap(),
                &sy,
                &[6, 0, 1, 2, 3, 4, 5],
                &mut sg,
                &mut shared,
            )
            .unwrap();
        plan.gradient(&p, xm, &y, &rows, &mut g, &mut shared)
            .unwrap();
        results.push(bits(&g));
        assert!(
            results.windows(2).all(|w| w[0] == w[1]),
            "{}: gradient depends on scratch contents",
            act.name()
        );
        assert!(g.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn mlp_evaluate_ignores_scratch_and_output_contents() {
    for act in Activation::ALL {
        let (plan, p) = net(&TISHBY, act, 96, PARAM_SEED + 920);
        let (x, y) = fixtures::tishby();
        let n = 300; // three full blocks and a short one
        let xm = MatRef::new(&x[..n * 12], n, 12).unwrap();
        let mut results = Vec::new();
        for poison in F32_POISONS {
            let mut layers = vec![poison; n * plan.shape().activation_len()];
            let mut nll = vec![poison; n];
            let mut scratch = vec![poison; plan.scratch_len()];
            plan.evaluate(&p, xm, &y[..n], &mut layers, &mut nll, &mut scratch)
                .unwrap();
            results.push((bits(&layers), bits(&nll)));
            let mut scratch = vec![poison; plan.scratch_len() + 100];
            plan.evaluate(&p, xm, &y[..n], &mut layers, &mut nll, &mut scratch)
                .unwrap();
            results.push((bits(&layers), bits(&nll)));
        }
        // After a gradient on the same buffer.
        let mut shared = vec![f32::NAN; plan.scratch_len()];
        let mut g = vec![0.0f32; p.len()];
        let rows: Vec<u32> = (0..96).rev().collect();
        plan.gradient(&p, xm, &y[..n], &rows, &mut g, &mut shared)
            .unwrap();
        let mut layers = vec![1.0f32; n * plan.shape().activation_len()];
        let mut nll = vec![1.0f32; n];
        plan.evaluate(&p, xm, &y[..n], &mut layers, &mut nll, &mut shared)
            .unwrap();
        results.push((bits(&layers), bits(&nll)));
        assert!(
            results.windows(2).all(|w| w[0] == w[1]),
            "{}: evaluate depends on buffer contents",
            act.name()
        );
        assert!(layers.iter().chain(&nll).all(|v| v.is_finite()));
    }
}

#[test]
fn trainer_epoch_ignores_scratch_contents() {
    let (x, y) = fixtures::tishby();
    let xm = MatRef::new(&x, 4096, 12).unwrap();
    let plan = MlpPlan::new(MlpShape::new(&TISHBY, Activation::Tanh).unwrap(), 512).unwrap();
    let mut p0 = vec![0.0f32; plan.shape().param_len()];
    plan.init(
        Init::TruncatedNormalFanIn,
        &mut p0,
        &mut StreamRng::new(RUN_SEED, Stream::Init),
    )
    .unwrap();
    let trainer = Trainer::new(plan, Optimizer::adam(4e-4), BatchOrder::Shuffled).unwrap();
    let mut results = Vec::new();
    for poison in F32_POISONS {
        let mut p = p0.clone();
        let mut state = vec![0.0f32; trainer.state_len()];
        let mut scratch = vec![poison; trainer.scratch_len()];
        let mut rows: Vec<u32> = (0..3276).collect();
        let mut rng = StreamRng::new(RUN_SEED, Stream::Shuffle);
        let mut step = 0;
        trainer
            .epoch(
                &mut p,
                &mut state,
                &mut step,
                xm,
                &y,
                &mut rows,
                &mut rng,
                &mut scratch,
            )
            .unwrap();
        results.push(bits(&p));
    }
    assert!(results.windows(2).all(|w| w[0] == w[1]));
}
