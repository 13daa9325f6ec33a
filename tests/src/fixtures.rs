//! Fixed-seed random fixtures, shared by the integration tests and the benches (R26, R28).
//!
//! Every generator draws from [`StreamRng`] on the [`Stream::Noise`] stream of its seed, so
//! fixtures never depend on another crate's random numbers and stay the same across
//! dependency bumps (the streams themselves are pinned by core's `rng` tests).

use infoplane_core::data::{TISHBY_BITS, TISHBY_ROWS, tishby_dataset};
use infoplane_core::{Stream, StreamRng};

/// Seed of the random layers compared against the binning reference.
pub const LAYER_SEED: u64 = 0x1a7e_0001;
/// Seed of the random labels.
pub const LABEL_SEED: u64 = 0x1a7e_0002;
/// Seed of the random input-group ids (repeated inputs, as in the as-if-random experiment).
pub const IDS_SEED: u64 = 0x1a7e_0003;
/// Seed of random row permutations.
pub const PERMUTATION_SEED: u64 = 0x1a7e_0004;
/// Seed of the random network inputs for gradient and forward checks.
pub const INPUT_SEED: u64 = 0x1a7e_0005;
/// Seed of the random network parameters for gradient and forward checks.
pub const PARAM_SEED: u64 = 0x1a7e_0006;
/// Seed of the random gradients fed to the optimiser checks.
pub const GRAD_SEED: u64 = 0x1a7e_0007;
/// Run seed of the end-to-end golden training run (weight init and batch order).
pub const RUN_SEED: u64 = 20_170_310;

fn rng(seed: u64) -> StreamRng {
    StreamRng::new(seed, Stream::Noise)
}

/// One value strictly inside (−1, 1): (k + ½)·2⁻²³ for a uniform k in −2²³..2²³, so the
/// values are symmetric about 0, never ±1, and exact in `f32`.
fn open_unit(r: &mut StreamRng) -> f32 {
    let k = f64::from(r.next_u32() >> 8) - 8_388_608.0;
    #[allow(clippy::cast_possible_truncation)] // exact: 24 significant bits
    let v = ((k + 0.5) / 8_388_608.0) as f32;
    v
}

/// `n × d` values in (−1, 1), row-major, like the activations of a tanh layer.
#[must_use]
pub fn layer(n: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut r = rng(seed);
    (0..n * d).map(|_| open_unit(&mut r)).collect()
}

/// `n × d` values in (−1, 1) whose rows repeat: each row copies one of `prototypes` random
/// rows, and one row in four then has a single unit redrawn. Binned, such a layer has many
/// symbols that occur several times and near-duplicates that differ in one unit, which a
/// layer of independent values (every row its own symbol) would not exercise.
#[must_use]
pub fn clustered_layer(n: usize, d: usize, prototypes: u32, seed: u64) -> Vec<f32> {
    let protos = layer(prototypes as usize, d, seed ^ 0x5eed_c1a5);
    let mut r = rng(seed);
    let mut out = Vec::with_capacity(n * d);
    let d32 = u32::try_from(d).unwrap_or(u32::MAX);
    for _ in 0..n {
        let p = r.below(prototypes) as usize;
        let start = out.len();
        out.extend(protos.iter().skip(p * d).take(d));
        if r.below(4) == 0 {
            let unit = r.below(d32) as usize;
            let v = open_unit(&mut r);
            if let Some(slot) = out.get_mut(start + unit) {
                *slot = v;
            }
        }
    }
    out
}

