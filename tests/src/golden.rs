//! The golden-file format (R20), shared by the native tests and the wasm tests (which embed
//! the files with `include_str!`).
//!
//! One value per line: `name hex decimal`, separated by single spaces. `hex` is the IEEE bit
//! pattern (`{:08x}` of `f32::to_bits`, `{:016x}` of `f64::to_bits`) or an integer in hex,
//! and is what tests compare; `decimal` (`{}`, shortest round-trip form) is for the reader
//! of a diff. Lines starting with `#` and blank lines are comments.

use std::fmt::Write as _;

/// One golden value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Identifier, without whitespace.
    pub name: String,
    /// The compared bit pattern, lowercase hex.
    pub hex: String,
    /// A readable decimal rendering (informational).
    pub decimal: String,
}

impl Entry {
    /// An `f32` value, compared by its 32-bit pattern.
    #[must_use]
    pub fn f32(name: impl Into<String>, v: f32) -> Self {
        Self {
            name: name.into(),
            hex: format!("{:08x}", v.to_bits()),
            decimal: format!("{v}"),
        }
    }

    /// An `f64` value, compared by its 64-bit pattern.
    #[must_use]
    pub fn f64(name: impl Into<String>, v: f64) -> Self {
        Self {
            name: name.into(),
            hex: format!("{:016x}", v.to_bits()),
            decimal: format!("{v}"),
        }
    }

    /// An integer (a count, an index, a label).
    #[must_use]
    pub fn int(name: impl Into<String>, v: u64) -> Self {
        Self {
            name: name.into(),
            hex: format!("{v:x}"),
            decimal: format!("{v}"),
        }
    }
}

/// Renders `entries` as a golden file, `header` lines first as `#` comments.
#[must_use]
pub fn render(header: &[&str], entries: &[Entry]) -> String {
    let mut out = String::new();
    for line in header {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "# {line}");
    }
    for e in entries {
        let _ = writeln!(out, "{} {} {}", e.name, e.hex, e.decimal);
    }
    out
}

/// Parses a golden file.
///
/// # Errors
/// A message naming the 1-based line for a line that does not have three fields.
pub fn parse(text: &str) -> Result<Vec<Entry>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(i, l)| {
            let mut f = l.split_whitespace();
            match (f.next(), f.next(), f.next(), f.next()) {
                (Some(name), Some(hex), Some(decimal), None) => Ok(Entry {
                    name: name.to_owned(),
                    hex: hex.to_owned(),
                    decimal: decimal.to_owned(),
                }),
                _ => Err(format!(
                    "line {}: expected `name hex decimal`, got {l:?}",
                    i + 1
                )),
            }
        })
        .collect()
}

/// Every difference between the stored `expected` and the computed `actual` entries, as
/// readable lines (empty when they agree): changed bits, missing and unexpected names.
#[must_use]
pub fn differences(expected: &[Entry], actual: &[Entry]) -> Vec<String> {
    let mut out = Vec::new();
    for a in actual {
        match expected.iter().find(|e| e.name == a.name) {
            None => out.push(format!(
                "{}: not in the golden file (computed {} = {})",
                a.name, a.hex, a.decimal
            )),
            Some(e) if e.hex != a.hex => {
                out.push(format!(
                    "{}: golden {} ({}), computed {} ({})",
                    a.name, e.hex, e.decimal, a.hex, a.decimal
                ));
            }
            Some(_) => {}
        }
    }
    for e in expected {
        if !actual.iter().any(|a| a.name == e.name) {
            out.push(format!(
                "{}: in the golden file but no longer computed",
                e.name
            ));
        }
    }
    out
}

