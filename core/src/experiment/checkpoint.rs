//! Checkpoints: the whole training state of an [`Experiment`](super::Experiment) right after
//! it handed out a snapshot, as bytes, so a killed run can go on from there and give the
//! same bytes as one that never stopped.
//!
//! The state is what training changes: the parameters, the optimiser's state and step count,
//! the mini-batch order (reshuffled in place each epoch), how far the shuffling stream has
//! been drawn, and with as-if-random pooling the parameters of the epochs before the
//! snapshot. Everything else (data set, split, plans, scratch) follows from the
//! configuration. The planner is placed again from the epoch of the snapshot.
//!
//! # Format
//! Little-endian: the magic `IPCKPT02`; seed (u64); epoch of the snapshot (u32); epochs
//! trained (u32); optimiser steps (u64); shuffle draws (u64); the counts of parameters,
//! optimiser state values, order entries and pooled values (u64 each); the parameters and
//! state (f32 bits), the order (u32), the pooled parameters (f32 bits); and the FNV-1a 64
//! hash of everything before it. `IPCKPT01` files (no pooled count or values) are read as
//! well. [`Checkpoint::read`] checks every length against the bytes before it allocates, and
//! the hash, so a torn or foreign file is an error, never a panic or a huge allocation.

use crate::Error;
use alloc::vec::Vec;

/// The first eight bytes of an encoded checkpoint.
pub const CHECKPOINT_MAGIC: [u8; 8] = *b"IPCKPT02";
/// The magic of the first format, without pooled parameters (still read).
const MAGIC_V1: [u8; 8] = *b"IPCKPT01";

/// Fixed part: magic, seed, epoch, epochs trained, steps, draws, four counts.
const HEAD: usize = 8 + 8 + 4 + 4 + 8 + 8 + 4 * 8;

/// The training state right after the snapshot of epoch [`Checkpoint::epoch`].
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The run's seed.
    pub seed: u64,
    /// The epoch of the snapshot just handed out.
    pub epoch: u32,
    /// Epochs trained.
    pub epochs_done: u32,
    /// Optimiser updates so far.
    pub step: u64,
    /// 32-bit draws taken from the shuffling stream.
    pub shuffle_draws: u64,
    /// All parameters, in [`MlpPlan`](crate::MlpPlan) layout.
    pub params: Vec<f32>,
    /// The optimiser's state.
    pub state: Vec<f32>,
    /// The training rows in their current order.
    pub order: Vec<u32>,
    /// With pooling: the parameters of the epochs before the snapshot that training keeps
    /// (up to K − 1 sets, oldest first, one after the other); else empty.
    pub pool: Vec<f32>,
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Reads little-endian values from a byte slice, failing on a short one.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let (head, rest) = self.bytes.split_at_checked(N).ok_or(BAD)?;
        self.bytes = rest;
        head.try_into().map_err(|_| BAD)
    }
    fn u32(&mut self) -> Result<u32, Error> {
        self.take().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Result<u64, Error> {
        self.take().map(u64::from_le_bytes)
    }
    fn count(&mut self) -> Result<usize, Error> {
        usize::try_from(self.u64()?).map_err(|_| BAD)
    }
}

const BAD: Error = Error::InvalidParameter { name: "checkpoint" };

