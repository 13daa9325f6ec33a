//! The network: gradients against finite differences of the `f64` reference, forward
//! outputs against the reference, batch independence, initialisers and the trainer.

use infoplane_core::{
    Activation, BatchOrder, Init, MatRef, MlpPlan, MlpShape, Optimizer, Stream, StreamRng, Trainer,
};
use infoplane_tests::fixtures::{self, INPUT_SEED, LABEL_SEED, PARAM_SEED, RUN_SEED};
use infoplane_tests::reference::{finite_difference_gradient, mlp_forward_f64};
use infoplane_tests::tolerance::{
    FD_KINK_MARGIN, FD_STEP, FORWARD_REL, GRAD_ABS, GRAD_REL, NLL_REL, PROB_SUM_EPS_PER_CLASS,
};

/// The small network of the gradient checks: three weight layers, three classes.
const SMALL: [u32; 4] = [5, 4, 3, 3];
/// Tishby's network.
const TISHBY: [u32; 7] = [12, 10, 7, 5, 4, 3, 2];

fn plan(widths: &[u32], act: Activation, batch: usize) -> MlpPlan {
    MlpPlan::new(MlpShape::new(widths, act).unwrap(), batch).unwrap()
}

/// Random parameters, biases included, uniform in ±`scale`.
fn params(plan: &MlpPlan, scale: f32, seed: u64) -> Vec<f32> {
    fixtures::uniform(plan.shape().param_len(), scale, seed)
}

fn gradient(plan: &MlpPlan, p: &[f32], x: &[f32], y: &[u32], rows: &[u32]) -> Vec<f32> {
    let cols = plan.shape().input_width();
    let mut g = vec![f32::NAN; p.len()];
    let mut scratch = vec![0.0f32; plan.scratch_len()];
    plan.gradient(
        p,
        MatRef::new(x, y.len(), cols).unwrap(),
        y,
        rows,
        &mut g,
        &mut scratch,
    )
    .unwrap();
    g
}

fn evaluate(plan: &MlpPlan, p: &[f32], x: &[f32], y: &[u32]) -> (Vec<f32>, Vec<f32>) {
    let cols = plan.shape().input_width();
    let mut layers = vec![f32::NAN; y.len() * plan.shape().activation_len()];
    let mut nll = vec![f32::NAN; y.len()];
    let mut scratch = vec![0.0f32; plan.scratch_len()];
    plan.evaluate(
        p,
        MatRef::new(x, y.len(), cols).unwrap(),
        y,
        &mut layers,
        &mut nll,
        &mut scratch,
    )
    .unwrap();
    (layers, nll)
}

/// Compares a core gradient with finite differences and returns the worst
/// |error| / (`GRAD_REL`·|fd| + `GRAD_ABS`) (≤ 1 passes), after asserting the fixture stays
/// clear of `ReLU` kinks.
fn check_gradient(
    widths: &[u32],
    act: Activation,
    p: &[f32],
    x: &[f32],
    y: &[u32],
    what: &str,
) -> f64 {
    let batch = y.len();
    let pl = plan(widths, act, batch);
    let rows: Vec<u32> = (0..u32::try_from(batch).unwrap()).collect();
    let g = gradient(&pl, p, x, y, &rows);
    let wide: Vec<f64> = p.iter().copied().map(f64::from).collect();
    let fwd = mlp_forward_f64(widths, act, &wide, x, y).unwrap();
    if matches!(act, Activation::Relu | Activation::LeakyRelu) {
        assert!(
            fwd.min_abs_hidden_preactivation > FD_KINK_MARGIN,
            "{what}: fixture has a pre-activation {} near a kink",
            fwd.min_abs_hidden_preactivation
        );
    }
    let fd = finite_difference_gradient(widths, act, p, x, y, FD_STEP).unwrap();
    let mut worst = 0.0f64;
    let (mut worst_rel, mut worst_abs) = (0.0f64, 0.0f64);
    for (i, (&gi, &fi)) in g.iter().zip(&fd).enumerate() {
        let err = (f64::from(gi) - fi).abs();
        worst_abs = worst_abs.max(err);
        if fi.abs() > 1e-3 {
            worst_rel = worst_rel.max(err / fi.abs());
        }
        let allowed = GRAD_REL * fi.abs() + GRAD_ABS;
        assert!(
            err <= allowed,
            "{what}: parameter {i}: core {gi} finite difference {fi} (error {err:e})"
        );
        worst = worst.max(err / allowed);
    }
    println!(
        "{what}: worst relative error {worst_rel:e} (|g| > 1e-3), worst absolute {worst_abs:e}"
    );
    worst
}

