//! Every bad input, table-driven, through the real binary: exit code 2, exactly one `error:`
//! line (first) naming the file, line or option, no panic, no hang, nothing on stdout, and
//! an earlier run in the output directory untouched, byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_infoplane"))
}

fn tmp() -> PathBuf {
    let d = std::env::temp_dir().join(format!("infoplane-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Runs `args` with a time limit: (exit code, stdout, stderr).
fn call(args: &[String]) -> (Option<i32>, String, String) {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(120) {
            child.kill().unwrap();
            panic!("{args:?} did not end within 120 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
#[allow(clippy::too_many_lines)] // the table
fn every_bad_input_is_one_clear_error_and_touches_nothing() {
    let d = tmp();
    let file = |name: &str, text: &str| {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let acts = file("a.csv", "0.1,0.2\n0.3,0.4\n0.5,0.6\n");
    let labels = file("y.csv", "0\n1\n0\n");
    let ragged = file("ragged.csv", "0.1,0.2\n0.3\n0.5,0.6\n");
    let text = file("text.csv", "0.1,0.2\n0.3,abc\n0.5,0.6\n");
    let inf = file("inf.csv", "0.1,0.2\n0.3,0.4\ninf,0.6\n");
    let nan = file("nan.csv", "0.1,0.2\nNaN,0.4\n0.5,0.6\n");
    let empty = file("empty.csv", "");
    let short = file("short.csv", "0\n1\n");
    let negative = file("negative.csv", "0\n-1\n0\n");
    let fraction = file("fraction.csv", "0\n0.5\n0\n");
    let named = file("named.csv", "a,b\n0,1\n1,1\n0,0\n");
    let inputs4 = file("inputs4.csv", "0,1\n1,0\n1,1\n0,0\n");
    let huge_label = file("huge.csv", "0\n99999999999\n0\n");
    let a_file = file("not-a-dir", "x");
    let missing = d.join("missing.csv").display().to_string();
    let empty_dir = d.join("empty-dir");
    std::fs::create_dir_all(&empty_dir).unwrap();
    let empty_dir = empty_dir.display().to_string();

    // MNIST-format directories, each wrong in one way.
    let idx = |name: &str, files: &[(&str, Vec<u8>)]| {
        let dir = d.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (f, bytes) in files {
            std::fs::write(dir.join(f), bytes).unwrap();
        }
        dir.display().to_string()
    };
    let images = |n: u8| {
        let mut v = vec![0, 0, 8, 3, 0, 0, 0, n, 0, 0, 0, 2, 0, 0, 0, 2];
        v.extend((0..4 * n).map(|i| i.wrapping_mul(37)));
        v
    };
    let labels_idx = |n: u8| {
        let mut v = vec![0, 0, 8, 1, 0, 0, 0, n];
        v.extend((0..n).map(|i| i % 10));
        v
    };
    let test_pair = || {
        vec![
            ("t10k-images-idx3-ubyte", images(6)),
            ("t10k-labels-idx1-ubyte", labels_idx(6)),
        ]
    };
    let mnist_empty = idx("mnist-empty", &[]);
    let mnist_gz = idx(
        "mnist-gz",
        &[
            ("t10k-images-idx3-ubyte.gz", vec![0x1f, 0x8b, 8, 0, 1, 2, 3]),
            ("t10k-labels-idx1-ubyte", labels_idx(6)),
        ],
    );
    let mnist_swapped = idx(
        "mnist-swapped",
        &[
            ("t10k-images-idx3-ubyte", labels_idx(6)),
            ("t10k-labels-idx1-ubyte", labels_idx(6)),
        ],
    );
    let mnist_count = idx(
        "mnist-count",
        &[
            ("t10k-images-idx3-ubyte", images(6)),
            ("t10k-labels-idx1-ubyte", labels_idx(5)),
        ],
    );
    let mut half = test_pair();
    half.push(("train-images-idx3-ubyte", images(20)));
    let mnist_half = idx("mnist-half", &half);
    let mut full = test_pair();
    full.push(("train-images-idx3-ubyte", images(20)));
    full.push(("train-labels-idx1-ubyte", labels_idx(20)));
    let mnist_full = idx("mnist-full", &full);
    let mut bad_label = labels_idx(6);
    *bad_label.get_mut(10).unwrap() = 10;
    let mnist_label = idx(
        "mnist-label",
        &[
            ("t10k-images-idx3-ubyte", images(6)),
            ("t10k-labels-idx1-ubyte", bad_label),
        ],
    );

    // An earlier run that no bad command may touch.
    let prev = d.join("prev");
    let p = prev.display().to_string();
    let (code, _, stderr) = call(&[
        "run".into(),
        "--epochs".into(),
        "20".into(),
        "--schedule".into(),
        "every:10".into(),
        "--quiet".into(),
        "--out".into(),
        p.clone(),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let before = snapshot(&prev);
    let fresh = d.join("fresh").display().to_string();

    // (arguments, what the error line must contain)
    let mut cases: Vec<(Vec<String>, String)> = Vec::new();
    let add = |cases: &mut Vec<(Vec<String>, String)>, args: &[&str], want: &str| {
        cases.push((
            args.iter().map(ToString::to_string).collect(),
            want.to_owned(),
        ));
    };
    // `run` options, into the earlier run's directory: refused before it is looked at.
    let seventeen = vec!["3"; 17].join(",");
    for (args, want) in [
        (
            vec!["--layers", "10,x,5"],
            "--layers: \"10,x,5\": \"x\" is not",
        ),
        (
            vec!["--layers", "10,0"],
            "--layers: \"10,0\" is not accepted",
        ),
        (vec!["--layers", ""], "--layers"),
        (vec!["--layers", "1e9"], "--layers: \"1e9\""),
        (vec!["--layers", &seventeen], "1 to 15 hidden widths"),
        (
            vec!["--layers", "100000,100000"],
            "--layers: \"100000,100000\" is not accepted",
        ),
        (
            vec!["--layers", "50000000"],
            "--layers: \"50000000\": the run needs about",
        ),
        (vec!["--schedule", "sometimes"], "--schedule"),
        (vec!["--schedule", "every:0"], "--schedule"),
        (vec!["--schedule", "list:5,3"], "--schedule"),
        (vec!["--schedule", "list:"], "--schedule"),
        (vec!["--schedule", "log:0"], "--schedule"),
        (
            vec!["--schedule", "log:4294967295"],
            "--schedule: \"log:4294967295\" is not accepted",
        ),
        (vec!["--epochs", "0"], "--epochs"),
        (vec!["--epochs", "-1"], "--epochs"),
        (vec!["--epochs", "ten"], "--epochs"),
        (vec!["--bins", "1"], "--bins"),
        (vec!["--bins", "4000000000"], "--bins"),
        (vec!["--range=0,0"], "--range"),
        (vec!["--range=1,-1"], "--range"),
        (vec!["--range=a,b"], "--range: \"a,b\" is not LO,HI"),
        (vec!["--train-frac", "1.5"], "--train-frac"),
        (vec!["--train-frac", "0"], "--train-frac"),
        (vec!["--train-frac", "NaN"], "--train-frac"),
        (vec!["--lr=-1"], "--lr"),
        (vec!["--lr", "NaN"], "--lr"),
        (vec!["--lr", "inf"], "--lr"),
        (vec!["--activation", "swish"], "--activation"),
        (vec!["--init", "magic"], "--init"),
        (vec!["--preset", "nope"], "--preset"),
        (vec!["--batch", "0"], "--batch"),
        (vec!["--batch", "-3"], "--batch"),
        (
            vec!["--batch", "half"],
            "--batch: \"half\" is not a positive integer or `full`",
        ),
        (
            vec!["--momentum", "0.9"],
            "--momentum: applies to --optimizer sgd",
        ),
        (vec!["--optimizer", "sgd", "--momentum", "1"], "--momentum"),
        (vec!["--optimizer", "rmsprop"], "--optimizer"),
        (vec!["--estimator", "magic"], "--estimator"),
        (
            vec!["--estimator", "kde-upper", "--noise-var", "1e-39"],
            "--noise-var: \"1e-39\" is not accepted",
        ),
        (
            vec!["--estimator", "kde-upper", "--noise-var", "-1"],
            "--noise-var",
        ),
        (
            vec!["--estimator", "binning-size", "--bin-size", "0"],
            "--bin-size",
        ),
        (
            vec!["--estimator", "binning-size", "--bin-size", "-0.5"],
            "--bin-size",
        ),
        (
            vec!["--threads", "100000"],
            "--threads: 100000 is more than 1024",
        ),
        (vec!["--repeats", "0"], "--repeats: 0 runs nothing"),
        (vec!["--repeats", "1000001"], "--repeats"),
        (vec!["--shard", "3/2"], "--shard: \"3/2\" is not k/N"),
        (vec!["--shard", "0/2"], "--shard"),
        (vec!["--shard", "a/b"], "--shard"),
        (vec!["--capture", "sometime"], "--capture"),
        (vec!["--split", "sideways"], "--split"),
        (vec!["--shuffle=maybe"], "--shuffle"),
        (vec!["--idnns-compat=maybe"], "--idnns-compat"),
        (vec!["--checkpoint-every", "-1"], "--checkpoint-every"),
        (vec!["--checkpoint-every", "NaN"], "--checkpoint-every"),
        (vec!["--simd", "avx9000"], "--simd"),
        (
            vec!["--preset", "saxe-mnist"],
            "--mnist: preset saxe-mnist trains on MNIST",
        ),
        (
            vec!["--mnist", &mnist_full],
            "--mnist: applies to presets on MNIST (saxe-mnist); preset tishby",
        ),
        (
            vec!["--preset", "saxe-mnist", "--mnist", &missing],
            "is not a directory",
        ),
        (
            vec!["--preset", "saxe-mnist", "--mnist", &mnist_empty],
            "has no t10k-images-idx3-ubyte (nor t10k-images-idx3-ubyte.gz",
        ),
        (
            vec!["--preset", "saxe-mnist", "--mnist", &mnist_gz],
            "t10k-images-idx3-ubyte.gz: not valid gzip data",
        ),
        (
            vec!["--preset", "saxe-mnist", "--mnist", &mnist_swapped],
            "t10k-images-idx3-ubyte: not an IDX image file",
        ),
        (
            vec!["--preset", "saxe-mnist", "--mnist", &mnist_count],
            "t10k-labels-idx1-ubyte: holds 5 labels but",
        ),
        (
            vec!["--preset", "saxe-mnist", "--mnist", &mnist_label],
            "t10k-labels-idx1-ubyte: not an IDX label file",
        ),
        (
            vec!["--preset", "saxe-mnist", "--mnist", &mnist_half],
            "has no train-labels-idx1-ubyte",
        ),
        (
            vec![
                "--preset",
                "saxe-mnist",
                "--mnist",
                &mnist_full,
                "--train-frac",
                "0.5",
            ],
            "--train-frac: does not apply: ",
        ),
        (
            vec![
                "--preset",
                "saxe-mnist",
                "--mnist",
                &mnist_full,
                "--split",
                "random",
            ],
            "--split: does not apply: ",
        ),
        (
            vec![
                "--preset",
                "saxe-mnist",
                "--mnist",
                &mnist_full,
                "--train-limit",
                "0",
            ],
            "--train-limit: \"0\" is not accepted",
        ),
        (
            vec![
                "--preset",
                "saxe-mnist",
                "--mnist",
                &mnist_full,
                "--mi-limit",
                "0",
            ],
            "--mi-limit: \"0\" is not accepted",
        ),
        (vec!["--mi-rows", "some"], "--mi-rows"),
        (
            vec!["--mi-rows", "test", "--train-frac", "1"],
            "--mi-rows: \"test\" is not accepted",
        ),
        (vec!["--epochs", "5"], "already holds a run"),
    ] {
        let mut v = vec!["run", "--quiet", "--out", &p];
        v.extend(args);
        add(&mut cases, &v, want);
    }
    add(
        &mut cases,
        &["run", "--quiet", "--out", &a_file],
        "exists and is not a directory",
    );
    add(
        &mut cases,
        &["run", "--resume", &p],
        "holds a run that ended",
    );
    add(
        &mut cases,
        &["run", "--resume", &empty_dir],
        "holds no interrupted run",
    );
    add(
        &mut cases,
        &["run", "--resume", &p, "--epochs", "5"],
        "--epochs",
    );
    add(
        &mut cases,
        &[
            "run",
            "--quiet",
            "--out",
            &fresh,
            "--estimator",
            "binning-size",
            "--bin-size",
            "1e-25",
        ],
        "--bin-size is not accepted",
    );
    // `estimate`: files named with line and column.
    let est = |a: &str, y: &str| -> Vec<String> {
        [
            "estimate",
            "--activations",
            a,
            "--labels",
            y,
            "--estimator",
            "binning",
        ]
        .iter()
        .map(ToString::to_string)
        .collect()
    };
    for (a, y, extra, want) in [
        (&ragged, &labels, vec![], "ragged.csv: line 2: ragged row"),
        (
            &text,
            &labels,
            vec![],
            "text.csv: line 2, column 2: \"abc\" is not a number",
        ),
        (
            &inf,
            &labels,
            vec![],
            "inf.csv: line 3, column 1: \"inf\" is not finite",
        ),
        (&nan, &labels, vec![], "nan.csv: line 2, column 1"),
        (&empty, &labels, vec![], "empty.csv: no data rows"),
        (&acts, &short, vec![], "2 labels for 3 rows"),
        (
            &acts,
            &negative,
            vec![],
            "negative.csv: line 2, column 1: label \"-1\" is negative",
        ),
        (&acts, &fraction, vec![], "not a non-negative integer"),
        (&acts, &huge_label, vec![], "huge.csv: line 2"),
        (
            &acts,
            &named,
            vec!["--label-column", "c"],
            "--label-column: no column \"c\"",
        ),
        (&missing, &labels, vec![], "missing.csv"),
        (&acts, &labels, vec!["--range=1,-1"], "--range"),
        (&acts, &labels, vec!["--bins", "0"], "--bins"),
        (
            &acts,
            &labels,
            vec!["--inputs", &inputs4],
            "4 input rows for 3 rows",
        ),
        (&acts, &labels, vec!["--threads", "100000"], "--threads"),
        (
            &acts,
            &labels,
            vec!["--estimator", "kde-upper", "--noise-var", "0"],
            "--noise-var",
        ),
        (
            &acts,
            &labels,
            vec!["--estimator", "binning-size", "--bin-size", "1e-25"],
            "--bin-size is not accepted",
        ),
    ] {
        let mut v = est(a, y);
        v.extend(extra.iter().map(ToString::to_string));
        cases.push((v, want.to_owned()));
    }
    // Other commands.
    add(&mut cases, &["summarize", &empty_dir], "manifest.json");
    add(&mut cases, &["summarize", &missing], "missing.csv");
    add(&mut cases, &["plot", &empty_dir], "manifest.json");
    add(
        &mut cases,
        &["summarize", &p, &p, "--out", &fresh],
        "seed 0 is in both",
    );
    add(
        &mut cases,
        &[
            "dataset",
            "tishby",
            "-o",
            &format!("{}/no/such/dir/x.csv", d.display()),
        ],
        "no/such/dir",
    );
    if Path::new("/dev/full").exists() {
        add(
            &mut cases,
            &["dataset", "tishby", "-o", "/dev/full"],
            "/dev/full: No space left on device",
        );
    }
    add(&mut cases, &["dataset", "mnist", "-o", &fresh], "mnist");

    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut report = String::new();
    for (args, want) in &cases {
        let (code, stdout, stderr) = call(args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{args:?}: one error line: {stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("error: "),
            "{args:?}: first line: {stderr}"
        );
        assert!(
            first.contains(want.as_str()),
            "{args:?}: {first:?} lacks {want:?}"
        );
        assert!(stdout.is_empty(), "{args:?}: stdout {stdout:?}");
        report.push_str(first);
        report.push('\n');
    }
    assert!(snapshot(&prev) == before, "the earlier run was touched");
    // What a user reads, for review: target/bad-inputs.txt.
    let _ = std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("bad-inputs.txt"),
        report,
    );
    let _ = std::fs::remove_dir_all(&d);
}
