//! Golden tests (R20): bit patterns pinned in `tests/data/golden/*.txt`.
//!
//! The same files are meant for the wasm tests (`include_str!`), so native and wasm, debug
//! and release, must all produce these bits. `INFOPLANE_BLESS=1 cargo test -p
//! infoplane-tests golden` rewrites the files and then fails, so every regeneration is a
//! reviewed diff. A change of bits is a breaking change: record it in the CHANGELOG.

use crate::util::rules;
use infoplane_core::data::{TISHBY_BITS, TISHBY_ROWS};
use infoplane_core::{
    Activation, BatchOrder, BinRule, BinningPlan, Init, MatRef, MlpPlan, MlpShape, Optimizer,
    Stream, StreamRng, Trainer, math,
};
use infoplane_core::{Isa, simd};
use infoplane_tests::fixtures::{self, IDS_SEED, LABEL_SEED, LAYER_SEED, RUN_SEED};
use infoplane_tests::golden::{Entry, differences, fingerprint_f32, parse, render};
use std::path::PathBuf;

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join("golden")
        .join(name)
}

/// Compares `entries` with the golden file `name`, or rewrites it under `INFOPLANE_BLESS=1`.
fn check(name: &str, header: &[&str], entries: &[Entry]) {
    let file = path(name);
    if std::env::var_os("INFOPLANE_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, render(header, entries)).unwrap();
        panic!(
            "blessed {}: review the diff, then run the tests again without INFOPLANE_BLESS",
            file.display()
        );
    }
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}; create it with INFOPLANE_BLESS=1", file.display()));
    let expected = parse(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let diff = differences(&expected, entries);
    assert!(
        diff.is_empty(),
        "{} differs in {} values (INFOPLANE_BLESS=1 rewrites it if the change is intended):\n{}",
        file.display(),
        diff.len(),
        diff.join("\n")
    );
}

fn rule_name(rule: BinRule) -> String {
    match rule {
        BinRule::Edges {
            n_edges,
            lo,
            hi,
            idnns,
        } => {
            format!(
                "edges{n_edges}[{lo},{hi}]{}",
                if idnns { "idnns" } else { "" }
            )
        }
        BinRule::Size { size } => format!("size{size}"),
        BinRule::LayerRange { n_edges } => format!("range{n_edges}"),
        _ => "unknown".to_owned(),
    }
}

#[test]
fn golden_binning() {
    let mut entries = Vec::new();
    for (n, d, classes) in [(1000usize, 3usize, 2u32), (500, 40, 3), (4096, 5, 10)] {
        let t = fixtures::clustered_layer(n, d, u32::try_from(n / 8).unwrap(), LAYER_SEED);
        let y = fixtures::labels(n, classes, LABEL_SEED);
        let ids = fixtures::ids(n, u32::try_from(n / 3).unwrap(), IDS_SEED);
        entries.push(Entry::int(
            format!("fixture.n{n}.d{d}.layer"),
            fingerprint_f32(&t),
        ));
        for rule in rules() {
            let plan = BinningPlan::new(n, d, rule).unwrap();
            let mut scratch = vec![0u64; plan.scratch_req().words()];
            let m = MatRef::new(&t, n, d).unwrap();
            for (tag, x) in [("", None), (".ids", Some(ids.as_slice()))] {
                let p = crate::util::bin_mi(&plan, m, &y, x, &mut scratch).unwrap();
                let key = format!("n{n}.d{d}.{}{tag}", rule_name(rule));
                entries.push(Entry::f64(format!("{key}.i_xt"), p.i_xt.in_bits()));
                entries.push(Entry::f64(format!("{key}.i_ty"), p.i_ty.in_bits()));
            }
        }
    }
    check(
        "binning.txt",
        &["binning estimates on seeded fixture layers, in bits (f64 bit patterns)"],
        &entries,
    );
}

