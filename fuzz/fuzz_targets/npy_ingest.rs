//! The CLI's `.npy` readers on arbitrary bytes: `arrays::npy_table_from_bytes` and
//! `arrays::npy_labels`, the file shown as `f.npy`.
//!
//! Properties (STYLE R12, R27):
//! * never panics, and every error formats and names the file (`f.npy`);
//! * no allocation beyond what the input holds: a header that claims a huge shape (or a
//!   huge header) with a few bytes behind it is refused, not allocated for (libFuzzer's
//!   `-malloc_limit_mb`, by default `-rss_limit_mb` = 2048, turns a huge allocation into a
//!   crash);
//! * an `Ok` table has at least one row and one column, `rows × cols == data.len()` (without
//!   overflow), only finite values, no header, and is usable as a core matrix;
//! * `Ok` labels are non-empty, and then the table reads the same file as `N × 1` with the
//!   same values (each label as `f32`);
//! * reading the same bytes twice gives the same answer.
//!
//! The input is the file itself, so seeds are plain `.npy` files (written by `np.save`).
//! Inputs past 64 KiB are skipped: a version-1 header is at most 64 KiB, and longer inputs
//! only make the data longer.
#![no_main]

use infoplane_cli::arrays::{npy_labels, npy_table_from_bytes};
use libfuzzer_sys::{Corpus, fuzz_target};
use std::path::Path;

/// Longest input read.
const MAX_LEN: usize = 64 << 10;

fuzz_target!(|data: &[u8]| -> Corpus {
    if data.len() > MAX_LEN {
        return Corpus::Reject;
    }
    let path = Path::new("f.npy");
    let table = npy_table_from_bytes(data, path);
    match &table {
        Ok(t) => {
            assert!(t.rows >= 1, "Ok table with no rows");
            assert!(t.cols >= 1, "Ok table with no columns");
            assert_eq!(
                t.rows.checked_mul(t.cols),
                Some(t.data.len()),
                "rows × cols != data.len() (rows {}, cols {})",
                t.rows,
                t.cols
            );
            assert!(t.data.iter().all(|v| v.is_finite()), "non-finite value");
            assert!(t.header.is_none(), "a .npy table with a header");
            // The table must be usable as a core matrix exactly as the CLI builds one.
            assert!(infoplane_core::MatRef::new(&t.data, t.rows, t.cols).is_ok());
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("f.npy"), "table error without the file: {msg}");
        }
    }
    let again = npy_table_from_bytes(data, path);
    assert_eq!(
        table.as_ref().ok(),
        again.as_ref().ok(),
        "table differs between two reads"
    );

    let labels = npy_labels(data, path);
    match &labels {
        Ok(l) => {
            assert!(!l.is_empty(), "Ok labels with no labels");
            // Labels are an N or N × 1 array of integers in u32's range: the table reader
            // takes the same file as N × 1, each value the label rounded to f32.
            let t = table
                .as_ref()
                .unwrap_or_else(|e| panic!("labels read but the table refused: {e}"));
            assert_eq!((t.rows, t.cols), (l.len(), 1), "labels' shape differs");
            // `==`, not bits: a float label -0.0 is label 0.
            #[allow(clippy::cast_possible_truncation, clippy::float_cmp)]
            let same = l
                .iter()
                .zip(&t.data)
                .all(|(&y, &v)| f64::from(y) as f32 == v);
            assert!(same, "labels and table disagree");
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains("f.npy"),
                "labels error without the file: {msg}"
            );
        }
    }
    let again = npy_labels(data, path);
    assert_eq!(
        labels.as_ref().ok(),
        again.as_ref().ok(),
        "labels differ between two reads"
    );
    Corpus::Keep
});
