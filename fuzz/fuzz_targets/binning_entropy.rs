//! `BinningPlan::estimate` on small arbitrary layers, under every `BinRule`.
//!
//! Properties (STYLE R6, R11, R27):
//! * no panic, whatever the shape, rule, values (NaN and ±∞ included), labels or input ids;
//! * `Ok` values are finite, 0 ≤ I(T;Y) ≤ log₂ n and 0 ≤ I(X;T) ≤ log₂ n (+1e-9), and with
//!   no input ids I(T;Y) ≤ I(X;T) = H(T);
//! * the same result bits with zero-filled and with `u64::MAX`-filled scratch;
//! * `scratch_req()` suffices: elements past it are never touched, and one element less is
//!   `ScratchTooSmall`.
#![no_main]

use arbitrary::Arbitrary;
use infoplane_core::estimator::Layer;
use infoplane_core::{BinRule, BinningPlan, Error, MatRef, PlanePoint};
use libfuzzer_sys::{Corpus, fuzz_target};

/// Enough rows for repeated symbols and sorting; small enough to run fast.
const MAX_N: usize = 96;
/// Up to 12 units: with 30 edges (5 bits each) rows past 12 units no longer pack into 64
/// bits, and with `Size` bins a few wild units suffice, so both key paths are reached.
const MAX_D: usize = 12;
/// Sentinel written past `scratch_req()` to prove the kernel never touches it.
const TAIL: u64 = 0xdead_beef_f00d_cafe;

#[derive(Debug, Arbitrary)]
enum Rule {
    Edges {
        n_edges: u8,
        lo: Value,
        hi: Value,
        idnns: bool,
    },
    Size {
        size: Value,
    },
    LayerRange {
        n_edges: u8,
    },
}

/// One activation. Mostly values in a tanh-like range, on a grid that hits the bin edges
/// exactly; sometimes any `f32` at all (NaN, ±∞, subnormals, huge values).
#[derive(Debug, Clone, Copy, Arbitrary)]
enum Value {
    /// k / 2¹⁴ for an `i16` k: [−2, 2), covers [−1, 1] and a margin outside it.
    Grid(i16),
    /// k / 100: close to, but not exactly on, decimal bin sizes such as 0.07.
    Decimal(i8),
    /// Any bit pattern.
    Raw(f32),
}

