//! Runs the real `infoplane` binary: help, one happy path per subcommand, determinism across
//! runs and thread counts, a golden short run, and clean errors for bad input (R22).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_infoplane"))
}

fn tmp(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "infoplane-cli-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run_ok(args: &[&str]) -> Output {
    let out = bin().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs and expects the clean failure: exit code 2, `error:` on stderr, and no panic.
fn run_err(args: &[&str]) -> String {
    let out = bin().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.starts_with("error"), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    stderr
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn help_lists_the_subcommands() {
    let out = run_ok(&["--help"]);
    let s = String::from_utf8(out.stdout).unwrap();
    for cmd in ["run", "estimate", "dataset"] {
        assert!(s.contains(cmd), "{s}");
    }
    let s = String::from_utf8(run_ok(&["run", "--help"]).stdout).unwrap();
    assert!(s.contains("--estimator") && s.contains("--capture") && s.contains("--schedule"));
}

#[test]
fn dataset_export_reproduces_tishby_labels() {
    let d = tmp("dataset");
    let f = d.join("tishby.csv");
    run_ok(&["dataset", "tishby", "-o", f.to_str().unwrap()]);
    let text = std::fs::read_to_string(&f).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "x0,x1,x2,x3,x4,x5,x6,x7,x8,x9,x10,x11,y"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 4096);
    assert_eq!(rows[5], "0,0,0,0,0,0,0,0,0,1,0,1,0");
    let labels: String = rows.iter().map(|r| r.rsplit(',').next().unwrap()).collect();
    let hex: String = Sha256::digest(labels.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        hex,
        "8adbd792d6400d00410815b5a1f01b05b59f15fd41ace0db85c7772aa5cf4566"
    );
}

fn short_run(dir: &Path, threads: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec![
        "run",
        "--preset",
        "tishby",
        "--epochs",
        "60",
        "--schedule",
        "every:20",
        "--threads",
        threads,
        "--quiet",
        "--out",
    ];
    args.push(dir.to_str().unwrap());
    args.extend_from_slice(extra);
    run_ok(&args);
    (
        std::fs::read_to_string(dir.join("plane.csv")).unwrap(),
        std::fs::read_to_string(dir.join("metrics.csv")).unwrap(),
    )
}

#[test]
fn run_is_byte_identical_across_runs_and_thread_counts() {
    let (p1, m1) = short_run(&tmp("t1"), "1", &[]);
    let (p2, m2) = short_run(&tmp("t2"), "2", &[]);
    let (p3, m3) = short_run(&tmp("t3"), "3", &[]);
    assert_eq!(p1, p2);
    assert_eq!(p1, p3);
    assert_eq!(m1, m2);
    assert_eq!(m1, m3);
    // The saxe preset reshuffles batches and splits at random: still deterministic.
    let (s1, _) = short_run(
        &tmp("s1"),
        "1",
        &[
            "--preset",
            "saxe",
            "--estimator",
            "binning-size",
            "--estimator",
            "binning-range",
        ],
    );
    let (s2, _) = short_run(
        &tmp("s2"),
        "2",
        &[
            "--preset",
            "saxe",
            "--estimator",
            "binning-size",
            "--estimator",
            "binning-range",
        ],
    );
    assert_eq!(s1, s2);
    assert_eq!(s1.lines().count(), 1 + 3 * 6 * 2);
    // A different seed changes the numbers.
    let (p4, _) = short_run(&tmp("t4"), "1", &["--seed", "1"]);
    assert_ne!(p1, p4);
}

#[test]
fn run_writes_plane_metrics_manifest_and_plot() {
    let d = tmp("outputs");
    let (plane, metrics) = short_run(
        &d,
        "2",
        &["--estimator", "binning", "--estimator", "binning-size"],
    );
    let rows: Vec<&str> = plane.lines().collect();
    assert_eq!(rows[0], "run,epoch,layer,estimator,i_xt_bits,i_ty_bits");
    assert_eq!(rows.len(), 1 + 3 * 6 * 2);
    assert!(rows[1].starts_with("0,0,1,binning,"));
    assert!(rows[2].starts_with("0,0,1,binning-size,"));
    assert!(rows.last().unwrap().starts_with("0,40,6,binning-size,"));
    for r in &rows[1..] {
        let f: Vec<&str> = r.split(',').collect();
        let (ix, iy): (f64, f64) = (f[4].parse().unwrap(), f[5].parse().unwrap());
        assert!(
            (0.0..=12.0).contains(&ix) && (0.0..=1.0).contains(&iy),
            "{r}"
        );
        assert!(iy <= ix + 1e-12, "I(T;Y) ≤ I(X;T) = H(T) here: {r}");
    }
    // Layer 1 of 10 tanh units keeps almost all of the 12 bits at initialisation.
    let first: f64 = rows[1].split(',').nth(4).unwrap().parse().unwrap();
    assert!(first > 11.0, "{first}");
    let m: Vec<&str> = metrics.lines().collect();
    assert_eq!(m[0], "run,epoch,train_loss,train_acc,test_loss,test_acc");
    assert_eq!(m.len(), 4);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("manifest.json")).unwrap()).unwrap();
    let hex: String = Sha256::digest(plane.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(manifest["plane_csv_sha256"], hex.as_str());
    assert_eq!(
        manifest["widths"],
        serde_json::json!([12, 10, 7, 5, 4, 3, 2])
    );
    assert_eq!(manifest["hidden"], serde_json::json!([10, 7, 5, 4, 3]));
    assert_eq!(manifest["preset"], "tishby");
    assert_eq!(manifest["dataset"], "tishby-12bit");
    assert_eq!(manifest["capture"], "before");
    assert_eq!(manifest["schedule"], "every:20");
    assert_eq!(manifest["epochs"], 60);
    assert_eq!(manifest["batch"], 512);
    assert_eq!(manifest["measured_epochs"], 3);
    assert_eq!(manifest["optimizer"]["name"], "adam");
    assert_eq!(manifest["optimizer"]["lr"], 0.0004);
    // Each estimator with exactly the settings it reads, from the preset.
    assert_eq!(
        manifest["estimators"],
        serde_json::json!([
            {"estimator": "binning", "bins": 30, "range": [-1.0, 1.0], "idnns_compat": true, "miller_madow": false},
            {"estimator": "binning-size", "bin_size": 0.07, "miller_madow": false}
        ])
    );
    let svg = std::fs::read_to_string(d.join("plane.svg")).unwrap();
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"));
    assert!(d.join("plane-binning-size.svg").exists());
}

