//! The shared harness: every estimator in the core's registry through one table of cases,
//! in the manner of `RustFFT`'s `check_fft_algorithm`. A new estimator is checked here by
//! registering it; nothing in this file names an estimator.
//!
//! Cases: closed forms (separated clusters, one class, input groups that repeat or not, one
//! input repeated), settings errors naming their parameter, dirty scratch, short scratch,
//! split work against one call, class relabelling.

// Fixture sizes are small counts, and f64 draws become f32 data on purpose.
#![allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]

use infoplane_core::estimator::{
    Estimator, Kind, Layer, Param, Part, Partial, Plan, REGISTRY, Settings,
};
use infoplane_core::{Error, MatRef, PlanePoint};
use infoplane_tests::fixtures::{self, IDS_SEED, LABEL_SEED, LAYER_SEED};
use infoplane_tests::tolerance::CLOSED_FORM_ABS;

fn estimator(kind: &'static dyn Kind) -> Estimator {
    Estimator::of(kind, Settings::DEFAULT).unwrap()
}

/// The plan of `kind` for `n × d` layers that carry their inputs, `d` columns.
fn plan_of(kind: &'static dyn Kind, n: usize, d: usize) -> Plan {
    estimator(kind).plan(n, d).unwrap().with_inputs(d).unwrap()
}

/// A layer whose inputs are the activations themselves (T = X; estimators that read input
/// values see them, the others read only the groups `g`).
fn mk_layer<'a>(t: &'a [f32], d: usize, y: &'a [u32], g: Option<&'a [u32]>) -> Layer<'a> {
    let m = MatRef::new(t, y.len(), d).unwrap();
    Layer::new(m, y, g).unwrap().with_x(m.into()).unwrap()
}

fn run(plan: &Plan, t: &[f32], d: usize, y: &[u32], g: Option<&[u32]>) -> PlanePoint {
    let layer = mk_layer(t, d, y, g);
    plan.estimate(&layer, &mut vec![0u64; plan.scratch_req().words()])
        .unwrap()
}

fn bits(p: PlanePoint) -> (u64, u64) {
    (p.i_xt.in_bits().to_bits(), p.i_ty.in_bits().to_bits())
}

fn near(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= CLOSED_FORM_ABS,
        "{what}: got {got}, want {want}"
    );
}

/// Four clusters of two identical rows at −0.75, −0.25, 0.25, 0.75: separated by more than
/// any bin and, for the KDE bounds at σ² = 1e-3, far enough that every cross-cluster kernel
/// value is exactly 0. Cluster c holds class c mod 2.
const CLUSTERS: [f32; 8] = [-0.75, -0.75, -0.25, -0.25, 0.25, 0.25, 0.75, 0.75];
const CLUSTER_LABELS: [u32; 8] = [0, 0, 1, 1, 0, 0, 1, 1];

#[test]
fn closed_forms() {
    for &kind in REGISTRY.iter().filter(|k| k.exact_on_separated_clusters()) {
        let name = kind.name();
        let plan = plan_of(kind, 8, 1);
        // Four equiprobable symbols, and each pair of symbols one class: H(T) = 2 bits,
        // I(T;Y) = H(Y) = 1 bit.
        let p = run(&plan, &CLUSTERS, 1, &CLUSTER_LABELS, None);
        near(p.i_xt.in_bits(), 2.0, name);
        near(p.i_ty.in_bits(), 1.0, name);
        // One class: nothing about Y.
        let p = run(&plan, &CLUSTERS, 1, &[5; 8], None);
        near(p.i_ty.in_bits(), 0.0, name);
        near(p.i_xt.in_bits(), 2.0, name);
        // Each cluster is one input: H(T|X) = 0, I(X;T) = H(T).
        let p = run(
            &plan,
            &CLUSTERS,
            1,
            &CLUSTER_LABELS,
            Some(&[0, 0, 1, 1, 2, 2, 3, 3]),
        );
        near(p.i_xt.in_bits(), 2.0, name);
        // Two inputs of two clusters each: H(T|X) = 1 bit.
        let p = run(
            &plan,
            &CLUSTERS,
            1,
            &CLUSTER_LABELS,
            Some(&[9, 9, 9, 9, 4, 4, 4, 4]),
        );
        near(p.i_xt.in_bits(), 1.0, name);
        near(p.i_ty.in_bits(), 1.0, name);
        // One input repeated for every row: nothing about X.
        let p = run(&plan, &CLUSTERS, 1, &CLUSTER_LABELS, Some(&[7; 8]));
        near(p.i_xt.in_bits(), 0.0, name);
        // A single row.
        let one = plan_of(kind, 1, 3);
        let p = run(&one, &[0.1, 0.2, 0.3], 3, &[1], None);
        near(p.i_xt.in_bits(), 0.0, name);
        near(p.i_ty.in_bits(), 0.0, name);
    }
}

