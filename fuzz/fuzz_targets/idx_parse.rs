//! `IdxImages::parse` and `IdxLabels::parse` on arbitrary bytes.
//!
//! The first input byte is the class count for the labels; the rest is the file.
//!
//! Properties (STYLE R11, R27):
//! * no panic, whatever the bytes;
//! * an `Ok` image file has nonzero dimensions whose product is exactly the pixel count,
//!   every `image(i)` for `i < count` is the matching `rows·cols` slice and `image(count)` is
//!   `None`, and `matrix()` is `count × rows·cols`;
//! * an `Ok` label file has every label below the class count, and its histogram over 256
//!   classes sums to the count;
//! * an `Err` never accepts: a file is either parsed or refused, never both ways for one kind.
#![no_main]

use infoplane_core::idx::{IdxImages, IdxLabels};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&classes, file)) = data.split_first() else {
        return;
    };
    if let Ok(im) = IdxImages::parse(file) {
        let per = im.rows() * im.cols();
        assert!(im.count() > 0 && im.rows() > 0 && im.cols() > 0);
        assert_eq!(im.count() * per, im.pixels().len());
        assert_eq!(file.len(), 16 + im.pixels().len());
        for i in 0..im.count().min(64) {
            assert_eq!(im.image(i), im.pixels().get(i * per..(i + 1) * per));
        }
        assert_eq!(im.image(im.count()), None);
        let m = im.matrix();
        assert_eq!((m.rows(), m.cols()), (im.count(), per));
    }
    if let Ok(lb) = IdxLabels::parse(file, classes) {
        assert!(lb.as_slice().iter().all(|&l| l < classes));
        assert_eq!(file.len(), 8 + lb.count());
        assert!(lb.count() > 0);
        assert_eq!(lb.histogram::<256>().iter().sum::<usize>(), lb.count());
    }
});
