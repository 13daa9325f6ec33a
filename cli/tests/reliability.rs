//! Failing runs through the real binary: divergence stops the run with an error naming the
//! epoch for every activation, and the rows kept before it are the same for any thread
//! count; options that size memory or time beyond what can work are refused by name.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

fn tmp(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "infoplane-rel-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Runs `run ARGS --out DIR`; returns (exit code, stderr, plane.csv or "").
fn run(args: &[&str], dir: &Path) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_infoplane"))
        .arg("run")
        .args(args)
        .args(["--quiet", "--no-plots", "--out", dir.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    let plane = std::fs::read_to_string(dir.join("plane.csv")).unwrap_or_default();
    (out.status.code(), stderr, plane)
}

#[test]
fn divergence_stops_every_activation_with_the_same_rows_for_any_thread_count() {
    for act in [
        "tanh",
        "relu",
        "sigmoid",
        "softsign",
        "linear",
        "leaky-relu",
        "softplus",
    ] {
        let mut seen: Option<String> = None;
        for threads in ["1", "3"] {
            let d = tmp(&format!("{act}{threads}"));
            let args = [
                "--activation",
                act,
                "--lr",
                "1e30",
                "--epochs",
                "6",
                "--schedule",
                "every:1",
                "--threads",
                threads,
            ];
            let (code, stderr, plane) = run(&args, &d);
            assert_eq!(code, Some(2), "{act}: {stderr}");
            assert!(
                stderr.starts_with("error: seed 0: ")
                    && (stderr.contains("diverged") || stderr.contains("overflowed"))
                    && stderr.contains(" epoch "),
                "{act}: {stderr}"
            );
            match &seen {
                None => seen = Some(plane),
                Some(p) => assert_eq!(*p, plane, "{act}: rows kept differ with {threads} threads"),
            }
        }
    }
}

#[test]
fn a_run_diverging_late_keeps_every_row_before_it_on_any_thread_count() {
    // Linear SGD with momentum: weights overflow while training epoch 34.
    let mut seen: Option<String> = None;
    for threads in ["1", "2", "8"] {
        let d = tmp(&format!("late{threads}"));
        let args = [
            "--epochs",
            "3000",
            "--schedule",
            "every:1",
            "--activation",
            "linear",
            "--optimizer",
            "sgd",
            "--lr",
            "0.1",
            "--momentum",
            "0.9",
            "--threads",
            threads,
        ];
        let (code, stderr, plane) = run(&args, &d);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains("training epoch 34"), "{stderr}");
        // Epochs 0 to 34 were captured before the update that overflowed.
        assert_eq!(plane.lines().count(), 1 + 35 * 6, "{threads} threads");
        assert!(plane.lines().last().unwrap().starts_with("0,34,6,"));
        match &seen {
            None => seen = Some(plane),
            Some(p) => assert_eq!(*p, plane, "{threads} threads"),
        }
    }
}

#[test]
fn options_that_cannot_work_are_refused_by_name() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["--threads", "100000"],
            "--threads: 100000 is more than 1024",
        ),
        (
            &["--bins", "4000000000"],
            "--bins: \"4000000000\" is not accepted: expected an integer from 2 to 1048576",
        ),
        (
            &["--schedule", "log:4294967295"],
            "--schedule: \"log:4294967295\" is not accepted",
        ),
        (&["--repeats", "0"], "--repeats: 0 runs nothing"),
        (&["--shard", "3/2"], "--shard: \"3/2\" is not k/N"),
    ];
    for (args, want) in cases {
        let d = tmp("bad");
        let (code, stderr, _) = run(args, &d);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with(&format!("error: {want}")),
            "{args:?}: {stderr}"
        );
        assert!(!d.exists(), "{args:?}: nothing written");
    }
}

#[test]
fn when_one_seed_fails_the_seeds_before_it_finish_and_none_after_it_is_written() {
    // SGD with momentum at lr 0.085 on the linear net: seeds 0 and 1 train (400 epochs and
    // more), seed 2 overflows while training epoch 31, seed 3 at epoch 19.
    let mut seen: Option<String> = None;
    for threads in ["1", "2", "4"] {
        let d = tmp(&format!("seeds{threads}"));
        let args = [
            "--epochs",
            "100",
            "--schedule",
            "every:10",
            "--activation",
            "linear",
            "--optimizer",
            "sgd",
            "--lr",
            "0.085",
            "--momentum",
            "0.9",
            "--repeats",
            "4",
            "--threads",
            threads,
        ];
        let (code, stderr, plane) = run(&args, &d);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(
            stderr.starts_with("error: seed 2: training epoch 31"),
            "{stderr}"
        );
        let runs: Vec<usize> = (0..4)
            .map(|s| {
                plane
                    .lines()
                    .filter(|l| l.starts_with(&format!("{s},")))
                    .count()
            })
            .collect();
        // 10 measured epochs × 6 layers for seeds 0 and 1; epochs 0, 10, 20, 30 of seed 2.
        assert_eq!(runs, [60, 60, 24, 0], "{threads} threads");
        match &seen {
            None => seen = Some(plane),
            Some(p) => assert_eq!(*p, plane, "{threads} threads"),
        }
    }
}
