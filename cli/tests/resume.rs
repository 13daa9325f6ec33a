//! Runs that stop before they end, through the real binary: a run killed (SIGKILL) at
//! arbitrary points and resumed, killed again while resuming, ends with the bytes of a run
//! that never stopped; a run never replaces an earlier one it was not allowed to; a failed
//! run leaves its rows and a manifest saying why.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)] // test code

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn tmp(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "infoplane-resume-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_infoplane"))
}

/// Runs the binary to its end: (exit code, stderr).
fn call(args: &[&str]) -> (Option<i32>, String) {
    let out = bin().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    (out.status.code(), stderr)
}

/// Starts the binary and kills it (SIGKILL) after `after`, unless it ends first: whether it
/// ended by itself, successfully.
fn kill_after(args: &[&str], after: Duration) -> bool {
    let mut child = bin()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while start.elapsed() < after {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{args:?} failed by itself: {status}");
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    false
}

/// Starts the binary (a run into `out`) and kills it (SIGKILL) as soon as the run has
/// written its first checkpoint: the checkpoint's path.
fn kill_at_first_checkpoint(args: &[&str], out: &Path) -> PathBuf {
    let mut child = bin()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let checkpoint = out.join(".infoplane-run").join("checkpoint");
    let start = Instant::now();
    while !checkpoint.exists() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(checkpoint.exists(), "{args:?} wrote no checkpoint in 60 s");
    checkpoint
}

const FILES: [&str; 6] = [
    "plane.csv",
    "metrics.csv",
    "layers.csv",
    "summary.csv",
    "metrics-summary.csv",
    "layers-summary.csv",
];

fn read(dir: &Path, file: &str) -> Vec<u8> {
    std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
}

/// Small pseudo-random delays (xorshift), the same on every machine.
fn delays(seed: u64, n: usize, lo_ms: u64, hi_ms: u64) -> Vec<Duration> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Duration::from_millis(lo_ms + x % (hi_ms - lo_ms))
        })
        .collect()
}

const RUN: [&str; 12] = [
    "run",
    "--epochs",
    "300",
    "--schedule",
    "every:2",
    "--repeats",
    "3",
    "--estimator",
    "binning-size",
    "--quiet",
    "--no-plots",
    "--checkpoint-every",
];

