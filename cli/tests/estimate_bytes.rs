//! `estimate` on files brought as bytes (what the browser page does with dropped files) prints
//! what `infoplane estimate` prints on the same files, with the same warnings and errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

use infoplane_cli::cmd::estimate::estimate_bytes;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("infoplane-estbytes-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A C-order little-endian float32 `.npy` file of `rows × cols` values.
fn npy(values: &[f32], rows: usize, cols: usize) -> Vec<u8> {
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend(u16::try_from(header.len()).unwrap().to_le_bytes());
    out.extend(header.as_bytes());
    for v in values {
        out.extend(v.to_le_bytes());
    }
    out
}

/// The same files through the binary and through [`estimate_bytes`]: same stdout, warnings
/// (stderr lines) and exit.
fn same(dir: &Path, files: &BTreeMap<&str, Vec<u8>>, options: &[&str]) -> String {
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_infoplane"))
        .current_dir(dir)
        .arg("estimate")
        .args(options)
        .output()
        .unwrap();
    let argv: Vec<String> = options.iter().map(|s| (*s).to_owned()).collect();
    let got = estimate_bytes(&argv, &|p: &Path| {
        files.get(p.to_str().unwrap()).map(Vec::as_slice)
    });
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    match got {
        Ok((csv, warnings)) => {
            assert!(out.status.success(), "{stderr}");
            assert_eq!(csv, String::from_utf8_lossy(&out.stdout));
            let printed: Vec<&str> = stderr.lines().collect();
            let said: Vec<String> = warnings.iter().map(|w| format!("warning: {w}")).collect();
            assert_eq!(said, printed);
            csv
        }
        Err(e) => {
            assert_eq!(out.status.code(), Some(2));
            assert_eq!(format!("error: {e}"), stderr.lines().next().unwrap());
            format!("error: {e}")
        }
    }
}

#[test]
fn dropped_files_give_the_bytes_of_estimate() {
    let dir = tmp("same");
    let (rows, cols) = (300usize, 3usize);
    // Deterministic activations in (-1, 1), 4 classes, 12-bit-like inputs.
    let t: Vec<f32> = (0..rows * cols)
        .map(|i| {
            let v = u32::try_from(i).unwrap().wrapping_mul(2_654_435_761) >> 8;
            #[allow(clippy::cast_precision_loss)]
            let f = v as f32 / 16_777_216.0;
            f * 1.8 - 0.9
        })
        .collect();
    let labels: String = (0..rows).map(|i| format!("{}\n", i % 4)).collect();
    let inputs: String = (0..rows)
        .map(|i| format!("{},{},{}\n", i % 2, (i / 2) % 2, (i / 4) % 3))
        .collect();
    let csv: String = t
        .chunks(cols)
        .map(|r| {
            r.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
                + "\n"
        })
        .collect();
    let mut files = BTreeMap::new();
    files.insert("t.npy", npy(&t, rows, cols));
    files.insert("t.csv", csv.into_bytes());
    files.insert("y.csv", labels.into_bytes());
    files.insert("x.csv", inputs.into_bytes());
    let a = same(
        &dir,
        &files,
        &[
            "--activations",
            "t.npy",
            "--labels",
            "y.csv",
            "--inputs",
            "x.csv",
            "--estimator",
            "binning",
            "--estimator",
            "kde-upper",
            "--estimator",
            "ksg",
            "--bits",
        ],
    );
    assert!(
        a.starts_with("estimator,i_xt_bits,i_ty_bits,i_xt_hex,i_ty_hex\nbinning,"),
        "{a}"
    );
    // The text table gives the same values as the array (shortest round-trip decimals).
    let b = same(
        &dir,
        &files,
        &[
            "--activations",
            "t.csv",
            "--labels",
            "y.csv",
            "--inputs",
            "x.csv",
            "--estimator",
            "binning",
            "--estimator",
            "kde-upper",
            "--estimator",
            "ksg",
            "--bits",
        ],
    );
    assert_eq!(a, b);
    // Fine bins: I(X;T) at its ceiling, with the warning `estimate` prints.
    let c = same(
        &dir,
        &files,
        &[
            "--activations",
            "t.npy",
            "--labels",
            "y.csv",
            "--estimator",
            "binning",
            "--bins",
            "5000",
        ],
    );
    assert!(
        c.starts_with("estimator,i_xt_bits,i_ty_bits\nbinning,"),
        "{c}"
    );
    let (_, warnings) = estimate_bytes(
        &[
            "--activations",
            "t.npy",
            "--labels",
            "y.csv",
            "--estimator",
            "binning",
            "--bins",
            "5000",
        ]
        .map(str::to_owned),
        &|p: &Path| files.get(p.to_str().unwrap()).map(Vec::as_slice),
    )
    .unwrap();
    assert!(
        warnings.len() == 1 && warnings[0].contains("at its ceiling"),
        "{warnings:?}"
    );
    // Errors: ksg without inputs, labels of the wrong length, a bad setting, an unknown option.
    let e = same(
        &dir,
        &files,
        &[
            "--activations",
            "t.npy",
            "--labels",
            "y.csv",
            "--estimator",
            "ksg",
        ],
    );
    assert!(e.contains("--inputs"), "{e}");
    files.insert("y2.csv", b"0\n1\n".to_vec());
    let e = same(
        &dir,
        &files,
        &[
            "--activations",
            "t.npy",
            "--labels",
            "y2.csv",
            "--estimator",
            "binning",
        ],
    );
    assert!(e.contains("2 labels for 300 rows"), "{e}");
    let e = same(
        &dir,
        &files,
        &[
            "--activations",
            "t.npy",
            "--labels",
            "y.csv",
            "--estimator",
            "binning",
            "--bins",
            "1",
        ],
    );
    assert!(e.contains("--bins"), "{e}");
    let e = estimate_bytes(&["--frobnicate".to_owned()], &|_| None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("--frobnicate"), "{e}");
    // A file that was not brought.
    let e = estimate_bytes(
        &[
            "--activations",
            "nope.npy",
            "--labels",
            "y.csv",
            "--estimator",
            "binning",
        ]
        .map(str::to_owned),
        &|_| None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no file nope.npy"), "{e}");
}