impl Checkpoint {
    /// The length of [`Checkpoint::write`]'s output.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        HEAD + 4 * (self.params.len() + self.state.len() + self.order.len() + self.pool.len()) + 8
    }

    /// Appends the encoding to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.reserve(self.encoded_len());
        out.extend_from_slice(&CHECKPOINT_MAGIC);
        out.extend_from_slice(&self.seed.to_le_bytes());
        out.extend_from_slice(&self.epoch.to_le_bytes());
        out.extend_from_slice(&self.epochs_done.to_le_bytes());
        out.extend_from_slice(&self.step.to_le_bytes());
        out.extend_from_slice(&self.shuffle_draws.to_le_bytes());
        for n in [
            self.params.len(),
            self.state.len(),
            self.order.len(),
            self.pool.len(),
        ] {
            out.extend_from_slice(&(n as u64).to_le_bytes());
        }
        for v in self.params.iter().chain(&self.state) {
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        for v in &self.order {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in &self.pool {
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        let hash = fnv1a(out.get(start..).unwrap_or(&[]));
        out.extend_from_slice(&hash.to_le_bytes());
    }

    /// Decodes [`Checkpoint::write`]'s output; `bytes` must be exactly one checkpoint.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] `"checkpoint"` for a wrong magic, a length that does not
    /// match, or a hash that does not (a torn or changed file).
    pub fn read(bytes: &[u8]) -> Result<Self, Error> {
        let (body, hash) = bytes.split_last_chunk::<8>().ok_or(BAD)?;
        if fnv1a(body) != u64::from_le_bytes(*hash) {
            return Err(BAD);
        }
        let mut r = Reader { bytes: body };
        let magic = r.take::<8>()?;
        if magic != CHECKPOINT_MAGIC && magic != MAGIC_V1 {
            return Err(BAD);
        }
        let seed = r.u64()?;
        let epoch = r.u32()?;
        let epochs_done = r.u32()?;
        let step = r.u64()?;
        let shuffle_draws = r.u64()?;
        let (np, ns, no) = (r.count()?, r.count()?, r.count()?);
        let npool = if magic == MAGIC_V1 { 0 } else { r.count()? };
        let values = np
            .checked_add(ns)
            .and_then(|v| v.checked_add(no))
            .and_then(|v| v.checked_add(npool));
        if values.and_then(|v| v.checked_mul(4)) != Some(r.bytes.len()) {
            return Err(BAD);
        }
        let mut f32s = |n: usize| -> Result<Vec<f32>, Error> {
            (0..n).map(|_| r.u32().map(f32::from_bits)).collect()
        };
        let params = f32s(np)?;
        let state = f32s(ns)?;
        let order = (0..no)
            .map(|_| r.u32())
            .collect::<Result<Vec<u32>, Error>>()?;
        let pool = (0..npool)
            .map(|_| r.u32().map(f32::from_bits))
            .collect::<Result<Vec<f32>, Error>>()?;
        Ok(Self {
            seed,
            epoch,
            epochs_done,
            step,
            shuffle_draws,
            params,
            state,
            order,
            pool,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use alloc::vec;

    fn sample() -> Checkpoint {
        Checkpoint {
            seed: 7,
            epoch: 41,
            epochs_done: 42,
            step: 4200,
            shuffle_draws: 123_456,
            params: vec![1.5, -0.0, f32::MIN_POSITIVE, 3.25e-7],
            state: vec![0.5; 8],
            order: vec![3, 1, 2, 0],
            pool: vec![2.0, -1.0, 0.25, 8.0],
        }
    }

    #[test]
    fn round_trip_is_exact() {
        let c = sample();
        let mut bytes = Vec::new();
        c.write(&mut bytes);
        assert_eq!(bytes.len(), c.encoded_len());
        assert_eq!(bytes[..8], CHECKPOINT_MAGIC);
        let back = Checkpoint::read(&bytes).unwrap();
        assert_eq!(back, c);
        // -0.0 keeps its sign bit.
        assert_eq!(back.params[1].to_bits(), (-0.0f32).to_bits());
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_refused() {
        let mut bytes = Vec::new();
        sample().write(&mut bytes);
        for n in 0..bytes.len() {
            assert_eq!(Checkpoint::read(&bytes[..n]), Err(BAD), "truncated to {n}");
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert_eq!(Checkpoint::read(&b), Err(BAD), "byte {i} flipped");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Checkpoint::read(&longer), Err(BAD));
    }

    #[test]
    fn the_first_format_is_still_read() {
        // IPCKPT01: no pooled count, no pooled values.
        let mut c = sample();
        c.pool.clear();
        let mut bytes = Vec::new();
        c.write(&mut bytes);
        let mut v1 = b"IPCKPT01".to_vec();
        v1.extend_from_slice(&bytes[8..64]); // seed … order count
        v1.extend_from_slice(&bytes[72..bytes.len() - 8]); // skip the pooled count
        let h = fnv1a(&v1);
        v1.extend_from_slice(&h.to_le_bytes());
        assert_eq!(Checkpoint::read(&v1).unwrap(), c);
    }

    #[test]
    fn a_huge_count_does_not_allocate() {
        let mut c = sample();
        c.params.clear();
        let mut bytes = Vec::new();
        c.write(&mut bytes);
        // Claim 2^61 parameters and fix the hash: refused by the length check.
        bytes[40..48].copy_from_slice(&(1u64 << 61).to_le_bytes());
        let n = bytes.len() - 8;
        let h = fnv1a(&bytes[..n]);
        bytes[n..].copy_from_slice(&h.to_le_bytes());
        assert_eq!(Checkpoint::read(&bytes), Err(BAD));
    }
}