#[test]
fn gradient_matches_finite_differences_for_every_activation() {
    for (k, act) in Activation::ALL.into_iter().enumerate() {
        let k = k as u64;
        let pl = plan(&SMALL, act, 7);
        let p = params(&pl, 0.9, PARAM_SEED + k);
        let x: Vec<f32> = fixtures::layer(7, 5, INPUT_SEED + k)
            .iter()
            .map(|v| v * 2.0)
            .collect();
        let y = fixtures::labels(7, 3, LABEL_SEED + k);
        let worst = check_gradient(&SMALL, act, &p, &x, &y, act.name());
        println!(
            "{}: worst gradient error {worst:.3} of the tolerance",
            act.name()
        );
    }
}

#[test]
fn gradient_matches_finite_differences_on_tishby_network() {
    // Six weight layers, the paper's initialisation, real inputs: errors through the depth.
    let (x_all, y_all) = fixtures::tishby();
    let rows: Vec<usize> = fixtures::permutation(4096, INPUT_SEED)
        .into_iter()
        .take(40)
        .map(|r| r as usize)
        .collect();
    let x: Vec<f32> = rows
        .iter()
        .flat_map(|&r| x_all[r * 12..r * 12 + 12].iter().copied())
        .collect();
    let y: Vec<u32> = rows.iter().map(|&r| y_all[r]).collect();
    for act in [Activation::Tanh, Activation::Sigmoid, Activation::Softplus] {
        let pl = plan(&TISHBY, act, 40);
        let mut p = vec![0.0f32; pl.shape().param_len()];
        pl.init(
            Init::TruncatedNormalFanIn,
            &mut p,
            &mut StreamRng::new(RUN_SEED, Stream::Init),
        )
        .unwrap();
        // Non-zero biases, so their gradients and the bias paths are exercised.
        let b = fixtures::uniform(p.len(), 0.3, PARAM_SEED);
        p.iter_mut().zip(&b).for_each(|(v, &d)| *v += d);
        check_gradient(&TISHBY, act, &p, &x, &y, &format!("tishby {}", act.name()));
    }
}

#[test]
fn gradient_over_a_subset_of_rows_in_any_order() {
    // The plan's batch is larger than the block, rows are picked from a bigger matrix out of
    // order and with a repeat: the gradient is that of the mean loss over exactly those rows.
    let act = Activation::Tanh;
    let pl = plan(&SMALL, act, 16);
    let p = params(&pl, 0.9, PARAM_SEED + 20);
    let x_all = fixtures::layer(30, 5, INPUT_SEED + 20);
    let y_all = fixtures::labels(30, 3, LABEL_SEED + 20);
    let rows = [29u32, 3, 17, 3, 0, 11, 8, 22, 5];
    let g = gradient(&pl, &p, &x_all, &y_all, &rows);
    let x: Vec<f32> = rows
        .iter()
        .flat_map(|&r| x_all[r as usize * 5..r as usize * 5 + 5].iter().copied())
        .collect();
    let y: Vec<u32> = rows.iter().map(|&r| y_all[r as usize]).collect();
    let fd = finite_difference_gradient(&SMALL, act, &p, &x, &y, FD_STEP).unwrap();
    for (i, (&gi, &fi)) in g.iter().zip(&fd).enumerate() {
        assert!(
            (f64::from(gi) - fi).abs() <= GRAD_REL * fi.abs() + GRAD_ABS,
            "parameter {i}: {gi} vs {fi}"
        );
    }
}

#[test]
fn evaluate_matches_the_f64_reference() {
    for (k, act) in Activation::ALL.into_iter().enumerate() {
        let k = k as u64;
        let n = 50;
        let pl = plan(&SMALL, act, 16);
        let p = params(&pl, 1.2, PARAM_SEED + 40 + k);
        let x: Vec<f32> = fixtures::layer(n, 5, INPUT_SEED + 40 + k)
            .iter()
            .map(|v| v * 3.0)
            .collect();
        let y = fixtures::labels(n, 3, LABEL_SEED + 40 + k);
        let (layers, nll) = evaluate(&pl, &p, &x, &y);
        let wide: Vec<f64> = p.iter().copied().map(f64::from).collect();
        let want = mlp_forward_f64(&SMALL, act, &wide, &x, &y).unwrap();
        let flat: Vec<f64> = want.layers.concat();
        assert_eq!(layers.len(), flat.len());
        let worst = |a: &[f32], b: &[f64]| {
            a.iter()
                .zip(b)
                .map(|(&g, &w)| (f64::from(g) - w).abs() / w.abs().max(1.0))
                .fold(0.0, f64::max)
        };
        println!(
            "{}: worst forward error {:e}, nll {:e}",
            act.name(),
            worst(&layers, &flat),
            worst(&nll, &want.nll)
        );
        for (i, (&got, &w)) in layers.iter().zip(&flat).enumerate() {
            assert!(
                (f64::from(got) - w).abs() <= FORWARD_REL * w.abs().max(1.0),
                "{}: activation {i}: {got} vs {w}",
                act.name()
            );
        }
        for (i, (&got, &w)) in nll.iter().zip(&want.nll).enumerate() {
            assert!(
                (f64::from(got) - w).abs() <= NLL_REL * w.max(1.0),
                "{}: nll {i}: {got} vs {w}",
                act.name()
            );
            assert!(got >= 0.0, "{}: nll {i} negative: {got}", act.name());
        }
    }
}

