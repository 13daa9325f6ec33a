//! Scratch memory: typed requirements that compose, and one caller buffer that hands out
//! `f32`, `u32` and `u64` views (R6, R7).
//!
//! A kernel states what it needs as a [`ScratchReq`], built from typed pieces
//! ([`ScratchReq::f32`], [`ScratchReq::u32`], [`ScratchReq::u64`]) joined with
//! [`ScratchReq::and`] (buffers live at the same time: sizes add) and
//! [`ScratchReq::any_of`] (phases that reuse one region: the larger wins), in the manner of
//! faer's `StackReq`. The caller hands in one `&mut [u64]` of at least
//! [`ScratchReq::words`] elements, wrapped in a [`Scratch`], and the kernel carves its typed
//! regions off the front. Every region starts on a `u64` boundary, so an `f32` or `u32`
//! region of odd length takes one padding element; the requirement counts it.
//!
//! This module is the only place that does offset arithmetic on scratch, and it never
//! panics: a region that does not fit is [`Error::ScratchTooSmall`] naming the total the
//! caller should have provided. Views of other types are made with `bytemuck`'s safe casts
//! (`u64` is at least as aligned as `f32` and `u32`), so the crate stays free of `unsafe`.
//!
//! What a region holds on entry is unspecified; kernels write every element before reading
//! it (tested with poisoned buffers).

use crate::Error;

/// Scratch a kernel needs, in `u64` words. Build it from typed pieces; compose with
/// [`ScratchReq::and`] and [`ScratchReq::any_of`].
///
/// # Examples
/// ```
/// use infoplane_core::ScratchReq;
/// // An f32 buffer of 5 and a u64 buffer of 3 at the same time, then either 7 u32s or
/// // 2 u64s in a later phase that reuses the memory.
/// let live = ScratchReq::f32(5).and(ScratchReq::u64(3))?;
/// let later = ScratchReq::u32(7).any_of(ScratchReq::u64(2));
/// let req = live.and(later)?;
/// assert_eq!(req.words(), 3 + 3 + 4);
/// # Ok::<(), infoplane_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScratchReq {
    words: usize,
}

impl ScratchReq {
    /// Nothing.
    pub const EMPTY: Self = Self { words: 0 };

    /// `len` `f32`s (rounded up to whole words).
    #[must_use]
    pub const fn f32(len: usize) -> Self {
        Self {
            words: len.div_ceil(2),
        }
    }

    /// `len` `u32`s (rounded up to whole words).
    #[must_use]
    pub const fn u32(len: usize) -> Self {
        Self {
            words: len.div_ceil(2),
        }
    }

    /// `len` `u64`s.
    #[must_use]
    pub const fn u64(len: usize) -> Self {
        Self { words: len }
    }

    /// `len` `f64`s (stored as `u64` bit patterns).
    #[must_use]
    pub const fn f64(len: usize) -> Self {
        Self { words: len }
    }

    /// Both at once: the sizes add.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if the sum overflows `usize`.
    pub const fn and(self, other: Self) -> Result<Self, Error> {
        match self.words.checked_add(other.words) {
            Some(words) => Ok(Self { words }),
            None => Err(Error::TooLarge),
        }
    }

    /// Either one, in phases that reuse the same region: the larger.
    #[must_use]
    pub const fn any_of(self, other: Self) -> Self {
        if self.words >= other.words {
            self
        } else {
            other
        }
    }

    /// `count` copies at once (for example one buffer per layer).
    ///
    /// # Errors
    /// [`Error::TooLarge`] if the product overflows `usize`.
    pub const fn times(self, count: usize) -> Result<Self, Error> {
        match self.words.checked_mul(count) {
            Some(words) => Ok(Self { words }),
            None => Err(Error::TooLarge),
        }
    }

    /// The `u64` count the caller's buffer must hold. May change between versions: ask, do
    /// not hard-code.
    #[must_use]
    pub const fn words(self) -> usize {
        self.words
    }
}

/// One caller buffer, carved into typed regions (see the module docs).
///
/// # Examples
/// ```
/// use infoplane_core::{Scratch, ScratchReq};
/// let req = ScratchReq::f32(3).and(ScratchReq::u32(2))?;
/// let mut buf = [0u64; 3];
/// let mut s = Scratch::new(&mut buf, req)?;
/// let a: &mut [f32] = s.f32(3)?;
/// a.fill(1.5);
/// let b: &mut [u32] = s.u32(2)?;
/// b.fill(7);
/// # Ok::<(), infoplane_core::Error>(())
/// ```
#[derive(Debug)]
pub struct Scratch<'a> {
    rest: &'a mut [u64],
    needed: usize,
    got: usize,
}

impl<'a> Scratch<'a> {
    /// Wraps `buf`, which must hold at least `req.words()` elements.
    ///
    /// # Errors
    /// [`Error::ScratchTooSmall`] if it is shorter.
    pub const fn new(buf: &'a mut [u64], req: ScratchReq) -> Result<Self, Error> {
        let got = buf.len();
        if got < req.words {
            return Err(Error::ScratchTooSmall {
                needed: req.words,
                got,
            });
        }
        Ok(Self {
            rest: buf,
            needed: req.words,
            got,
        })
    }