/// `n × d` values in (−1, 1) like a wide tanh layer of a classifier (the MNIST net's
/// 1024-unit layer): row `i` is `tanh(W·z_i)` for a 64-dimensional latent `z_i`, its class
/// centre (one of 10, class `i mod 10`; coordinates uniform in (−1, 1)) plus uniform noise
/// half as wide, and one random `64 × d` matrix `W` (entries uniform in ±0.085). Units are
/// correlated and each adds little to a distance (about 0.09 per unit between classes,
/// 0.02 within one), so pairs are told apart only over many coordinates, as in a real layer:
/// at σ² = 0.1 same-class pairs carry lower-bound kernel weight, other pairs do not.
#[must_use]
pub fn tanh_layer(n: usize, d: usize, seed: u64) -> Vec<f32> {
    const LATENT: usize = 64;
    const CLASSES: usize = 10;
    let mut r = rng(seed);
    let w: Vec<f32> = (0..LATENT * d).map(|_| 0.085 * open_unit(&mut r)).collect();
    let centres: Vec<f32> = (0..CLASSES * LATENT).map(|_| open_unit(&mut r)).collect();
    let mut out = Vec::with_capacity(n * d);
    let mut z = [0.0f32; LATENT];
    for i in 0..n {
        let c = centres.iter().skip((i % CLASSES) * LATENT);
        for (zk, &ck) in z.iter_mut().zip(c) {
            *zk = ck + 0.5 * open_unit(&mut r);
        }
        for u in 0..d {
            let mut pre = 0.0f32;
            for (k, &zk) in z.iter().enumerate() {
                pre += zk * w.get(k * d + u).copied().unwrap_or(0.0);
            }
            out.push(infoplane_core::math::tanh(pre));
        }
    }
    out
}

/// `n` labels, uniform in `0..classes` (all 0 when `classes` is 0).
#[must_use]
pub fn labels(n: usize, classes: u32, seed: u64) -> Vec<u32> {
    let mut r = rng(seed);
    (0..n).map(|_| r.below(classes)).collect()
}

/// `n` input-group ids, uniform in `0..groups`: samples with equal ids share an input.
#[must_use]
pub fn ids(n: usize, groups: u32, seed: u64) -> Vec<u32> {
    labels(n, groups, seed ^ 0x1d5)
}

/// A uniformly random permutation of `0..n`.
#[must_use]
pub fn permutation(n: u32, seed: u64) -> Vec<u32> {
    let mut p: Vec<u32> = (0..n).collect();
    rng(seed).shuffle(&mut p);
    p
}

/// `len` values uniform in (−`scale`, `scale`): random network parameters or gradients.
#[must_use]
pub fn uniform(len: usize, scale: f32, seed: u64) -> Vec<f32> {
    let mut r = rng(seed);
    (0..len).map(|_| open_unit(&mut r) * scale).collect()
}

/// Tishby's 12-bit data set from core: 4096 × 12 inputs (row-major, 0.0 or 1.0) and the
/// 4096 labels.
#[must_use]
pub fn tishby() -> (Vec<f32>, Vec<u32>) {
    let mut x = vec![0.0f32; TISHBY_ROWS * TISHBY_BITS];
    let mut y = vec![0u32; TISHBY_ROWS];
    // The buffers have exactly the sizes `tishby_dataset` checks, so it cannot fail.
    let filled = tishby_dataset(&mut x, &mut y);
    debug_assert!(
        filled.is_ok(),
        "tishby_dataset rejected correctly sized buffers"
    );
    (x, y)
}

/// The project's shared reference data (Tishby's `var_u` files, the MNIST test set): the
/// directory named by `INFOPLANE_SHARED_DATA`, else `shared/data` beside the checkout. Tests
/// that compare with these files call this; when the file is absent they are skipped with a
/// note, except under `INFOPLANE_REQUIRE_SHARED_DATA=1` (set by `.ci/run`), where a missing
/// file fails the test instead of letting it pass silently.
///
/// # Panics
/// Under `INFOPLANE_REQUIRE_SHARED_DATA=1`, when `relative` is not in the directory.
#[must_use]
pub fn shared_data(relative: &str) -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("INFOPLANE_SHARED_DATA").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
        std::path::PathBuf::from,
    );
    let path = dir.join(relative);
    if path.is_file() {
        return Some(path);
    }
    let required = std::env::var_os("INFOPLANE_REQUIRE_SHARED_DATA").is_some_and(|v| v == "1");
    assert!(
        !required,
        "{} is missing and INFOPLANE_REQUIRE_SHARED_DATA=1: point INFOPLANE_SHARED_DATA at the shared data directory",
        path.display()
    );
    println!(
        "note: {} is absent; skipping this comparison",
        path.display()
    );
    None
}
