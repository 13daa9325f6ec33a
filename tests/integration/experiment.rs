//! The run driver: capture points, planners that decide from measurements, release order
//! under any delivery order, the metrics' values, configuration errors, data sets of bytes,
//! and pooled snapshots (the as-if-random set-up) against the `f64` KDE reference.

// Fixture sizes are small counts, and f64 draws become f32 data on purpose.
#![allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]

use infoplane_core::dataset::Dataset;
use infoplane_core::estimator::{Layer, Settings};
use infoplane_core::experiment::{
    Action, Experiment, ExperimentConfig, LayerPoint, Measurement, Next, Planner, Run, Snapshot,
    Step, estimators,
};
use infoplane_core::kde::{KdeBound, KdePlan};
use infoplane_core::preset::{SAXE, TISHBY};
use infoplane_core::schedule::ScheduleSpec;
use infoplane_core::{Capture, Error, Init, MatRef, MlpPlan, Optimizer, Stream, StreamRng};
use infoplane_tests::fixtures;
use infoplane_tests::reference::{kde_mi_from_terms, kde_row_terms_f64, mlp_forward_f64};
use infoplane_tests::tolerance::{KDE_MI_BITS, NLL_REL};
use std::sync::Arc;

fn tishby(epochs: u32, schedule: &str, capture: Capture) -> ExperimentConfig {
    let mut c = ExperimentConfig::from_preset(&TISHBY).unwrap();
    c.epochs = epochs;
    c.schedule = ScheduleSpec::parse(schedule).unwrap();
    c.capture = capture;
    c
}

fn data() -> Arc<Dataset> {
    Arc::new(Dataset::tishby())
}

/// Every snapshot of a run, in order.
fn snapshots(cfg: ExperimentConfig) -> Vec<Snapshot> {
    let mut exp = Experiment::new(cfg, data()).unwrap();
    let mut out = Vec::new();
    loop {
        match exp.step().unwrap() {
            Step::Snapshot(s) => out.push(s),
            Step::Trained(_) => {}
            Step::Wait => panic!("a fixed schedule never waits"),
            Step::Done => return out,
        }
    }
}

/// A whole run measured inline: its measurements in release order.
fn measure_all(mut run: Run) -> Vec<Measurement> {
    let mut m = run.experiment().measurer().unwrap();
    let mut out = Vec::new();
    loop {
        match run.next_action().unwrap() {
            Action::Measure(t, s) => run.deliver(t, m.measure(&s).unwrap()),
            Action::Trained(_) => {}
            Action::Deliver => panic!("nothing is in flight"),
            Action::Done => return out,
        }
        while let Some(r) = run.release() {
            out.push(r);
        }
    }
}

#[test]
fn capture_before_starts_at_the_initial_weights_and_after_is_one_epoch_later() {
    let before = snapshots(tishby(12, "every:1", Capture::Before));
    let after = snapshots(tishby(12, "every:1", Capture::After));
    assert_eq!(before.len(), 12);
    assert_eq!(after.len(), 12);
    // Epoch 0 before the update is the initialisation itself.
    let exp = Experiment::new(tishby(12, "every:1", Capture::Before), data()).unwrap();
    let plan = MlpPlan::new(exp.shape().clone(), 1).unwrap();
    let mut init = vec![0.0f32; exp.shape().param_len()];
    plan.init(
        Init::TruncatedNormalFanIn,
        &mut init,
        &mut StreamRng::new(0, Stream::Init),
    )
    .unwrap();
    assert_eq!(before[0].params, init);
    assert_eq!(before[0].epoch, 0);
    // "After epoch e" is "before epoch e + 1": the same weights, one epoch apart.
    for e in 0..11 {
        assert_eq!(after[e].epoch, e as u32);
        assert_eq!(after[e].params, before[e + 1].params, "epoch {e}");
    }
    assert_ne!(before[0].params, after[0].params);
    // A sparse schedule takes the same snapshots as the dense one at its epochs.
    let sparse = snapshots(tishby(12, "list:0,5,11", Capture::After));
    assert_eq!(
        sparse.iter().map(|s| s.epoch).collect::<Vec<_>>(),
        [0, 5, 11]
    );
    assert_eq!(sparse[1], after[5]);
    assert_eq!(sparse[2], after[11]);
}

/// A whole run with up to `in_flight` snapshots held and delivered newest first.
fn measure_newest_first(mut run: Run) -> Vec<Measurement> {
    let mut m = run.experiment().measurer().unwrap();
    let mut held: Vec<(u64, Snapshot)> = Vec::new();
    let mut out = Vec::new();
    loop {
        match run.next_action().unwrap() {
            Action::Measure(t, s) => held.push((t, s)),
            Action::Trained(_) => {}
            Action::Deliver => {
                while let Some((t, s)) = held.pop() {
                    let r = m.measure(&s).unwrap();
                    run.deliver(t, r);
                }
            }
            Action::Done => break,
        }
        while let Some(r) = run.release() {
            out.push(r);
        }
    }
    assert!(held.is_empty());
    out
}

