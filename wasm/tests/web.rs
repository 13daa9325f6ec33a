//! Runs under `wasm-bindgen-test-runner` (node): the browser build reproduces the golden
//! short run byte for byte and the KDE golden bits (the same files the native tests check,
//! R20), reports real timings, and hands out the core's catalogue.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

use infoplane_tests::golden::{differences, parse};
use infoplane_wasm::{Session, catalog};
use wasm_bindgen_test::wasm_bindgen_test;

const GOLDEN: &str = include_str!("../../tests/data/golden/run_tishby_e60_every20.csv");
const KDE_GOLDEN: &str = include_str!("../../tests/data/golden/kde.txt");
const MNIST_NET_GOLDEN: &str = include_str!("../../tests/data/golden/mnist_net.txt");

#[wasm_bindgen_test]
fn golden_short_run_is_byte_identical_and_timed() {
    let mut s = Session::new("tishby", "tanh", "binning", 0, 60, "every:20")
        .map_err(|_| ())
        .unwrap();
    while !s.done() {
        s.step(7).map_err(|_| ()).unwrap();
    }
    assert_eq!(s.plane_csv(), GOLDEN);
    // 60 epochs of training and three measurements of 4096 rows each take well over a
    // millisecond apiece on any machine; the clock is performance.now().
    assert!(s.train_ms() > 0.0, "train {} ms", s.train_ms());
    assert!(s.measure_ms() > 0.0, "measure {} ms", s.measure_ms());
    let points = s.take_points();
    assert_eq!(points.len(), 3 * 6 * 5);
    assert!(s.take_points().is_empty());
    assert_eq!(s.take_metrics().len(), 3 * 5);
}

#[wasm_bindgen_test]
fn kde_golden_bits_match_native() {
    let want = parse(KDE_GOLDEN).unwrap();
    let got = infoplane_tests::golden::kde_entries();
    let diff = differences(&want, &got);
    assert!(diff.is_empty(), "{}", diff.join("\n"));
}

#[wasm_bindgen_test]
fn mnist_net_golden_bits_match_native() {
    let want = parse(MNIST_NET_GOLDEN).unwrap();
    let got = infoplane_tests::golden::mnist_net_entries();
    let diff = differences(&want, &got);
    assert!(diff.is_empty(), "{}", diff.join("\n"));
}

#[wasm_bindgen_test]
fn catalog_lists_the_cores_presets_and_estimators() {
    let c: serde_json::Value = serde_json::from_str(&catalog().map_err(|_| ()).unwrap()).unwrap();
    let names = |key: &str, field: &str| -> Vec<String> {
        c[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v[field].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names("presets", "name"),
        ["tishby", "tishby-paper", "saxe", "saxe-mnist"]
    );
    assert_eq!(c["presets"][3]["dataset"], "mnist");
    assert_eq!(c["presets"][3]["mi_rows"], "test");
    assert_eq!(
        names("estimators", "name"),
        [
            "binning",
            "binning-size",
            "binning-range",
            "kde-upper",
            "kde-lower",
            "ksg",
            "binning-equal-mass"
        ]
    );
    assert_eq!(c["estimators"][5]["params"][0]["name"], "k");
    assert_eq!(c["estimators"][5]["params"][1]["name"], "standardize");
    assert_eq!(c["estimators"][6]["params"][1]["name"], "miller_madow");
    assert_eq!(c["presets"][0]["epochs"], 8000);
    assert_eq!(c["presets"][0]["schedule"], "log:400");
    assert_eq!(c["presets"][1]["settings"]["bins"], 50);
    assert_eq!(c["presets"][2]["estimators"][0], "binning-size");
    assert_eq!(c["estimators"][3]["params"][0]["name"], "noise_var");
    assert_eq!(c["activations"].as_array().unwrap().len(), 7);
}

#[wasm_bindgen_test]
fn bad_settings_are_errors() {
    assert!(Session::new("nope", "tanh", "binning", 0, 10, "").is_err());
    // MNIST is read from files, which the module has no way to load.
    assert!(Session::new("saxe-mnist", "tanh", "binning", 0, 10, "").is_err());
    assert!(Session::new("tishby", "swish", "binning", 0, 10, "").is_err());
    assert!(Session::new("tishby", "tanh", "magic", 0, 10, "").is_err());
    assert!(Session::new("tishby", "tanh", "binning", 0, 10, "every:0").is_err());
    assert!(Session::new("tishby", "tanh", "binning", 0, 10, "list:3,2").is_err());
}