#[test]
fn golden_short_run() {
    // R20: a reviewed copy of a short run's plane.csv; INFOPLANE_BLESS=1 rewrites it and fails.
    let golden = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/golden/run_tishby_e60_every20.csv");
    let (plane, _) = short_run(&tmp("golden"), "1", &[]);
    if std::env::var_os("INFOPLANE_BLESS").is_some() {
        std::fs::write(&golden, &plane).unwrap();
        panic!(
            "blessed {}; review the diff and rerun without INFOPLANE_BLESS",
            golden.display()
        );
    }
    let want =
        std::fs::read_to_string(&golden).expect("golden file (create with INFOPLANE_BLESS=1)");
    assert_eq!(plane, want);
}

#[test]
fn estimate_prints_one_row_per_estimator() {
    let d = tmp("estimate");
    // Four samples in two bins, each bin one class, all inputs distinct: 1 bit each.
    let a = write(&d, "a.csv", "u1,u2\n-0.5,0.1\n-0.5,0.1\n0.5,0.1\n0.5,0.1\n");
    let y = write(&d, "y.csv", "y\n0\n0\n1\n1\n");
    let out = run_ok(&[
        "estimate",
        "--activations",
        &a,
        "--labels",
        &y,
        "--estimator",
        "binning",
        "--estimator",
        "binning-size",
        "--bin-size",
        "0.5",
    ]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "estimator,i_xt_bits,i_ty_bits\nbinning,1,1\nbinning-size,1,1\n"
    );
    // Inputs that repeat: rows 0 and 1 are the same x, so H(T|X) = 0 still and I(X;T) = H(T).
    let x = write(&d, "x.csv", "1,0\n1,0\n0,1\n0,0\n");
    let out = run_ok(&[
        "estimate",
        "--activations",
        &a,
        "--labels",
        &y,
        "--inputs",
        &x,
        "--estimator",
        "binning",
        "--bits",
    ]);
    let s = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        s,
        format!(
            "estimator,i_xt_bits,i_ty_bits,i_xt_hex,i_ty_hex\nbinning,1,1,{:016x},{:016x}\n",
            1f64.to_bits(),
            1f64.to_bits()
        )
    );
    // A named label column in a wider file.
    let yy = write(&d, "yy.csv", "id,label\n7,0\n8,0\n9,1\n10,1\n");
    let out = run_ok(&[
        "estimate",
        "--activations",
        &a,
        "--labels",
        &yy,
        "--label-column",
        "label",
        "--estimator",
        "binning-range",
        "--bins",
        "3",
    ]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "estimator,i_xt_bits,i_ty_bits\nbinning-range,1,1\n"
    );
}