#[test]
fn delta_skip_measures_a_subset_of_every_epoch_with_the_same_values() {
    use infoplane_core::experiment::delta::{data_entropies, distance};
    let (h_x, h_y) = data_entropies(&Dataset::tishby());
    let values = |m: &Measurement| -> Vec<(f64, f64)> {
        m.points
            .iter()
            .filter(|p| p.estimator == 0)
            .map(|p| (p.point.i_xt.in_bits(), p.point.i_ty.in_bits()))
            .collect()
    };
    for capture in Capture::ALL {
        let total = 600;
        let full = measure_all(Run::new(
            Experiment::new(tishby(total, "every:1", capture), data()).unwrap(),
            1,
        ));
        assert_eq!(full.len(), total as usize);
        for (spec, exact, delta) in [
            ("delta-exact:0.02", true, 0.02),
            ("delta-exact:0.05", true, 0.05),
            ("delta-approx:0.02", false, 0.02),
        ] {
            let cfg = tishby(total, spec, capture);
            let got = measure_all(Run::new(Experiment::new(cfg.clone(), data()).unwrap(), 1));
            let epochs: Vec<u32> = got.iter().map(|m| m.epoch).collect();
            assert!(epochs.windows(2).all(|w| w[0] < w[1]), "{spec}: {epochs:?}");
            assert_eq!((epochs[0], *epochs.last().unwrap()), (0, total - 1));
            assert!(
                epochs.len() < total as usize / 4,
                "{spec}: {}",
                epochs.len()
            );
            for m in &got {
                // Values, layer statistics (the gradient SNR of the epoch before a kept
                // snapshot among them) and metrics: all exactly the every-epoch run's.
                assert_eq!(m, &full[m.epoch as usize], "{spec} {capture:?}");
            }
            let mut broken = 0;
            for w in got.windows(2) {
                let d = distance(&values(&w[0]), &values(&w[1]), h_x, h_y);
                if w[1].epoch - w[0].epoch > 1 && d > delta {
                    broken += 1;
                }
            }
            if exact {
                assert_eq!(broken, 0, "{spec} {capture:?}: {epochs:?}");
            }
            // Five in flight, delivered newest first: the same measurements.
            let late = measure_newest_first(Run::new(Experiment::new(cfg, data()).unwrap(), 5));
            assert_eq!(late, got, "{spec} {capture:?}");
        }
    }
}

#[test]
fn release_order_and_bytes_do_not_depend_on_delivery_order() {
    let mut cfg = ExperimentConfig::from_preset(&SAXE).unwrap();
    cfg.epochs = 40;
    cfg.schedule = ScheduleSpec::parse("every:3").unwrap();
    cfg.estimators = estimators(&["binning-size", "binning-range"], SAXE.settings).unwrap();
    let inline = measure_all(Run::new(Experiment::new(cfg.clone(), data()).unwrap(), 1));
    assert_eq!(
        inline.iter().map(|m| m.epoch).collect::<Vec<_>>(),
        (0..40).step_by(3).collect::<Vec<_>>()
    );
    // Up to five snapshots in flight, delivered newest first.
    let out = measure_newest_first(Run::new(Experiment::new(cfg, data()).unwrap(), 5));
    assert_eq!(out, inline);
}

/// A planner that decides from results: it measures epoch 0, then doubles its stride while
/// layer 1's I(X;T) moves by less than 0.05 bits between measurements, and halves it (down
/// to 1) otherwise. It must wait for each result before choosing the next epoch.
#[derive(Debug)]
struct Doubling {
    total: u32,
    next: Option<u32>,
    stride: u32,
    pending: bool,
    last: Option<f64>,
    log: Vec<(u32, u32)>,
}

impl Planner for Doubling {
    fn next(&mut self) -> Next {
        if self.pending {
            return Next::Wait;
        }
        match self.next {
            Some(e) if e < self.total => {
                self.pending = true;
                Next::Epoch(e)
            }
            _ => Next::Done,
        }
    }

    fn observe(&mut self, m: &Measurement) {
        let ixt = m.points[0].point.i_xt.in_bits();
        self.stride = match self.last {
            Some(prev) if (ixt - prev).abs() < 0.05 => self.stride * 2,
            Some(_) => (self.stride / 2).max(1),
            None => 1,
        };
        self.log.push((m.epoch, self.stride));
        self.last = Some(ixt);
        self.next = Some(m.epoch + self.stride);
        self.pending = false;
    }
}

