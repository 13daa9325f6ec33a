//! `ScheduleSpec::parse` on arbitrary UTF-8, then the parsed schedule expanded for small
//! epoch counts.
//!
//! The input is `TEXT` or `TEXT\0TOTAL`: the text before the last NUL byte is parsed, and up
//! to four little-endian bytes after it give one more epoch count (mod 100 001). Every
//! parsed schedule is also expanded for the counts in `TOTALS`. So seeds are plain text.
//!
//! Properties (STYLE R11, R27):
//! * no panic, and every error is `InvalidParameter { name: "schedule" }`;
//! * `Ok` specs print (`Display`) to a text that parses back to the same spec and prints the
//!   same again, and fixed ones survive the trip through the borrowed `Schedule`; a delta-skip
//!   spec has a finite δ ≥ 0 and no fixed schedule;
//! * `validate(total)` accepts exactly what its documentation says (`EmptyInput` for 0);
//! * the expansion `fixed().epochs(total)` is bounded (at most `total` epochs, at most
//!   `points` for `log:`, at most the list's length for `list:`), every epoch is below
//!   `total`, and the epochs strictly increase (for a `list:` that only when it validates:
//!   an unchecked list is yielded as written, up to its first epoch ≥ `total`);
//! * for a valid schedule: `every:N` gives 0, N, 2N, …; `list:` gives the list; `log:` starts
//!   at 0; and `contains` agrees with the expansion.
//!
//! Expansion is work proportional to `total`, and to `points` for `log:`; totals stay at or
//! below 100 000 and `log:` schedules with more than `MAX_EXPAND_POINTS` points are only
//! validated, never expanded.
#![no_main]

use infoplane_core::Error;
use infoplane_core::schedule::{MAX_LOG_POINTS, ScheduleSpec};
use libfuzzer_sys::{Corpus, fuzz_target};

/// Largest epoch count taken from the input.
const MAX_TOTAL: u32 = 100_000;
/// Largest `log:` point count that is expanded (each point costs a `pow`).
const MAX_EXPAND_POINTS: u32 = 1 << 14;
/// Epoch counts every parsed schedule is expanded for: none, tiny, the papers' (8000 for
/// Tishby, 10 000 for Saxe).
const TOTALS: [u32; 7] = [0, 1, 2, 7, 100, 8000, 10_000];
/// A `contains` scan of `log:` re-expands the schedule; only this many epochs are probed.
const LOG_PROBES: usize = 4;
const BAD: Error = Error::InvalidParameter { name: "schedule" };

/// What `Schedule::validate` documents, for `total > 0`.
fn documented_valid(spec: &ScheduleSpec, total: u32) -> bool {
    match spec {
        ScheduleSpec::Every(n) => *n > 0,
        ScheduleSpec::Log(p) => (2..=MAX_LOG_POINTS).contains(p),
        ScheduleSpec::List(l) => {
            !l.is_empty()
                && l.windows(2).all(|w| w[0] < w[1])
                && l.last().is_some_and(|&e| e < total)
        }
        ScheduleSpec::Saxe | ScheduleSpec::SaxeMnist => true,
        ScheduleSpec::Delta { delta, .. } => delta.is_finite() && *delta >= 0.0,
    }
}