    /// Takes the next `words` words.
    fn take(&mut self, words: usize) -> Result<&'a mut [u64], Error> {
        if words > self.rest.len() {
            return Err(Error::ScratchTooSmall {
                needed: self.needed,
                got: self.got,
            });
        }
        let rest = core::mem::take(&mut self.rest);
        let (head, tail) = rest.split_at_mut(words);
        self.rest = tail;
        Ok(head)
    }

    /// The next `len` `u64`s.
    ///
    /// # Errors
    /// [`Error::ScratchTooSmall`] past the end of the requirement's buffer.
    pub fn u64(&mut self, len: usize) -> Result<&'a mut [u64], Error> {
        self.take(len)
    }

    /// The next `len` `f64`s.
    ///
    /// # Errors
    /// [`Error::ScratchTooSmall`] past the end of the requirement's buffer.
    pub fn f64(&mut self, len: usize) -> Result<&'a mut [f64], Error> {
        Ok(bytemuck::cast_slice_mut(self.take(len)?))
    }

    /// The next `len` `f32`s.
    ///
    /// # Errors
    /// [`Error::ScratchTooSmall`] past the end of the requirement's buffer.
    pub fn f32(&mut self, len: usize) -> Result<&'a mut [f32], Error> {
        let words: &'a mut [u64] = self.take(len.div_ceil(2))?;
        let view: &'a mut [f32] = bytemuck::cast_slice_mut(words);
        view.get_mut(..len).ok_or(Error::TooLarge)
    }

    /// The next `len` `u32`s.
    ///
    /// # Errors
    /// [`Error::ScratchTooSmall`] past the end of the requirement's buffer.
    pub fn u32(&mut self, len: usize) -> Result<&'a mut [u32], Error> {
        let words: &'a mut [u64] = self.take(len.div_ceil(2))?;
        let view: &'a mut [u32] = bytemuck::cast_slice_mut(words);
        view.get_mut(..len).ok_or(Error::TooLarge)
    }

    /// Everything not yet handed out, for kernels called one after another on the same
    /// region.
    #[must_use]
    pub fn rest(self) -> &'a mut [u64] {
        self.rest
    }

    /// What is left, as a new scratch for a kernel that needs `req` (a sub-call).
    ///
    /// # Errors
    /// [`Error::ScratchTooSmall`] if less than `req` is left.
    pub fn sub(&mut self, req: ScratchReq) -> Result<Scratch<'a>, Error> {
        let words = self.take(req.words)?;
        Scratch::new(words, req)
    }
}

/// Splits named regions off the front of a slice of one element type (the MLP's `f32`
/// scratch, whose callers carve it from a [`Scratch`] with [`Scratch::f32`]).
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

/// A buffer that sizes itself (feature `alloc`): ask it for a [`Scratch`] of any requirement
/// and it grows (never shrinks) to fit, so a frontend allocates once and reuses the memory
/// (R9).
#[cfg(feature = "alloc")]
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    buf: alloc::vec::Vec<u64>,
}

#[cfg(feature = "alloc")]
impl Workspace {
    /// An empty workspace.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            buf: alloc::vec::Vec::new(),
        }
    }

    /// A workspace already sized for `req`.
    #[must_use]
    pub fn with_req(req: ScratchReq) -> Self {
        let mut w = Self::new();
        w.buf.resize(req.words(), 0);
        w
    }

    /// Scratch for `req`, growing the buffer if needed.
    ///
    /// # Errors
    /// Never in practice: the buffer always fits `req` (the `Result` is
    /// [`Scratch::new`]'s).
    pub fn scratch(&mut self, req: ScratchReq) -> Result<Scratch<'_>, Error> {
        if self.buf.len() < req.words() {
            self.buf.resize(req.words(), 0);
        }
        Scratch::new(&mut self.buf, req)
    }

    /// The words held.
    #[must_use]
    pub fn words(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::float_cmp)]
    use super::*;

    #[test]
    fn requirements_compose() {
        assert_eq!(ScratchReq::f32(5).words(), 3);
        assert_eq!(ScratchReq::u32(4).words(), 2);
        assert_eq!(ScratchReq::u64(4).words(), 4);
        let r = ScratchReq::f32(1).and(ScratchReq::u32(1)).unwrap();
        assert_eq!(r.words(), 2);
        assert_eq!(r.any_of(ScratchReq::u64(5)).words(), 5);
        assert_eq!(r.times(3).unwrap().words(), 6);
        assert_eq!(
            ScratchReq::u64(usize::MAX).and(ScratchReq::u64(1)),
            Err(Error::TooLarge)
        );
        assert_eq!(ScratchReq::u64(usize::MAX).times(2), Err(Error::TooLarge));
    }

    #[test]
    fn carves_typed_views_in_order_and_rejects_short_buffers() {
        let req = ScratchReq::f32(3)
            .and(ScratchReq::u32(1))
            .and_then(|r| r.and(ScratchReq::u64(2)))
            .unwrap();
        let mut buf = [0u64; 6];
        {
            let mut s = Scratch::new(&mut buf, req).unwrap();
            let a = s.f32(3).unwrap();
            assert_eq!(a.len(), 3);
            a.fill(1.0);
            s.u32(1).unwrap().fill(u32::MAX);
            s.u64(2).unwrap().fill(9);
            assert_eq!(
                s.u64(2).unwrap_err(),
                Error::ScratchTooSmall { needed: 5, got: 6 }
            );
        }
        assert_eq!(buf[0], u64::from(1.0f32.to_bits()) * 0x1_0000_0001);
        // The u32 sits in one half of word 2 (which half depends on the byte order).
        assert!(buf[2] == u64::from(u32::MAX) || buf[2] == u64::from(u32::MAX) << 32);
        assert_eq!(buf[3..5], [9, 9]);
        let mut short = [0u64; 4];
        assert_eq!(
            Scratch::new(&mut short, req).unwrap_err(),
            Error::ScratchTooSmall { needed: 5, got: 4 }
        );
    }
}