#[test]
fn a_planner_can_decide_from_the_measurements() {
    let cfg = tishby(150, "every:1", Capture::Before);
    let planner = Doubling {
        total: 150,
        next: Some(0),
        stride: 1,
        pending: false,
        last: None,
        log: Vec::new(),
    };
    let exp = Experiment::with_planner(cfg.clone(), data(), Box::new(planner)).unwrap();
    let got = measure_all(Run::new(exp, 4));
    let epochs: Vec<u32> = got.iter().map(|m| m.epoch).collect();
    assert_eq!(epochs[0], 0);
    assert!(epochs.windows(2).all(|w| w[0] < w[1]), "{epochs:?}");
    assert!(epochs.len() < 150 && epochs.len() > 5, "{epochs:?}");
    // The same epochs as a fixed list give the same measurements.
    let mut fixed = cfg;
    fixed.schedule = ScheduleSpec::List(epochs.clone());
    let listed = measure_all(Run::new(Experiment::new(fixed, data()).unwrap(), 1));
    assert_eq!(listed, got);
    // A planner that waits with nothing in flight is an error, not a hang.
    #[derive(Debug)]
    struct Stuck;
    impl Planner for Stuck {
        fn next(&mut self) -> Next {
            Next::Wait
        }
        fn observe(&mut self, _: &Measurement) {}
    }
    let exp = Experiment::with_planner(
        tishby(5, "every:1", Capture::Before),
        data(),
        Box::new(Stuck),
    )
    .unwrap();
    assert_eq!(
        Run::new(exp, 1).next_action(),
        Err(Error::InvalidParameter { name: "schedule" })
    );
}

#[test]
fn metrics_match_the_f64_network_on_the_train_and_test_rows() {
    let mut cfg = ExperimentConfig::from_preset(&SAXE).unwrap();
    cfg.epochs = 5;
    cfg.schedule = ScheduleSpec::parse("list:0,4").unwrap();
    let exp = Experiment::new(cfg, data()).unwrap();
    let widths = exp.shape().widths().to_vec();
    let is_train: Vec<bool> = exp
        .roles()
        .iter()
        .map(|&r| r == infoplane_core::metrics::Role::Train)
        .collect();
    assert!(!exp.roles().contains(&infoplane_core::metrics::Role::Unused));
    let (x, y) = fixtures::tishby();
    let got = measure_all(Run::new(exp, 1));
    let snaps = snapshots({
        let mut c = ExperimentConfig::from_preset(&SAXE).unwrap();
        c.epochs = 5;
        c.schedule = ScheduleSpec::parse("list:0,4").unwrap();
        c
    });
    assert_eq!(is_train.iter().filter(|&&t| t).count(), 3277);
    for (m, s) in got.iter().zip(&snaps) {
        let p: Vec<f64> = s.params.iter().map(|&v| f64::from(v)).collect();
        let f = mlp_forward_f64(&widths, infoplane_core::Activation::Tanh, &p, &x, &y).unwrap();
        let probs = f.layers.last().unwrap();
        let (mut sums, mut counts, mut correct) = ([0.0f64; 2], [0usize; 2], [0usize; 2]);
        for (r, &tr) in is_train.iter().enumerate() {
            let k = usize::from(tr);
            sums[k] += f.nll[r];
            counts[k] += 1;
            let row = &probs[2 * r..2 * r + 2];
            let pred = usize::from(row[1] > row[0]);
            correct[k] += usize::from(pred == y[r] as usize);
        }
        let loss = |k: usize| sums[k] / counts[k] as f64;
        let acc = |k: usize| correct[k] as f64 / counts[k] as f64;
        let test = m.metrics.test.unwrap();
        assert_eq!(m.metrics.train.rows, 3277);
        assert_eq!(test.rows, 819);
        for (got, want) in [(m.metrics.train.loss, loss(1)), (test.loss, loss(0))] {
            assert!(
                (got - want).abs() <= NLL_REL * want.max(1.0),
                "{got} vs {want}"
            );
        }
        // Accuracy can differ only by rows whose two probabilities are within f32 rounding.
        for (got, want, n) in [
            (m.metrics.train.accuracy, acc(1), 3277.0),
            (test.accuracy, acc(0), 819.0),
        ] {
            assert!((got - want).abs() <= 2.0 / n, "{got} vs {want}");
        }
    }
}

