//! Carving caller-provided scratch into named regions (R7).
//!
//! This is the only place that does offset arithmetic on scratch. It never panics: a region
//! that does not fit gives [`Error::ScratchTooSmall`] naming the total the caller should have
//! provided.

use crate::Error;

/// Splits named regions off the front of a scratch slice.
#[derive(Debug)]
pub(crate) struct Carver<'a, T> {
    rest: &'a mut [T],
    needed: usize,
    got: usize,
}

impl<'a, T> Carver<'a, T> {
    /// Starts carving `scratch`, which must hold at least `needed` elements in total.
    pub(crate) fn new(scratch: &'a mut [T], needed: usize) -> Result<Self, Error> {
        let got = scratch.len();
        if got < needed {
            return Err(Error::ScratchTooSmall { needed, got });
        }
        Ok(Self {
            rest: scratch,
            needed,
            got,
        })
    }

    /// Takes the next `len` elements.
    pub(crate) fn take(&mut self, len: usize) -> Result<&'a mut [T], Error> {
        if len > self.rest.len() {
            return Err(Error::ScratchTooSmall {
                needed: self.needed,
                got: self.got,
            });
        }
        let rest = core::mem::take(&mut self.rest);
        let (head, tail) = rest.split_at_mut(len);
        self.rest = tail;
        Ok(head)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn carves_in_order_and_rejects_short_scratch() {
        let mut buf = [0.0f32; 10];
        let mut c = Carver::new(&mut buf, 7).unwrap();
        let a = c.take(3).unwrap();
        a.fill(1.0);
        let b = c.take(4).unwrap();
        b.fill(2.0);
        assert_eq!(
            c.take(4).unwrap_err(),
            Error::ScratchTooSmall { needed: 7, got: 10 }
        );
        assert_eq!(buf[..7], [1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]);
        let mut short = [0.0f32; 3];
        assert_eq!(
            Carver::new(&mut short, 4).unwrap_err(),
            Error::ScratchTooSmall { needed: 4, got: 3 }
        );
    }
}
