//! Which vector instructions the hot kernels are compiled for, chosen at run time, with the
//! same bits on every choice.
//!
//! The kernels are plain Rust loops written so that every output element is computed by the
//! same scalar operations in the same order whatever the vector width: lanes are fixed in code
//! ([`math::lane_dot`](crate::math::lane_dot)), sums run in a documented order, and Rust never
//! contracts `a * b + c` into a fused multiply-add. Compiling such a loop for SSE2, AVX2 or
//! AVX-512 changes how many elements one instruction handles, never a result bit. So one
//! binary carries each kernel once per [`Isa`] (the body is inlined into a copy compiled with
//! that level's target features, through [`pulp`]'s safe feature tokens) and picks the best
//! level the CPU has.
//!
//! [`Isa::active`] is the level kernels use: the best available unless a frontend chose one
//! with [`force`] (the CLI's `--simd`, the environment variable `INFOPLANE_SIMD`). The choice
//! is process-wide and only ever changes speed.
//!
//! On targets other than x86-64 there is one level, [`Isa::Baseline`]: what the target was
//! compiled for (wasm32 builds with `simd128`, see `.cargo/config.toml`).

use core::sync::atomic::{AtomicU8, Ordering};

use crate::Error;

/// An instruction-set level the kernels can run at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Isa {
    /// What the binary was compiled for (SSE2 on a default x86-64 build).
    Baseline,
    /// x86-64-v3: AVX2 (256-bit vectors), with BMI and FMA present but unused.
    Avx2,
    /// x86-64-v4: AVX-512 F/BW/CD/DQ/VL.
    Avx512,
}

impl Isa {
    /// Every level, lowest first.
    pub const ALL: [Isa; 3] = [Self::Baseline, Self::Avx2, Self::Avx512];

    /// The name on the command line and in manifests.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
            Self::Avx2 => "avx2",
            Self::Avx512 => "avx512",
        }
    }

    /// Parses a name produced by [`Isa::name`].
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.name() == name)
    }

    /// Whether this CPU (and this build) can run the level.
    #[must_use]
    pub fn is_available(self) -> bool {
        match self {
            Self::Baseline => true,
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => pulp::x86::V3::is_available(),
            #[cfg(target_arch = "x86_64")]
            Self::Avx512 => pulp::x86::V4::is_available(),
            #[cfg(not(target_arch = "x86_64"))]
            Self::Avx2 | Self::Avx512 => false,
        }
    }

    /// The best level this CPU can run.
    #[must_use]
    pub fn best() -> Self {
        Self::ALL
            .into_iter()
            .rev()
            .find(|i| i.is_available())
            .unwrap_or(Self::Baseline)
    }

    /// The level kernels run at now: the one given to [`force`], else [`Isa::best`].
    #[must_use]
    pub fn active() -> Self {
        match FORCED.load(Ordering::Relaxed) {
            1 => Self::Baseline,
            2 => Self::Avx2,
            3 => Self::Avx512,
            _ => Self::best(),
        }
    }

    /// Runs `k` compiled for this level. [`Kernel::call`] and what it calls must be inlined
    /// into it for the level to apply (mark them `#[inline(always)]`; a closure is not enough,
    /// the compiler may keep it out of line); anything not inlined runs at the baseline, with
    /// the same result.
    #[inline(always)]
    pub(crate) fn run<K: Kernel>(self, k: K) -> K::Output {
        match self {
            #[cfg(target_arch = "x86_64")]
            Self::Avx512 => match pulp::x86::V4::try_new() {
                Some(v4) => v4.vectorize(Pulp(k)),
                None => k.call(),
            },
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => match pulp::x86::V3::try_new() {
                Some(v3) => v3.vectorize(Pulp(k)),
                None => k.call(),
            },
            _ => k.call(),
        }
    }
}

/// A kernel call with its arguments, run at a level by [`Isa::run`]. Implementations mark
/// `call` `#[inline(always)]`.
pub(crate) trait Kernel {
    /// What the kernel returns.
    type Output;
    /// Runs the kernel.
    fn call(self) -> Self::Output;
}

#[cfg(target_arch = "x86_64")]
struct Pulp<K>(K);

#[cfg(target_arch = "x86_64")]
impl<K: Kernel> pulp::NullaryFnOnce for Pulp<K> {
    type Output = K::Output;
    #[inline(always)]
    fn call(self) -> K::Output {
        self.0.call()
    }
}

impl core::fmt::Display for Isa {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// 0: not forced; else 1 + the index in [`Isa::ALL`].
static FORCED: AtomicU8 = AtomicU8::new(0);

/// Makes every kernel in this process run at `isa` (`None`: the best available again).
///
/// # Errors
/// [`Error::InvalidParameter`] `"simd"` if this CPU cannot run `isa`.
pub fn force(isa: Option<Isa>) -> Result<(), Error> {
    let code = match isa {
        None => 0,
        Some(i) if !i.is_available() => return Err(Error::InvalidParameter { name: "simd" }),
        Some(Isa::Baseline) => 1,
        Some(Isa::Avx2) => 2,
        Some(Isa::Avx512) => 3,
    };
    FORCED.store(code, Ordering::Relaxed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_baseline_is_always_there() {
        for i in Isa::ALL {
            assert_eq!(Isa::from_name(i.name()), Some(i));
        }
        assert_eq!(Isa::from_name("sse9"), None);
        assert!(Isa::Baseline.is_available());
        assert!(Isa::best().is_available());
        struct Add(u32, u32);
        impl Kernel for Add {
            type Output = u32;
            #[inline(always)]
            fn call(self) -> u32 {
                self.0 + self.1
            }
        }
        for i in Isa::ALL.into_iter().filter(|i| i.is_available()) {
            assert_eq!(i.run(Add(2, 2)), 4);
        }
    }
}
