//! Studies through the real binary: `--repeats` gives each seed the bytes it gives alone on
//! any thread count, shards summarised equal the unsharded summary byte for byte, the
//! summary's statistics are those of the rows, `summarize` refuses runs that do not belong
//! together, a run directory is never overwritten without `--force`, and a dead layer is
//! reported.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::float_cmp
)] // test code

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

fn tmp(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "infoplane-study-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn ip(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_infoplane"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> Output {
    let out = ip(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn err(args: &[&str]) -> String {
    let out = ip(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A short tishby run (2 measured epochs) into `out` with extra options.
fn short(out: &Path, extra: &[&str]) {
    let mut a = vec![
        "run",
        "--epochs",
        "30",
        "--schedule",
        "list:0,29",
        "--quiet",
        "--no-plots",
        "--out",
        out.to_str().unwrap(),
    ];
    a.extend_from_slice(extra);
    ok(&a);
}

#[test]
fn repeats_give_each_seed_its_own_bytes_on_any_thread_count() {
    let singles: Vec<PathBuf> = (4..7)
        .map(|s| {
            let d = tmp(&format!("single{s}"));
            short(&d, &["--seed", &s.to_string(), "--threads", "1"]);
            d
        })
        .collect();
    let mut want_plane = String::from("run,epoch,layer,estimator,i_xt_bits,i_ty_bits\n");
    let mut want_metrics = String::from("run,epoch,train_loss,train_acc,test_loss,test_acc\n");
    for d in &singles {
        want_plane.extend(
            read(&d.join("plane.csv"))
                .lines()
                .skip(1)
                .map(|l| format!("{l}\n")),
        );
        want_metrics.extend(
            read(&d.join("metrics.csv"))
                .lines()
                .skip(1)
                .map(|l| format!("{l}\n")),
        );
    }
    // The run column holds the seed.
    assert!(
        read(&singles[1].join("plane.csv"))
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("5,0,1,")
    );
    for threads in ["1", "2", "3", "5"] {
        let d = tmp(&format!("batch{threads}"));
        short(&d, &["--seed", "4", "--repeats", "3", "--threads", threads]);
        assert_eq!(read(&d.join("plane.csv")), want_plane, "{threads} threads");
        assert_eq!(
            read(&d.join("metrics.csv")),
            want_metrics,
            "{threads} threads"
        );
        let m: serde_json::Value = serde_json::from_str(&read(&d.join("manifest.json"))).unwrap();
        assert_eq!(m["seeds"], serde_json::json!([4, 5, 6]));
        assert_eq!(m["measured_epochs"], 6);
    }
}

/// Parses `summary.csv` into rows of fields.
fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

#[test]
fn summary_statistics_are_those_of_the_rows() {
    let d = tmp("stats");
    short(&d, &["--seed", "10", "--repeats", "4"]);
    let plane = read(&d.join("plane.csv"));
    let summary = read(&d.join("summary.csv"));
    assert!(summary.starts_with(
        "epoch,layer,estimator,runs,i_xt_mean,i_xt_sd,i_xt_se,i_xt_min,i_xt_max,i_ty_mean,"
    ));
    let s = rows(&summary);
    assert_eq!(s.len(), 2 * 6, "2 epochs × 6 layers × 1 estimator");
    for r in &s {
        let (epoch, layer) = (&r[0], &r[1]);
        // The four seeds' values of this cell, in seed order, straight from plane.csv.
        let vals: Vec<(f64, f64)> = plane
            .lines()
            .skip(1)
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| f[1] == epoch && f[2] == layer)
            .map(|f| (f[4].parse().unwrap(), f[5].parse().unwrap()))
            .collect();
        assert_eq!(vals.len(), 4);
        assert_eq!(r[3], "4");
        for (k, col) in [(0usize, 4usize), (1, 9)] {
            let v: Vec<f64> = vals
                .iter()
                .map(|p| if k == 0 { p.0 } else { p.1 })
                .collect();
            let mean = v.iter().sum::<f64>() / 4.0;
            let sd = infoplane_core::math::sqrt_f64(
                v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / 3.0,
            );
            let got: Vec<f64> = r[col..col + 5].iter().map(|x| x.parse().unwrap()).collect();
            assert_eq!(got[0], mean, "{r:?}");
            assert!((got[1] - sd).abs() <= 1e-15 * sd.max(1.0), "{r:?}");
            assert!((got[2] - sd / 2.0).abs() <= 1e-15 * sd.max(1.0), "{r:?}");
            assert_eq!(got[3], v.iter().copied().fold(f64::INFINITY, f64::min));
            assert_eq!(got[4], v.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        }
    }
    // One row per epoch in the metrics summary, every metric over 4 runs.
    let ms = rows(&read(&d.join("metrics-summary.csv")));
    assert_eq!(ms.len(), 2);
    for (k, name) in [
        (1, "train_loss"),
        (7, "train_acc"),
        (13, "test_loss"),
        (19, "test_acc"),
    ] {
        assert_eq!(ms[0][k], "4", "{name}");
    }
}

#[test]
fn shards_summarised_equal_the_unsharded_summary() {
    let whole = tmp("whole");
    short(&whole, &["--repeats", "5", "--seed", "1", "--threads", "2"]);
    let parts: Vec<PathBuf> = ["1/3", "2/3", "3/3"]
        .iter()
        .map(|k| {
            let d = tmp(&format!("shard{}", &k[..1]));
            short(
                &d,
                &[
                    "--repeats",
                    "5",
                    "--seed",
                    "1",
                    "--shard",
                    k,
                    "--threads",
                    "1",
                ],
            );
            d
        })
        .collect();
    let m: serde_json::Value =
        serde_json::from_str(&read(&parts[1].join("manifest.json"))).unwrap();
    assert_eq!(
        m["seeds"],
        serde_json::json!([2, 5]),
        "shard 2/3 takes indices 1 and 4"
    );
    let merged = tmp("merged");
    let mut a = vec!["summarize", "--out", merged.to_str().unwrap()];
    // Shards in any order.
    for p in parts.iter().rev() {
        a.push(p.to_str().unwrap());
    }
    ok(&a);
    for f in ["summary.csv", "metrics-summary.csv", "layers-summary.csv"] {
        assert_eq!(read(&merged.join(f)), read(&whole.join(f)), "{f}");
    }
    // `plot` draws the merged figures; a stale figure in its output is removed.
    std::fs::write(merged.join("plane-old.svg"), "<svg/>").unwrap();
    ok(&[
        "plot",
        "--out",
        merged.to_str().unwrap(),
        parts[0].to_str().unwrap(),
        parts[1].to_str().unwrap(),
        parts[2].to_str().unwrap(),
    ]);
    assert!(!merged.join("plane-old.svg").exists());
    let plane = read(&merged.join("plane.svg"));
    assert!(
        plane.contains("mean of 5 runs"),
        "the title counts every shard's runs"
    );
    assert!(read(&merged.join("training.svg")).contains("seeds: 1–5 (5 runs)"));
    // Re-summarising a run in place gives the bytes `run` wrote.
    let before = read(&whole.join("summary.csv"));
    ok(&["summarize", whole.to_str().unwrap()]);
    assert_eq!(read(&whole.join("summary.csv")), before);
}

#[test]
fn summarize_refuses_runs_that_do_not_belong_together() {
    let a = tmp("a");
    short(&a, &["--seed", "1"]);
    let b = tmp("b");
    short(&b, &["--seed", "2", "--lr", "0.001"]);
    let out = tmp("out");
    let (sa, sb, so) = (
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    let e = err(&["summarize", sa, sb, "--out", so]);
    assert!(
        e.contains("different settings") && e.contains("optimizer"),
        "{e}"
    );
    let c = tmp("c");
    short(&c, &["--seed", "0", "--repeats", "2"]);
    let e = err(&["summarize", sa, c.to_str().unwrap(), "--out", so]);
    assert!(e.contains("seed 1 is in both"), "{e}");
    let e = err(&["summarize", sa, c.to_str().unwrap()]);
    assert!(e.contains("--out"), "{e}");
    // A changed plane.csv no longer matches its manifest.
    let plane = a.join("plane.csv");
    let text = read(&plane).replacen(",0,1,", ",0,1,x", 1);
    std::fs::write(&plane, text).unwrap();
    let e = err(&["summarize", sa]);
    assert!(e.contains("plane.csv") && e.contains("checksum"), "{e}");
}

#[test]
fn a_run_is_never_overwritten_without_force_and_force_leaves_no_stale_files() {
    let d = tmp("force");
    let s = d.to_str().unwrap();
    let two = ["--estimator", "binning", "--estimator", "binning-size"];
    ok(&[
        "run",
        "--epochs",
        "5",
        "--schedule",
        "every:5",
        "--quiet",
        "--out",
        s,
        two[0],
        two[1],
        two[2],
        two[3],
    ]);
    assert!(d.join("plane-binning-size.svg").exists());
    std::fs::write(d.join("notes.txt"), "mine").unwrap();
    let before = read(&d.join("plane.csv"));
    let e = err(&[
        "run",
        "--epochs",
        "5",
        "--schedule",
        "every:5",
        "--quiet",
        "--out",
        s,
    ]);
    assert!(
        e.contains("already holds a run") && e.contains("--force"),
        "{e}"
    );
    assert_eq!(
        read(&d.join("plane.csv")),
        before,
        "a refused run touches nothing"
    );
    ok(&[
        "run",
        "--epochs",
        "5",
        "--schedule",
        "every:5",
        "--quiet",
        "--force",
        "--out",
        s,
    ]);
    assert!(
        !d.join("plane-binning-size.svg").exists(),
        "stale figure removed"
    );
    assert!(d.join("plane.svg").exists());
    assert_eq!(read(&d.join("notes.txt")), "mine", "other files stay");
    assert!(!read(&d.join("plane.csv")).contains("binning-size"));
}

#[test]
fn the_default_out_names_the_preset_and_settings() {
    let cwd = tmp("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let run = |extra: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_infoplane"));
        c.current_dir(&cwd)
            .args([
                "run",
                "--epochs",
                "2",
                "--schedule",
                "every:1",
                "--quiet",
                "--no-plots",
            ])
            .args(extra);
        c.output().unwrap()
    };
    assert!(
        run(&["--activation", "relu", "--seed", "3"])
            .status
            .success()
    );
    assert!(
        run(&[
            "--activation",
            "relu",
            "--seed",
            "3",
            "--repeats",
            "2",
            "--shard",
            "2/2"
        ])
        .status
        .success()
    );
    let mut names: Vec<String> = std::fs::read_dir(cwd.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names[0].starts_with("tishby-relu-seed3-"), "{names:?}");
    assert!(
        names[1].starts_with("tishby-relu-seed4-2runs-shard2of2-"),
        "{names:?}"
    );
    // The same settings again: refused, not overwritten.
    let again = run(&["--activation", "relu", "--seed", "3"]);
    assert_eq!(again.status.code(), Some(2));
}

#[test]
fn a_dead_hidden_layer_is_reported() {
    // Saxe's net with ReLU, seed 0: layer 5's three units are 0 on every input from the start.
    let d = tmp("dead");
    let out = ok(&[
        "run",
        "--preset",
        "saxe",
        "--activation",
        "relu",
        "--seed",
        "0",
        "--epochs",
        "2",
        "--schedule",
        "every:1",
        "--estimator",
        "binning-size",
        "--no-plots",
        "--quiet",
        "--out",
        d.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: seed 0: hidden layer 5 is dead") && stderr.contains("2 of 2"),
        "{stderr}"
    );
    let layers = read(&d.join("layers.csv"));
    assert!(layers.starts_with("run,epoch,layer,width,weight_norm,dead_units,grad_snr\n"));
    // Layer 5: 3 units, all 3 dead. Nothing below it learns (its ReLUs pass no gradient),
    // so layer 1's mini-batch gradients are all 0 and their SNR is undefined (empty).
    let row = |text: &str, start: &str| -> Vec<String> {
        let line = text.lines().find(|l| l.starts_with(start)).unwrap();
        line.split(',').map(str::to_owned).collect()
    };
    let l5 = row(&layers, "0,0,5,");
    assert_eq!((l5[3].as_str(), l5[5].as_str()), ("3", "3"), "{layers}");
    assert_eq!(row(&layers, "0,0,1,")[6], "", "{layers}");
    let m: serde_json::Value = serde_json::from_str(&read(&d.join("manifest.json"))).unwrap();
    assert!(
        m["warnings"][0]
            .as_str()
            .unwrap()
            .contains("hidden layer 5 is dead")
    );
    // Tanh on the same seed: no layer is dead, no warning.
    let d2 = tmp("alive");
    let out = ok(&[
        "run",
        "--preset",
        "saxe",
        "--seed",
        "0",
        "--epochs",
        "2",
        "--schedule",
        "every:1",
        "--estimator",
        "binning-size",
        "--no-plots",
        "--quiet",
        "--out",
        d2.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("is dead"), "{stderr}");
    // Layer-epochs whose I(X;T) is at log2 4096 = 12 bits are counted in one warning.
    let plane = read(&d2.join("plane.csv"));
    let rows: Vec<Vec<&str>> = plane
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let at: Vec<&Vec<&str>> = rows
        .iter()
        .filter(|r| r[4].parse::<f64>().unwrap() >= 12.0 - 1e-3)
        .collect();
    assert!(!at.is_empty(), "{plane}");
    let mut layers: Vec<u32> = at.iter().map(|r| r[2].parse().unwrap()).collect();
    layers.sort_unstable();
    layers.dedup();
    let layers: Vec<String> = layers.iter().map(ToString::to_string).collect();
    assert!(
        stderr.contains(&format!(
            "warning: binning-size: I(X;T) is at its ceiling log2 N = 12.0000 bits at {} of {} layer-epochs (layers {})",
            at.len(),
            rows.len(),
            layers.join(", ")
        )),
        "{stderr}"
    );
    // Captured after the update: epoch 0 has the SNR of its own 13 mini-batches.
    let alive = read(&d2.join("layers.csv"));
    let snr: f64 = row(&alive, "0,0,1,")[6].parse().unwrap();
    assert!(snr > 0.0 && snr.is_finite(), "{alive}");
}
