//! The k-NN estimator `ksg` (through `Estimator::new("ksg", …)`) on small arbitrary layers:
//! every `k` from 0 to 65, with and without standardising, with an input matrix (`f32` or
//! bytes), with input groups, or with neither.
//!
//! Properties (STYLE R6, R11, R27):
//! * no panic, whatever the shape, `k`, values (exact ties, NaN and ±∞ included), labels,
//!   input groups or inputs;
//! * `k` outside 1..=64 is `InvalidParameter("k")` from `Estimator::new`; `k ≥ n` is
//!   `InvalidParameter("k")` from the estimate, and a layer with neither inputs nor input
//!   groups `InvalidParameter("inputs")`; every other valid layer is `Ok`;
//! * `Ok` values are finite and ≥ 0;
//! * the same bits with zero-filled and with `u64::MAX`-filled scratch, and past
//!   `scratch_req()` nothing is touched; one word less is `ScratchTooSmall`;
//! * the parts of a split estimate (`estimate_part`, and `prepare` + `estimate_part_on` on
//!   dirty scratch), merged, give the bits of one call; a part count past `max_parts()` is
//!   `InvalidParameter("parts")`;
//! * the bits of a brute-force evaluation of the estimator as `ksg.rs` documents it (all
//!   pairs, the same `f32` max-norm distances, tie rule, `digamma`, fixed-point `RowSums`,
//!   and I(T;Y) = 0 for a single class): the k-d trees find exactly the all-pairs
//!   neighbours and counts.
#![no_main]

use arbitrary::Arbitrary;
use infoplane_core::estimator::ksg::{MAX_K, digamma};
use infoplane_core::estimator::{Estimator, Layer, Part, Partial, Plan, RowSums, Settings};
use infoplane_core::{ByteMatRef, Error, Info, Inputs, MatRef, PlanePoint, math};
use libfuzzer_sys::{Corpus, fuzz_target};

const MAX_N: usize = 64;
const MAX_D: usize = 12;
const MAX_DX: usize = 4;
/// Sentinel written past `scratch_req()` to prove the kernel never touches it.
const TAIL: u64 = 0xdead_beef_f00d_cafe;
/// The divisor of byte inputs.
const DIVISOR: f32 = 255.0;

/// A few values, so rows coincide exactly and distances repeat.
const FEW: [f32; 8] = [0.0, 1.0, -1.0, 0.5, 0.25, -0.75, 2.0, 1e-3];

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Value {
    /// One of [`FEW`].
    Few(u8),
    /// k / 2¹⁴: [−2, 2) on a grid.
    Grid(i16),
    /// Any bit pattern.
    Raw(f32),
}

