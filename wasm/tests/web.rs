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

/// Runs a session to its end.
fn finish(s: &mut Session) {
    while !s.done() {
        s.step(50).map_err(|_| ()).unwrap();
    }
}

#[wasm_bindgen_test]
fn seeds_of_a_study_assemble_into_the_files_of_repeats() {
    let opts: Vec<String> = [
        "--epochs",
        "30",
        "--schedule",
        "every:10",
        "--repeats",
        "2",
        "--seed",
        "3",
        "--estimator",
        "binning",
        "--estimator",
        "kde-upper",
    ]
    .map(str::to_owned)
    .into();
    let plan: serde_json::Value =
        serde_json::from_str(&infoplane_wasm::plan(opts.clone()).map_err(|_| ()).unwrap()).unwrap();
    assert_eq!(plan["seeds"], serde_json::json!(["3", "4"]));
    assert_eq!(plan["measuresPerSeed"], 3);
    assert_eq!(plan["nLayers"], 6);
    assert_eq!(
        plan["estimators"],
        serde_json::json!(["binning", "kde-upper"])
    );
    let mut texts: [Vec<String>; 3] = Default::default();
    for index in 0..2 {
        let mut s = Session::from_args(opts.clone(), index)
            .map_err(|_| ())
            .unwrap();
        assert_eq!(s.seed(), (3 + index).to_string());
        finish(&mut s);
        // Seed 4 of the study is the run of seed 4 alone.
        let mut alone = Session::new(
            "tishby",
            "tanh",
            "binning,kde-upper",
            3 + index,
            30,
            "every:10",
        )
        .map_err(|_| ())
        .unwrap();
        finish(&mut alone);
        assert_eq!(s.plane_csv(), alone.plane_csv());
        texts[0].push(s.plane_csv());
        texts[1].push(s.metrics_csv());
        texts[2].push(s.layers_csv());
    }
    let [planes, metrics, layers] = texts;
    let files: Vec<(String, String)> = serde_json::from_str(
        &infoplane_wasm::assemble(opts.clone(), planes.clone(), metrics, layers, true, 2.0, 2)
            .map_err(|_| ())
            .unwrap(),
    )
    .unwrap();
    let file = |name: &str| &files.iter().find(|f| f.0 == name).unwrap().1;
    let mut want = planes[0].clone();
    want.extend(planes[1].lines().skip(1).map(|l| format!("{l}\n")));
    assert_eq!(file("plane.csv"), &want);
    assert!(file("summary.csv").starts_with("epoch,layer,estimator,"));
    assert!(file("plane.svg").starts_with("<svg"));
    let m: serde_json::Value = serde_json::from_str(file("manifest.json")).unwrap();
    assert_eq!(m["seeds"], serde_json::json!([3, 4]));
    assert_eq!(m["threads"], 2);
    assert_eq!(m["status"], "complete");
    // Bad options, an index past the seeds, rows that are not the run's.
    assert!(infoplane_wasm::plan(vec!["--schedule".into(), "log:0".into()]).is_err());
    assert!(Session::from_args(opts.clone(), 2).is_err());
    assert!(
        infoplane_wasm::assemble(
            opts,
            vec!["x\n".into()],
            vec!["y\n".into()],
            vec!["z\n".into()],
            false,
            0.0,
            1
        )
        .is_err()
    );
}
