//! Runs under `wasm-bindgen-test-runner` (node): the browser build reproduces the golden
//! short run byte for byte (the same file the native CLI test checks, R20).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

use infoplane_wasm::Session;
use wasm_bindgen_test::wasm_bindgen_test;

const GOLDEN: &str = include_str!("../../tests/data/golden/run_tishby_e60_every20.csv");

#[wasm_bindgen_test]
fn golden_short_run_is_byte_identical() {
    let mut s = Session::new("tishby", "tanh", "binning", 0, 60, "every:20")
        .map_err(|_| ())
        .unwrap();
    while !s.done() {
        s.step(7).map_err(|_| ()).unwrap();
    }
    assert_eq!(s.plane_csv(), GOLDEN);
    // Timings are wall clock, so only their sign and sum are checkable.
    assert!(s.train_ms() >= 0.0 && s.measure_ms() >= 0.0);
    let points = s.take_points();
    assert_eq!(points.len(), 3 * 6 * 5);
    assert!(s.take_points().is_empty());
    assert_eq!(s.take_metrics().len(), 3 * 5);
}

#[wasm_bindgen_test]
fn bad_settings_are_errors() {
    assert!(Session::new("nope", "tanh", "binning", 0, 10, "").is_err());
    assert!(Session::new("tishby", "swish", "binning", 0, 10, "").is_err());
    assert!(Session::new("tishby", "tanh", "magic", 0, 10, "").is_err());
    assert!(Session::new("tishby", "tanh", "binning", 0, 10, "every:0").is_err());
}