#[test]
fn bad_input_gets_a_clear_error_and_exit_code_2() {
    let d = tmp("errors");
    let a = write(&d, "a.csv", "0.1,0.2\n0.3,0.4\n0.5,0.6\n");
    let y = write(&d, "y.csv", "0\n1\n0\n");
    let est = |act: &str, lab: &str, extra: &[&str]| {
        let mut v = vec![
            "estimate",
            "--activations",
            act,
            "--labels",
            lab,
            "--estimator",
            "binning",
        ];
        v.extend_from_slice(extra);
        run_err(&v)
    };
    let ragged = write(&d, "ragged.csv", "0.1,0.2\n0.3\n0.5,0.6\n");
    assert!(est(&ragged, &y, &[]).contains("ragged.csv: line 2: ragged row"));
    let text = write(&d, "text.csv", "0.1,0.2\n0.3,abc\n0.5,0.6\n");
    assert!(est(&text, &y, &[]).contains("text.csv: line 2, column 2: \"abc\" is not a number"));
    let nan = write(&d, "nan.csv", "0.1,0.2\n0.3,0.4\ninf,0.6\n");
    assert!(est(&nan, &y, &[]).contains("nan.csv: line 3, column 1: \"inf\" is not finite"));
    let empty = write(&d, "empty.csv", "");
    assert!(est(&empty, &y, &[]).contains("empty.csv: no data rows"));
    let short = write(&d, "short.csv", "0\n1\n");
    assert!(est(&a, &short, &[]).contains("2 labels for 3 rows"));
    let neg = write(&d, "neg.csv", "0\n-1\n0\n");
    assert!(est(&a, &neg, &[]).contains("neg.csv: line 2, column 1: label \"-1\" is negative"));
    let frac = write(&d, "frac.csv", "0\n0.5\n0\n");
    assert!(est(&a, &frac, &[]).contains("not a non-negative integer"));
    let named = write(&d, "named.csv", "a,b\n0,1\n1,1\n0,0\n");
    assert!(est(&a, &named, &["--label-column", "c"]).contains("--label-column: no column \"c\""));
    assert!(est("/nonexistent/a.csv", &y, &[]).contains("/nonexistent/a.csv"));
    assert!(est(&a, &y, &["--range=1,-1"]).contains("--range"));
    assert!(est(&a, &y, &["--bins", "0"]).contains("--bins"));
    let out = d.join("r");
    let o = out.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut v = vec!["run", "--out", o, "--quiet"];
        v.extend_from_slice(extra);
        run_err(&v)
    };
    assert!(run(&["--layers", "10,x,5"]).contains("--layers"));
    assert!(run(&["--layers", "10,0"]).contains("--layers"));
    assert!(run(&["--schedule", "sometimes"]).contains("--schedule"));
    assert!(run(&["--schedule", "every:0"]).contains("--schedule"));
    assert!(run(&["--schedule", "list:5,3"]).contains("--schedule"));
    assert!(run(&["--epochs", "0"]).contains("--epochs"));
    assert!(run(&["--bins", "1"]).contains("--bins"));
    assert!(run(&["--range=0,0"]).contains("--range"));
    assert!(run(&["--train-frac", "1.5"]).contains("--train-frac"));
    assert!(run(&["--lr=-1"]).contains("--lr"));
    assert!(run(&["--activation", "swish"]).contains("--activation"));
    assert!(run(&["--batch", "0"]).contains("--batch"));
    assert!(run(&["--momentum", "0.9"]).contains("--momentum: applies to --optimizer sgd"));
    assert!(run(&["--optimizer", "sgd", "--momentum", "1"]).contains("--momentum"));
    // 17 hidden layers: named as --layers, with what is accepted.
    let many = vec!["3"; 17].join(",");
    let e = run(&["--layers", &many]);
    assert!(
        e.contains("--layers") && e.contains("1 to 15 hidden widths"),
        "{e}"
    );
    assert!(run(&["--layers", "100000,100000"]).contains("--layers"));
    assert!(run(&["--estimator", "magic"]).contains("magic"));
    // A bad estimator setting fails before anything is written: the KDE noise variance whose
    // 1/(2σ²) overflows f32 used to pass every check and fail at epoch 0.
    let e = run(&["--estimator", "kde-upper", "--noise-var", "1e-39"]);
    assert!(e.contains("--noise-var: \"1e-39\" is not accepted"), "{e}");
    assert!(!out.exists(), "nothing may be written for bad settings");
}

