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