#[test]
fn configuration_errors_name_the_setting() {
    let d = data();
    let bad = |f: &dyn Fn(&mut ExperimentConfig)| {
        let mut c = ExperimentConfig::from_preset(&TISHBY).unwrap();
        c.epochs = 10;
        c.schedule = ScheduleSpec::Every(2);
        f(&mut c);
        Experiment::new(c, Arc::clone(&d)).map(|_| ()).unwrap_err()
    };
    let name = |n| Error::InvalidParameter { name: n };
    assert_eq!(bad(&|c| c.hidden.clear()), name("layers"));
    assert_eq!(bad(&|c| c.hidden = vec![3; 16]), name("layers"));
    assert_eq!(bad(&|c| c.hidden = vec![4, 0, 2]), name("layers"));
    assert_eq!(bad(&|c| c.hidden = vec![100_000, 100_000]), name("layers"));
    assert_eq!(bad(&|c| c.optimizer = Optimizer::adam(-1.0)), name("lr"));
    assert_eq!(
        bad(&|c| c.optimizer = Optimizer::Sgd {
            lr: 0.1,
            momentum: 1.0
        }),
        name("momentum")
    );
    assert_eq!(bad(&|c| c.batch = Some(0)), name("batch"));
    assert_eq!(bad(&|c| c.epochs = 0), name("epochs"));
    assert_eq!(bad(&|c| c.train_frac = 1.5), name("train_frac"));
    assert_eq!(bad(&|c| c.train_frac = 1e-6), name("train_frac"));
    assert_eq!(
        bad(&|c| c.schedule = ScheduleSpec::Every(0)),
        name("schedule")
    );
    assert_eq!(
        bad(&|c| c.schedule = ScheduleSpec::List(vec![3, 10])),
        name("schedule")
    );
    assert_eq!(bad(&|c| c.estimators.clear()), name("estimators"));
    // An estimator setting fails before the run starts: the issue's --noise-var 1e-39.
    let tiny = Settings {
        noise_var: 1e-39,
        ..Settings::DEFAULT
    };
    assert_eq!(
        estimators(&["kde-upper"], tiny).unwrap_err(),
        name("noise_var")
    );
    for n in [
        "layers",
        "lr",
        "momentum",
        "batch",
        "epochs",
        "train_frac",
        "schedule",
        "noise_var",
        "bins",
    ] {
        assert!(infoplane_core::experiment::accepts(n).is_some(), "{n}");
    }
}

#[test]
fn byte_inputs_train_exactly_like_the_same_values_in_f32() {
    // 300 rows of 6 random bytes, two classes, some rows repeated.
    let mut r = StreamRng::new(5, Stream::Noise);
    let mut bytes: Vec<u8> = (0..300 * 6).map(|_| (r.next_u32() >> 24) as u8).collect();
    bytes.copy_within(0..6 * 10, 6 * 290); // rows 290..300 repeat rows 0..10
    let labels: Vec<u32> = (0..300).map(|i| u32::from(bytes[6 * i] > 127)).collect();
    let floats: Vec<f32> = bytes.iter().map(|&b| f32::from(b) / 255.0).collect();
    let du8 = Dataset::from_u8("bytes", bytes, 6, 255.0, labels.clone(), 2).unwrap();
    let df32 = Dataset::from_f32("floats", floats, 6, labels, 2).unwrap();
    let groups = du8.groups().unwrap();
    assert_eq!(Some(groups), df32.groups());
    assert_eq!(groups[295], groups[5]);
    assert_ne!(groups[1], groups[2]);
    let mut cfg = ExperimentConfig::from_preset(&SAXE).unwrap();
    cfg.hidden = vec![5, 3];
    cfg.epochs = 20;
    cfg.schedule = ScheduleSpec::Every(5);
    cfg.estimators = estimators(&["binning-size", "kde-lower"], SAXE.settings).unwrap();
    let a = measure_all(Run::new(
        Experiment::new(cfg.clone(), Arc::new(du8)).unwrap(),
        1,
    ));
    let b = measure_all(Run::new(Experiment::new(cfg, Arc::new(df32)).unwrap(), 1));
    assert_eq!(a, b);
    assert_eq!(a.len(), 4);
    // Bad data sets.
    assert_eq!(
        Dataset::from_u8("x", vec![1, 2], 1, 255.0, vec![0, 2], 2).unwrap_err(),
        Error::InvalidParameter { name: "classes" }
    );
    assert_eq!(
        Dataset::from_f32("x", vec![1.0, f32::NAN], 1, vec![0, 1], 2).unwrap_err(),
        Error::NonFinite { index: 1 }
    );
}