#[test]
fn kde_estimates_are_bounds_and_thread_independent() {
    let d = tmp("kde");
    // 64 samples in two well-separated 2-D clusters, one class each, every point distinct.
    let mut a = String::from("u,v\n");
    let mut y = String::from("y\n");
    for i in 0..64u32 {
        let (c, k) = if i < 32 { (-0.5, 0) } else { (0.5, 1) };
        let off = f64::from(i % 32) * 0.01;
        a.push_str(&format!("{},{}\n", c + off, c - off));
        y.push_str(&format!("{k}\n"));
    }
    let a = write(&d, "a.csv", &a);
    let y = write(&d, "y.csv", &y);
    let est = |threads: &str, var: &str| {
        let out = run_ok(&[
            "estimate",
            "--activations",
            &a,
            "--labels",
            &y,
            "--estimator",
            "kde-upper",
            "--estimator",
            "kde-lower",
            "--noise-var",
            var,
            "--threads",
            threads,
            "--bits",
        ]);
        String::from_utf8(out.stdout).unwrap()
    };
    let one = est("1", "1e-6");
    assert_eq!(one, est("2", "1e-6"));
    assert_eq!(one, est("3", "1e-6"));
    let rows = bits_columns(&one);
    // Tiny noise: every point is its own Gaussian, so I(X;T) → log2 64 = 6 bits and
    // I(T;Y) → H(Y) = 1 bit, for both bounds.
    for r in &rows {
        assert!((r[0] - 6.0).abs() < 1e-6, "{one}");
        assert!((r[1] - 1.0).abs() < 1e-6, "{one}");
    }
    // Moderate noise: the lower bound is below the upper bound, and the clusters stay apart.
    let mid = est("2", "1e-3");
    let v = bits_columns(&mid);
    assert!(v[1][0] < v[0][0] && v[0][0] < 6.0, "{mid}");
    assert!((v[0][1] - 1.0).abs() < 1e-3, "{mid}");
    assert!(
        run_err(&[
            "estimate",
            "--activations",
            &a,
            "--labels",
            &y,
            "--estimator",
            "kde-upper",
            "--noise-var=-1"
        ])
        .contains("--noise-var")
    );
}

#[test]
fn every_estimator_honours_repeated_inputs() {
    let d = tmp("inputs");
    // 64 distinct activations of one input: nothing about X, for every estimator.
    let mut a = String::new();
    let mut y = String::new();
    let mut x = String::new();
    for i in 0..64u32 {
        let v = -0.9 + f64::from(i) * 0.028;
        a.push_str(&format!("{v},{}\n", -v));
        y.push_str(&format!("{}\n", i % 2));
        x.push_str("1,0,1\n");
    }
    let a = write(&d, "a.csv", &a);
    let y = write(&d, "y.csv", &y);
    let x = write(&d, "x.csv", &x);
    let mut args = vec![
        "estimate",
        "--activations",
        &a,
        "--labels",
        &y,
        "--inputs",
        &x,
    ];
    for e in [
        "binning",
        "binning-size",
        "binning-range",
        "kde-upper",
        "kde-lower",
    ] {
        args.extend_from_slice(&["--estimator", e]);
    }
    let out = String::from_utf8(run_ok(&args).stdout).unwrap();
    let rows = bits_columns(&out);
    assert_eq!(rows.len(), 5, "{out}");
    for r in &rows {
        assert!(
            r[0].abs() <= 1e-12,
            "I(X;T) must be 0 for one repeated input: {out}"
        );
    }
    // Without --inputs every row is its own input: 6 bits for binning-size and KDE.
    let out = String::from_utf8(
        run_ok(&[
            "estimate",
            "--activations",
            &a,
            "--labels",
            &y,
            "--estimator",
            "kde-upper",
            "--estimator",
            "binning-size",
            "--bin-size",
            "0.01",
            "--noise-var",
            "1e-6",
        ])
        .stdout,
    )
    .unwrap();
    for r in bits_columns(&out) {
        assert!((r[0] - 6.0).abs() < 1e-6, "{out}");
    }
}

