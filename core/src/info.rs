//! Information quantities with their unit attached (R24).

/// An amount of information, stored in bits. Binning estimators work in log₂ and KDE bounds in
/// ln; this type keeps them from being mixed up.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Info {
    bits: f64,
}

impl Info {
    /// From a value in bits.
    #[must_use]
    pub const fn from_bits(bits: f64) -> Self {
        Self { bits }
    }

    /// From a value in nats.
    #[must_use]
    pub fn from_nats(nats: f64) -> Self {
        Self {
            bits: nats / core::f64::consts::LN_2,
        }
    }

    /// The value in bits.
    #[must_use]
    pub const fn in_bits(self) -> f64 {
        self.bits
    }

    /// The value in nats.
    #[must_use]
    pub fn in_nats(self) -> f64 {
        self.bits * core::f64::consts::LN_2
    }
}

/// The two coordinates of one layer on the information plane.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PlanePoint {
    /// I(X;T): what the layer keeps about the input.
    pub i_xt: Info,
    /// I(T;Y): what the layer keeps about the label.
    pub i_ty: Info,
}