#[test]
fn golden_random_streams_and_math() {
    let mut entries = Vec::new();
    let mut r = StreamRng::new(RUN_SEED, Stream::Init);
    for k in 0..4 {
        entries.push(Entry::f32(format!("rng.init.uniform.{k}"), r.uniform_f32()));
    }
    for k in 0..4 {
        entries.push(Entry::f32(format!("rng.init.normal.{k}"), r.normal_f32()));
    }
    for k in 0..4 {
        entries.push(Entry::f32(
            format!("rng.init.truncated_normal.{k}"),
            r.truncated_normal_f32(0.3),
        ));
    }
    let mut s = StreamRng::new(RUN_SEED, Stream::Shuffle);
    for k in 0..4 {
        entries.push(Entry::int(
            format!("rng.shuffle.below1000.{k}"),
            u64::from(s.below(1000)),
        ));
    }
    let mut p: Vec<u32> = (0..10).collect();
    s.shuffle(&mut p);
    for (k, v) in p.iter().enumerate() {
        entries.push(Entry::int(format!("rng.shuffle.perm10.{k}"), u64::from(*v)));
    }
    for (name, seed) in [("layer", LAYER_SEED), ("labels", LABEL_SEED)] {
        entries.push(Entry::int(
            format!("fixture.{name}"),
            fingerprint_f32(&fixtures::layer(64, 3, seed)),
        ));
    }
    for x in [-9.5f32, -1.0, -0.3, 1e-4, 0.549, 0.551, 2.0, 8.9] {
        entries.push(Entry::f32(format!("math.tanh({x})"), math::tanh(x)));
        entries.push(Entry::f32(format!("math.sigmoid({x})"), math::sigmoid(x)));
        entries.push(Entry::f32(format!("math.softplus({x})"), math::softplus(x)));
        entries.push(Entry::f32(format!("math.exp({x})"), math::exp(x)));
    }
    for x in [1.5f64, 3.0, 29.0, 4096.0] {
        entries.push(Entry::f64(format!("math.log2_f64({x})"), math::log2_f64(x)));
    }
    check(
        "rng_math.txt",
        &["random streams, fixtures and math functions (f32/f64 bit patterns)"],
        &entries,
    );
}

/// Tishby's preset, shortened: init, 3 epochs of Adam on the first 80 % of the rows with
/// batch 512 in fixed order, then every layer's activations on all 4096 inputs and their
/// information plane with IDNNs-mode binning (30 edges on [−1, 1]).
#[test]
fn golden_tishby_short_run() {
    each_level(tishby_short_run);
}

/// Serialises the tests that force an instruction-set level (the level is process-wide).
static LEVELS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `f` at every instruction-set level this CPU has (each must give the golden bits),
/// then returns to the best.
fn each_level(f: fn()) {
    let _guard = LEVELS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let levels: Vec<Isa> = Isa::ALL.into_iter().filter(|i| i.is_available()).collect();
    assert!(levels.contains(&Isa::Baseline) && levels.contains(&Isa::best()));
    for isa in levels {
        eprintln!("instruction-set level: {isa}");
        simd::force(Some(isa)).unwrap();
        assert_eq!(Isa::active(), isa);
        f();
    }
    simd::force(None).unwrap();
}