/// The (I(X;T), I(T;Y)) columns of `estimate` output, one pair per estimator row.
fn bits_columns(csv: &str) -> Vec<Vec<f64>> {
    csv.lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .skip(1)
                .take(2)
                .map(|v| v.parse().unwrap())
                .collect()
        })
        .collect()
}

#[test]
fn every_simd_level_gives_the_same_bytes_and_a_missing_one_is_an_error() {
    let (p0, m0) = short_run(&tmp("simd-auto"), "2", &[]);
    let mut ran = 0;
    for level in infoplane_core::Isa::ALL {
        if level.is_available() {
            let d = tmp(&format!("simd-{level}"));
            let (p, m) = short_run(&d, "2", &["--simd", level.name()]);
            assert_eq!(p, p0, "plane.csv at {level}");
            assert_eq!(m, m0, "metrics.csv at {level}");
            let manifest = std::fs::read_to_string(d.join("manifest.json")).unwrap();
            assert!(
                manifest.contains(&format!("\"simd\": \"{level}\"")),
                "{manifest}"
            );
            ran += 1;
        } else {
            let err = run_err(&["--simd", level.name(), "run", "--epochs", "1"]);
            assert!(
                err.contains("--simd") && err.contains("cannot run"),
                "{err}"
            );
        }
    }
    assert!(ran >= 1);
    let err = run_err(&["run", "--simd", "sse9", "--epochs", "1"]);
    assert!(err.contains("--simd"), "{err}");
    // The environment variable, named when it is the source.
    let out = bin()
        .args(["run", "--epochs", "1", "--quiet", "--out"])
        .arg(tmp("simd-env"))
        .env("INFOPLANE_SIMD", "sse9")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("INFOPLANE_SIMD") && stderr.contains("sse9"),
        "{stderr}"
    );
}

#[test]
fn large_tables_read_in_parts_give_the_same_rows_and_errors() {
    let d = tmp("large");
    // 6000 × 8 values of 17 digits (about 900 KB, so several parts with --threads 3), with a
    // header and blank lines; labels by the sign of the first unit.
    let mut a = String::from("u0,u1,u2,u3,u4,u5,u6,u7\n");
    let mut y = String::from("y\n");
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut lines = vec![String::from("u0,u1,u2,u3,u4,u5,u6,u7")];
    for i in 0..6000u32 {
        let row: Vec<f64> = (0..8)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
            })
            .collect();
        let line = row
            .iter()
            .map(|v| format!("{v:.17}"))
            .collect::<Vec<_>>()
            .join(",");
        a.push_str(&line);
        a.push('\n');
        if i % 1000 == 999 {
            a.push('\n');
        }
        lines.push(line);
        y.push_str(if row[0] < 0.0 { "0\n" } else { "1\n" });
    }
    assert!(a.len() > 600_000, "{}", a.len());
    let a_path = write(&d, "a.csv", &a);
    let y_path = write(&d, "y.csv", &y);
    let est = |path: &str, threads: &str| {
        run_ok(&[
            "estimate",
            "--activations",
            path,
            "--labels",
            &y_path,
            "--estimator",
            "binning-size",
            "--estimator",
            "binning",
            "--threads",
            threads,
            "--bits",
        ])
        .stdout
    };
    let one = est(&a_path, "1");
    assert_eq!(one, est(&a_path, "2"));
    assert_eq!(one, est(&a_path, "3"));
    // The label is the sign of unit 0, so every binning sees all of H(Y) = 1 bit (to the
    // class balance) in I(T;Y), and 6000 distinct rows at bin size 0.5 of 8 units.
    let v = bits_columns(&String::from_utf8(one).unwrap());
    assert!(v[0][1] > 0.99 && v[0][1] <= 1.0, "{v:?}");
    // A bad cell late in the file (in the last part) is named by its line, whatever the
    // thread count: line 1 is the header, data row i is on line 2 + i plus the blank lines
    // before it.
    let mut bad = a.clone();
    let needle = format!("{}\n", lines[5500]);
    let at = bad.find(&needle).unwrap();
    bad.replace_range(at..at + needle.len() - 1, "0.5,x,0,0,0,0,0,0");
    let bad_path = write(&d, "bad.csv", &bad);
    let line = 1 + 5500 + 5; // header, 5500 rows before it, 5 blank lines before it
    for threads in ["1", "2", "3"] {
        let err = run_err(&[
            "estimate",
            "--activations",
            &bad_path,
            "--labels",
            &y_path,
            "--estimator",
            "binning-size",
            "--threads",
            threads,
        ]);
        assert!(err.contains(&format!("line {line}")), "{threads}: {err}");
        assert!(err.contains("\"x\" is not a number"), "{threads}: {err}");
    }
}

