//! A run assembled from seeds run one by one elsewhere (as the browser page runs them in Web
//! Workers) writes the files `infoplane run --repeats` writes: the same CSV bytes, summaries,
//! figures and manifest (only its timing, threads and instruction-set level may differ).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use infoplane_cli::cmd::assemble::{Planned, SeedRows, assemble, plan};
use infoplane_core::experiment::{Action, LAYERS_HEADER, METRICS_HEADER, PLANE_HEADER, Run};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

fn tmp(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "infoplane-assemble-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Seed `index` of the run trained and measured alone, one snapshot at a time: its
/// `plane.csv`, `metrics.csv` and `layers.csv`.
fn seed_rows(p: &Planned, index: usize) -> [String; 3] {
    let exp = p.experiment(index).unwrap();
    let seed = exp.config().seed;
    let names = exp.config().column_names();
    let mut measurer = exp.measurer().unwrap();
    let mut run = Run::new(exp, 1);
    let mut out = [PLANE_HEADER, METRICS_HEADER, LAYERS_HEADER].map(String::from);
    loop {
        match run.next_action().unwrap() {
            Action::Measure(ticket, snap) => {
                let m = measurer.measure(&snap).unwrap();
                run.deliver(ticket, m);
            }
            Action::Trained(_) => {}
            Action::Deliver => panic!("nothing is in flight"),
            Action::Done => break,
        }
        while let Some(m) = run.release() {
            m.write_plane_rows(seed, &names, &mut out[0]).unwrap();
            m.write_metrics_row(seed, &mut out[1]).unwrap();
            m.write_layer_rows(seed, &mut out[2]).unwrap();
        }
    }
    out
}

/// Runs `options` through the binary and assembled from single seeds; every file must match.
fn same_files(options: &[&str], files: &[&str]) {
    let dir = tmp("cli");
    let mut argv: Vec<String> = options.iter().map(|s| (*s).to_owned()).collect();
    argv.extend(["--out".to_owned(), dir.to_str().unwrap().to_owned()]);
    let out = Command::new(env!("CARGO_BIN_EXE_infoplane"))
        .arg("run")
        .args(&argv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let p = plan(&argv).unwrap();
    // Seeds in reverse order, as parallel workers may finish them; assembled in seed order.
    let mut rows: Vec<[String; 3]> = (0..p.config.seeds.len())
        .rev()
        .map(|i| seed_rows(&p, i))
        .collect();
    rows.reverse();
    let seeds: Vec<SeedRows<'_>> = rows
        .iter()
        .map(|r| SeedRows {
            plane: &r[0],
            metrics: &r[1],
            layers: &r[2],
        })
        .collect();
    let got = assemble(&p, &seeds, true, 1.5, 2).unwrap();
    let names: Vec<&str> = got.iter().map(|f| f.0.as_str()).collect();
    for f in files {
        assert!(names.contains(f), "{f} not among {names:?}");
    }
    for (name, text) in &got {
        let want = std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("{name}: the CLI wrote no such file ({e})"));
        if name == "manifest.json" {
            let mut a: serde_json::Value = serde_json::from_str(text).unwrap();
            let mut b: serde_json::Value = serde_json::from_str(&want).unwrap();
            assert_eq!(a["wall_seconds"], 1.5);
            assert_eq!(a["threads"], 2);
            // The CLI records the binary's path as it was called.
            b["command"][0] = "infoplane".into();
            for v in [&mut a, &mut b] {
                let o = v.as_object_mut().unwrap();
                for k in ["wall_seconds", "threads", "simd"] {
                    o.remove(k).unwrap();
                }
            }
            assert_eq!(a, b, "manifest.json");
        } else {
            assert!(*text == want, "{name} differs from the CLI's");
        }
    }
    // Every file the CLI wrote was assembled.
    let mut wrote: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    wrote.sort();
    let mut made: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    made.sort();
    assert_eq!(made, wrote);
}

#[test]
fn seeds_run_alone_assemble_into_the_files_of_repeats() {
    same_files(
        &[
            "--preset",
            "tishby",
            "--epochs",
            "40",
            "--schedule",
            "every:13",
            "--seed",
            "5",
            "--repeats",
            "3",
            "--estimator",
            "binning",
            "--estimator",
            "kde-upper",
            "--overlay",
            "--threads",
            "2",
            "--quiet",
        ],
        &[
            "plane.csv",
            "summary.csv",
            "plane.svg",
            "plane-overlay.svg",
            "manifest.json",
        ],
    );
}

#[test]
fn warnings_of_a_dead_layer_and_the_ceiling_are_assembled_too() {
    // Saxe's ReLU net, seed 0, has a dead layer 5; 1000 bins put layer 1 at the ceiling.
    same_files(
        &[
            "--preset",
            "saxe",
            "--activation",
            "relu",
            "--epochs",
            "2",
            "--schedule",
            "every:1",
            "--repeats",
            "2",
            "--estimator",
            "binning",
            "--bins",
            "1000",
            "--quiet",
        ],
        &["layers-summary.csv", "manifest.json"],
    );
    let p = plan(
        &[
            "--preset",
            "saxe",
            "--activation",
            "relu",
            "--epochs",
            "2",
            "--schedule",
            "every:1",
            "--estimator",
            "binning",
            "--bins",
            "1000",
        ]
        .map(str::to_owned),
    )
    .unwrap();
    let r = seed_rows(&p, 0);
    let seeds = [SeedRows {
        plane: &r[0],
        metrics: &r[1],
        layers: &r[2],
    }];
    let files = assemble(&p, &seeds, true, 0.0, 1).unwrap();
    let m: serde_json::Value = serde_json::from_str(&files.last().unwrap().1).unwrap();
    let w = m["warnings"].as_array().unwrap();
    assert!(
        w[0].as_str().unwrap().contains("hidden layer 5 is dead"),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|w| w.as_str().unwrap().contains("at its ceiling")),
        "{w:?}"
    );
}