fn tishby_short_run() {
    const WIDTHS: [u32; 7] = [12, 10, 7, 5, 4, 3, 2];
    let (x, y) = fixtures::tishby();
    let xm = MatRef::new(&x, TISHBY_ROWS, TISHBY_BITS).unwrap();
    let plan = MlpPlan::new(MlpShape::new(&WIDTHS, Activation::Tanh).unwrap(), 512).unwrap();
    let mut params = vec![0.0f32; plan.shape().param_len()];
    plan.init(
        Init::TruncatedNormalFanIn,
        &mut params,
        &mut StreamRng::new(RUN_SEED, Stream::Init),
    )
    .unwrap();
    let mut entries = vec![Entry::int("init.params", fingerprint_f32(&params))];
    entries.extend(
        params
            .iter()
            .take(3)
            .enumerate()
            .map(|(k, &v)| Entry::f32(format!("init.param.{k}"), v)),
    );

    let trainer = Trainer::new(plan.clone(), Optimizer::adam(4e-4), BatchOrder::Fixed).unwrap();
    let mut state = vec![0.0f32; trainer.state_len()];
    let mut scratch = vec![0.0f32; trainer.scratch_len()];
    let mut rows: Vec<u32> = (0..3276).collect();
    let mut rng = StreamRng::new(RUN_SEED, Stream::Shuffle);
    let mut step = 0;
    for _ in 0..3 {
        trainer
            .epoch(
                &mut params,
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
    entries.push(Entry::int("train.steps", step));
    entries.push(Entry::int("train.params", fingerprint_f32(&params)));
    entries.push(Entry::int("train.adam_state", fingerprint_f32(&state)));
    entries.extend(
        params
            .iter()
            .take(3)
            .enumerate()
            .map(|(k, &v)| Entry::f32(format!("train.param.{k}"), v)),
    );

    let eval = MlpPlan::new(plan.shape().clone(), 4096).unwrap();
    let mut layers = vec![0.0f32; TISHBY_ROWS * eval.shape().activation_len()];
    let mut nll = vec![0.0f32; TISHBY_ROWS];
    eval.evaluate(
        &params,
        xm,
        &y,
        &mut layers,
        &mut nll,
        &mut vec![0.0f32; eval.scratch_len()],
    )
    .unwrap();
    entries.push(Entry::int("eval.layers", fingerprint_f32(&layers)));
    entries.push(Entry::int("eval.nll", fingerprint_f32(&nll)));
    let mean_nll = nll.iter().map(|&v| f64::from(v)).sum::<f64>() / 4096.0;
    entries.push(Entry::f64("eval.mean_nll", mean_nll));

    let rule = BinRule::Edges {
        n_edges: 30,
        lo: -1.0,
        hi: 1.0,
        idnns: true,
    };
    let mut start = 0;
    for (l, &w) in WIDTHS[1..].iter().enumerate() {
        let w = w as usize;
        let t = &layers[start..start + TISHBY_ROWS * w];
        start += TISHBY_ROWS * w;
        entries.push(Entry::f32(format!("eval.layer{}.first", l + 1), t[0]));
        let plan = BinningPlan::new(TISHBY_ROWS, w, rule).unwrap();
        let p = crate::util::bin_mi(
            &plan,
            MatRef::new(t, TISHBY_ROWS, w).unwrap(),
            &y,
            None,
            &mut vec![0u64; plan.scratch_req().words()],
        )
        .unwrap();
        entries.push(Entry::f64(
            format!("plane.layer{}.i_xt", l + 1),
            p.i_xt.in_bits(),
        ));
        entries.push(Entry::f64(
            format!("plane.layer{}.i_ty", l + 1),
            p.i_ty.in_bits(),
        ));
    }
    check(
        "tishby_short_run.txt",
        &[
            "tishby preset shortened to 3 epochs (seed 20170310): parameters, activations and plane",
            "fingerprints are FNV-1a 64 over the f32 bit patterns (infoplane_tests::golden::fingerprint_f32)",
        ],
        &entries,
    );
}

#[test]
fn golden_format_round_trips() {
    let entries = vec![
        Entry::f32("a", 1.5),
        Entry::f64("b", -0.1),
        Entry::int("c", 255),
    ];
    let text = render(&["header"], &entries);
    assert_eq!(
        text,
        "# header\na 3fc00000 1.5\nb bfb999999999999a -0.1\nc ff 255\n"
    );
    assert_eq!(parse(&text).unwrap(), entries);
    assert!(parse("a 1").is_err());
    let mut changed = entries.clone();
    changed[1] = Entry::f64("b", -0.2);
    changed.pop();
    changed.push(Entry::int("d", 1));
    assert_eq!(differences(&entries, &changed).len(), 3);
}

#[test]
fn golden_mnist_net() {
    each_level(|| {
        check(
            "mnist_net.txt",
            &[
                "Saxe et al.'s MNIST net (784-1024-20-20-20-10) on 160 pseudo-random images: weights after SGD steps, activations and losses",
                "(fingerprints); computed by infoplane_tests::golden::mnist_net_entries, which the wasm tests check against this file too",
            ],
            &infoplane_tests::golden::mnist_net_entries(),
        );
    });
}

#[test]
fn golden_kde() {
    each_level(kde);
}

fn kde() {
    check(
        "kde.txt",
        &[
            "KDE bounds on seeded fixture layers, in bits (f64 bit patterns); computed by",
            "infoplane_tests::golden::kde_entries, which the wasm tests check against this file too",
        ],
        &infoplane_tests::golden::kde_entries(),
    );
}
