//! `KdePlan::estimate` and the split form on small arbitrary layers, both bounds, every
//! pruning mode, with and without input groups.
//!
//! Properties (STYLE R6, R11, R27):
//! * no panic, whatever the shape, values (NaN and ±∞ included), noise variance, labels or
//!   input groups;
//! * `Ok` values are finite and `0 ≤ I(X;T) ≤ log₂ n` (+1e-9);
//! * the same bits with zero-filled and with `u64::MAX`-filled scratch, and past
//!   `scratch_req()` nothing is touched; one word less is `ScratchTooSmall`;
//! * the parts of a split estimate, merged, give the bits of one call;
//! * exact-zero pruning gives the bits of evaluating every pair.
#![no_main]

use arbitrary::Arbitrary;
use infoplane_core::estimator::{Layer, Part, RowSums};
use infoplane_core::kde::{KdeBound, KdePlan, Pruning};
use infoplane_core::{Error, MatRef, PlanePoint};
use libfuzzer_sys::{Corpus, fuzz_target};

const MAX_N: usize = 80;
const MAX_D: usize = 6;
const TAIL: u64 = 0xdead_beef_f00d_cafe;

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Value {
    /// k / 2¹⁴: [−2, 2) on a grid, so rows coincide and distances repeat.
    Grid(i16),
    /// Any bit pattern.
    Raw(f32),
}

impl Value {
    fn get(self) -> f32 {
        match self {
            Self::Grid(k) => f32::from(k) / 16_384.0,
            Self::Raw(v) => v,
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Input {
    n: u8,
    d: u8,
    upper: bool,
    /// The noise variance: 10^(k/16 − 8), or any f32 when `raw_var` is set.
    var_exp: u8,
    raw_var: Option<f32>,
    prune: u8,
    values: Vec<Value>,
    labels: Vec<u8>,
    groups: Option<Vec<u8>>,
    parts: u8,
}

fn cycled<T: Copy, U: Copy>(src: &[T], len: usize, map: impl Fn(T) -> U, zero: U) -> Vec<U> {
    if src.is_empty() {
        return vec![zero; len];
    }
    src.iter().cycle().take(len).map(|&v| map(v)).collect()
}

fn bits(r: &Result<PlanePoint, Error>) -> Result<(u64, u64), Error> {
    r.map(|p| (p.i_xt.in_bits().to_bits(), p.i_ty.in_bits().to_bits()))
}

fn run(plan: &KdePlan, layer: &Layer<'_>, fill: u64, extra: usize) -> Result<PlanePoint, Error> {
    let len = plan.scratch_req().words();
    let mut scratch = vec![fill; len + extra];
    if let Some(tail) = scratch.get_mut(len..) {
        tail.fill(TAIL);
    }
    let r = plan.estimate(layer, &mut scratch);
    assert!(
        scratch
            .get(len..)
            .is_some_and(|t| t.iter().all(|&v| v == TAIL)),
        "scratch past scratch_req() was written"
    );
    r
}

fuzz_target!(|input: Input| -> Corpus {
    let n = usize::from(input.n) % (MAX_N + 1);
    let d = usize::from(input.d) % (MAX_D + 1);
    let bound = if input.upper {
        KdeBound::Upper
    } else {
        KdeBound::Lower
    };
    let var = input.raw_var.unwrap_or_else(|| {
        let v = infoplane_core::math::pow_f64(10.0, f64::from(input.var_exp) / 16.0 - 8.0);
        v as f32
    });
    let prune =
        [Pruning::Cutoff, Pruning::ExactZeros, Pruning::Nothing][usize::from(input.prune % 3)];
    let plan = match KdePlan::new(n, d, bound, var) {
        Ok(p) => p.with_pruning(prune),
        Err(Error::EmptyInput) if n == 0 || d == 0 => return Corpus::Reject,
        Err(Error::InvalidParameter { name: "noise_var" }) => {
            assert!(!(var.is_finite() && var > 1e-38), "σ² = {var} rejected");
            return Corpus::Reject;
        }
        Err(e) => panic!("unexpected plan error {e:?} for n={n} d={d} σ²={var}"),
    };
    let data = cycled(&input.values, n * d, Value::get, 0.0f32);
    let labels = cycled(&input.labels, n, u32::from, 0u32);
    let groups: Option<Vec<u32>> = input.groups.as_ref().map(|g| cycled(g, n, u32::from, 0u32));
    let Ok(t) = MatRef::new(&data, n, d) else {
        unreachable!("n × d values by construction");
    };
    let layer = match Layer::new(t, &labels, groups.as_deref()) {
        Ok(l) => l,
        Err(Error::NonFinite { index }) => {
            assert!(data.get(index).is_some_and(|v| !v.is_finite()));
            return Corpus::Keep;
        }
        Err(e) => panic!("unexpected layer error {e:?}"),
    };
    let zero = run(&plan, &layer, 0, 0);
    let poisoned = run(&plan, &layer, u64::MAX, 7);
    assert_eq!(
        bits(&zero),
        bits(&poisoned),
        "result depends on scratch contents"
    );
    let p = zero.unwrap_or_else(|e| panic!("valid plan and layer failed: {e:?}"));
    let (i_xt, i_ty) = (p.i_xt.in_bits(), p.i_ty.in_bits());
    assert!(i_xt.is_finite() && i_ty.is_finite(), "non-finite {p:?}");
    let max = infoplane_core::math::log2_f64(n as f64) + 1e-9;
    assert!(
        (0.0..=max).contains(&i_xt),
        "I(X;T) = {i_xt} outside [0, {max}]"
    );
    // Split into parts: the same bits.
    let count = usize::from(input.parts % 9) + 1;
    let mut scratch = vec![0u64; plan.scratch_req().words()];
    let mut sums = RowSums::default();
    for index in (0..count).rev() {
        let part = plan
            .estimate_part(&layer, Part { index, count }, &mut scratch)
            .unwrap_or_else(|e| panic!("part {index}/{count}: {e:?}"));
        sums = sums.merge(part);
    }
    let split = plan.finish(&layer, sums, &mut scratch);
    assert_eq!(
        bits(&split),
        bits(&Ok(p)),
        "split into {count} parts differs"
    );
    if prune == Pruning::ExactZeros {
        let every = run(&plan.with_pruning(Pruning::Nothing), &layer, 0, 0);
        assert_eq!(
            bits(&every),
            bits(&Ok(p)),
            "exact-zero pruning skipped a nonzero"
        );
    }
    let mut short = vec![0u64; plan.scratch_req().words() - 1];
    assert!(
        matches!(
            plan.estimate(&layer, &mut short),
            Err(Error::ScratchTooSmall { .. })
        ),
        "short scratch accepted"
    );
    Corpus::Keep
});
