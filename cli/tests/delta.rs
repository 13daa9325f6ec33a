//! Delta skip through the real binary, on the tishby preset's full 8000 epochs: every
//! consecutive pair of measured epochs in `plane.csv` is within δ or adjacent, the values
//! are an every-epoch run's, the bytes do not depend on the thread count, and the manifest
//! says how many epochs were measured out of how many.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::float_cmp,
    clippy::cast_possible_truncation
)] // test code

use infoplane_core::dataset::Dataset;
use infoplane_core::experiment::delta::data_entropies;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

fn tmp(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "infoplane-delta-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Runs `run --preset tishby ARGS --out DIR` and expects success.
fn run(args: &[&str], dir: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_infoplane"))
        .args(["run", "--preset", "tishby"])
        .args(args)
        .args(["--quiet", "--no-plots", "--out", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `plane.csv` of the first estimator: epoch → per layer (I(X;T), I(T;Y)), and the rows as
/// text keyed by (epoch, layer, estimator).
type Plane = BTreeMap<u32, Vec<(f64, f64)>>;
fn plane(dir: &Path) -> (Plane, BTreeMap<(u32, u32, String), String>) {
    let text = std::fs::read_to_string(dir.join("plane.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("run,epoch,layer,estimator,i_xt_bits,i_ty_bits")
    );
    let (mut values, mut rows) = (Plane::new(), BTreeMap::new());
    let mut first = None;
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let (epoch, layer): (u32, u32) = (f[1].parse().unwrap(), f[2].parse().unwrap());
        rows.insert((epoch, layer, f[3].to_string()), line.to_string());
        if *first.get_or_insert_with(|| f[3].to_string()) == f[3] {
            let v = (f[4].parse().unwrap(), f[5].parse().unwrap());
            values.entry(epoch).or_default().push(v);
        }
    }
    (values, rows)
}

fn manifest_field(dir: &Path, name: &str) -> u64 {
    let text = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v[name]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} in {text}"))
}

#[test]
fn every_consecutive_pair_is_within_delta_on_the_full_tishby_run() {
    let (h_x, h_y) = data_entropies(&Dataset::tishby());
    assert_eq!(h_x, 12.0);
    for delta in [0.01, 0.05] {
        let d = tmp(&format!("exact{delta}"));
        run(&["--schedule", &format!("delta-exact:{delta}")], &d);
        let (values, _) = plane(&d);
        let epochs: Vec<u32> = values.keys().copied().collect();
        assert_eq!((epochs[0], *epochs.last().unwrap()), (0, 7999));
        for (a, b) in epochs.iter().zip(&epochs[1..]) {
            let dist = values[a]
                .iter()
                .zip(&values[b])
                .map(|(x, y)| ((x.0 - y.0).abs() / h_x).max((x.1 - y.1).abs() / h_y))
                .fold(0.0, f64::max);
            assert!(
                b - a == 1 || dist <= delta,
                "δ {delta}: epochs {a} and {b} are {dist} apart"
            );
        }
        assert_eq!(values.len() as u64, manifest_field(&d, "measured_epochs"));
        assert_eq!(manifest_field(&d, "every_epoch_measures"), 8000);
        // Far fewer than every epoch (the measured counts are in benches/RESULTS.md).
        assert!(values.len() < 400, "δ {delta}: {} epochs", values.len());
        std::fs::remove_dir_all(&d).unwrap();
    }
}

#[test]
fn delta_rows_are_every_epoch_rows_and_thread_count_free() {
    let full = tmp("every1");
    run(&["--epochs", "1500", "--schedule", "every:1"], &full);
    let (_, every) = plane(&full);
    let mut bytes: Option<Vec<u8>> = None;
    for threads in ["1", "3"] {
        let d = tmp(&format!("exact-t{threads}"));
        let args = [
            "--epochs",
            "1500",
            "--schedule",
            "delta-exact:0.02",
            "--estimator",
            "binning",
            "--estimator",
            "kde-upper",
            "--delta-estimator",
            "kde-upper",
            "--threads",
            threads,
        ];
        run(&args, &d);
        let (_, rows) = plane(&d);
        for ((epoch, layer, est), line) in &rows {
            if est == "binning" {
                assert_eq!(Some(line), every.get(&(*epoch, *layer, est.clone())));
            }
        }
        let b = std::fs::read(d.join("plane.csv")).unwrap();
        match &bytes {
            None => bytes = Some(b),
            Some(first) => assert!(first == &b, "--threads {threads} wrote other bytes"),
        }
        std::fs::remove_dir_all(&d).unwrap();
    }
    std::fs::remove_dir_all(&full).unwrap();
}

#[test]
fn delta_options_are_checked() {
    let err = |args: &[&str]| {
        let d = tmp("bad");
        let out = Command::new(env!("CARGO_BIN_EXE_infoplane"))
            .args([
                "run",
                "--preset",
                "tishby",
                "--epochs",
                "5",
                "--quiet",
                "--no-plots",
            ])
            .args(args)
            .arg("--out")
            .arg(&d)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!d.join("plane.csv").exists());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = err(&["--schedule", "delta-exact:-1"]);
    assert!(
        e.contains("--schedule") && e.contains("delta-exact:δ"),
        "{e}"
    );
    let e = err(&["--delta-estimator", "binning"]);
    assert!(
        e.contains("--delta-estimator") && e.contains("delta-exact"),
        "{e}"
    );
    let e = err(&[
        "--schedule",
        "delta-approx:0.1",
        "--delta-estimator",
        "kde-upper",
    ]);
    assert!(
        e.contains("not one of the run's estimators (binning)"),
        "{e}"
    );
    for bad in ["0", "6", "1025"] {
        let e = err(&["--pool", bad]);
        assert!(
            e.contains("--pool")
                && e.contains("from 1 (no pooling) to 1024, at most the epoch count"),
            "{e}"
        );
    }
}

#[test]
fn pooled_rows_follow_their_estimator_and_need_k_snapshots() {
    let d = tmp("pool");
    run(
        &[
            "--epochs",
            "12",
            "--schedule",
            "list:1,2,3,11",
            "--pool",
            "3",
            "--repeats",
            "2",
        ],
        &d,
    );
    let (_, rows) = plane(&d);
    let text = std::fs::read_to_string(d.join("plane.csv")).unwrap();
    // Epoch 1 has only two snapshots to pool: single rows only; from epoch 2 on, each
    // layer's binning row is followed by its pooled row, in both runs.
    let lines: Vec<&str> = text.lines().collect();
    let mut pooled = 0;
    for (i, line) in lines.iter().enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        if f[3] == "binning+pool3" {
            pooled += 1;
            let prev: Vec<&str> = lines[i - 1].split(',').collect();
            assert_eq!(
                (prev[..3].to_vec(), prev[3]),
                (f[..3].to_vec(), "binning"),
                "{line}"
            );
        }
    }
    assert_eq!(pooled, 2 * 3 * 6, "2 runs × 3 epochs × 6 layers");
    let epochs_with = |name: &str| -> Vec<u32> {
        let mut e: Vec<u32> = rows.keys().filter(|k| k.2 == name).map(|k| k.0).collect();
        e.dedup();
        e
    };
    assert_eq!(epochs_with("binning"), [1, 2, 3, 11]);
    assert_eq!(epochs_with("binning+pool3"), [2, 3, 11]);
    assert!(text.contains("\n0,2,1,binning,") && text.contains("\n1,11,6,binning+pool3,"));
    let summary = std::fs::read_to_string(d.join("summary.csv")).unwrap();
    assert!(summary.contains("\n11,6,binning+pool3,2,"), "{summary}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// A delta-skip run that diverges keeps the same rows for any thread count: those measured
/// before the failure, gaps left unfilled included.
#[test]
fn a_failed_delta_run_keeps_the_same_rows_for_any_thread_count() {
    let mut seen: Option<Vec<u8>> = None;
    for threads in ["1", "3"] {
        let d = tmp(&format!("fail{threads}"));
        let out = Command::new(env!("CARGO_BIN_EXE_infoplane"))
            .args(["run", "--preset", "tishby", "--epochs", "3000"])
            .args(["--schedule", "delta-exact:0.2", "--activation", "linear"])
            .args(["--optimizer", "sgd", "--lr", "0.1", "--momentum", "0.9"])
            .args(["--threads", threads, "--quiet", "--no-plots", "--out"])
            .arg(&d)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let plane = std::fs::read(d.join("plane.csv")).unwrap();
        let (values, _) = plane_rows(&plane);
        assert!(
            values.len() > 5 && *values.last().unwrap() < 100,
            "{values:?}"
        );
        match &seen {
            None => seen = Some(plane),
            Some(first) => assert!(first == &plane, "--threads {threads} kept other rows"),
        }
        std::fs::remove_dir_all(&d).unwrap();
    }
}

/// The measured epochs of a `plane.csv`.
fn plane_rows(bytes: &[u8]) -> (Vec<u32>, usize) {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let mut epochs: Vec<u32> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    let rows = epochs.len();
    epochs.dedup();
    (epochs, rows)
}