#[test]
fn pooled_snapshots_match_the_f64_reference() {
    // The as-if-random set-up: 512 inputs, each seen under 8 consecutive late snapshots of a
    // trained network, pooled into 4096 rows whose input groups are the 512 inputs. Layer 3
    // (5 units), KDE upper bound at σ² = 1e-3.
    let cfg = tishby(200, "list:192,193,194,195,196,197,198,199", Capture::After);
    let exp = Experiment::new(cfg, data()).unwrap();
    let shape = exp.shape().clone();
    let snaps = snapshots(tishby(
        200,
        "list:192,193,194,195,196,197,198,199",
        Capture::After,
    ));
    assert_eq!(snaps.len(), 8);
    let (x, y) = fixtures::tishby();
    let inputs: Vec<usize> = (0..4096).step_by(8).collect();
    let xs: Vec<f32> = inputs
        .iter()
        .flat_map(|&i| x[i * 12..(i + 1) * 12].to_vec())
        .collect();
    let ys: Vec<u32> = inputs.iter().map(|&i| y[i]).collect();
    let eval = MlpPlan::new(shape.clone(), 512).unwrap();
    let (mut t, mut labels, mut groups) = (Vec::new(), Vec::new(), Vec::new());
    for s in &snaps {
        let mut acts = vec![0.0f32; 512 * shape.activation_len()];
        let mut nll = vec![0.0f32; 512];
        eval.evaluate(
            &s.params,
            MatRef::new(&xs, 512, 12).unwrap(),
            &ys,
            &mut acts,
            &mut nll,
            &mut vec![0.0f32; eval.scratch_len()],
        )
        .unwrap();
        let start = 512 * (10 + 7);
        t.extend_from_slice(&acts[start..start + 512 * 5]);
        labels.extend_from_slice(&ys);
        groups.extend(0..512u32);
    }
    let n = 4096;
    let plan = KdePlan::new(n, 5, KdeBound::Upper, 1e-3).unwrap();
    let mut s = vec![0u64; plan.scratch_req().words()];
    let pooled = Layer::new(MatRef::new(&t, n, 5).unwrap(), &labels, Some(&groups)).unwrap();
    let p = plan.estimate(&pooled, &mut s).unwrap();
    let terms = kde_row_terms_f64(&t, 5, &labels, Some(&groups), 1e-3, true);
    let (want_xt, want_ty) = kde_mi_from_terms(&terms, &labels, Some(&groups));
    assert!(
        (p.i_xt.in_bits() - want_xt).abs() <= KDE_MI_BITS,
        "{} vs {want_xt}",
        p.i_xt.in_bits()
    );
    assert!((p.i_ty.in_bits() - want_ty).abs() <= KDE_MI_BITS);
    // Pooling without groups would credit the snapshots' spread to X.
    let ungrouped = Layer::new(MatRef::new(&t, n, 5).unwrap(), &labels, None).unwrap();
    let q = plan.estimate(&ungrouped, &mut s).unwrap();
    assert!(q.i_xt.in_bits() > p.i_xt.in_bits(), "{q:?} vs {p:?}");
    assert!(
        p.i_xt.in_bits() <= 9.0 + 1e-12,
        "at most log2 512 = 9 bits: {p:?}"
    );
}

/// A measurer computes the two KDE bounds in one walk (they share work) and writes the rows
/// of each estimator as if each ran alone, in the order the estimators were given. The data:
/// 600 rows of the 12-bit task, the first 100 repeated, so inputs form groups.
#[test]
fn shared_kde_work_writes_the_rows_of_each_estimator_alone() {
    let (x, y) = fixtures::tishby();
    let rows: Vec<usize> = (0..500).chain(0..100).collect();
    let xs: Vec<f32> = rows
        .iter()
        .flat_map(|&r| x[12 * r..12 * r + 12].to_vec())
        .collect();
    let ys: Vec<u32> = rows.iter().map(|&r| y[r]).collect();
    let small = Arc::new(Dataset::from_f32("small", xs, 12, ys, 2).unwrap());
    assert!(small.groups().is_some());
    let names = ["kde-lower", "binning-size", "kde-upper"];
    let settings = Settings {
        noise_var: 0.01,
        ..Settings::DEFAULT
    };
    let mut cfg = tishby(30, "list:0,29", Capture::After);
    cfg.hidden = vec![6, 3];
    cfg.estimators = estimators(&names, settings).unwrap();
    let mut exp = Experiment::new(cfg.clone(), Arc::clone(&small)).unwrap();
    let mut together = exp.measurer().unwrap();
    let mut measured = 0;
    while let Ok(step) = exp.step() {
        let s = match step {
            Step::Snapshot(s) => s,
            Step::Trained(_) => continue,
            Step::Wait | Step::Done => break,
        };
        measured += 1;
        let m = together.measure(&s).unwrap();
        let mut got = String::new();
        m.write_plane_rows(0, &names, &mut got).unwrap();
        // The same snapshot measured by each estimator on its own.
        let mut want_rows: Vec<(u32, usize, String)> = Vec::new();
        for (k, name) in names.iter().enumerate() {
            let mut one = cfg.clone();
            one.estimators = estimators(&[name], settings).unwrap();
            let mut alone = Experiment::new(one, Arc::clone(&small))
                .unwrap()
                .measurer()
                .unwrap();
            let mut rows = String::new();
            alone
                .measure(&s)
                .unwrap()
                .write_plane_rows(0, &[name], &mut rows)
                .unwrap();
            for (layer, row) in (1u32..).zip(rows.lines()) {
                want_rows.push((layer, k, row.to_string()));
            }
        }
        want_rows.sort_by_key(|(layer, k, _)| (*layer, *k));
        let want: String = want_rows.iter().map(|(_, _, r)| format!("{r}\n")).collect();
        assert_eq!(got, want, "epoch {}", s.epoch);
        assert_eq!(got.lines().count(), 3 * names.len());
    }
    assert_eq!(measured, 2);
}

