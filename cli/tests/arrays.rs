//! Activations brought as NumPy files and text tables of every separator, whole recorded
//! histories, and `infoplane mi`, through the real binary. The fixtures in
//! `tests/data/numpy` were written by NumPy (`make.py` there).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_infoplane"))
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/numpy")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

fn tmp(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "infoplane-arrays-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

/// Stdout of a successful run, and its stderr.
fn ok(args: &[&str]) -> (String, String) {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?} failed: {stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

/// The stderr of a clean failure: exit code 2, `error:`, no panic, nothing on stdout.
fn err(args: &[&str]) -> String {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.starts_with("error"), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}");
    stderr
}

const ESTIMATORS: [&str; 8] = [
    "--estimator",
    "binning",
    "--estimator",
    "kde-upper",
    "--estimator",
    "ksg",
    "--estimator",
    "binning-equal-mass",
];

/// `estimate --bits` of `activations` with the fixture's labels and inputs.
fn estimate(activations: &str, labels: &str, extra: &[&str]) -> String {
    let x = fixture("x.npy");
    let mut args = vec![
        "estimate",
        "--activations",
        activations,
        "--labels",
        labels,
        "--inputs",
        &x,
        "--bits",
    ];
    args.extend_from_slice(&ESTIMATORS);
    args.extend_from_slice(extra);
    ok(&args).0
}

#[test]
fn numpy_arrays_and_text_tables_give_the_same_bits() {
    let y = fixture("y_i32.npy");
    let want = estimate(&fixture("hist.npz:epoch5_layer1"), &y, &[]);
    assert_eq!(want.lines().count(), 5, "{want}");
    // The same values as a compressed archive's member, as float64 in Fortran order, as
    // np.savetxt's whitespace table and as a tab-separated table with a `#` header.
    for a in [
        fixture("hist_z.npz:epoch5_layer1"),
        fixture("histdir/epoch5_layer1.npy"),
        fixture("t_f64_fortran.npy"),
        fixture("t.txt"),
        fixture("t.tsv"),
    ] {
        assert_eq!(estimate(&a, &y, &[]), want, "{a}");
    }
    // Labels from the archive (int64) and from text.
    let dir = tmp("labels");
    let text = dir.join("y.txt");
    std::fs::write(&text, labels_text()).unwrap();
    let npz = fixture("hist.npz");
    assert_eq!(
        estimate(&fixture("t.txt"), &format!("{npz}:labels"), &[]),
        want
    );
    assert_eq!(
        estimate(&fixture("t.txt"), text.to_str().unwrap(), &[]),
        want
    );
    // A different layer gives different bits (the comparison can fail).
    assert_ne!(estimate(&fixture("hist.npz:epoch5_layer2"), &y, &[]), want);
}

/// The fixture's labels as a text column, from the int32 array (little-endian, after the
/// header whose length is at bytes 8–9).
fn labels_text() -> String {
    let bytes = std::fs::read(fixture("y_i32.npy")).unwrap();
    let header = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
    let data = &bytes[10 + header..];
    assert_eq!(data.len(), 64 * 4);
    data.chunks_exact(4)
        .map(|c| format!("{}\n", i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
        .collect()
}

#[test]
fn a_row_index_column_warns_and_columns_choose() {
    let dir = tmp("index");
    let t = std::fs::read_to_string(fixture("t.txt")).unwrap();
    // pandas' to_csv(): an index column with an empty header cell.
    let mut csv = String::from(",u0,u1,u2\n");
    let mut plain = String::from("u0,u1,u2\n");
    for (i, line) in t.lines().enumerate() {
        let cells: Vec<&str> = line.split_whitespace().collect();
        csv.push_str(&format!("{i},{}\n", cells.join(",")));
        plain.push_str(&format!("{}\n", cells.join(",")));
    }
    let indexed = dir.join("indexed.csv");
    let clean = dir.join("clean.csv");
    std::fs::write(&indexed, csv).unwrap();
    std::fs::write(&clean, plain).unwrap();
    let y = fixture("y_i32.npy");
    let args = |a: &Path, cols: Option<&str>| {
        let mut v = vec![
            "estimate".to_owned(),
            "--activations".to_owned(),
            a.to_str().unwrap().to_owned(),
            "--labels".to_owned(),
            y.clone(),
            "--estimator".to_owned(),
            "kde-upper".to_owned(),
            "--bits".to_owned(),
        ];
        if let Some(c) = cols {
            v.push("--columns".to_owned());
            v.push(c.to_owned());
        }
        v
    };
    let call = |v: Vec<String>| ok(&v.iter().map(String::as_str).collect::<Vec<_>>());
    let (with_index, warn) = call(args(&indexed, None));
    assert!(
        warn.contains("column 1 counts the rows") && warn.contains("--columns 2-4"),
        "{warn}"
    );
    let (want, quiet) = call(args(&clean, None));
    assert!(quiet.is_empty(), "{quiet}");
    assert_ne!(with_index, want, "the index is measured as a unit");
    // Leaving the index out, by number or by name, gives the clean table's bits.
    for cols in ["2-4", "2-", "u0,u1,u2", "2,3-4"] {
        let (got, warn) = call(args(&indexed, Some(cols)));
        assert_eq!(got, want, "{cols}");
        assert!(warn.is_empty(), "{cols}: {warn}");
    }
    // Choosing columns changes the result (order does not, for these estimators).
    let (two, _) = call(args(&clean, Some("1,3")));
    assert_ne!(two, want);
    assert_eq!(call(args(&clean, Some("u2,u0"))).0, two);
    // Bad selections are option errors naming the file.
    for (cols, msg) in [
        ("5", "past the last (4)"),
        ("nope", "no column \"nope\""),
        ("0", "count from 1"),
    ] {
        let v = args(&indexed, Some(cols));
        let e = err(&v.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(e.contains("--columns") && e.contains(msg), "{cols}: {e}");
    }
}

#[test]
fn a_history_becomes_the_plane_run_writes() {
    let npz = fixture("hist.npz");
    let dir = tmp("history");
    let out = dir.join("plane");
    let labels = format!("{npz}:labels");
    let inputs = format!("{npz}:inputs");
    let history = |h: &str, o: &Path, extra: &[&str]| {
        let mut a = vec![
            "estimate",
            "--history",
            h,
            "--labels",
            &labels,
            "--inputs",
            &inputs,
            "--estimator",
            "binning",
            "--estimator",
            "ksg",
            "--out",
            o.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        ok(&a)
    };
    let (said, _) = history(&npz, &out, &["--overlay"]);
    assert!(
        said.contains("2 layers × 3 epochs × 2 estimators"),
        "{said}"
    );
    let plane = std::fs::read_to_string(out.join("plane.csv")).unwrap();
    let rows: Vec<&str> = plane.lines().collect();
    assert_eq!(rows[0], "run,epoch,layer,estimator,i_xt_bits,i_ty_bits");
    assert_eq!(rows.len(), 1 + 3 * 2 * 2);
    // Epochs in numeric order (12 after 5), each row equal to `estimate` on that array.
    let mut k = 1;
    for e in [0, 5, 12] {
        for l in [1, 2] {
            let one = ok(&[
                "estimate",
                "--activations",
                &format!("{npz}:epoch{e}_layer{l}"),
                "--labels",
                &labels,
                "--inputs",
                &inputs,
                "--estimator",
                "binning",
                "--estimator",
                "ksg",
            ])
            .0;
            for line in one.lines().skip(1) {
                assert_eq!(rows[k], format!("0,{e},{l},{line}"));
                k += 1;
            }
        }
    }
    for f in [
        "plane.svg",
        "plane-ksg.svg",
        "plane-overlay.svg",
        "summary.csv",
        "manifest.json",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(
        manifest.contains("\"ksg\"") && manifest.contains("\"samples\": 64"),
        "{manifest}"
    );
    // A directory of files named the same way gives the same plane.
    let from_dir = dir.join("from-dir");
    history(&fixture("histdir"), &from_dir, &[]);
    assert_eq!(
        std::fs::read_to_string(from_dir.join("plane.csv")).unwrap(),
        plane
    );
    // An earlier result is not overwritten without --force.
    let e = err(&[
        "estimate",
        "--history",
        &npz,
        "--labels",
        &labels,
        "--estimator",
        "binning",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(e.contains("--out") && e.contains("--force"), "{e}");
    assert_eq!(
        std::fs::read_to_string(out.join("plane.csv")).unwrap(),
        plane
    );
    // Names that are not layers are listed, not silently dropped.
    let (_, note) = ok(&[
        "estimate",
        "--history",
        &npz,
        "--labels",
        &fixture("y_i32.npy"),
        "--estimator",
        "binning",
        "--out",
        dir.join("noted").to_str().unwrap(),
    ]);
    assert!(note.contains("ignored: labels, inputs"), "{note}");
}

#[test]
fn bad_arrays_get_clear_errors() {
    let npz = fixture("hist.npz");
    let y = fixture("y_i32.npy");
    let base = |a: &str, l: &str| {
        vec![
            "estimate".to_owned(),
            "--activations".to_owned(),
            a.to_owned(),
            "--labels".to_owned(),
            l.to_owned(),
            "--estimator".to_owned(),
            "binning".to_owned(),
        ]
    };
    let e = |v: Vec<String>| err(&v.iter().map(String::as_str).collect::<Vec<_>>());
    let msg = e(base(&npz, &y));
    assert!(
        msg.contains("holds 8 arrays") && msg.contains("epoch12_layer2"),
        "{msg}"
    );
    let msg = e(base(&format!("{npz}:epoch7_layer1"), &y));
    assert!(msg.contains("no array \"epoch7_layer1\""), "{msg}");
    // Labels of the wrong shape, and of the wrong length.
    let msg = e(base(&fixture("t.txt"), &fixture("x.npy")));
    assert!(msg.contains("x.npy") && msg.contains("shape (N,)"), "{msg}");
    let msg = e(base(&fixture("ga.npy"), &y));
    assert!(msg.contains("64 labels for 2000 rows"), "{msg}");
    // A NaN names its row and column; a text file that is not text.
    let dir = tmp("bad");
    let mut bytes = std::fs::read(fixture("x.npy")).unwrap();
    let header = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
    let at = 10 + header + (2 * 4 + 1) * 4; // row 3, column 2
    bytes[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    let nan = dir.join("nan.npy");
    std::fs::write(&nan, &bytes).unwrap();
    let msg = e(base(nan.to_str().unwrap(), &y));
    assert!(
        msg.contains("row 3, column 2") && msg.contains("not finite"),
        "{msg}"
    );
    let renamed = dir.join("acts.txt");
    std::fs::copy(fixture("x.npy"), &renamed).unwrap();
    let msg = e(base(renamed.to_str().unwrap(), &y));
    assert!(msg.contains("acts.txt"), "{msg}");
}

/// Plug-in entropy in bits of the rows of `cells`.
fn entropy<T: std::hash::Hash + Eq>(cells: impl Iterator<Item = T>) -> f64 {
    let mut counts: HashMap<T, u64> = HashMap::new();
    let mut n = 0u64;
    for c in cells {
        *counts.entry(c).or_default() += 1;
        n += 1;
    }
    #[allow(clippy::cast_precision_loss)]
    let n = n as f64;
    counts
        .values()
        .map(|&c| {
            #[allow(clippy::cast_precision_loss)]
            let p = c as f64 / n;
            -p * infoplane_core::math::log2_f64(p)
        })
        .sum()
}

fn mi_bits(out: &str, estimator: &str) -> f64 {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{estimator},")))
        .and_then(|v| v.split(',').next())
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn mi_of_two_variables_against_closed_forms_and_references() {
    let dir = tmp("mi");
    // A uniform on 4 values, 16 times each; B = A, and C independent of A (every pair 4 times).
    let (mut a, mut b, mut c) = (String::new(), String::new(), String::new());
    for i in 0..64u32 {
        let (u, v) = (i % 4, (i / 4) % 4);
        a.push_str(&format!("{u}.5\n"));
        b.push_str(&format!("{u}.5\n"));
        c.push_str(&format!("{v}.5\n"));
    }
    let (pa, pb, pc) = (dir.join("a.csv"), dir.join("b.csv"), dir.join("c.csv"));
    std::fs::write(&pa, &a).unwrap();
    std::fs::write(&pb, &b).unwrap();
    std::fs::write(&pc, &c).unwrap();
    let mi = |x: &Path, y: &Path, extra: &[&str]| {
        let mut v = vec![
            "mi",
            "--x",
            x.to_str().unwrap(),
            "--y",
            y.to_str().unwrap(),
            "--estimator",
            "binning-size",
            "--estimator",
            "binning-equal-mass",
            "--estimator",
            "binning",
            "--bin-size",
            "1",
            "--bins",
            "5",
            "--range",
            "0,4",
        ];
        v.extend_from_slice(extra);
        ok(&v).0
    };
    let same = mi(&pa, &pb, &[]);
    assert!(same.starts_with("estimator,mi_bits\n"), "{same}");
    for est in ["binning-size", "binning-equal-mass", "binning"] {
        assert!((mi_bits(&same, est) - 2.0).abs() < 1e-12, "{est}: {same}");
        assert!(mi_bits(&mi(&pa, &pc, &[]), est).abs() < 1e-12, "{est}");
    }
    // Discrete B given as classes: the same 2 bits.
    let classes: String = (0..64u32).map(|i| format!("{}\n", i % 4)).collect();
    let pd = dir.join("d.txt");
    std::fs::write(&pd, classes).unwrap();
    let d = ok(&[
        "mi",
        "--x",
        pa.to_str().unwrap(),
        "--y",
        pd.to_str().unwrap(),
        "--discrete-y",
        "--estimator",
        "binning-size",
        "--bin-size",
        "1",
    ])
    .0;
    assert!((mi_bits(&d, "binning-size") - 2.0).abs() < 1e-12, "{d}");
    // Correlated Gaussians (rho = 0.8, N = 2000, from NumPy): KSG near the closed form, and
    // equal to `estimate`'s I(X;T) with A as the inputs.
    let (ga, gb) = (fixture("ga.npy"), fixture("gb.npy"));
    let out = ok(&["mi", "--x", &ga, "--y", &gb, "--estimator", "ksg", "--bits"]).0;
    let truth = -0.5 * infoplane_core::math::log2_f64(1.0 - 0.64);
    let v = mi_bits(&out, "ksg");
    assert!((v - truth).abs() < 0.05, "ksg {v} vs {truth}");
    let zeros = dir.join("zeros.txt");
    std::fs::write(&zeros, "0\n".repeat(2000)).unwrap();
    let est = ok(&[
        "estimate",
        "--activations",
        &gb,
        "--inputs",
        &ga,
        "--labels",
        zeros.to_str().unwrap(),
        "--estimator",
        "ksg",
    ])
    .0;
    let ix: f64 = est
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(v.to_bits(), ix.to_bits());
    // binning-size against H(A) + H(B) − H(A, B) over floor(v / size) bins, computed here.
    let read = |p: &str| -> Vec<f32> {
        let bytes = std::fs::read(p).unwrap();
        let h = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
        bytes[10 + h..]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let (xa, xb) = (read(&ga), read(&gb));
    #[allow(clippy::cast_possible_truncation)]
    let bin = |v: f32| (f64::from(v) / 0.25).floor() as i64;
    let want = entropy(xa.iter().map(|&v| bin(v))) + entropy(xb.iter().map(|&v| bin(v)))
        - entropy(xa.iter().zip(&xb).map(|(&p, &q)| (bin(p), bin(q))));
    let out = ok(&[
        "mi",
        "--x",
        &ga,
        "--y",
        &gb,
        "--estimator",
        "binning-size",
        "--bin-size",
        "0.25",
    ])
    .0;
    let got = mi_bits(&out, "binning-size");
    assert!((got - want).abs() < 1e-9, "binning-size {got} vs {want}");
    // Discrete B: each estimator's I(T;Y), bit for bit.
    let t = fixture("t.txt");
    let y = fixture("y_i32.npy");
    let d = ok(&[
        "mi",
        "--x",
        &t,
        "--y",
        &y,
        "--discrete-y",
        "--estimator",
        "binning",
        "--estimator",
        "kde-lower",
        "--estimator",
        "ksg",
    ])
    .0;
    let e = ok(&[
        "estimate",
        "--activations",
        &t,
        "--labels",
        &y,
        "--inputs",
        &fixture("x.npy"),
        "--estimator",
        "binning",
        "--estimator",
        "kde-lower",
        "--estimator",
        "ksg",
    ])
    .0;
    for (dl, el) in d.lines().skip(1).zip(e.lines().skip(1)) {
        let name = dl.split(',').next().unwrap();
        assert_eq!(dl.split(',').nth(1), el.split(',').nth(2), "{name}");
    }
    // Estimators that do not measure two given continuous variables say so.
    for (est, msg) in [
        ("kde-upper", "noise variance"),
        ("binning-range", "own range"),
    ] {
        let e = err(&["mi", "--x", &ga, "--y", &gb, "--estimator", est]);
        assert!(e.contains("--estimator") && e.contains(msg), "{est}: {e}");
    }
    let e = err(&["mi", "--x", &ga, "--y", &t, "--estimator", "ksg"]);
    assert!(e.contains("64 rows") && e.contains("2000"), "{e}");
}

#[test]
fn estimates_that_say_nothing_say_so() {
    let t = fixture("t.txt");
    let y = fixture("y_i32.npy");
    let warn = |extra: &[&str]| {
        let mut a = vec!["estimate", "--activations", &t, "--labels", &y];
        a.extend_from_slice(extra);
        ok(&a)
    };
    // Bins so fine that every one of 2000 distinct samples is alone: I(X;T) = log2 2000.
    let dir = tmp("honest");
    let zeros = dir.join("zeros.txt");
    std::fs::write(&zeros, "0\n".repeat(2000)).unwrap();
    let ga = fixture("ga.npy");
    let alone = |extra: &[&str]| {
        let mut a = vec![
            "estimate",
            "--activations",
            &ga,
            "--labels",
            zeros.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        ok(&a)
    };
    let (out, e) = alone(&["--estimator", "binning-size", "--bin-size", "1e-6"]);
    assert!(out.contains("binning-size,10.965784284662"), "{out}");
    assert!(
        e.contains("warning: binning-size: I(X;T) is at its ceiling H(X) = 10.9658 bits"),
        "{e}"
    );
    // A kernel far narrower than the distances between samples.
    let (_, e) = alone(&["--estimator", "kde-upper", "--noise-var", "1e-14"]);
    assert!(
        e.contains("kde-upper") && e.contains("narrower than the distances"),
        "{e}"
    );
    // Samples that share values never reach the ceiling.
    let (_, e) = warn(&["--estimator", "binning-size", "--bin-size", "1e-6"]);
    assert!(e.is_empty(), "{e}");
    // Fixed bins on a range that clips: the share is the share of values outside it.
    let values: Vec<f64> = std::fs::read_to_string(&t)
        .unwrap()
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    #[allow(clippy::cast_precision_loss)]
    let share = values.iter().filter(|v| v.abs() > 0.25).count() as f64 / values.len() as f64;
    assert!(share > 0.1 && share < 0.99, "{share}");
    let (_, e) = warn(&["--estimator", "binning", "--range=-0.25,0.25"]);
    assert!(
        e.contains(&format!(
            "warning: binning: {:.2}% of the values",
            share * 100.0
        )) && e.contains("outside --range -0.25,0.25"),
        "{e}"
    );
    // The default range holds every tanh value, and 30 edges do not separate every sample.
    let (_, e) = warn(&["--estimator", "binning", "--estimator", "kde-upper"]);
    assert!(e.is_empty(), "{e}");
    // A history says it once per estimator, with how many layer-epochs.
    let npz = fixture("hist.npz");
    let (_, e) = ok(&[
        "estimate",
        "--history",
        &npz,
        "--labels",
        &format!("{npz}:labels"),
        "--estimator",
        "binning",
        "--range=-0.01,0.01",
        "--out",
        dir.join("p").to_str().unwrap(),
    ]);
    assert_eq!(
        e.matches("warning: binning: 6 of 6 layer-epochs (layers 1, 2); at worst")
            .count(),
        1,
        "{e}"
    );
}