#[test]
fn a_stopped_run_keeps_its_finished_seeds() {
    let argv = [
        "--epochs",
        "20",
        "--schedule",
        "every:10",
        "--repeats",
        "3",
        "--seed",
        "7",
    ]
    .map(str::to_owned);
    let p = plan(&argv).unwrap();
    let r = seed_rows(&p, 0);
    let seeds = [SeedRows {
        plane: &r[0],
        metrics: &r[1],
        layers: &r[2],
    }];
    let files = assemble(&p, &seeds, false, 0.0, 1).unwrap();
    let plane = &files.iter().find(|f| f.0 == "plane.csv").unwrap().1;
    assert_eq!(plane, &r[0]);
    let m: serde_json::Value = serde_json::from_str(&files.last().unwrap().1).unwrap();
    assert_eq!(m["status"], "stopped");
    assert_eq!(m["seeds"], serde_json::json!([7]));
    assert_eq!(m["measured_epochs"], 2);
    // Complete needs every seed; more seeds than the run has are refused.
    let e = assemble(&p, &seeds, true, 0.0, 1).unwrap_err().to_string();
    assert!(
        e.contains("the run has 3 seed(s), the rows are of 1"),
        "{e}"
    );
}

#[test]
fn options_are_checked_with_the_messages_of_run() {
    let e = |argv: &[&str]| {
        plan(&argv.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
            .unwrap_err()
            .to_string()
    };
    let s = e(&["--schedule", "log:0"]);
    assert!(s.starts_with("--schedule"), "{s}");
    assert!(s.contains("log:S"), "{s}");
    let s = e(&["--layers", "10,0,5"]);
    assert!(s.contains("--layers") && s.contains("10,0,5"), "{s}");
    let s = e(&["--activation", "sigmoidal"]);
    assert!(s.starts_with("--activation") && s.contains("tanh"), "{s}");
    let s = e(&["--lr", "abc"]);
    assert!(s.starts_with("--lr") && s.contains("abc"), "{s}");
    let s = e(&["--momentum", "0.9"]);
    assert!(s.contains("--momentum: applies to --optimizer sgd"), "{s}");
    let s = e(&["--frobnicate"]);
    assert!(s.contains("--frobnicate"), "{s}");
    let s = e(&["--resume", "x"]);
    assert!(s.starts_with("--resume"), "{s}");
    // A bad corrupted seed index is an error, not a panic.
    let p = plan(&["--repeats".to_owned(), "2".to_owned()]).unwrap();
    assert!(p.experiment(2).is_err());
    assert_eq!(p.config.seeds, vec![0, 1]);
    // log:400 over 8000 epochs: 274 distinct epochs (IDNNs' spacing, rounded down).
    assert_eq!(p.measures_per_seed, Some(274));
}