#[test]
fn killed_runs_resume_to_the_bytes_of_an_uninterrupted_run() {
    let whole = tmp("whole");
    let w = whole.to_str().unwrap();
    let mut args: Vec<&str> = RUN.to_vec();
    args.extend(["10", "--threads", "2", "--out", w]);
    let started = Instant::now();
    let (code, stderr) = call(&args);
    assert_eq!(code, Some(0), "{stderr}");
    // Kill points spread over the whole run, however fast this machine is.
    let span = started.elapsed().as_millis() as u64;
    // Kills after which a checkpoint was there to go on from (the others start over).
    let mut from_checkpoint = 0;
    for (case, seed) in [11u64, 2024, 7].into_iter().enumerate() {
        let dir = tmp(&format!("killed{case}"));
        let d = dir.to_str().unwrap();
        let threads = ["1", "2", "3"][case];
        let mut first: Vec<&str> = RUN.to_vec();
        first.extend(["0", "--threads", threads, "--out", d]);
        let mut kills = 0;
        let mut done = false;
        for (i, after) in delays(seed, 40, span / 10, span / 2)
            .into_iter()
            .enumerate()
        {
            done = if i == 0 {
                kill_after(&first, after)
            } else {
                // Resumed with another thread count each time, and killed again.
                let t = ["2", "1", "3"][i % 3];
                kill_after(
                    &[
                        "run",
                        "--resume",
                        d,
                        "--threads",
                        t,
                        "--checkpoint-every",
                        "0",
                        "--quiet",
                    ],
                    after,
                )
            };
            if done {
                break;
            }
            if dir.join("manifest.json").exists() {
                // The kill came after the run had moved its manifest into place, the last
                // of its files: the run had ended and was only cleaning up. A resume
                // finishes that if anything is left.
                done = !dir.join(".infoplane-run").exists();
                break;
            }
            kills += 1;
            if dir.join(".infoplane-run/checkpoint").exists() {
                from_checkpoint += 1;
            }
            // Killed: nothing is in the output yet but the staged run.
            assert!(
                !dir.join("manifest.json").exists(),
                "case {case}, kill {kills}"
            );
            assert!(
                dir.join(".infoplane-run").is_dir(),
                "case {case}, kill {kills}"
            );
        }
        if !done {
            let (code, stderr) = call(&["run", "--resume", d, "--quiet"]);
            assert_eq!(code, Some(0), "{stderr}");
        }
        assert!(kills >= 1, "case {case}: the run was never killed");
        for f in FILES {
            assert!(
                read(&whole, f) == read(&dir, f),
                "case {case}: {f} differs after {kills} kills"
            );
        }
        let manifest = String::from_utf8(read(&dir, "manifest.json")).unwrap();
        assert!(manifest.contains("\"status\": \"complete\""), "{manifest}");
        // Each resume that got as far as starting counts (a kill may come before that).
        let resumes: usize = manifest
            .split("\"resumes\": ")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .and_then(|r| r.parse().ok())
            .unwrap();
        assert!(
            (1..=kills).contains(&resumes),
            "case {case}: {kills} kills: {manifest}"
        );
        assert!(!dir.join(".infoplane-run").exists(), "staging removed");
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(
        from_checkpoint >= 2,
        "only {from_checkpoint} kills came after a checkpoint"
    );
    let _ = std::fs::remove_dir_all(&whole);
}

/// A pooled run (as-if-random, K = 4) killed after a checkpoint resumes to the bytes of an
/// uninterrupted one: the checkpoint carries the K − 1 weights before its snapshot.
#[test]
fn pooled_runs_resume_to_the_same_bytes() {
    let whole = tmp("pool-whole");
    let w = whole.to_str().unwrap();
    let mut args: Vec<&str> = RUN.to_vec();
    args.extend(["0", "--pool", "4", "--threads", "2", "--out", w]);
    let started = Instant::now();
    let (code, stderr) = call(&args);
    assert_eq!(code, Some(0), "{stderr}");
    let span = started.elapsed().as_millis() as u64;
    let dir = tmp("pool-killed");
    let d = dir.to_str().unwrap();
    let mut killed: Vec<&str> = RUN.to_vec();
    killed.extend(["0", "--pool", "4", "--threads", "2", "--out", d]);
    // Kill points from a fifth to four fifths of the run, until one leaves a checkpoint.
    let mut resumed_from_checkpoint = false;
    for after in delays(5, 12, span / 5, 4 * span / 5) {
        let _ = std::fs::remove_dir_all(&dir);
        if kill_after(&killed, after) {
            continue;
        }
        if dir.join(".infoplane-run/checkpoint").exists() {
            resumed_from_checkpoint = true;
            break;
        }
    }
    assert!(resumed_from_checkpoint, "no kill came after a checkpoint");
    let (code, stderr) = call(&["run", "--resume", d, "--threads", "1", "--quiet"]);
    assert_eq!(code, Some(0), "{stderr}");
    for f in FILES {
        assert!(
            read(&whole, f) == read(&dir, f),
            "{f} differs after the resume"
        );
    }
    assert!(
        String::from_utf8(read(&dir, "plane.csv"))
            .unwrap()
            .contains("binning-size+pool4")
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&whole);
}

#[test]
fn an_interrupted_run_is_resumed_or_discarded_never_overwritten() {
    let dir = tmp("interrupted");
    let d = dir.to_str().unwrap();
    let mut args: Vec<&str> = RUN.to_vec();
    args.extend(["0", "--threads", "1", "--out", d]);
    // Killed as soon as it has begun to write.
    let staged = kill_at_first_checkpoint(&args, &dir);
    let (code, stderr) = call(&args);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "error: --out: {d} holds an interrupted run (.infoplane-run); go on with it with `infoplane run --resume {d}`"
        )),
        "{stderr}"
    );
    assert!(staged.exists(), "the refused run touched nothing");
    // Only the run's own options may be given again.
    let (code, stderr) = call(&["run", "--resume", d, "--epochs", "5"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--epochs") && stderr.contains("--resume"),
        "{stderr}"
    );
    // --force discards it and starts over.
    let mut forced = args.clone();
    forced.push("--force");
    let (code, stderr) = call(&forced);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!dir.join(".infoplane-run").exists());
    // A finished run has nothing to resume; an empty directory has no run.
    let (code, stderr) = call(&["run", "--resume", d]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with(&format!("error: --resume: {d} holds a run that ended")),
        "{stderr}"
    );
    let empty = tmp("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (code, stderr) = call(&["run", "--resume", empty.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("holds no interrupted run"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&empty);
}

