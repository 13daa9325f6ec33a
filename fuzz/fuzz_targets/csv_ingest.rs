//! The CLI's CSV readers on arbitrary bytes: `read_table_from` and `read_labels_from` (with no
//! label column, and with the column `y`).
//!
//! Properties (STYLE R12, R27):
//! * never panics, and every error formats;
//! * an `Ok` table has at least one row, `rows × cols == data.len()`, only finite values, and
//!   a header (if any) as wide as the rows;
//! * `Ok` labels are non-empty, and reading the same bytes twice gives the same answer.
//!
//! The input is the file itself, so seeds are plain CSV files.
#![no_main]

use infoplane_cli::io::{read_labels_from, read_table_from};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.csv");
    match read_table_from(data, path) {
        Ok(t) => {
            assert!(t.rows >= 1, "Ok table with no rows");
            assert_eq!(
                t.rows.checked_mul(t.cols),
                Some(t.data.len()),
                "rows × cols != data.len()"
            );
            assert!(t.data.iter().all(|v| v.is_finite()), "non-finite value");
            if let Some(h) = &t.header {
                assert_eq!(h.len(), t.cols, "header width differs from rows");
            }
            // The table must be usable as a core matrix exactly as the CLI builds one.
            assert!(infoplane_core::MatRef::new(&t.data, t.rows, t.cols).is_ok());
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    for column in [None, Some("y")] {
        let first = read_labels_from(data, path, column);
        match &first {
            Ok(labels) => assert!(!labels.is_empty(), "Ok labels with no labels"),
            Err(e) => {
                let _ = e.to_string();
            }
        }
        let again = read_labels_from(data, path, column);
        assert_eq!(
            first.as_ref().ok(),
            again.as_ref().ok(),
            "labels differ between two reads"
        );
    }
});