/// A run resumed from a checkpoint after any of its snapshots gives exactly the snapshots the
/// uninterrupted run gave after that one; a checkpoint of another seed or after an epoch the
/// schedule does not measure is refused.
#[test]
fn resume_from_any_checkpoint_gives_the_same_snapshots() {
    // Saxe: Adam (state and step count) and shuffled batches (order and stream) all carry over.
    // With pooling the K − 1 weights before a snapshot carry over too (and are compared:
    // they are part of every snapshot).
    for (preset, capture, pool) in [
        (&SAXE, Capture::After, 1),
        (&TISHBY, Capture::Before, 1),
        (&SAXE, Capture::After, 3),
        (&TISHBY, Capture::Before, 4),
    ] {
        let mut cfg = ExperimentConfig::from_preset(preset).unwrap();
        cfg.epochs = 30;
        cfg.schedule = ScheduleSpec::parse("list:0,1,2,7,8,19,29").unwrap();
        cfg.capture = capture;
        cfg.pool = pool;
        let whole = snapshots(cfg.clone());
        assert_eq!(whole.len(), 7);
        for k in [0, 2, 4, 6] {
            let mut exp = Experiment::new(cfg.clone(), data()).unwrap();
            let mut seen = 0;
            let ck = loop {
                match exp.step().unwrap() {
                    Step::Snapshot(s) => {
                        assert_eq!(s, whole[seen]);
                        seen += 1;
                        if seen == k + 1 {
                            break exp.checkpoint().unwrap();
                        }
                        assert!(exp.checkpoint().is_some());
                    }
                    Step::Trained(_) => assert!(exp.checkpoint().is_none()),
                    other => panic!("{other:?}"),
                }
            };
            // Through the bytes, as the CLI keeps it.
            let mut bytes = Vec::new();
            ck.write(&mut bytes);
            let ck = infoplane_core::experiment::Checkpoint::read(&bytes).unwrap();
            let mut resumed = Experiment::resume(cfg.clone(), data(), &ck).unwrap();
            let mut rest = Vec::new();
            loop {
                match resumed.step().unwrap() {
                    Step::Snapshot(s) => rest.push(s),
                    Step::Trained(_) => {}
                    other => {
                        assert_eq!(other, Step::Done);
                        break;
                    }
                }
            }
            assert_eq!(
                rest,
                whole[k + 1..],
                "{} resumed after snapshot {k}",
                preset.name
            );
            // Not this run's checkpoint.
            let mut other = cfg.clone();
            other.seed = 1;
            assert!(Experiment::resume(other, data(), &ck).is_err());
            let mut shifted = ck.clone();
            shifted.epoch = 3; // not in the schedule
            shifted.epochs_done = u32::try_from(capture.trained_at(3)).unwrap();
            assert_eq!(
                Experiment::resume(cfg.clone(), data(), &shifted).unwrap_err(),
                Error::InvalidParameter { name: "checkpoint" }
            );
            let mut foreign = ck.clone();
            foreign.order[0] = u32::MAX;
            assert!(Experiment::resume(cfg.clone(), data(), &foreign).is_err());
            // Counts that no run of this configuration reaches (and a replay of 2⁶⁴ draws
            // that would never end) are refused.
            let mut stepped = ck.clone();
            stepped.step += 1;
            assert!(Experiment::resume(cfg.clone(), data(), &stepped).is_err());
            let mut drawn = ck.clone();
            drawn.shuffle_draws = u64::MAX;
            assert!(Experiment::resume(cfg.clone(), data(), &drawn).is_err());
            // Pooled weights of another length than the run keeps at that epoch.
            let params = ck.params.len();
            let mut short = ck.clone();
            short.pool.extend(vec![0.0; params]);
            assert!(Experiment::resume(cfg.clone(), data(), &short).is_err());
            if pool > 1 && !ck.pool.is_empty() {
                assert_eq!(ck.pool.len() % params, 0);
                let mut cut = ck.clone();
                cut.pool.truncate(ck.pool.len() - params);
                assert!(Experiment::resume(cfg.clone(), data(), &cut).is_err());
            }
        }
    }
}