#[test]
fn evaluate_does_not_depend_on_the_batch() {
    let (x, y) = fixtures::tishby();
    let n = 100; // not a multiple of 7 or 64: short last blocks
    let (x, y) = (&x[..n * 12], &y[..n]);
    for act in Activation::ALL {
        let mut p = vec![0.0f32; MlpShape::new(&TISHBY, act).unwrap().param_len()];
        plan(&TISHBY, act, 1)
            .init(
                Init::TruncatedNormalFanIn,
                &mut p,
                &mut StreamRng::new(RUN_SEED, Stream::Init),
            )
            .unwrap();
        let b = fixtures::uniform(p.len(), 0.2, PARAM_SEED + 60);
        p.iter_mut().zip(&b).for_each(|(v, &d)| *v += d);
        let base = evaluate(&plan(&TISHBY, act, 1), &p, x, y);
        for batch in [7, 64, 100, 512] {
            let other = evaluate(&plan(&TISHBY, act, batch), &p, x, y);
            let same =
                |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(u, v)| u.to_bits() == v.to_bits());
            assert!(
                same(&base.0, &other.0),
                "{}: layers differ between batch 1 and {batch}",
                act.name()
            );
            assert!(
                same(&base.1, &other.1),
                "{}: nll differs between batch 1 and {batch}",
                act.name()
            );
        }
    }
}

#[test]
fn probabilities_sum_to_one() {
    let (x, y) = fixtures::tishby();
    let act = Activation::Tanh;
    let pl = plan(&TISHBY, act, 512);
    let p = params(&pl, 1.5, PARAM_SEED + 70);
    let (layers, nll) = evaluate(&pl, &p, &x, &y);
    let out_start = 4096 * (10 + 7 + 5 + 4 + 3);
    let probs = &layers[out_start..];
    assert_eq!(probs.len(), 4096 * 2);
    for (s, row) in probs.chunks_exact(2).enumerate() {
        assert!(
            row.iter().all(|&q| (0.0..=1.0).contains(&q)),
            "row {s}: {row:?}"
        );
        let sum: f32 = row.iter().sum();
        assert!(
            (sum - 1.0).abs() <= PROB_SUM_EPS_PER_CLASS * 2.0 * f32::EPSILON,
            "row {s}: sum {sum}"
        );
        // nll = −ln p_y.
        let py = f64::from(row[y[s] as usize]);
        let want = -infoplane_core::math::ln_f64(py);
        assert!(
            (f64::from(nll[s]) - want).abs() <= NLL_REL * want.max(1.0),
            "row {s}"
        );
    }
    // Ten classes too.
    let pl = plan(&[4, 6, 10], Activation::Relu, 32);
    let p = params(&pl, 2.0, PARAM_SEED + 71);
    let x = fixtures::layer(40, 4, INPUT_SEED + 71);
    let y = fixtures::labels(40, 10, LABEL_SEED + 71);
    let (layers, _) = evaluate(&pl, &p, &x, &y);
    for row in layers[40 * 6..].chunks_exact(10) {
        let sum: f32 = row.iter().sum();
        assert!(
            (sum - 1.0).abs() <= PROB_SUM_EPS_PER_CLASS * 10.0 * f32::EPSILON,
            "sum {sum}"
        );
    }
}

#[test]
fn initialisers_respect_their_bounds() {
    let pl = plan(&TISHBY, Activation::Tanh, 8);
    let widths = TISHBY;
    for init in [
        Init::TruncatedNormalFanIn,
        Init::TruncatedNormalFanOut,
        Init::GlorotUniform,
    ] {
        let mut p = vec![f32::NAN; pl.shape().param_len()];
        pl.init(init, &mut p, &mut StreamRng::new(RUN_SEED, Stream::Init))
            .unwrap();
        let mut again = vec![0.0f32; p.len()];
        pl.init(
            init,
            &mut again,
            &mut StreamRng::new(RUN_SEED, Stream::Init),
        )
        .unwrap();
        assert!(
            p.iter()
                .zip(&again)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{init:?} not reproducible"
        );
        let mut offset = 0;
        for w in widths.windows(2) {
            let (fan_in, fan_out) = (w[0] as usize, w[1] as usize);
            let weights = &p[offset..offset + fan_in * fan_out];
            let biases = &p[offset + fan_in * fan_out..offset + (fan_in + 1) * fan_out];
            offset += (fan_in + 1) * fan_out;
            assert!(
                biases.iter().all(|&b| b.to_bits() == 0),
                "{init:?}: biases start at +0"
            );
            let limit = match init {
                Init::TruncatedNormalFanIn => 2.0 / infoplane_core::math::sqrt(fan_in as f32),
                Init::TruncatedNormalFanOut => 2.0 / infoplane_core::math::sqrt(fan_out as f32),
                _ => infoplane_core::math::sqrt(6.0 / (fan_in + fan_out) as f32),
            };
            // 1 ulp of slack: the bound itself is rounded.
            let limit = limit * (1.0 + f32::EPSILON);
            assert!(
                weights.iter().all(|v| v.abs() <= limit && *v != 0.0),
                "{init:?}: weight beyond {limit}"
            );
        }
        assert_eq!(offset, p.len());
    }
}