impl Value {
    fn get(self) -> f32 {
        match self {
            Self::Few(k) => FEW.get(usize::from(k % 8)).copied().unwrap_or(0.0),
            Self::Grid(k) => f32::from(k) / 16_384.0,
            Self::Raw(v) => v,
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Input {
    n: u8,
    d: u8,
    /// Input columns, 0 to 4 (0: no input matrix).
    dx: u8,
    /// `k` is this mod 66: 0 and 65 are out of range.
    k: u8,
    standardize: bool,
    /// Cycled to fill `n × d`; an empty list means zeros.
    values: Vec<Value>,
    /// Cycled to fill `n × dx`.
    x: Vec<Value>,
    /// When set, the inputs are these bytes (cycled) over 255 instead of `x`.
    x_bytes: Option<Vec<u8>>,
    /// Cycled to fill `n`, each mod 4.
    labels: Vec<u8>,
    /// Input-group ids, cycled to fill `n`.
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

/// One estimate with `scratch_req() + extra` words of scratch set to `fill`; checks the
/// `extra` tail is untouched.
fn run(plan: &Plan, layer: &Layer<'_>, fill: u64, extra: usize) -> Result<PlanePoint, Error> {
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

/// The rows as the distances see them: `(x, t)` columns, each divided by its population
/// standard deviation when standardising (1 for a constant column), as `ksg.rs` documents.
fn scaled(x: Option<Inputs<'_>>, t: MatRef<'_>, standardize: bool) -> (Vec<f32>, usize) {
    let n = t.rows();
    let dx = x.map_or(0, |x| x.cols());
    let cols = dx + t.cols();
    let raw = |r: usize, c: usize| -> f32 {
        if c < dx {
            match x {
                Some(Inputs::F32(m)) => m.as_slice().get(r * dx + c).copied(),
                Some(Inputs::U8(m)) => m
                    .as_slice()
                    .get(r * dx + c)
                    .map(|&b| f32::from(b) / m.divisor()),
                None => None,
            }
            .unwrap_or(0.0)
        } else {
            t.as_slice()
                .get(r * t.cols() + c - dx)
                .copied()
                .unwrap_or(0.0)
        }
    };
    let mut out = vec![0.0f32; n * cols];
    #[allow(clippy::cast_precision_loss)]
    let nf = n as f64;
    for c in 0..cols {
        let mut s = 1.0f64;
        if standardize {
            let mean = (0..n).map(|r| f64::from(raw(r, c))).sum::<f64>() / nf;
            let var = (0..n)
                .map(|r| {
                    let e = f64::from(raw(r, c)) - mean;
                    e * e
                })
                .sum::<f64>()
                / nf;
            let sd = math::sqrt_f64(var);
            if sd > 0.0 && sd.is_finite() {
                s = sd;
            }
        }
        for r in 0..n {
            let v = raw(r, c);
            #[allow(clippy::cast_possible_truncation, clippy::float_cmp)]
            let v = if s == 1.0 {
                v
            } else {
                (f64::from(v) / s) as f32
            };
            if let Some(o) = out.get_mut(r * cols + c) {
                *o = v;
            }
        }
    }
    (out, cols)
}

/// Max-norm distance over columns `cols` of rows `a` and `b`, each `|a_c − b_c|` one `f32`
/// subtraction.
fn dist(p: &[f32], width: usize, a: usize, b: usize, cols: core::ops::Range<usize>) -> f32 {
    let mut m = 0.0f32;
    for c in cols {
        let (u, v) = (
            p.get(a * width + c).copied().unwrap_or(0.0),
            p.get(b * width + c).copied().unwrap_or(0.0),
        );
        let e = math::abs(u - v);
        if e > m {
            m = e;
        }
    }
    m
}

/// Ross's term for row `i` among the rows `members` (its class or input group, `i`
/// included), distances over `t`'s columns; `None` for a group of one.
fn ross(
    p: &[f32],
    width: usize,
    tcols: core::ops::Range<usize>,
    n: usize,
    i: usize,
    members: &[usize],
    k: usize,
) -> Option<f64> {
    let ny = members.len();
    if ny < 2 {
        return None;
    }
    let ky = k.min(ny - 1);
    let mut ds: Vec<f32> = members
        .iter()
        .filter(|&&j| j != i)
        .map(|&j| dist(p, width, i, j, tcols.clone()))
        .collect();
    ds.sort_by(f32::total_cmp);
    let rho = ds.get(ky - 1).copied().unwrap_or(f32::INFINITY);
    let all = |r: f32, inclusive: bool| {
        (0..n)
            .filter(|&j| {
                let d = dist(p, width, i, j, tcols.clone());
                if inclusive { d <= r } else { d < r }
            })
            .count() as u64
    };
    let (kk, m) = if rho > 0.0 {
        (ky as u64, all(rho, false))
    } else {
        let copies = members
            .iter()
            .filter(|&&j| dist(p, width, i, j, tcols.clone()) <= 0.0)
            .count() as u64;
        (copies, all(0.0, true))
    };
    Some(digamma(kk) - digamma(ny as u64) - digamma(m))
}

/// The rows of each id, for every row.
fn members(ids: &[u32]) -> Vec<Vec<usize>> {
    ids.iter()
        .map(|&id| {
            (0..ids.len())
                .filter(|&j| ids.get(j) == Some(&id))
                .collect()
        })
        .collect()
}

fn nats(n: usize, sum: f64, count: usize) -> f64 {
    if count == 0 {
        return 0.0;
    }
    #[allow(clippy::cast_precision_loss)]
    let v = digamma(n as u64) + sum / count as f64;
    v.max(0.0)
}

/// The estimate by brute force over all pairs, as `ksg.rs` documents it (for a valid layer).
fn brute(layer: &Layer<'_>, k: usize, standardize: bool) -> PlanePoint {
    let (n, d) = (layer.n(), layer.d());
    let (p, width) = scaled(layer.x(), layer.t(), standardize);
    let dx = width - d;
    let tcols = dx..width;
    let classes = members(layer.labels());
    let groups = layer.inputs().map(members);
    let mut sums = RowSums::default();
    for i in 0..n {
        let tx = if dx > 0 {
            let mut ds: Vec<f32> = (0..n)
                .filter(|&j| j != i)
                .map(|j| dist(&p, width, i, j, 0..width))
                .collect();
            ds.sort_by(f32::total_cmp);
            let rho = ds.get(k - 1).copied().unwrap_or(f32::INFINITY);
            let count = |cols: core::ops::Range<usize>, r: f32, inclusive: bool| {
                (0..n)
                    .filter(|&j| {
                        let d = dist(&p, width, i, j, cols.clone());
                        if inclusive { d <= r } else { d < r }
                    })
                    .count() as u64
            };
            let (kk, nx, nt) = if rho > 0.0 {
                (
                    k as u64,
                    count(0..dx, rho, false) - 1,
                    count(tcols.clone(), rho, false) - 1,
                )
            } else {
                (
                    count(0..width, 0.0, true),
                    count(0..dx, 0.0, true) - 1,
                    count(tcols.clone(), 0.0, true) - 1,
                )
            };
            Some(digamma(kk) - digamma(nx + 1) - digamma(nt + 1))
        } else {
            let g = groups.as_ref().and_then(|g| g.get(i));
            g.and_then(|g| ross(&p, width, tcols.clone(), n, i, g, k))
        };
        let ty = classes
            .get(i)
            .and_then(|c| ross(&p, width, tcols.clone(), n, i, c, k));
        sums.push([tx.unwrap_or(0.0), ty.unwrap_or(0.0), 0.0]);
    }
    let kept = |m: &[Vec<usize>]| m.iter().filter(|g| g.len() >= 2).count();
    let i_xt = if dx > 0 {
        nats(n, sums.get(0), n)
    } else if layer
        .inputs()
        .is_some_and(|ids| ids.windows(2).all(|w| w.first() == w.last()))
    {
        // One input for every sample: H(X) = 0, so I(X;T) is 0 exactly.
        0.0
    } else {
        nats(n, sums.get(0), groups.as_deref().map_or(0, kept))
    };
    // A single class: H(Y) = 0, so I(T;Y) is 0 exactly, not estimated.
    let one_class = layer.labels().windows(2).all(|w| w.first() == w.last());
    let i_ty = if one_class {
        0.0
    } else {
        nats(n, sums.get(1), kept(&classes))
    };
    PlanePoint {
        i_xt: Info::from_nats(i_xt),
        i_ty: Info::from_nats(i_ty),
    }
}

fuzz_target!(|input: Input| -> Corpus {
    let n = usize::from(input.n) % (MAX_N + 1);
    let d = usize::from(input.d) % (MAX_D + 1);
    let dx = usize::from(input.dx) % (MAX_DX + 1);
    let k = u32::from(input.k) % (MAX_K + 2);
    let settings = Settings {
        k,
        standardize: input.standardize,
        ..Settings::DEFAULT
    };
    let est = match Estimator::new("ksg", settings) {
        Ok(e) => e,
        Err(e) => {
            assert!(k == 0 || k > MAX_K, "k = {k} refused: {e:?}");
            assert_eq!(e, Error::InvalidParameter { name: "k" });
            return Corpus::Reject;
        }
    };
    assert!((1..=MAX_K).contains(&k), "k = {k} accepted");
    let plan = match est.plan(n, d) {
        Ok(p) => p,
        Err(Error::EmptyInput) if n == 0 || d == 0 => return Corpus::Reject,
        Err(e) => panic!("unexpected plan error {e:?} for n={n} d={d}"),
    };
    let plan = if dx > 0 {
        plan.with_inputs(dx)
            .unwrap_or_else(|e| panic!("with_inputs({dx}): {e:?}"))
    } else {
        plan
    };
    let data = cycled(&input.values, n * d, Value::get, 0.0f32);
    let xdata = cycled(&input.x, n * dx, Value::get, 0.0f32);
    let xbytes: Option<Vec<u8>> = input.x_bytes.as_ref().map(|b| cycled(b, n * dx, |v| v, 0));
    let labels = cycled(&input.labels, n, |v| u32::from(v % 4), 0u32);
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
    let layer = if dx > 0 {
        let x: Inputs<'_> = match &xbytes {
            Some(b) => ByteMatRef::new(b, n, dx, DIVISOR)
                .unwrap_or_else(|e| panic!("byte inputs: {e:?}"))
                .into(),
            None => MatRef::new(&xdata, n, dx)
                .unwrap_or_else(|e| panic!("inputs: {e:?}"))
                .into(),
        };
        match layer.with_x(x) {
            Ok(l) => l,
            Err(Error::NonFinite { index }) => {
                assert!(xbytes.is_none(), "byte inputs reported non-finite");
                assert!(xdata.get(index).is_some_and(|v| !v.is_finite()));
                return Corpus::Keep;
            }
            Err(e) => panic!("unexpected with_x error {e:?}"),
        }
    } else {
        layer
    };

    let zero = run(&plan, &layer, 0, 0);
    let poisoned = run(&plan, &layer, u64::MAX, 7);
    assert_eq!(
        bits(&zero),
        bits(&poisoned),
        "result depends on scratch contents"
    );
    let expected = if n as u64 <= u64::from(k) {
        Some(Error::InvalidParameter { name: "k" })
    } else if dx == 0 && groups.is_none() {
        Some(Error::InvalidParameter { name: "inputs" })
    } else {
        None
    };
    let p = match (zero, expected) {
        (Ok(p), None) => p,
        (Err(e), Some(want)) => {
            assert_eq!(e, want, "n={n} k={k} dx={dx}");
            return Corpus::Keep;
        }
        (r, want) => panic!("n={n} k={k} dx={dx}: got {r:?}, expected {want:?}"),
    };
    let (i_xt, i_ty) = (p.i_xt.in_bits(), p.i_ty.in_bits());
    assert!(i_xt.is_finite() && i_ty.is_finite(), "non-finite {p:?}");
    assert!(i_xt >= 0.0 && i_ty >= 0.0, "negative {p:?}");

    // Split into parts on one scratch: the same bits.
    let max = plan.max_parts();
    let count = usize::from(input.parts) % max + 1;
    let mut scratch = vec![u64::MAX; plan.scratch_req().words()];
    let mut merged: Option<Partial> = None;
    for index in (0..count).rev() {
        let part = plan
            .estimate_part(&layer, Part { index, count }, &mut scratch)
            .unwrap_or_else(|e| panic!("part {index}/{count}: {e:?}"));
        merged = Some(match merged {
            None => part,
            Some(m) => m.merge(part).unwrap_or_else(|e| panic!("merge: {e:?}")),
        });
    }
    let Some(merged) = merged else {
        unreachable!("at least one part");
    };
    let split = plan.finish(&layer, merged, &mut scratch);
    assert_eq!(
        bits(&split),
        bits(&Ok(p)),
        "split into {count} parts differs"
    );

    // The same on shared trees, with dirty shared and part scratch.
    let mut shared = vec![u64::MAX; plan.shared_req().map_or(0, |r| r.words())];
    let prepared = plan
        .prepare(&layer, &mut shared)
        .unwrap_or_else(|e| panic!("prepare: {e:?}"));
    let mut part_scratch = vec![u64::MAX; plan.part_req().map_or(0, |r| r.words())];
    let mut merged: Option<Partial> = None;
    for index in 0..count {
        let part = plan
            .estimate_part_on(&prepared, Part { index, count }, &mut part_scratch)
            .unwrap_or_else(|e| panic!("part {index}/{count} on shared trees: {e:?}"));
        merged = Some(match merged {
            None => part,
            Some(m) => part.merge(m).unwrap_or_else(|e| panic!("merge: {e:?}")),
        });
    }
    let Some(merged) = merged else {
        unreachable!("at least one part");
    };
    let on = plan.finish(&layer, merged, &mut scratch);
    assert_eq!(
        bits(&on),
        bits(&Ok(p)),
        "{count} parts on shared trees differ"
    );
    assert_eq!(
        plan.estimate_part(
            &layer,
            Part {
                index: 0,
                count: max + 1
            },
            &mut scratch
        ),
        Err(Error::InvalidParameter { name: "parts" }),
        "{} parts accepted, max_parts() = {max}",
        max + 1
    );

    // The trees find exactly the all-pairs neighbours and counts.
    let reference = brute(&layer, k as usize, input.standardize);
    assert_eq!(
        bits(&Ok(p)),
        bits(&Ok(reference)),
        "k-d trees differ from all pairs: {p:?} vs {reference:?}"
    );

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