/// Every layer's activations of `params` on all 4096 rows (layer-major, as the measurer
/// lays them out).
fn activations(shape: &infoplane_core::MlpShape, params: &[f32]) -> Vec<f32> {
    let d = Dataset::tishby();
    let eval = MlpPlan::new(shape.clone(), 512).unwrap();
    let mut acts = vec![0.0f32; 4096 * shape.activation_len()];
    let mut nll = vec![0.0f32; 4096];
    eval.evaluate(
        params,
        d.inputs(),
        d.labels(),
        &mut acts,
        &mut nll,
        &mut vec![0.0f32; eval.scratch_len()],
    )
    .unwrap();
    acts
}

/// As-if-random pooling: the `+poolK` rows of epoch e are the estimators applied to the
/// activations of the K snapshots e − K + 1 … e (taken from an every-epoch run of the same
/// seed) stacked, each input its own group K times over; the single rows are untouched;
/// epochs before K − 1 have no pooled rows. For both capture points, and under delta skip
/// (whose bisected epochs come from kept snapshots).
#[test]
fn pooled_rows_are_the_k_snapshots_before_them_measured_together() {
    let k = 4usize;
    for (capture, schedule) in [
        (Capture::Before, "list:2,3,10,29"),
        (Capture::After, "list:0,3,17,29"),
        (Capture::Before, "delta-exact:0.01"),
        (Capture::After, "delta-exact:0.01"),
    ] {
        let mut cfg = tishby(30, schedule, capture);
        cfg.estimators = estimators(&["binning", "binning-size"], TISHBY.settings).unwrap();
        cfg.pool = k as u32;
        assert_eq!(
            cfg.column_names(),
            [
                "binning",
                "binning-size",
                "binning+pool4",
                "binning-size+pool4"
            ]
        );
        let got = measure_all(Run::new(Experiment::new(cfg.clone(), data()).unwrap(), 1));
        let mut single = cfg.clone();
        single.pool = 1;
        single.schedule = ScheduleSpec::Every(1);
        let snaps = snapshots(single.clone());
        let full = measure_all(Run::new(Experiment::new(single, data()).unwrap(), 1));
        let shape = Experiment::new(cfg.clone(), data())
            .unwrap()
            .shape()
            .clone();
        let labels: Vec<u32> = Dataset::tishby().labels().repeat(k);
        let groups: Vec<u32> = (0..4096u32).cycle().take(4096 * k).collect();
        let mut pooled_epochs = 0;
        for m in &got {
            let e = m.epoch as usize;
            let (ones, pooled): (Vec<&LayerPoint>, Vec<&LayerPoint>) =
                m.points.iter().partition(|p| p.estimator < 2);
            assert_eq!(ones, full[e].points.iter().collect::<Vec<_>>(), "epoch {e}");
            if e + 1 < k {
                assert!(pooled.is_empty(), "epoch {e} pooled before {k} snapshots");
                continue;
            }
            pooled_epochs += 1;
            let acts: Vec<Vec<f32>> = (e + 1 - k..=e)
                .map(|j| activations(&shape, &snaps[j].params))
                .collect();
            let mut start = 0;
            let mut want = Vec::new();
            for (layer, &w) in (1u32..).zip(&shape.widths()[1..]) {
                let len = 4096 * w as usize;
                let t: Vec<f32> = acts
                    .iter()
                    .flat_map(|a| a[start..start + len].to_vec())
                    .collect();
                start += len;
                let l = Layer::new(
                    MatRef::new(&t, 4096 * k, w as usize).unwrap(),
                    &labels,
                    Some(&groups),
                )
                .unwrap();
                for (i, est) in cfg.estimators.iter().enumerate() {
                    let plan = est.plan(4096 * k, w as usize).unwrap();
                    let mut s = vec![0u64; plan.scratch_req().words()];
                    want.push((layer, 2 + i, plan.estimate(&l, &mut s).unwrap()));
                }
            }
            let got: Vec<_> = pooled
                .iter()
                .map(|p| (p.layer, p.estimator, p.point))
                .collect();
            assert_eq!(got, want, "{schedule} {capture:?} epoch {e}");
        }
        assert!(pooled_epochs >= 3, "{schedule}: {pooled_epochs}");
    }
}