/// Tishby's preset for a short run: first 80 % of the rows, batch 512, Adam 4e-4.
fn tishby_run(order: BatchOrder, optimizer: Optimizer) -> (Trainer, Vec<f32>) {
    let pl = plan(&TISHBY, Activation::Tanh, 512);
    let mut p = vec![0.0f32; pl.shape().param_len()];
    pl.init(
        Init::TruncatedNormalFanIn,
        &mut p,
        &mut StreamRng::new(RUN_SEED, Stream::Init),
    )
    .unwrap();
    (Trainer::new(pl, optimizer, order).unwrap(), p)
}

#[test]
fn trainer_epoch_is_gradient_then_step_per_batch() {
    let (x, y) = fixtures::tishby();
    let xm = MatRef::new(&x, 4096, 12).unwrap();
    for (order, opt) in [
        (BatchOrder::Fixed, Optimizer::adam(4e-4)),
        (
            BatchOrder::Shuffled,
            Optimizer::Sgd {
                lr: 0.05,
                momentum: 0.9,
            },
        ),
    ] {
        let (trainer, p0) = tishby_run(order, opt);
        // The trainer.
        let mut p = p0.clone();
        let mut state = vec![0.0f32; trainer.state_len()];
        let mut scratch = vec![0.0f32; trainer.scratch_len()];
        let mut rows: Vec<u32> = (0..3276).collect();
        let mut rng = StreamRng::new(RUN_SEED, Stream::Shuffle);
        let mut step = 0u64;
        for _ in 0..2 {
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
        }
        // By hand: the same shuffles, gradients and steps.
        let pl = trainer.plan();
        let mut q = p0.clone();
        let mut st = vec![0.0f32; opt.state_len(q.len())];
        let mut g = vec![0.0f32; q.len()];
        let mut sc = vec![0.0f32; pl.scratch_len()];
        let mut rows2: Vec<u32> = (0..3276).collect();
        let mut rng2 = StreamRng::new(RUN_SEED, Stream::Shuffle);
        let mut t = 0u64;
        for _ in 0..2 {
            if order == BatchOrder::Shuffled {
                rng2.shuffle(&mut rows2);
            }
            for batch in rows2.chunks(512) {
                pl.gradient(&q, xm, &y, batch, &mut g, &mut sc).unwrap();
                t += 1;
                opt.step(t, &mut q, &g, &mut st).unwrap();
            }
        }
        assert_eq!(
            step, t,
            "{order:?}: 7 batches per epoch (6 full, one of 204)"
        );
        assert_eq!(t, 14);
        assert_eq!(rows, rows2, "{order:?}");
        assert!(
            p.iter().zip(&q).all(|(a, b)| a.to_bits() == b.to_bits()),
            "{order:?}: trainer differs from the manual loop"
        );
        assert!(
            p.iter().zip(&p0).any(|(a, b)| a != b),
            "{order:?}: training changed nothing"
        );
    }
}

#[test]
fn training_reduces_the_loss() {
    let (x, y) = fixtures::tishby();
    let xm = MatRef::new(&x, 4096, 12).unwrap();
    let (trainer, mut p) = tishby_run(BatchOrder::Fixed, Optimizer::adam(0.01));
    let mean_nll = |p: &[f32]| -> f64 {
        let (_, nll) = evaluate(trainer.plan(), p, &x, &y);
        nll.iter().map(|&v| f64::from(v)).sum::<f64>() / 4096.0
    };
    let before = mean_nll(&p);
    let mut state = vec![0.0f32; trainer.state_len()];
    let mut scratch = vec![0.0f32; trainer.scratch_len()];
    let mut rows: Vec<u32> = (0..3276).collect();
    let mut rng = StreamRng::new(RUN_SEED, Stream::Shuffle);
    let mut step = 0;
    for _ in 0..15 {
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
    }
    let after = mean_nll(&p);
    assert!(after < before - 0.05, "loss {before} -> {after}");
}