#[test]
fn input_groups_that_never_repeat_change_nothing() {
    let (n, d) = (300usize, 5usize);
    let t = fixtures::clustered_layer(n, d, 40, LAYER_SEED);
    let y = fixtures::labels(n, 3, LABEL_SEED);
    let distinct: Vec<u32> = (0..n as u32).map(|i| 3 * i + 1).collect();
    for &kind in REGISTRY {
        let plan = plan_of(kind, n, d);
        assert_eq!(
            bits(run(&plan, &t, d, &y, Some(&distinct))),
            bits(run(&plan, &t, d, &y, None)),
            "{}",
            kind.name()
        );
    }
}

#[test]
fn settings_errors_name_the_parameter() {
    let bad = |p: Param| {
        let mut s = Settings::DEFAULT;
        match p {
            Param::Bins => s.bins = 1,
            Param::Range => (s.lo, s.hi) = (1.0, -1.0),
            Param::IdnnsCompat => return None, // a bool has no bad value
            Param::BinSize => s.bin_size = -0.5,
            Param::NoiseVar => s.noise_var = 1e-39,
            _ => return None,
        }
        Some(s)
    };
    for &kind in REGISTRY {
        for p in Param::ALL {
            let Some(s) = bad(p) else { continue };
            let r = Estimator::of(kind, s);
            if kind.params().contains(&p) {
                assert_eq!(
                    r.map(|_| ()),
                    Err(Error::InvalidParameter { name: p.name() }),
                    "{} {p:?}",
                    kind.name()
                );
            } else {
                assert!(r.is_ok(), "{} ignores {p:?}", kind.name());
            }
        }
    }
    assert_eq!(
        Estimator::new("magic", Settings::DEFAULT).map(|_| ()),
        Err(Error::InvalidParameter { name: "estimator" })
    );
    // Every parameter name maps back, and says what it accepts.
    for p in Param::ALL {
        assert_eq!(Param::from_name(p.name()), Some(p));
        assert!(!p.accepts().is_empty() && !p.help().is_empty());
    }
}

#[test]
fn scratch_contents_do_not_matter_and_short_scratch_is_an_error() {
    let (n, d) = (300usize, 5usize);
    let t = fixtures::clustered_layer(n, d, 40, LAYER_SEED + 1);
    let y = fixtures::labels(n, 3, LABEL_SEED);
    let g = fixtures::ids(n, 80, IDS_SEED);
    let other = fixtures::layer(n, d, LAYER_SEED + 2);
    for &kind in REGISTRY {
        let plan = plan_of(kind, n, d);
        let words = plan.scratch_req().words();
        for groups in [None, Some(g.as_slice())] {
            let layer = mk_layer(&t, d, &y, groups);
            let mut results = Vec::new();
            for poison in [0u64, u64::MAX, 0x7fc0_0001_dead_beef, 0xdead_beef_0bad_f00d] {
                for extra in [0usize, 9] {
                    let mut s = vec![poison; words + extra];
                    results.push(bits(plan.estimate(&layer, &mut s).unwrap()));
                }
            }
            // After every other estimator ran on the same buffer, on other data.
            let big = REGISTRY
                .iter()
                .map(|k| plan_of(*k, n, d).scratch_req().words())
                .max()
                .unwrap();
            let mut shared = vec![0u64; big];
            for &k2 in REGISTRY {
                let p2 = plan_of(k2, n, d);
                let l2 = mk_layer(&other, d, &y, None);
                p2.estimate(&l2, &mut shared).unwrap();
                results.push(bits(plan.estimate(&layer, &mut shared).unwrap()));
            }
            assert!(
                results.windows(2).all(|w| w[0] == w[1]),
                "{}: {results:?}",
                kind.name()
            );
            assert_eq!(
                plan.estimate(&layer, &mut vec![0u64; words - 1]),
                Err(Error::ScratchTooSmall {
                    needed: words,
                    got: words - 1
                }),
                "{}",
                kind.name()
            );
        }
    }
}