/// A 64-bit FNV-1a hash of the bit patterns of `values` (little-endian bytes, in order): a
/// compact fingerprint for pinning a long output, such as all the activations of a network,
/// in a golden file. Not cryptographic; a changed bit changes it with overwhelming
/// probability, which is all a golden test needs.
#[must_use]
pub fn fingerprint_f32(values: &[f32]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    values
        .iter()
        .flat_map(|v| v.to_bits().to_le_bytes())
        .fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// The KDE golden values (`data/golden/kde.txt`): both bounds on seeded fixture layers
/// (uniform and clustered, with and without input groups, cut-off and exact-zero pruning),
/// in bits. Computed here so the native and the wasm tests check the same file.
///
/// # Panics
/// If a fixture is rejected by the core, which would be a bug in the fixtures.
#[must_use]
#[allow(clippy::expect_used)] // fixed, valid fixtures
pub fn kde_entries() -> Vec<Entry> {
    use crate::fixtures::{self, IDS_SEED, LABEL_SEED, LAYER_SEED};
    use infoplane_core::MatRef;
    use infoplane_core::estimator::Layer;
    use infoplane_core::kde::{KdeBound, KdePlan, Pruning};

    let mut out = Vec::new();
    for (n, d, var) in [(600usize, 4usize, 0.01f32), (300, 10, 1e-3), (257, 2, 0.1)] {
        let groups = u32::try_from(n / 4).expect("small");
        let y = fixtures::labels(n, 3, LABEL_SEED);
        let ids = fixtures::ids(n, groups, IDS_SEED);
        let layers = [
            ("uniform", fixtures::layer(n, d, LAYER_SEED)),
            (
                "clustered",
                fixtures::clustered_layer(n, d, groups, LAYER_SEED),
            ),
        ];
        for (kind, t) in &layers {
            out.push(Entry::int(
                format!("fixture.{kind}.n{n}.d{d}"),
                fingerprint_f32(t),
            ));
            let m = MatRef::new(t, n, d).expect("n × d");
            for bound in [KdeBound::Upper, KdeBound::Lower] {
                for prune in [Pruning::Cutoff, Pruning::ExactZeros] {
                    let plan = KdePlan::new(n, d, bound, var)
                        .expect("plan")
                        .with_pruning(prune);
                    let mut scratch = vec![0u64; plan.scratch_req().words()];
                    for (tag, x) in [("", None), (".groups", Some(ids.as_slice()))] {
                        let layer = Layer::new(m, &y, x).expect("layer");
                        let p = plan.estimate(&layer, &mut scratch).expect("estimate");
                        let key = format!("{kind}.n{n}.d{d}.var{var}.{bound:?}.{prune:?}{tag}");
                        out.push(Entry::f64(format!("{key}.i_xt"), p.i_xt.in_bits()));
                        out.push(Entry::f64(format!("{key}.i_ty"), p.i_ty.in_bits()));
                    }
                }
            }
        }
    }
    out
}

/// Runs the jobs last first: a [`Parallel`](infoplane_core::Parallel) that splits the wide
/// layers (as threads would) on one thread, so the wasm build checks the split path too.
#[derive(Debug, Clone, Copy)]
pub struct Reversed(pub usize);

impl infoplane_core::Parallel for Reversed {
    fn width(&self) -> usize {
        self.0
    }
    fn run(&self, jobs: &mut [&mut (dyn FnMut() + Send)]) {
        for job in jobs.iter_mut().rev() {
            job();
        }
    }
}

/// The MNIST-net golden values (`data/golden/mnist_net.txt`): Saxe et al.'s
/// 784-1024-20-20-20-10 network (tanh and `ReLU`, Glorot uniform) on 160 pseudo-random byte
/// images: fingerprints of the weights after each of three SGD steps (lr 0.05, batches of
/// 128 and the short last one of 32; the wide layers split into 3 reversed jobs), and of
/// every layer's activations and the losses on the 160 images after them. Computed here so
/// the native tests (at every instruction-set level) and the wasm tests check the same file.
///
/// # Panics
/// If the core rejects the fixed network or data, which would be a bug here.
#[must_use]
#[allow(clippy::expect_used)] // fixed, valid inputs
pub fn mnist_net_entries() -> Vec<Entry> {
    use infoplane_core::{
        Activation, ByteMatRef, Init, MlpPlan, MlpShape, Optimizer, Stream, StreamRng,
    };
    const WIDTHS: [u32; 6] = [784, 1024, 20, 20, 20, 10];
    const ROWS: u32 = 160;
    let mut pixels = vec![0u8; ROWS as usize * 784];
    let mut state = 0x5eed_u64;
    for p in &mut pixels {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        // Mostly dark, as images are.
        let b = state.to_be_bytes()[0];
        *p = if b < 150 { 0 } else { b };
    }
    let labels: Vec<u32> = (0..ROWS).map(|i| (i * 7 + i / 3) % 10).collect();
    let x = ByteMatRef::new(&pixels, ROWS as usize, 784, 255.0).expect("pixels");
    let mut out = vec![Entry::int("pixels", {
        let floats: Vec<f32> = pixels.iter().map(|&b| f32::from(b)).collect();
        fingerprint_f32(&floats)
    })];
    for act in [Activation::Tanh, Activation::Relu] {
        let shape = MlpShape::new(&WIDTHS, act).expect("shape");
        let plan = MlpPlan::new(shape.clone(), 128).expect("plan");
        let mut params = vec![0.0f32; shape.param_len()];
        plan.init(
            Init::GlorotUniform,
            &mut params,
            &mut StreamRng::new(7, Stream::Init),
        )
        .expect("init");
        let sgd = Optimizer::sgd(0.05);
        let mut state = vec![0.0f32; sgd.state_len(params.len())];
        let mut grads = vec![0.0f32; params.len()];
        let mut scratch = vec![0.0f32; plan.scratch_len()];
        let order: Vec<u32> = (0..ROWS).map(|i| (i * 37) % ROWS).collect();
        let name = act.name();
        out.push(Entry::int(format!("{name}.init"), fingerprint_f32(&params)));
        for (step, batch) in (1u64..).zip(order.chunks(128).chain(order.chunks(128).take(1))) {
            plan.gradient_par(
                &params,
                x,
                &labels,
                batch,
                &mut grads,
                &mut scratch,
                &Reversed(3),
            )
            .expect("gradient");
            out.push(Entry::int(
                format!("{name}.step{step}.grads"),
                fingerprint_f32(&grads),
            ));
            sgd.step(step, &mut params, &grads, &mut state)
                .expect("sgd");
            out.push(Entry::int(
                format!("{name}.step{step}.params"),
                fingerprint_f32(&params),
            ));
        }
        let mut acts = vec![0.0f32; ROWS as usize * shape.activation_len()];
        let mut nll = vec![0.0f32; ROWS as usize];
        plan.evaluate(&params, x, &labels, &mut acts, &mut nll, &mut scratch)
            .expect("evaluate");
        out.push(Entry::int(
            format!("{name}.activations"),
            fingerprint_f32(&acts),
        ));
        out.push(Entry::int(format!("{name}.nll"), fingerprint_f32(&nll)));
        let mean: f64 = nll.iter().map(|&v| f64::from(v)).sum::<f64>() / f64::from(ROWS);
        out.push(Entry::f64(format!("{name}.mean_nll"), mean));
    }
    out
}
