//! Named, seeded random streams (R18).
//!
//! One generator, `Xoshiro128PlusPlus::seed_from_u64(seed)`; each consumer gets its own stream,
//! derived by a fixed number of `jump()`s (2⁶⁴ steps each), so adding a consumer never shifts
//! the numbers another one sees. The conversions to floats and the normal sampler are written
//! here, not borrowed from a distribution crate, so a dependency bump cannot change results.

use crate::math;
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro128PlusPlus;

/// Who consumes a stream. The discriminant is the number of jumps from the seeded state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Stream {
    /// Weight initialisation.
    Init = 0,
    /// Mini-batch order (reshuffling each epoch).
    Shuffle = 1,
    /// The train/test split permutation.
    Split = 2,
    /// Noise (KDE, noisy nets).
    Noise = 3,
}

/// A random stream for one consumer.
#[derive(Debug, Clone)]
pub struct StreamRng {
    inner: Xoshiro128PlusPlus,
    /// 32-bit draws taken so far, so a checkpoint can restore the stream.
    draws: u64,
}

impl StreamRng {
    /// The stream `which` of the run seeded with `seed`.
    #[must_use]
    pub fn new(seed: u64, which: Stream) -> Self {
        let mut inner = Xoshiro128PlusPlus::seed_from_u64(seed);
        for _ in 0..which as u8 {
            inner.jump();
        }
        Self { inner, draws: 0 }
    }

    /// The stream `which` of the run seeded with `seed` after `draws` 32-bit draws: the state
    /// a checkpoint restores (O(`draws`), about a nanosecond each).
    #[must_use]
    pub fn after(seed: u64, which: Stream, draws: u64) -> Self {
        let mut s = Self::new(seed, which);
        for _ in 0..draws {
            s.inner.next_u32();
        }
        s.draws = draws;
        s
    }

    /// The 32-bit draws taken so far.
    #[must_use]
    pub const fn draws(&self) -> u64 {
        self.draws
    }

    /// The next raw 32 bits.
    pub fn next_u32(&mut self) -> u32 {
        self.draws += 1;
        self.inner.next_u32()
    }

    /// Uniform on [0, 1): the top 24 bits times 2⁻²⁴, so every value is exact in f32.
    pub fn uniform_f32(&mut self) -> f32 {
        #[allow(clippy::cast_precision_loss)] // < 2^24, exact
        let top = (self.next_u32() >> 8) as f32;
        top * (1.0 / 16_777_216.0)
    }

    /// Uniform on (0, 1] in f64 with 53 random bits: never 0, so its logarithm is finite.
    fn open_closed_f64(&mut self) -> f64 {
        let hi = u64::from(self.next_u32() >> 5); // 27 bits
        let lo = u64::from(self.next_u32() >> 6); // 26 bits
        #[allow(clippy::cast_precision_loss)] // < 2^53, exact
        let v = ((hi << 26) | lo) as f64;
        (v + 1.0) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// A standard normal draw: Box–Muller, one value per pair of uniforms
    /// (z = √(−2 ln u₁) cos(2π u₂)), in f64 and rounded once to f32.
    pub fn normal_f32(&mut self) -> f32 {
        let u1 = self.open_closed_f64();
        let u2 = self.open_closed_f64();
        let z =
            math::sqrt_f64(-2.0 * math::ln_f64(u1)) * math::cos_f64(core::f64::consts::TAU * u2);
        #[allow(clippy::cast_possible_truncation)] // |z| < 40 by construction; rounding intended
        let z32 = z as f32;
        z32
    }

    /// A normal draw with standard deviation `sigma`, redrawn while beyond 2σ, as
    /// TensorFlow's `truncated_normal` does.
    pub fn truncated_normal_f32(&mut self, sigma: f32) -> f32 {
        loop {
            let z = self.normal_f32();
            if z.abs() <= 2.0 {
                return z * sigma;
            }
        }
    }

    /// Uniform integer in `0..n` without modulo bias (Lemire's multiply-and-reject).
    /// Returns 0 when `n == 0`.
    pub fn below(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u64::from(self.next_u32()) * u64::from(n);
            #[allow(clippy::cast_possible_truncation)] // low half by design
            let low = m as u32;
            if low >= threshold {
                #[allow(clippy::cast_possible_truncation)] // high half < n
                return (m >> 32) as u32;
            }
        }
    }

    /// Shuffles `items` in place (Fisher–Yates, from the back).
    pub fn shuffle(&mut self, items: &mut [u32]) {
        let mut i = items.len();
        while i > 1 {
            #[allow(clippy::cast_possible_truncation)] // slices of indices are u32-sized (R19)
            let j = self.below(i as u32) as usize;
            i -= 1;
            items.swap(i, j.min(i));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]
    use super::*;

    #[test]
    fn streams_are_pinned() {
        // Pins the first outputs of each stream: a dependency bump must not change them.
        let firsts: [u32; 4] = core::array::from_fn(|k| {
            let s = [Stream::Init, Stream::Shuffle, Stream::Split, Stream::Noise][k];
            StreamRng::new(42, s).next_u32()
        });
        assert_eq!(firsts, PINNED);
        let mut r = StreamRng::new(7, Stream::Init);
        let u: [u32; 3] = core::array::from_fn(|_| r.next_u32());
        assert_eq!(u, PINNED_SEED7);
    }
    const PINNED: [u32; 4] = [2_643_743_425, 3_783_957_358, 3_881_260_192, 2_102_000_930];
    const PINNED_SEED7: [u32; 3] = [408_380_677, 241_951_010, 1_607_106_062];

    #[test]
    fn normal_moments_and_truncation() {
        let mut r = StreamRng::new(1, Stream::Init);
        let n = 200_000;
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for _ in 0..n {
            let z = f64::from(r.normal_f32());
            s1 += z;
            s2 += z * z;
        }
        let mean = s1 / f64::from(n);
        let var = s2 / f64::from(n) - mean * mean;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "var {var}");
        // Truncated at 2σ: variance of N(0,1) truncated to [-2, 2] is 0.773_741.
        let (mut t2, mut max) = (0.0f64, 0.0f32);
        for _ in 0..n {
            let z = r.truncated_normal_f32(0.5);
            max = max.max(z.abs());
            t2 += f64::from(z) * f64::from(z);
        }
        assert!(max <= 1.0);
        let tv = t2 / f64::from(n) / 0.25;
        assert!((tv - 0.773_741).abs() < 0.01, "truncated var {tv}");
    }

    #[test]
    fn below_and_shuffle() {
        let mut r = StreamRng::new(3, Stream::Shuffle);
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            counts[r.below(3) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (9_500..10_500).contains(&c)),
            "{counts:?}"
        );
        let mut v: [u32; 50] = core::array::from_fn(|i| i as u32);
        r.shuffle(&mut v);
        let mut sorted = v;
        sorted.sort_unstable();
        assert!(sorted.iter().enumerate().all(|(i, &x)| x as usize == i));
        assert_ne!(v, sorted);
    }
}