#[test]
fn split_work_gives_the_bits_of_one_call() {
    let (n, d) = (203usize, 4usize);
    let t = fixtures::clustered_layer(n, d, 30, LAYER_SEED + 3);
    let y = fixtures::labels(n, 2, LABEL_SEED);
    let g = fixtures::ids(n, 50, IDS_SEED);
    for &kind in REGISTRY {
        let plan = plan_of(kind, n, d);
        let max = plan.max_parts();
        assert!(max >= 1);
        for groups in [None, Some(g.as_slice())] {
            let layer = mk_layer(&t, d, &y, groups);
            let mut s = vec![0u64; plan.scratch_req().words()];
            let one = bits(plan.estimate(&layer, &mut s).unwrap());
            for count in [1, 2, 3, 8].into_iter().filter(|&c| c <= max) {
                let mut parts: Vec<Partial> = (0..count)
                    .map(|index| {
                        plan.estimate_part(&layer, Part { index, count }, &mut s)
                            .unwrap()
                    })
                    .collect();
                parts.reverse(); // merge order does not matter
                let mut merged = parts.remove(0);
                for p in parts {
                    merged = merged.merge(p).unwrap();
                }
                let pt = plan.finish(&layer, merged, &mut s).unwrap();
                assert_eq!(bits(pt), one, "{} in {count} parts", kind.name());
                // The same parts on work shared once (the KDE tree), each part with only
                // its own scratch.
                let mut shared = vec![0u64; plan.shared_req().unwrap().words()];
                let prepared = plan.prepare(&layer, &mut shared).unwrap();
                let mut w = vec![0u64; plan.part_req().unwrap().words()];
                let merged = (0..count)
                    .map(|index| {
                        plan.estimate_part_on(&prepared, Part { index, count }, &mut w)
                            .unwrap()
                    })
                    .reduce(|a, b| a.merge(b).unwrap())
                    .unwrap();
                let pt = plan.finish(&layer, merged, &mut s).unwrap();
                assert_eq!(bits(pt), one, "{} in {count} parts, shared", kind.name());
            }
            // Shared work of another layer shape is refused.
            let small = mk_layer(&t[..d * 10], d, &y[..10], None);
            let other = plan_of(kind, 10, d);
            let mut shared = vec![0u64; other.shared_req().unwrap().words()];
            let prepared = other.prepare(&small, &mut shared).unwrap();
            assert!(
                matches!(
                    plan.estimate_part_on(&prepared, Part::WHOLE, &mut s),
                    Err(Error::DimensionMismatch { .. })
                ),
                "{}",
                kind.name()
            );
            assert_eq!(
                plan.estimate_part(
                    &layer,
                    Part {
                        index: 0,
                        count: max + 1
                    },
                    &mut s
                ),
                Err(Error::InvalidParameter { name: "parts" }),
                "{}",
                kind.name()
            );
        }
    }
}

#[test]
fn relabelling_classes_changes_nothing() {
    let (n, d) = (256usize, 3usize);
    let t = fixtures::clustered_layer(n, d, 20, LAYER_SEED + 4);
    let y = fixtures::labels(n, 4, LABEL_SEED + 4);
    let relabelled: Vec<u32> = y
        .iter()
        .map(|&c| [1_000_000, 3, u32::MAX, 0][c as usize])
        .collect();
    for &kind in REGISTRY {
        let plan = plan_of(kind, n, d);
        let (a, b) = (
            run(&plan, &t, d, &y, None),
            run(&plan, &t, d, &relabelled, None),
        );
        near(a.i_ty.in_bits(), b.i_ty.in_bits(), kind.name());
        near(a.i_xt.in_bits(), b.i_xt.in_bits(), kind.name());
    }
}

#[test]
fn the_registry_has_unique_names_and_plans_check_shapes() {
    let mut names: Vec<&str> = REGISTRY.iter().map(|k| k.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), REGISTRY.len());
    for &kind in REGISTRY {
        assert_eq!(
            estimator(kind).plan(0, 3).map(|_| ()),
            Err(Error::EmptyInput),
            "{}",
            kind.name()
        );
        let plan = plan_of(kind, 4, 2);
        let t = [0.0f32; 8];
        let transposed = Layer::new(MatRef::new(&t, 2, 4).unwrap(), &[0, 1], None).unwrap();
        assert_eq!(
            plan.estimate(&transposed, &mut vec![0u64; plan.scratch_req().words()]),
            Err(Error::DimensionMismatch {
                dim: "rows",
                expected: 4,
                got: 2
            }),
            "{}",
            kind.name()
        );
    }
}