#[test]
fn a_first_row_of_column_numbers_is_read_as_data_with_a_warning() {
    let d = tmp("numbered");
    let a = write(&d, "a.csv", "0,1,2\n0.1,0.2,0.3\n0.4,0.5,0.6\n");
    let y = write(&d, "y.csv", "0\n1\n0\n");
    let out = run_ok(&[
        "estimate",
        "--activations",
        &a,
        "--labels",
        &y,
        "--estimator",
        "binning-size",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.lines().next().unwrap(),
        format!(
            "warning: {a}: line 1 is 0, 1, …, 2 and is read as data; if it is a header of column numbers (pandas writes one for unnamed columns), remove it"
        )
    );
    // Three distinct rows in three bin patterns: the estimate is also at its ceiling.
    assert!(
        stderr
            .lines()
            .nth(1)
            .unwrap()
            .contains("at its ceiling H(X) = 1.5850 bits"),
        "{stderr}"
    );
    // Three rows were estimated: the numbered row is data.
    let text = String::from_utf8(out.stdout).unwrap();
    let row: Vec<&str> = text.lines().nth(1).unwrap().split(',').collect();
    let i_xt: f64 = row[1].parse().unwrap();
    assert!(
        (i_xt - infoplane_core::math::log2_f64(3.0)).abs() < 1e-12,
        "{text}"
    );
    // Another first row: no warning.
    let b = write(&d, "b.csv", "0,2,1\n0.1,0.2,0.3\n0.4,0.5,0.6\n");
    let out = run_ok(&[
        "estimate",
        "--activations",
        &b,
        "--labels",
        &y,
        "--estimator",
        "binning-size",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("line 1 is"), "{stderr}");
}

/// An MNIST-format directory: `train` training and `test` test images of 5 × 5 bytes whose
/// label is the brightness decile of their first pixel; the training images gzip-compressed.
fn mnist_dir(name: &str, train: Option<u32>, test: u32) -> PathBuf {
    use std::io::Write as _;
    let d = tmp(name);
    let pair = |n: u32, salt: u32| {
        let mut img = vec![0u8, 0, 8, 3];
        for v in [n, 5, 5] {
            img.extend(v.to_be_bytes());
        }
        let mut lab = vec![0u8, 0, 8, 1];
        lab.extend(n.to_be_bytes());
        for i in 0..n {
            let px: Vec<u8> = (0..25u32)
                .map(|j| u8::try_from((i * 97 + j * 31 + salt * 13 + i * j) % 256).unwrap())
                .collect();
            lab.push(px[0] / 26);
            img.extend(px);
        }
        (img, lab)
    };
    if let Some(n) = train {
        let (img, lab) = pair(n, 1);
        for (f, bytes) in [
            ("train-images-idx3-ubyte.gz", img),
            ("train-labels-idx1-ubyte.gz", lab),
        ] {
            let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            z.write_all(&bytes).unwrap();
            std::fs::write(d.join(f), z.finish().unwrap()).unwrap();
        }
    }
    let (img, lab) = pair(test, 2);
    std::fs::write(d.join("t10k-images-idx3-ubyte"), img).unwrap();
    std::fs::write(d.join("t10k-labels-idx1-ubyte"), lab).unwrap();
    d
}

/// Whether `v · n` is an integer (a share of `n` rows).
fn share_of(v: f64, n: f64) -> bool {
    ((v * n) - (v * n).round()).abs() < 1e-9
}

#[test]
fn mnist_runs_measure_the_test_rows_and_train_on_the_split() {
    let dir = mnist_dir("mnist", Some(40), 24);
    let data = dir.display().to_string();
    let quick = [
        "run",
        "--preset",
        "saxe-mnist",
        "--mnist",
        &data,
        "--layers",
        "16,6",
        "--epochs",
        "3",
        "--schedule",
        "every:1",
        "--batch",
        "8",
        "--lr",
        "0.5",
        "--quiet",
    ];
    let runs: Vec<PathBuf> = ["1", "2"]
        .iter()
        .map(|threads| {
            let out = dir.join(format!("run{threads}"));
            let mut args = quick.to_vec();
            let o = out.display().to_string();
            args.extend(["--threads", threads, "--out", &o]);
            run_ok(&args);
            out
        })
        .collect();
    for f in ["plane.csv", "metrics.csv", "layers.csv"] {
        assert_eq!(
            std::fs::read(runs[0].join(f)).unwrap(),
            std::fs::read(runs[1].join(f)).unwrap(),
            "{f} differs between 1 and 2 threads"
        );
    }
    // Every estimate is on the 24 test rows; the metrics on 40 training and 24 test rows.
    let plane = std::fs::read_to_string(runs[0].join("plane.csv")).unwrap();
    let rows: Vec<Vec<&str>> = plane
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 3 * 3 * 2, "{plane}");
    let cap = infoplane_core::math::log2_f64(24.0) + 1e-9;
    assert!(
        rows.iter().all(|r| r[4].parse::<f64>().unwrap() <= cap),
        "{plane}"
    );
    let first = rows
        .iter()
        .find(|r| r[2] == "1" && r[3] == "binning-size")
        .unwrap();
    assert!(first[4].parse::<f64>().unwrap() > 2.0, "{plane}");
    let metrics = std::fs::read_to_string(runs[0].join("metrics.csv")).unwrap();
    for line in metrics.lines().skip(1) {
        let v: Vec<f64> = line.split(',').map(|c| c.parse().unwrap()).collect();
        assert!(share_of(v[3], 40.0) && share_of(v[5], 24.0), "{metrics}");
    }
    // The manifest names each file with its SHA-256.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(runs[0].join("manifest.json")).unwrap())
            .unwrap();
    let files = manifest["data_files"].as_array().unwrap();
    assert_eq!(files.len(), 4);
    for f in files {
        let path = f["file"].as_str().unwrap();
        let want = format!("{:x}", Sha256::digest(std::fs::read(path).unwrap()));
        assert_eq!(f["sha256"].as_str().unwrap(), want);
    }
    assert_eq!(manifest["mi_rows"], "test");

    // Limits: 10 training rows, the first 12 test rows.
    let limited = dir.join("limited");
    let o = limited.display().to_string();
    let mut args = quick.to_vec();
    args.extend(["--train-limit", "10", "--mi-limit", "12", "--out", &o]);
    run_ok(&args);
    let plane = std::fs::read_to_string(limited.join("plane.csv")).unwrap();
    let cap = infoplane_core::math::log2_f64(12.0) + 1e-9;
    for line in plane.lines().skip(1) {
        let v: Vec<&str> = line.split(',').collect();
        assert!(v[4].parse::<f64>().unwrap() <= cap, "{plane}");
    }
    let metrics = std::fs::read_to_string(limited.join("metrics.csv")).unwrap();
    for line in metrics.lines().skip(1) {
        let v: Vec<f64> = line.split(',').map(|c| c.parse().unwrap()).collect();
        assert!(share_of(v[3], 10.0) && share_of(v[5], 24.0), "{metrics}");
    }

    // Only the test pair: it is split by --train-frac, and the run says so.
    let only = mnist_dir("mnist-test-only", None, 24);
    let d = only.display().to_string();
    let o = only.join("run").display().to_string();
    let out = bin()
        .args([
            "run",
            "--preset",
            "saxe-mnist",
            "--mnist",
            &d,
            "--layers",
            "8",
            "--epochs",
            "2",
            "--out",
            &o,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("has only the test pair (24 images): the first 19 train (--train-frac 0.8) and the other 5 are held out"),
        "{stderr}"
    );
}

#[test]
fn ksg_estimates_from_the_inputs_with_the_library_bits() {
    use infoplane_core::MatRef;
    use infoplane_core::estimator::{Estimator, Layer, Settings};
    let d = tmp("ksg");
    // 300 samples: x two columns on a 1/64 grid, t = a noisy function of x (exact in f32 and
    // in decimal), two classes by the sign of t's first unit.
    let n = 300usize;
    let (mut xs, mut ts, mut ys) = (Vec::new(), Vec::new(), Vec::new());
    let (mut xc, mut tc, mut yc) = (String::new(), String::from("u,v\n"), String::from("y\n"));
    for i in 0..n {
        let a = ((i * 37) % 128) as f32 / 64.0 - 1.0;
        let b = ((i * 91 + 5) % 128) as f32 / 64.0 - 1.0;
        let u = a + ((i * 13) % 16) as f32 / 64.0;
        let v = b - a + ((i * 7) % 8) as f32 / 64.0;
        let y = u32::from(u > 0.0);
        xs.extend([a, b]);
        ts.extend([u, v]);
        ys.push(y);
        xc.push_str(&format!("{a},{b}\n"));
        tc.push_str(&format!("{u},{v}\n"));
        yc.push_str(&format!("{y}\n"));
    }
    let (x, a, y) = (
        write(&d, "x.csv", &xc),
        write(&d, "a.csv", &tc),
        write(&d, "y.csv", &yc),
    );
    let est = |extra: &[&str]| {
        let mut args = vec![
            "estimate",
            "--activations",
            &a,
            "--labels",
            &y,
            "--inputs",
            &x,
            "--estimator",
            "ksg",
            "--bits",
        ];
        args.extend_from_slice(extra);
        String::from_utf8(run_ok(&args).stdout).unwrap()
    };
    let lib = |k: u32, standardize: bool| {
        let s = Settings {
            k,
            standardize,
            ..Settings::DEFAULT
        };
        let plan = Estimator::new("ksg", s)
            .unwrap()
            .plan(n, 2)
            .unwrap()
            .with_inputs(2)
            .unwrap();
        let layer = Layer::new(MatRef::new(&ts, n, 2).unwrap(), &ys, None)
            .unwrap()
            .with_x(MatRef::new(&xs, n, 2).unwrap().into())
            .unwrap();
        let p = plan
            .estimate(&layer, &mut vec![0u64; plan.scratch_req().words()])
            .unwrap();
        format!(
            "estimator,i_xt_bits,i_ty_bits,i_xt_hex,i_ty_hex\nksg,{},{},{:016x},{:016x}\n",
            p.i_xt.in_bits(),
            p.i_ty.in_bits(),
            p.i_xt.in_bits().to_bits(),
            p.i_ty.in_bits().to_bits()
        )
    };
    let default = est(&["--threads", "1"]);
    assert_eq!(default, lib(3, true));
    assert_eq!(default, est(&["--threads", "2"]));
    assert_eq!(
        default,
        est(&["--threads", "3", "--k", "3", "--standardize"])
    );
    assert_eq!(est(&["--k", "1", "--standardize=false"]), lib(1, false));
    assert_ne!(est(&["--k", "5"]), default);
    let v = bits_columns(&default);
    assert!(v[0][0] > 0.5 && v[0][1] > 0.3, "{default}");
    // The inputs are needed, k is checked against the samples, and --k 0 is refused.
    let e = run_err(&[
        "estimate",
        "--activations",
        &a,
        "--labels",
        &y,
        "--estimator",
        "ksg",
    ]);
    assert!(e.contains("--inputs") && e.contains("ksg"), "{e}");
    // Three samples (the first lines of each file; the inputs have no header) for k = 3.
    let head = |name: &str, path: &str, lines: usize| {
        let text = std::fs::read_to_string(path).unwrap();
        let kept: Vec<&str> = text.lines().take(lines).collect();
        write(&d, name, &(kept.join("\n") + "\n"))
    };
    let (x3, a3, y3) = (
        head("x3.csv", &x, 3),
        head("a3.csv", &a, 4),
        head("y3.csv", &y, 4),
    );
    let e = run_err(&[
        "estimate",
        "--activations",
        &a3,
        "--labels",
        &y3,
        "--inputs",
        &x3,
        "--estimator",
        "ksg",
    ]);
    assert!(
        e.contains("--k") && e.contains("needs more than 3 samples"),
        "{e}"
    );
    for (k, what) in [("0", "from 1 to 64"), ("65", "from 1 to 64")] {
        let e = run_err(&[
            "estimate",
            "--activations",
            &a,
            "--labels",
            &y,
            "--inputs",
            &x,
            "--estimator",
            "ksg",
            "--k",
            k,
        ]);
        assert!(e.contains("--k") && e.contains(what), "{k}: {e}");
    }
}