/// The controls of the as-if-random experiment: frozen weights (learning rate 0) pool K
/// copies of one network, so pooled equals single (binning and KDE); and for binning,
/// pooling K snapshots loses at most log2 K bits against their mean (the pooled H(T) is at
/// least the mean of the K entropies by concavity, and H(T|X) is at most log2 K).
#[test]
fn as_if_random_controls() {
    let mut frozen = tishby(6, "list:1,5", Capture::After);
    frozen.optimizer = Optimizer::adam(0.0);
    frozen.pool = 2;
    frozen.estimators = estimators(&["binning", "kde-upper"], TISHBY.settings).unwrap();
    let mut every = frozen.clone();
    every.pool = 1;
    every.schedule = ScheduleSpec::Every(1);
    let snaps = snapshots(every);
    assert!(
        snaps.iter().all(|s| s.params == snaps[0].params),
        "lr 0 moved the weights"
    );
    let got = measure_all(Run::new(Experiment::new(frozen, data()).unwrap(), 1));
    assert_eq!(got.len(), 2);
    for m in &got {
        for p in m.points.iter().filter(|p| p.estimator < 2) {
            let q = m
                .points
                .iter()
                .find(|q| q.layer == p.layer && q.estimator == p.estimator + 2)
                .unwrap();
            for (a, b) in [
                (p.point.i_xt.in_bits(), q.point.i_xt.in_bits()),
                (p.point.i_ty.in_bits(), q.point.i_ty.in_bits()),
            ] {
                assert!(
                    (a - b).abs() < 1e-9,
                    "layer {} est {}: {a} vs {b}",
                    p.layer,
                    p.estimator
                );
            }
        }
    }
    let k = 8u32;
    for act in [
        infoplane_core::Activation::Tanh,
        infoplane_core::Activation::Relu,
    ] {
        let mut cfg = ExperimentConfig::from_preset(&SAXE).unwrap();
        cfg.activation = act;
        cfg.epochs = 60;
        cfg.schedule = ScheduleSpec::Every(1);
        cfg.pool = k;
        let got = measure_all(Run::new(Experiment::new(cfg, data()).unwrap(), 1));
        let single = |e: usize, layer: u32| {
            got[e]
                .points
                .iter()
                .find(|p| p.layer == layer && p.estimator == 0)
                .unwrap()
                .point
                .i_xt
                .in_bits()
        };
        let mut below_mean = 0;
        for (e, m) in got.iter().enumerate().skip(k as usize - 1) {
            for p in m.points.iter().filter(|p| p.estimator == 1) {
                let mean = (e + 1 - k as usize..=e)
                    .map(|j| single(j, p.layer))
                    .sum::<f64>()
                    / f64::from(k);
                let pooled = p.point.i_xt.in_bits();
                assert!(
                    pooled >= mean - infoplane_core::math::log2_f64(f64::from(k)) - 1e-9,
                    "{act:?} epoch {e} layer {}: pooled {pooled}, mean {mean}",
                    p.layer
                );
                below_mean += usize::from(pooled < mean - 1e-9);
            }
        }
        // Moving tanh weights make pooling count: it lowers I(X;T) somewhere. (Early ReLU
        // layers sit at the log2 N ceiling with bins of 0.07, pooled or not.)
        if act == infoplane_core::Activation::Tanh {
            assert!(below_mean > 0, "{act:?}");
        }
    }
}

/// The memory estimate counts what pooling and delta skip keep: a snapshot in flight carries
/// K epochs' parameters, training keeps the K − 1 before the current one, and exact delta
/// skip keeps at most its cap of snapshots.
#[test]
fn memory_counts_pooled_and_kept_snapshots() {
    use infoplane_core::experiment::Memory;
    use infoplane_core::experiment::delta::default_cap;
    let base_cfg = tishby(100, "every:1", Capture::Before);
    let params = Experiment::new(base_cfg.clone(), data())
        .unwrap()
        .shape()
        .param_len();
    let base = Memory::of(&base_cfg, &data()).unwrap();
    assert_eq!((base.snapshot, base.kept), (4 * params, 0));
    let mut pooled = base_cfg.clone();
    pooled.pool = 4;
    let m = Memory::of(&pooled, &data()).unwrap();
    assert_eq!(m.snapshot, 16 * params);
    assert_eq!(m.training, base.training + 12 * params);
    // Every layer's activations on the 4 snapshots, on top of one snapshot's.
    let acts = Experiment::new(base_cfg.clone(), data())
        .unwrap()
        .shape()
        .activation_len();
    assert!(
        m.measuring >= base.measuring + 4 * 4096 * acts * 4,
        "pooled activations: {m:?} vs {base:?}"
    );
    let mut delta = pooled;
    delta.schedule = ScheduleSpec::parse("delta-exact:0.1").unwrap();
    let m = Memory::of(&delta, &data()).unwrap();
    // 6 weight layers' gradient SNR (16 bytes each) with every kept snapshot.
    assert_eq!(
        m.kept,
        (16 * params + 16 * 6) * default_cap(16 * params) as usize
    );
    delta.schedule = ScheduleSpec::parse("delta-approx:0.1").unwrap();
    assert_eq!(Memory::of(&delta, &data()).unwrap().kept, 0);
}