#[test]
fn a_failed_run_keeps_its_rows_and_says_why_and_never_touches_an_earlier_run() {
    let dir = tmp("earlier");
    let d = dir.to_str().unwrap();
    let (code, stderr) = call(&[
        "run",
        "--epochs",
        "40",
        "--schedule",
        "every:20",
        "--quiet",
        "--out",
        d,
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let before: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.display().to_string(), std::fs::read(&p).unwrap())
        })
        .collect();
    let diverging = [
        "run",
        "--activation",
        "linear",
        "--lr",
        "1e30",
        "--quiet",
        "--out",
        d,
    ];
    let (code, stderr) = call(&diverging);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("already holds a run"), "{stderr}");
    let after: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.display().to_string(), std::fs::read(&p).unwrap())
        })
        .collect();
    assert_eq!(before, after, "the earlier run is untouched");

    // Into a new directory: the rows before the failure, and a manifest that says why.
    let failed = tmp("failed");
    let f = failed.to_str().unwrap();
    let mut args = diverging.to_vec();
    args.pop();
    args.push(f);
    let (code, stderr) = call(&args);
    assert_eq!(code, Some(2), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines[0].starts_with("error: seed 0: training epoch 0: "),
        "{stderr}"
    );
    assert_eq!(
        lines[1],
        format!(
            "note: {f} keeps the rows of the 1 measured epoch before the failure; its manifest.json says status \"failed\", and why"
        )
    );
    let manifest = String::from_utf8(read(&failed, "manifest.json")).unwrap();
    assert!(manifest.contains("\"status\": \"failed\""), "{manifest}");
    assert!(
        manifest.contains("\"error\": \"seed 0: training epoch 0: a result overflowed"),
        "{manifest}"
    );
    // Epoch 0 is measured before the update that overflows: its 6 layers are kept.
    let plane = String::from_utf8(read(&failed, "plane.csv")).unwrap();
    assert_eq!(plane.lines().count(), 1 + 6, "{plane}");
    // Summaries take finished runs only.
    let (code, stderr) = call(&["summarize", f, "--out", dir.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("the run is \"failed\", not complete"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&failed);
}

/// A small tmpfs, unmounted when dropped; `None` where this machine cannot mount one (not
/// root, or in a container without the capability).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(name: &str, size: &str) -> Option<Self> {
        let dir = tmp(name);
        std::fs::create_dir_all(&dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Self(dir))
    }

    fn resize(&self, size: &str) {
        let s = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(s.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_full_disk_stops_the_run_and_resume_finishes_it_with_the_same_bytes() {
    let Some(fs) = Tmpfs::mount("full", "48k") else {
        println!("SKIP: cannot mount a tmpfs here (needs root); the full-disk case is untested");
        return;
    };
    let whole = tmp("whole-disk");
    let args = |out: &Path| -> Vec<String> {
        [
            "run",
            "--epochs",
            "120",
            "--schedule",
            "every:1",
            "--quiet",
            "--no-plots",
            "--checkpoint-every",
            "0",
            "--out",
        ]
        .iter()
        .map(ToString::to_string)
        .chain([out.display().to_string()])
        .collect()
    };
    let a: Vec<String> = args(&whole);
    let (code, stderr) = call(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, Some(0), "{stderr}");
    let dir = fs.0.join("run");
    let a = args(&dir);
    let (code, stderr) = call(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, Some(2), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines[0].starts_with(&format!("error: {}/.infoplane-run/", dir.display()))
            && lines[0].ends_with("No space left on device (os error 28)"),
        "{stderr}"
    );
    assert_eq!(
        lines[1],
        format!(
            "note: the run so far stays in {}/.infoplane-run; once the output can be written, go on with `infoplane run --resume {}`",
            dir.display(),
            dir.display()
        )
    );
    assert!(!dir.join("manifest.json").exists());
    fs.resize("16m");
    let (code, stderr) = call(&["run", "--resume", dir.to_str().unwrap(), "--quiet"]);
    assert_eq!(code, Some(0), "{stderr}");
    for f in FILES {
        assert!(read(&whole, f) == read(&dir, f), "{f} differs");
    }

    // `dataset -o` onto a full disk keeps the old file whole.
    let csv = fs.0.join("tishby.csv");
    let (code, stderr) = call(&["dataset", "tishby", "-o", csv.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    let old = std::fs::read(&csv).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    fs.resize(&format!("{}", old.len() + old.len() / 2));
    let (code, stderr) = call(&["dataset", "tishby", "-o", csv.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(std::fs::read(&csv).unwrap() == old, "the old file is whole");
    let left: Vec<_> = std::fs::read_dir(&fs.0).unwrap().collect();
    assert_eq!(left.len(), 1, "no temporary file stays behind");
    let _ = std::fs::remove_dir_all(&whole);
}

/// An MNIST-format directory holding only a test pair of `n` images of 4 × 4 bytes (the run
/// splits it), pixel values from `salt`.
fn small_mnist(dir: &Path, n: u32, salt: u32) {
    std::fs::create_dir_all(dir).unwrap();
    let mut img = vec![0u8, 0, 8, 3];
    for v in [n, 4, 4] {
        img.extend(v.to_be_bytes());
    }
    let mut lab = vec![0u8, 0, 8, 1];
    lab.extend(n.to_be_bytes());
    for i in 0..n {
        let px: Vec<u8> = (0..16u32)
            .map(|j| ((i * 97 + j * 31 + salt * 13 + i * j) % 256) as u8)
            .collect();
        lab.push(px[0] / 26);
        img.extend(px);
    }
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), img).unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), lab).unwrap();
}

#[test]
fn a_run_resumes_only_on_the_data_it_started_with() {
    let dir = tmp("same-data");
    let data = dir.join("mnist");
    small_mnist(&data, 30, 1);
    let out = dir.join("run");
    let (data_s, out_s) = (data.display().to_string(), out.display().to_string());
    let args = [
        "run",
        "--preset",
        "saxe-mnist",
        "--mnist",
        &data_s,
        "--layers",
        "8,4",
        "--epochs",
        "1000000",
        "--schedule",
        "every:1000",
        "--estimator",
        "binning-size",
        "--batch",
        "8",
        "--threads",
        "1",
        "--quiet",
        "--no-plots",
        "--checkpoint-every",
        "0",
        "--out",
        &out_s,
    ];
    let checkpoint = kill_at_first_checkpoint(&args, &out);
    let staged = out.join(".infoplane-run");
    let kept: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&staged)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    // Other pixels under the same name: refused, naming the file, the staged run untouched.
    small_mnist(&data, 30, 2);
    let (code, stderr) = call(&["run", "--resume", &out_s]);
    assert_eq!(code, Some(2), "{stderr}");
    let images = data.join("t10k-images-idx3-ubyte");
    assert!(
        stderr.lines().any(|l| l.starts_with(&format!(
            "error: {}: it is not the file the run in {out_s} started with",
            images.display()
        )) && l.contains("SHA-256 differs")),
        "{stderr}"
    );
    for (p, bytes) in &kept {
        assert_eq!(&std::fs::read(p).unwrap(), bytes, "{} changed", p.display());
    }
    // A data set with a training pair too reads files the run did not read.
    std::fs::copy(&images, data.join("train-images-idx3-ubyte")).unwrap();
    std::fs::copy(
        data.join("t10k-labels-idx1-ubyte"),
        data.join("train-labels-idx1-ubyte"),
    )
    .unwrap();
    small_mnist(&data, 30, 1);
    let (code, stderr) = call(&["run", "--resume", &out_s]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("error: --resume: this resume reads ")
                && l.ends_with(&format!("which the run in {out_s} did not read"))),
        "{stderr}"
    );
    // The same files again: the run goes on (killed after a while; had it stopped by
    // itself, it would have had to succeed).
    std::fs::remove_file(data.join("train-images-idx3-ubyte")).unwrap();
    std::fs::remove_file(data.join("train-labels-idx1-ubyte")).unwrap();
    let ended = kill_after(&["run", "--resume", &out_s], Duration::from_secs(2));
    assert!(ended || checkpoint.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