impl Value {
    fn get(self) -> f32 {
        match self {
            Self::Grid(k) => f32::from(k) / 16_384.0,
            Self::Decimal(k) => f32::from(k) / 100.0,
            Self::Raw(v) => v,
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Input {
    n: u8,
    d: u8,
    rule: Rule,
    /// Cycled to fill `n × d`; an empty list means zeros.
    values: Vec<Value>,
    /// Cycled to fill `n`; small classes mostly, any `u32` sometimes.
    labels: Vec<Label>,
    /// Input-group ids, cycled to fill `n`.
    x_ids: Option<Vec<u16>>,
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Label {
    Small(u8),
    Any(u32),
}

impl Label {
    fn get(self) -> u32 {
        match self {
            Self::Small(v) => u32::from(v % 4),
            Self::Any(v) => v,
        }
    }
}

fn cycled<T: Copy, U>(src: &[T], len: usize, map: impl Fn(T) -> U, zero: U) -> Vec<U>
where
    U: Copy,
{
    if src.is_empty() {
        return vec![zero; len];
    }
    src.iter().cycle().take(len).map(|&v| map(v)).collect()
}

fn rule_of(r: &Rule) -> BinRule {
    match *r {
        Rule::Edges {
            n_edges,
            lo,
            hi,
            idnns,
        } => BinRule::Edges {
            n_edges: u32::from(n_edges),
            lo: lo.get(),
            hi: hi.get(),
            idnns,
        },
        Rule::Size { size } => BinRule::Size { size: size.get() },
        Rule::LayerRange { n_edges } => BinRule::LayerRange {
            n_edges: u32::from(n_edges),
        },
    }
}

/// Runs one estimate with scratch of `plan.scratch_req().words() + extra` words all set to
/// `fill`; checks the `extra` tail is untouched. The layer's own checks (lengths, finiteness)
/// run first, as for every caller.
fn run(
    plan: &BinningPlan,
    t: MatRef<'_>,
    y: &[u32],
    ids: Option<&[u32]>,
    fill: u64,
    extra: usize,
) -> Result<PlanePoint, Error> {
    let len = plan.scratch_req().words();
    let mut scratch = vec![fill; len + extra];
    if let Some(tail) = scratch.get_mut(len..) {
        tail.fill(TAIL);
    }
    let r = Layer::new(t, y, ids).and_then(|l| plan.estimate(&l, &mut scratch));
    assert!(
        scratch
            .get(len..)
            .is_some_and(|t| t.iter().all(|&v| v == TAIL)),
        "scratch past scratch_req() was written"
    );
    r
}

fn bits(r: &Result<PlanePoint, Error>) -> Result<(u64, u64), Error> {
    r.map(|p| (p.i_xt.in_bits().to_bits(), p.i_ty.in_bits().to_bits()))
}

fuzz_target!(|input: Input| -> Corpus {
    let n = usize::from(input.n) % (MAX_N + 1);
    let d = usize::from(input.d) % (MAX_D + 1);
    let rule = rule_of(&input.rule);
    let plan = match BinningPlan::new(n, d, rule) {
        Ok(p) => p,
        Err(_) => {
            // Rejected cleanly: n or d is 0, or the rule is invalid. Nothing more to check.
            assert!(n == 0 || d == 0 || rule.validate().is_err());
            return Corpus::Reject;
        }
    };
    assert!(
        plan.scratch_req().words() >= n,
        "scratch below one key per row"
    );
    let data = cycled(&input.values, n * d, Value::get, 0.0f32);
    let labels = cycled(&input.labels, n, Label::get, 0u32);
    let ids: Option<Vec<u32>> = input.x_ids.as_ref().map(|v| cycled(v, n, u32::from, 0u32));
    let Ok(t) = MatRef::new(&data, n, d) else {
        unreachable!("data has n × d values by construction");
    };

    let zero = run(&plan, t, &labels, ids.as_deref(), 0, 0);
    let poisoned = run(&plan, t, &labels, ids.as_deref(), u64::MAX, 9);
    assert_eq!(
        bits(&zero),
        bits(&poisoned),
        "result depends on scratch contents"
    );

    match zero {
        Ok(p) => {
            if let BinRule::Size { size } = rule {
                assert!(
                    data.iter().all(|&v| (v / size).abs() < 4.611_686e18),
                    "a bin number past ±2⁶² was accepted (it would be clamped into one bin)"
                );
            }
            let (i_xt, i_ty) = (p.i_xt.in_bits(), p.i_ty.in_bits());
            let max = infoplane_core::math::log2_f64(n as f64) + 1e-9;
            assert!(i_xt.is_finite() && i_ty.is_finite(), "non-finite {p:?}");
            assert!(
                (0.0..=max).contains(&i_ty),
                "I(T;Y) = {i_ty} outside [0, {max}]"
            );
            assert!(
                (0.0..=max).contains(&i_xt),
                "I(X;T) = {i_xt} outside [0, {max}]"
            );
            if ids.is_none() {
                // Every sample its own input: I(X;T) = H(T) ≥ I(T;Y).
                assert!(i_ty <= i_xt + 1e-9, "I(T;Y) = {i_ty} > H(T) = {i_xt}");
            }
            // One element short must be reported, not panic or read out of bounds.
            let mut short = vec![0u64; plan.scratch_req().words() - 1];
            assert!(
                matches!(
                    Layer::new(t, &labels, ids.as_deref())
                        .and_then(|l| plan.estimate(&l, &mut short)),
                    Err(Error::ScratchTooSmall { .. })
                ),
                "short scratch accepted"
            );
            Corpus::Keep
        }
        Err(Error::NonFinite { index }) => {
            assert!(
                data.get(index).is_some_and(|v| !v.is_finite()),
                "NonFinite at {index} names a finite value"
            );
            Corpus::Keep
        }
        Err(Error::InvalidParameter { name: "bin_size" }) => {
            // Only when some bin number ⌊v/size⌋ would pass ±2⁶² (f32 holds only integers
            // there, so ⌊q⌋ = q).
            let BinRule::Size { size } = rule else {
                panic!("bin_size error under {rule:?}");
            };
            assert!(
                data.iter().any(|&v| (v / size).abs() >= 4.611_686e18),
                "bin_size refused though every bin number fits"
            );
            Corpus::Keep
        }
        Err(e) => panic!("unexpected error {e:?} for a valid plan and matching inputs"),
    }
});