fn check_expansion(spec: &ScheduleSpec, total: u32) {
    let valid = spec.validate(total);
    let Some(schedule) = spec.fixed() else {
        // Delta skip: validated only (it decides its epochs as a run goes).
        assert!(
            matches!(spec, ScheduleSpec::Delta { .. }),
            "{spec} has no schedule"
        );
        assert_eq!(spec.count(total), None);
        if total == 0 {
            assert_eq!(
                valid,
                Err(Error::EmptyInput),
                "{spec} validated for 0 epochs"
            );
        } else {
            assert_eq!(valid, Ok(()), "{spec} refused for {total} epochs");
        }
        return;
    };
    assert_eq!(
        valid,
        schedule.validate(total),
        "{spec}: two validations differ"
    );
    if total == 0 {
        assert_eq!(
            valid,
            Err(Error::EmptyInput),
            "{spec} validated for 0 epochs"
        );
    } else if documented_valid(spec, total) {
        assert_eq!(valid, Ok(()), "{spec} refused for {total} epochs");
    } else {
        assert_eq!(valid, Err(BAD), "{spec} accepted for {total} epochs");
    }
    if let ScheduleSpec::Log(p) = spec
        && *p > MAX_EXPAND_POINTS
    {
        return;
    }
    // The bound: `total` epochs, or the list's length for a list that does not validate
    // (`list:1,1` is yielded as written). Take one more, so an overrun shows instead of
    // looping.
    let bound = match spec {
        ScheduleSpec::List(l) if valid.is_err() => l.len(),
        _ => total as usize,
    };
    let epochs: Vec<u32> = schedule.epochs(total).take(bound + 1).collect();
    assert!(
        epochs.len() <= bound,
        "{spec} gives more than {bound} epochs for {total}"
    );
    if let Some(&e) = epochs.iter().find(|&&e| e >= total) {
        panic!("{spec} gives epoch {e} for a run of {total}");
    }
    let increasing = epochs.windows(2).all(|w| w[0] < w[1]);
    match spec {
        ScheduleSpec::List(l) => {
            assert!(
                epochs.len() <= l.len(),
                "{spec} gives more epochs than listed"
            );
            assert!(
                valid.is_err() || increasing,
                "{spec} not increasing: {epochs:?}"
            );
        }
        ScheduleSpec::Log(p) => {
            assert!(increasing, "{spec} not increasing for {total}: {epochs:?}");
            assert!(
                epochs.len() <= *p as usize,
                "{spec} gives more than {p} epochs"
            );
        }
        _ => assert!(increasing, "{spec} not increasing for {total}: {epochs:?}"),
    }
    if valid.is_err() {
        return;
    }
    match spec {
        ScheduleSpec::Every(n) => assert!(
            epochs.iter().copied().eq((0..total).step_by(*n as usize)),
            "{spec} for {total} is not 0, {n}, 2·{n}, …"
        ),
        ScheduleSpec::List(l) => assert_eq!(&epochs, l, "{spec} not expanded as listed"),
        ScheduleSpec::Log(_) => {
            assert_eq!(
                epochs.first(),
                Some(&0),
                "{spec} does not start at 0 for {total}"
            );
        }
        ScheduleSpec::Saxe | ScheduleSpec::SaxeMnist | ScheduleSpec::Delta { .. } => {}
    }
    assert!(
        !schedule.contains(total, total),
        "{spec} contains epoch {total} of {total}"
    );
    if let ScheduleSpec::Log(_) = spec {
        let probes = epochs
            .iter()
            .take(LOG_PROBES / 2)
            .chain(epochs.iter().rev().take(LOG_PROBES / 2));
        for &e in probes {
            assert!(
                schedule.contains(e, total),
                "{spec} expands to {e} but does not contain it"
            );
        }
        if let Some(e) = (0..total).find(|e| epochs.binary_search(e).is_err()) {
            assert!(
                !schedule.contains(e, total),
                "{spec} contains {e} but does not expand to it"
            );
        }
    } else {
        let mut next = epochs.iter().peekable();
        for e in 0..total {
            let listed = next.next_if_eq(&&e).is_some();
            assert_eq!(
                schedule.contains(e, total),
                listed,
                "{spec}: contains({e}, {total}) disagrees with the expansion"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| -> Corpus {
    let (text, total) = match data.iter().rposition(|&b| b == 0) {
        Some(at) => {
            let mut word = [0u8; 4];
            for (w, &b) in word.iter_mut().zip(&data[at + 1..]) {
                *w = b;
            }
            (
                &data[..at],
                Some(u32::from_le_bytes(word) % (MAX_TOTAL + 1)),
            )
        }
        None => (data, None),
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return Corpus::Reject;
    };
    let spec = match ScheduleSpec::parse(text) {
        Ok(s) => s,
        Err(e) => {
            assert_eq!(e, BAD, "unexpected error for {text:?}");
            let _ = e.to_string();
            return Corpus::Keep;
        }
    };
    let shown = spec.to_string();
    let again = ScheduleSpec::parse(&shown)
        .unwrap_or_else(|e| panic!("{text:?} printed as {shown:?}, which does not parse: {e:?}"));
    assert_eq!(
        again, spec,
        "{text:?} printed as {shown:?} parses to another spec"
    );
    assert_eq!(
        again.to_string(),
        shown,
        "printing is not stable for {text:?}"
    );
    if let Some(fixed) = spec.fixed() {
        assert_eq!(ScheduleSpec::from(fixed), spec, "lost through Schedule");
        assert_eq!(
            fixed.to_string(),
            shown,
            "Schedule and ScheduleSpec print differently"
        );
    }
    for t in TOTALS.into_iter().chain(total) {
        check_expansion(&spec, t);
    }
    Corpus::Keep
});
