//! The estimator layer: every mutual-information estimator behind one interface.
//!
//! An estimator turns one layer `T` (`n` samples × `d` units), the labels `Y` and, optionally,
//! input groups (samples with equal ids share an input `X`) into the two coordinates of the
//! information plane, in bits:
//!
//! * `I(X;T) = H(T) − Σ_x p(x) H(T|X=x)`, which is `H(T)` when every input is distinct;
//! * `I(T;Y) = H(T) − Σ_y p(y) H(T|Y=y)`, `p(y)` the class frequency, each class with its own
//!   `N_y`.
//!
//! Every estimator honours input groups, with the same entropy estimate on both sides of each
//! difference (for the KDE bounds, the same bound).
//!
//! # How it is used
//! 1. An [`Estimator`] is a registered kind (looked up by name in [`REGISTRY`]) with its
//!    [`Settings`], checked once: [`Estimator::new`] is the one validation path, and its
//!    errors name the parameter ([`Param::name`]).
//! 2. [`Estimator::plan`] fixes the layer size and states the scratch it needs as a
//!    [`ScratchReq`].
//! 3. [`Plan::estimate`] runs it over a [`Layer`] and one caller buffer. Estimators that can
//!    split their work report [`Plan::max_parts`] > 1; then [`Plan::estimate_part`] on each
//!    part (each with its own scratch, on any thread), [`Partial::merge`] and
//!    [`Plan::finish`] give the bits of one [`Plan::estimate`], however the work was split.
//!
//! # Adding an estimator
//! One module implementing [`Kind`] and one line in [`REGISTRY`]. The shared test harness
//! (`tests/integration/estimators.rs`) then runs it through the common table of cases
//! (closed forms, dirty and short scratch, split work, input groups, one class).

pub mod binning;
pub mod equal_mass;
mod fixed;
pub mod kde;
pub mod ksg;

pub use fixed::RowSums;

use crate::info::PlanePoint;
use crate::mat::{Inputs, MatRef};
use crate::scratch::ScratchReq;
use crate::{Error, check_finite};
use core::fmt;

/// Every estimator, in the order frontends list them. Adding an estimator is one module and
/// one line here.
pub static REGISTRY: &[&dyn Kind] = &[
    &binning::EDGES,
    &binning::SIZE,
    &binning::RANGE,
    &kde::UPPER,
    &kde::LOWER,
    &ksg::KSG,
    &equal_mass::EQUAL_MASS,
];

/// The registered kind called `name`.
#[must_use]
pub fn kind(name: &str) -> Option<&'static dyn Kind> {
    REGISTRY.iter().copied().find(|k| k.name() == name)
}

/// One layer's data for an estimator: activations, labels and optional input groups, with
/// their lengths checked against each other and the activations checked finite.
#[derive(Debug, Clone, Copy)]
pub struct Layer<'a> {
    t: MatRef<'a>,
    labels: &'a [u32],
    inputs: Option<&'a [u32]>,
    x: Option<Inputs<'a>>,
}

impl<'a> Layer<'a> {
    /// A layer `t` (`n × d`, row-major) with its `n` labels and, optionally, `n` input-group
    /// ids (samples with equal ids share an input; `None`: every sample is its own input).
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] `"rows"` if `labels` or `inputs` do not have one entry per
    /// row; [`Error::EmptyInput`] for no rows or no units; [`Error::NonFinite`] for a NaN or
    /// infinite activation; [`Error::TooLarge`] for more than `u32::MAX` rows.
    pub fn new(t: MatRef<'a>, labels: &'a [u32], inputs: Option<&'a [u32]>) -> Result<Self, Error> {
        let n = t.rows();
        if n == 0 || t.cols() == 0 {
            return Err(Error::EmptyInput);
        }
        if u32::try_from(n).is_err() {
            return Err(Error::TooLarge);
        }
        for len in [Some(labels.len()), inputs.map(<[u32]>::len)]
            .into_iter()
            .flatten()
        {
            if len != n {
                return Err(Error::DimensionMismatch {
                    dim: "rows",
                    expected: n,
                    got: len,
                });
            }
        }
        check_finite(t.as_slice())?;
        Ok(Self {
            t,
            labels,
            inputs,
            x: None,
        })
    }

    /// The layer with the inputs `x` themselves (`n` rows), for estimators that measure
    /// I(X;T) from the input values ([`ksg`]); the others read only the input groups.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] `"rows"` if `x` does not have one row per sample;
    /// [`Error::EmptyInput`] for no columns; [`Error::NonFinite`] for a NaN or infinite input.
    pub fn with_x(self, x: Inputs<'a>) -> Result<Self, Error> {
        if x.rows() != self.n() {
            return Err(Error::DimensionMismatch {
                dim: "rows",
                expected: self.n(),
                got: x.rows(),
            });
        }
        if x.cols() == 0 {
            return Err(Error::EmptyInput);
        }
        if let Inputs::F32(m) = x {
            check_finite(m.as_slice())?;
        }
        Ok(Self { x: Some(x), ..self })
    }

    /// The inputs themselves, if given ([`Layer::with_x`]).
    #[must_use]
    pub const fn x(&self) -> Option<Inputs<'a>> {
        self.x
    }

    /// The activations.
    #[must_use]
    pub const fn t(&self) -> MatRef<'a> {
        self.t
    }

    /// The labels.
    #[must_use]
    pub const fn labels(&self) -> &'a [u32] {
        self.labels
    }

    /// The input-group ids, if given.
    #[must_use]
    pub const fn inputs(&self) -> Option<&'a [u32]> {
        self.inputs
    }

    /// Number of samples `n`.
    #[must_use]
    pub const fn n(&self) -> usize {
        self.t.rows()
    }

    /// Number of units `d`.
    #[must_use]
    pub const fn d(&self) -> usize {
        self.t.cols()
    }

    /// [`Error::DimensionMismatch`] unless the layer is `n × d`.
    pub(crate) fn check_shape(&self, n: usize, d: usize) -> Result<(), Error> {
        if self.n() != n {
            return Err(Error::DimensionMismatch {
                dim: "rows",
                expected: n,
                got: self.n(),
            });
        }
        if self.d() != d {
            return Err(Error::DimensionMismatch {
                dim: "columns",
                expected: d,
                got: self.d(),
            });
        }
        Ok(())
    }
}

/// A setting an estimator reads. Each [`Kind`] lists the ones it uses
/// ([`Kind::params`]); the others are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Param {
    /// Number of bin edges `n` (`n − 1` intervals), ≥ 2.
    Bins,
    /// The edges' range `lo < hi`, both finite.
    Range,
    /// IDNNs-compatibility mode of the edge binning.
    IdnnsCompat,
    /// Fixed bin size, > 0.
    BinSize,
    /// KDE noise variance σ².
    NoiseVar,
    /// Number of neighbours `k` of the k-NN estimator, 1 to 64.
    K,
    /// Whether the k-NN estimator divides every column by its standard deviation.
    Standardize,
    /// Whether the binning estimators add the Miller–Madow bias correction.
    MillerMadow,
}

impl Param {
    /// Every parameter.
    pub const ALL: [Param; 8] = [
        Self::Bins,
        Self::Range,
        Self::IdnnsCompat,
        Self::BinSize,
        Self::NoiseVar,
        Self::K,
        Self::Standardize,
        Self::MillerMadow,
    ];

    /// The name in [`Error::InvalidParameter`], manifests and catalogues (`snake_case`);
    /// the command line writes it `--bins`, `--range`, `--idnns-compat`, `--bin-size`,
    /// `--noise-var`, `--k`, `--standardize`, `--miller-madow`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Bins => "bins",
            Self::Range => "range",
            Self::IdnnsCompat => "idnns_compat",
            Self::BinSize => "bin_size",
            Self::NoiseVar => "noise_var",
            Self::K => "k",
            Self::Standardize => "standardize",
            Self::MillerMadow => "miller_madow",
        }
    }

    /// What the parameter is.
    #[must_use]
    pub const fn help(self) -> &'static str {
        match self {
            Self::Bins => "number of bin edges (n edges make n − 1 intervals)",
            Self::Range => "range LO,HI of the bin edges",
            Self::IdnnsCompat => "reproduce the IDNNs code's edge quirks",
            Self::BinSize => "size of the fixed bins",
            Self::NoiseVar => "noise variance σ² of the KDE bounds",
            Self::K => "number of nearest neighbours of the k-NN estimator",
            Self::Standardize => {
                "divide every column by its standard deviation before k-NN distances"
            }
            Self::MillerMadow => {
                "add the Miller–Madow bias correction (occupied cells − 1)/2N to every binned entropy"
            }
        }
    }

    /// What values are accepted.
    #[must_use]
    pub const fn accepts(self) -> &'static str {
        match self {
            Self::Bins => "an integer from 2 to 1048576",
            Self::Range => "two finite numbers LO,HI with LO < HI",
            Self::IdnnsCompat => "true or false",
            Self::BinSize => {
                "a finite number > 0, large enough that floor(v / size) stays within ±2^62 for every activation v"
            }
            Self::NoiseVar => "a finite number > 0 whose 1/(2σ²) is finite in f32 (σ² ≥ 1.5e-39)",
            Self::K => "an integer from 1 to 64, below the number of samples",
            Self::Standardize | Self::MillerMadow => "true or false",
        }
    }

    /// The parameter called [`Param::name`].
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// The settings estimators read, one field per [`Param`]. Each estimator reads only its own
/// ([`Kind::params`]); presets own the defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Settings {
    /// [`Param::Bins`].
    pub bins: u32,
    /// [`Param::Range`]: the first edge.
    pub lo: f32,
    /// [`Param::Range`]: the last edge.
    pub hi: f32,
    /// [`Param::IdnnsCompat`].
    pub idnns_compat: bool,
    /// [`Param::BinSize`].
    pub bin_size: f32,
    /// [`Param::NoiseVar`].
    pub noise_var: f32,
    /// [`Param::K`].
    pub k: u32,
    /// [`Param::Standardize`].
    pub standardize: bool,
    /// [`Param::MillerMadow`].
    pub miller_madow: bool,
}

impl Settings {
    /// The 12-bit task's settings (Shwartz-Ziv & Tishby; Saxe et al.): 30 edges on [−1, 1]
    /// without the IDNNs quirks, bin size 0.07, σ² = 1e-3; k-NN with k = 3 on standardised
    /// columns; no Miller–Madow correction.
    pub const DEFAULT: Self = Self {
        bins: 30,
        lo: -1.0,
        hi: 1.0,
        idnns_compat: false,
        bin_size: 0.07,
        noise_var: 1e-3,
        k: 3,
        standardize: true,
        miller_madow: false,
    };
}

impl Default for Settings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One part of a split estimate: part `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// Which part, `< count`.
    pub index: usize,
    /// How many parts.
    pub count: usize,
}

impl Part {
    /// The whole work as one part.
    pub const WHOLE: Self = Self { index: 0, count: 1 };
}

/// What one part of a split estimate found; merge the parts and [`Plan::finish`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Partial {
    /// An estimator that does not split gives its result whole.
    Whole(PlanePoint),
    /// Per-row terms summed exactly (in fixed point), so parts merge in any order.
    Rows(RowSums),
}

impl Partial {
    /// Combines two parts of one estimate. Row sums add exactly, so the order of merging
    /// does not change the bits.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] `"parts"` for two whole results or a whole result and
    /// row sums (an estimator that does not split has one part).
    pub fn merge(self, other: Self) -> Result<Self, Error> {
        match (self, other) {
            (Self::Rows(a), Self::Rows(b)) => Ok(Self::Rows(a.merge(b))),
            _ => Err(Error::InvalidParameter { name: "parts" }),
        }
    }
}

/// The work every part of one estimate of a layer shares, done once ([`Plan::prepare`],
/// [`JointPlan::prepare`]) and read by every part, on any threads
/// ([`Plan::estimate_part_on`]): the layer, and for the KDE bounds its k-d tree.
#[derive(Debug)]
pub struct Prepared<'s, 'a> {
    layer: Layer<'a>,
    tree: Option<kde::KdeTree<'s, 'a>>,
    ksg: Option<ksg::KsgIndex<'s, 'a>>,
}

impl<'s, 'a> Prepared<'s, 'a> {
    /// Nothing shared but the layer.
    #[must_use]
    pub const fn layer_only(layer: &Layer<'a>) -> Self {
        Self {
            layer: *layer,
            tree: None,
            ksg: None,
        }
    }

    /// A KDE tree (and its layer).
    #[must_use]
    pub const fn with_tree(tree: kde::KdeTree<'s, 'a>) -> Self {
        Self {
            layer: *tree.layer(),
            tree: Some(tree),
            ksg: None,
        }
    }

    /// The k-NN estimator's trees (and their layer).
    #[must_use]
    pub const fn with_ksg(layer: Layer<'a>, index: ksg::KsgIndex<'s, 'a>) -> Self {
        Self {
            layer,
            tree: None,
            ksg: Some(index),
        }
    }

    /// The k-NN trees, if built.
    #[must_use]
    pub const fn ksg(&self) -> Option<&ksg::KsgIndex<'s, 'a>> {
        self.ksg.as_ref()
    }

    /// The layer.
    #[must_use]
    pub const fn layer(&self) -> &Layer<'a> {
        &self.layer
    }

    /// The KDE tree, if one was built.
    #[must_use]
    pub const fn tree(&self) -> Option<&kde::KdeTree<'s, 'a>> {
        self.tree.as_ref()
    }
}

/// One kind of estimator. Implement it in a module and add a line to [`REGISTRY`].
///
/// The methods take the [`Settings`] and sizes each time, so a [`Plan`] stays a small `Copy`
/// value; each kind builds its own (O(1)) plan from them.
pub trait Kind: Sync + fmt::Debug {
    /// The name on the command line and in `plane.csv`.
    fn name(&self) -> &'static str;
    /// One line on what it computes.
    fn summary(&self) -> &'static str;
    /// The settings it reads.
    fn params(&self) -> &'static [Param];
    /// Checks the settings it reads.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the [`Param`].
    fn check(&self, s: &Settings) -> Result<(), Error>;
    /// Scratch for any call on an `n × d` layer (both [`Kind::part`] and [`Kind::finish`]).
    ///
    /// # Errors
    /// [`Error::EmptyInput`] for `n` or `d` 0; [`Error::TooLarge`] if a size overflows.
    fn scratch(&self, s: &Settings, n: usize, d: usize) -> Result<ScratchReq, Error>;
    /// As [`Kind::scratch`], for layers that carry inputs of `dx` columns
    /// ([`Layer::with_x`]); the default (for kinds that read only input groups) ignores `dx`.
    ///
    /// # Errors
    /// As [`Kind::scratch`].
    fn scratch_inputs(
        &self,
        s: &Settings,
        n: usize,
        d: usize,
        dx: usize,
    ) -> Result<ScratchReq, Error> {
        let _ = dx;
        self.scratch(s, n, d)
    }
    /// As [`Kind::shared_scratch`], with inputs of `dx` columns.
    ///
    /// # Errors
    /// As [`Kind::scratch`].
    fn shared_scratch_inputs(
        &self,
        s: &Settings,
        n: usize,
        d: usize,
        dx: usize,
    ) -> Result<ScratchReq, Error> {
        let _ = dx;
        self.shared_scratch(s, n, d)
    }
    /// As [`Kind::part_scratch`], with inputs of `dx` columns.
    ///
    /// # Errors
    /// As [`Kind::scratch`].
    fn part_scratch_inputs(
        &self,
        s: &Settings,
        n: usize,
        d: usize,
        dx: usize,
    ) -> Result<ScratchReq, Error> {
        let _ = dx;
        self.part_scratch(s, n, d)
    }
    /// Whether it measures I(X;T) from the input values ([`Layer::with_x`]), or from
    /// repeated inputs (input groups), and so needs one of them; the default (false) means
    /// it takes a layer without either to have every input distinct.
    fn needs_inputs(&self) -> bool {
        false
    }
    /// Whether it gives the discrete (plug-in) value on a few separated clusters of exact
    /// copies (the binning and KDE estimators do); the k-NN estimator does not (its digamma
    /// terms are biased on a few samples, and a single sample has no neighbour).
    fn exact_on_separated_clusters(&self) -> bool {
        true
    }
    /// How many parts the work can usefully be split into (1: it does not split).
    fn max_parts(&self, n: usize, d: usize) -> usize {
        let _ = (n, d);
        1
    }
    /// Runs part `part` of the estimate.
    ///
    /// # Errors
    /// As the estimator's kernel; [`Error::InvalidParameter`] `"parts"` for a part past
    /// [`Kind::max_parts`].
    fn part(
        &self,
        s: &Settings,
        layer: &Layer<'_>,
        part: Part,
        scratch: &mut [u64],
    ) -> Result<Partial, Error>;
    /// Turns the merged parts into the plane point.
    ///
    /// # Errors
    /// As the estimator's kernel.
    fn finish(
        &self,
        s: &Settings,
        layer: &Layer<'_>,
        partial: Partial,
        scratch: &mut [u64],
    ) -> Result<PlanePoint, Error>;
    /// The scratch for computing this estimate and `other`'s on one `n × d` layer together,
    /// if the two share work ([`Plan::joint`]); `None` (the default) if they do not.
    fn joint_scratch(
        &self,
        s: &Settings,
        other: &Estimator,
        n: usize,
        d: usize,
    ) -> Option<Result<ScratchReq, Error>> {
        let _ = (s, other, n, d);
        None
    }
    /// Part `part` of this estimate and of `other`'s, computed together, in that order:
    /// each with the bits of its own [`Kind::part`]. Called only where
    /// [`Kind::joint_scratch`] is `Some`.
    ///
    /// # Errors
    /// As [`Kind::part`]; [`Error::InvalidParameter`] `"estimators"` for an `other` this kind
    /// does not share work with.
    fn joint_part(
        &self,
        s: &Settings,
        other: &Estimator,
        layer: &Layer<'_>,
        part: Part,
        scratch: &mut [u64],
    ) -> Result<[Partial; 2], Error> {
        let _ = (s, other, layer, part, scratch);
        Err(Error::InvalidParameter { name: "estimators" })
    }
    /// Scratch for the work every part shares ([`Kind::prepare`]); empty (the default) when
    /// the parts share nothing.
    ///
    /// # Errors
    /// As [`Kind::scratch`].
    fn shared_scratch(&self, s: &Settings, n: usize, d: usize) -> Result<ScratchReq, Error> {
        let _ = (s, n, d);
        Ok(ScratchReq::EMPTY)
    }
    /// Scratch for one [`Kind::part_on`] (the default: [`Kind::scratch`]).
    ///
    /// # Errors
    /// As [`Kind::scratch`].
    fn part_scratch(&self, s: &Settings, n: usize, d: usize) -> Result<ScratchReq, Error> {
        self.scratch(s, n, d)
    }
    /// Does the shared work of an estimate of `layer` in `shared` ([`Kind::shared_scratch`]);
    /// the default shares only the layer.
    ///
    /// # Errors
    /// As [`Kind::part`].
    fn prepare<'s, 'a>(
        &self,
        s: &Settings,
        layer: &Layer<'a>,
        shared: &'s mut [u64],
    ) -> Result<Prepared<'s, 'a>, Error> {
        let _ = (s, shared);
        Ok(Prepared::layer_only(layer))
    }
    /// As [`Kind::part`], on the shared work of [`Kind::prepare`], with
    /// [`Kind::part_scratch`]: the same result (the default is [`Kind::part`]).
    ///
    /// # Errors
    /// As [`Kind::part`].
    fn part_on(
        &self,
        s: &Settings,
        prepared: &Prepared<'_, '_>,
        part: Part,
        scratch: &mut [u64],
    ) -> Result<Partial, Error> {
        self.part(s, prepared.layer(), part, scratch)
    }
    /// As [`Kind::part_scratch`], for [`Kind::joint_part_on`] (the default:
    /// [`Kind::joint_scratch`]).
    fn joint_part_scratch(
        &self,
        s: &Settings,
        other: &Estimator,
        n: usize,
        d: usize,
    ) -> Option<Result<ScratchReq, Error>> {
        self.joint_scratch(s, other, n, d)
    }
    /// As [`Kind::joint_part`], on the shared work of [`Kind::prepare`] (of this kind), with
    /// [`Kind::joint_part_scratch`] (the default is [`Kind::joint_part`]).
    ///
    /// # Errors
    /// As [`Kind::joint_part`].
    fn joint_part_on(
        &self,
        s: &Settings,
        other: &Estimator,
        prepared: &Prepared<'_, '_>,
        part: Part,
        scratch: &mut [u64],
    ) -> Result<[Partial; 2], Error> {
        self.joint_part(s, other, prepared.layer(), part, scratch)
    }
}

/// A registered estimator with checked settings.
#[derive(Clone, Copy)]
pub struct Estimator {
    kind: &'static dyn Kind,
    settings: Settings,
}

impl fmt::Debug for Estimator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Estimator")
            .field("name", &self.kind.name())
            .field("settings", &self.settings)
            .finish()
    }
}

impl PartialEq for Estimator {
    /// Equal when the kind is the same and so is every setting it reads.
    fn eq(&self, other: &Self) -> bool {
        self.kind.name() == other.kind.name()
            && self.kind.params().iter().all(|&p| {
                let (a, b) = (&self.settings, &other.settings);
                match p {
                    Param::Bins => a.bins == b.bins,
                    Param::Range => {
                        a.lo.to_bits() == b.lo.to_bits() && a.hi.to_bits() == b.hi.to_bits()
                    }
                    Param::IdnnsCompat => a.idnns_compat == b.idnns_compat,
                    Param::BinSize => a.bin_size.to_bits() == b.bin_size.to_bits(),
                    Param::NoiseVar => a.noise_var.to_bits() == b.noise_var.to_bits(),
                    Param::K => a.k == b.k,
                    Param::Standardize => a.standardize == b.standardize,
                    Param::MillerMadow => a.miller_madow == b.miller_madow,
                }
            })
    }
}

impl Estimator {
    /// The estimator called `name` with `settings`, checked.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] `"estimator"` for a name not in [`REGISTRY`]; otherwise
    /// naming the first bad setting it reads.
    ///
    /// # Examples
    /// ```
    /// use infoplane_core::{Error, estimator::{Estimator, Settings}};
    /// let kde = Estimator::new("kde-upper", Settings { noise_var: 0.1, ..Settings::DEFAULT })?;
    /// assert_eq!(kde.name(), "kde-upper");
    /// let bad = Settings { noise_var: 1e-39, ..Settings::DEFAULT };
    /// assert_eq!(Estimator::new("kde-upper", bad), Err(Error::InvalidParameter { name: "noise_var" }));
    /// // binning-size does not read noise_var.
    /// assert!(Estimator::new("binning-size", bad).is_ok());
    /// # Ok::<(), infoplane_core::Error>(())
    /// ```
    pub fn new(name: &str, settings: Settings) -> Result<Self, Error> {
        let kind = kind(name).ok_or(Error::InvalidParameter { name: "estimator" })?;
        Self::of(kind, settings)
    }

    /// The estimator of `kind` with `settings`, checked.
    ///
    /// # Errors
    /// As [`Kind::check`].
    pub fn of(kind: &'static dyn Kind, settings: Settings) -> Result<Self, Error> {
        kind.check(&settings)?;
        Ok(Self { kind, settings })
    }

    /// Its kind.
    #[must_use]
    pub fn kind(&self) -> &'static dyn Kind {
        self.kind
    }

    /// Its name.
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// Its settings (it reads only [`Kind::params`]).
    #[must_use]
    pub const fn settings(&self) -> &Settings {
        &self.settings
    }

    /// A plan for layers of `n` samples × `d` units.
    ///
    /// # Errors
    /// [`Error::EmptyInput`] for `n` or `d` 0; [`Error::TooLarge`] when a size overflows.
    pub fn plan(&self, n: usize, d: usize) -> Result<Plan, Error> {
        let req = self.kind.scratch(&self.settings, n, d)?;
        Ok(Plan {
            est: *self,
            n,
            d,
            dx: 0,
            req,
        })
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Estimator {
    /// `{"estimator": name, <each setting it reads>}`.
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let params = self.kind.params();
        let mut m = ser.serialize_map(Some(params.len() + 1))?;
        m.serialize_entry("estimator", self.name())?;
        let s = &self.settings;
        for &p in params {
            match p {
                Param::Bins => m.serialize_entry(p.name(), &s.bins)?,
                Param::Range => m.serialize_entry(p.name(), &[s.lo, s.hi])?,
                Param::IdnnsCompat => m.serialize_entry(p.name(), &s.idnns_compat)?,
                Param::BinSize => m.serialize_entry(p.name(), &s.bin_size)?,
                Param::NoiseVar => m.serialize_entry(p.name(), &s.noise_var)?,
                Param::K => m.serialize_entry(p.name(), &s.k)?,
                Param::Standardize => m.serialize_entry(p.name(), &s.standardize)?,
                Param::MillerMadow => m.serialize_entry(p.name(), &s.miller_madow)?,
            }
        }
        m.end()
    }
}

/// An estimator planned for `n × d` layers: a small `Copy` value to reuse for every epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    est: Estimator,
    n: usize,
    d: usize,
    /// Columns of the inputs the layers carry (0: none).
    dx: usize,
    req: ScratchReq,
}

impl Plan {
    /// The estimator.
    #[must_use]
    pub const fn estimator(&self) -> &Estimator {
        &self.est
    }

    /// The plan for layers that carry their inputs, `dx` columns ([`Layer::with_x`]; the
    /// k-NN estimator reads them, the others read only the input groups). A layer's inputs
    /// must then have `dx` columns.
    ///
    /// # Errors
    /// [`Error::TooLarge`] when a size overflows.
    pub fn with_inputs(self, dx: usize) -> Result<Self, Error> {
        let req = self
            .est
            .kind
            .scratch_inputs(&self.est.settings, self.n, self.d, dx)?;
        Ok(Self { dx, req, ..self })
    }

    /// [`Error::DimensionMismatch`] unless the layer is `n × d` with inputs of `dx` columns
    /// (or none).
    fn check(&self, layer: &Layer<'_>) -> Result<(), Error> {
        layer.check_shape(self.n, self.d)?;
        match layer.x() {
            Some(x) if x.cols() != self.dx => Err(Error::DimensionMismatch {
                dim: "input columns",
                expected: self.dx,
                got: x.cols(),
            }),
            _ => Ok(()),
        }
    }

    /// The scratch every call needs (one part or the whole estimate). May change between
    /// versions: ask, do not hard-code.
    #[must_use]
    pub const fn scratch_req(&self) -> ScratchReq {
        self.req
    }

    /// How many parts the work can usefully be split into (1: it does not split).
    #[must_use]
    pub fn max_parts(&self) -> usize {
        self.est.kind.max_parts(self.n, self.d).max(1)
    }

    /// I(X;T) and I(T;Y), in bits.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] if the layer is not `n × d`; [`Error::ScratchTooSmall`]
    /// if `scratch` is shorter than [`Plan::scratch_req`]; as the estimator's kernel.
    ///
    /// # Examples
    /// ```
    /// use infoplane_core::{MatRef, estimator::{Estimator, Layer, Settings}};
    /// let est = Estimator::new("binning", Settings { bins: 3, ..Settings::DEFAULT })?;
    /// let plan = est.plan(4, 1)?;
    /// let mut scratch = [0u64; 64];
    /// // Two bins, two samples each, each bin holding one class: 1 bit of each.
    /// let layer = Layer::new(MatRef::new(&[-0.5, -0.5, 0.5, 0.5], 4, 1)?, &[0, 0, 1, 1], None)?;
    /// let p = plan.estimate(&layer, &mut scratch[..plan.scratch_req().words()])?;
    /// assert_eq!((p.i_xt.in_bits(), p.i_ty.in_bits()), (1.0, 1.0));
    /// # Ok::<(), infoplane_core::Error>(())
    /// ```
    pub fn estimate(&self, layer: &Layer<'_>, scratch: &mut [u64]) -> Result<PlanePoint, Error> {
        let part = self.estimate_part(layer, Part::WHOLE, scratch)?;
        self.finish(layer, part, scratch)
    }

    /// Part `part` of the estimate, for splitting the work across threads (each with its
    /// own scratch). Merge the parts with [`Partial::merge`], then [`Plan::finish`].
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] `"parts"` unless `part.index < part.count ≤`
    /// [`Plan::max_parts`]; otherwise as [`Plan::estimate`].
    pub fn estimate_part(
        &self,
        layer: &Layer<'_>,
        part: Part,
        scratch: &mut [u64],
    ) -> Result<Partial, Error> {
        self.check(layer)?;
        check_part(part, self.max_parts())?;
        self.est
            .kind
            .part(&self.est.settings, layer, part, need(scratch, self.req)?)
    }

    /// The plane point from the merged parts of every part `0..count`.
    ///
    /// # Errors
    /// As [`Plan::estimate`].
    pub fn finish(
        &self,
        layer: &Layer<'_>,
        partial: Partial,
        scratch: &mut [u64],
    ) -> Result<PlanePoint, Error> {
        self.check(layer)?;
        self.est
            .kind
            .finish(&self.est.settings, layer, partial, need(scratch, self.req)?)
    }
}

impl Plan {
    /// Scratch for [`Plan::prepare`]: the work every part of one estimate shares (the KDE
    /// bounds' tree; nothing for the others). With [`Plan::part_req`] per part it replaces
    /// [`Plan::scratch_req`] per part when the parts run on several threads.
    ///
    /// # Errors
    /// As [`Estimator::plan`].
    pub fn shared_req(&self) -> Result<ScratchReq, Error> {
        self.est
            .kind
            .shared_scratch_inputs(&self.est.settings, self.n, self.d, self.dx)
    }

    /// Scratch for one [`Plan::estimate_part_on`].
    ///
    /// # Errors
    /// As [`Estimator::plan`].
    pub fn part_req(&self) -> Result<ScratchReq, Error> {
        self.est
            .kind
            .part_scratch_inputs(&self.est.settings, self.n, self.d, self.dx)
    }

    /// Does the work every part of an estimate of `layer` shares, once, in `shared`
    /// ([`Plan::shared_req`]).
    ///
    /// # Errors
    /// As [`Plan::estimate`], with [`Plan::shared_req`] for the scratch.
    ///
    /// # Examples
    /// ```
    /// use infoplane_core::{MatRef, estimator::{Estimator, Layer, Part, Settings}};
    /// let plan = Estimator::new("kde-upper", Settings::DEFAULT)?.plan(64, 2)?;
    /// let t: Vec<f32> = (0..128).map(|i| (i as f32 * 0.37).sin()).collect();
    /// let y: Vec<u32> = (0..64).map(|i| i % 2).collect();
    /// let layer = Layer::new(MatRef::new(&t, 64, 2)?, &y, None)?;
    /// let mut shared = vec![0u64; plan.shared_req()?.words()];
    /// let prepared = plan.prepare(&layer, &mut shared)?;
    /// // Three parts on one tree (each could run on its own thread with its own scratch).
    /// let mut part_scratch = vec![0u64; plan.part_req()?.words()];
    /// let mut merged = None;
    /// for index in 0..3 {
    ///     let p = plan.estimate_part_on(&prepared, Part { index, count: 3 }, &mut part_scratch)?;
    ///     merged = Some(match merged { None => p, Some(m) => p.merge(m)? });
    /// }
    /// let mut scratch = vec![0u64; plan.scratch_req().words()];
    /// let p = plan.finish(&layer, merged.unwrap(), &mut scratch)?;
    /// assert_eq!(p, plan.estimate(&layer, &mut scratch)?);
    /// # Ok::<(), infoplane_core::Error>(())
    /// ```
    pub fn prepare<'s, 'a>(
        &self,
        layer: &Layer<'a>,
        shared: &'s mut [u64],
    ) -> Result<Prepared<'s, 'a>, Error> {
        self.check(layer)?;
        let req = self.shared_req()?;
        self.est
            .kind
            .prepare(&self.est.settings, layer, need(shared, req)?)
    }

    /// As [`Plan::estimate_part`], on the shared work of [`Plan::prepare`], with
    /// [`Plan::part_req`] of scratch: the same result.
    ///
    /// # Errors
    /// As [`Plan::estimate_part`].
    pub fn estimate_part_on(
        &self,
        prepared: &Prepared<'_, '_>,
        part: Part,
        scratch: &mut [u64],
    ) -> Result<Partial, Error> {
        self.check(prepared.layer())?;
        check_part(part, self.max_parts())?;
        let req = self.part_req()?;
        self.est
            .kind
            .part_on(&self.est.settings, prepared, part, need(scratch, req)?)
    }
}

impl Plan {
    /// A plan computing this estimate and `other`'s together, when the two share work on
    /// one layer, with the bits of each computed alone; `None` when they do not (or the
    /// layer sizes differ). Today `kde-upper` and `kde-lower` of one noise variance share
    /// their tree and walk ([`kde::KdeBoth`]): both cost about what the lower bound costs
    /// alone.
    ///
    /// # Examples
    /// ```
    /// use infoplane_core::{MatRef, estimator::{Estimator, Layer, Settings}};
    /// let s = Settings::DEFAULT;
    /// let up = Estimator::new("kde-upper", s)?.plan(4, 1)?;
    /// let lo = Estimator::new("kde-lower", s)?.plan(4, 1)?;
    /// let joint = up.joint(&lo).expect("the two bounds share work");
    /// let layer = Layer::new(MatRef::new(&[0.0, 0.01, 0.5, 0.52], 4, 1)?, &[0, 1, 0, 1], None)?;
    /// let mut scratch = vec![0u64; joint.scratch_req().words()];
    /// let [pu, pl] = joint.estimate(&layer, &mut scratch)?;
    /// assert_eq!(pu, up.estimate(&layer, &mut scratch)?);
    /// assert_eq!(pl, lo.estimate(&layer, &mut scratch)?);
    /// // Binning shares nothing with KDE.
    /// let bins = Estimator::new("binning", s)?.plan(4, 1)?;
    /// assert!(up.joint(&bins).is_none());
    /// # Ok::<(), infoplane_core::Error>(())
    /// ```
    #[must_use]
    pub fn joint(&self, other: &Plan) -> Option<JointPlan> {
        if (self.n, self.d, self.dx) != (other.n, other.d, other.dx) {
            return None;
        }
        let req = self
            .est
            .kind
            .joint_scratch(&self.est.settings, &other.est, self.n, self.d)?
            .ok()?;
        Some(JointPlan {
            plans: [*self, *other],
            req,
        })
    }
}

/// Two estimates of one layer computed together ([`Plan::joint`]), each with the bits of
/// its own [`Plan::estimate`], in the order of [`JointPlan::plans`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JointPlan {
    plans: [Plan; 2],
    req: ScratchReq,
}

impl JointPlan {
    /// The two plans, in the order the results come.
    #[must_use]
    pub const fn plans(&self) -> &[Plan; 2] {
        &self.plans
    }

    /// The scratch every call needs. May change between versions: ask, do not hard-code.
    #[must_use]
    pub const fn scratch_req(&self) -> ScratchReq {
        self.req
    }

    /// How many parts the work can usefully be split into.
    #[must_use]
    pub fn max_parts(&self) -> usize {
        let [a, b] = &self.plans;
        a.max_parts().min(b.max_parts())
    }

    /// Both plane points.
    ///
    /// # Errors
    /// As [`Plan::estimate`].
    pub fn estimate(
        &self,
        layer: &Layer<'_>,
        scratch: &mut [u64],
    ) -> Result<[PlanePoint; 2], Error> {
        let parts = self.estimate_part(layer, Part::WHOLE, scratch)?;
        self.finish(layer, parts, scratch)
    }

    /// Part `part` of both estimates; merge each plan's parts with [`Partial::merge`], then
    /// [`JointPlan::finish`].
    ///
    /// # Errors
    /// As [`Plan::estimate_part`].
    pub fn estimate_part(
        &self,
        layer: &Layer<'_>,
        part: Part,
        scratch: &mut [u64],
    ) -> Result<[Partial; 2], Error> {
        let [a, b] = &self.plans;
        a.check(layer)?;
        check_part(part, self.max_parts())?;
        a.est.kind.joint_part(
            &a.est.settings,
            &b.est,
            layer,
            part,
            need(scratch, self.req)?,
        )
    }

    /// As [`Plan::shared_req`], for both estimates (one shared piece of work serves both).
    ///
    /// # Errors
    /// As [`Plan::shared_req`].
    pub fn shared_req(&self) -> Result<ScratchReq, Error> {
        let [a, _] = &self.plans;
        a.shared_req()
    }

    /// As [`Plan::part_req`], for both estimates at once.
    ///
    /// # Errors
    /// As [`Plan::part_req`].
    pub fn part_req(&self) -> Result<ScratchReq, Error> {
        let [a, b] = &self.plans;
        a.est
            .kind
            .joint_part_scratch(&a.est.settings, &b.est, a.n, a.d)
            .unwrap_or(Err(Error::InvalidParameter { name: "estimators" }))
    }

    /// As [`Plan::prepare`], for both estimates.
    ///
    /// # Errors
    /// As [`Plan::prepare`].
    pub fn prepare<'s, 'a>(
        &self,
        layer: &Layer<'a>,
        shared: &'s mut [u64],
    ) -> Result<Prepared<'s, 'a>, Error> {
        let [a, _] = &self.plans;
        a.prepare(layer, shared)
    }

    /// As [`JointPlan::estimate_part`], on the shared work of [`JointPlan::prepare`], with
    /// [`JointPlan::part_req`] of scratch: the same results.
    ///
    /// # Errors
    /// As [`Plan::estimate_part`].
    pub fn estimate_part_on(
        &self,
        prepared: &Prepared<'_, '_>,
        part: Part,
        scratch: &mut [u64],
    ) -> Result<[Partial; 2], Error> {
        let [a, b] = &self.plans;
        a.check(prepared.layer())?;
        check_part(part, self.max_parts())?;
        let req = self.part_req()?;
        a.est
            .kind
            .joint_part_on(&a.est.settings, &b.est, prepared, part, need(scratch, req)?)
    }

    /// Both plane points from the merged parts.
    ///
    /// # Errors
    /// As [`Plan::finish`].
    pub fn finish(
        &self,
        layer: &Layer<'_>,
        parts: [Partial; 2],
        scratch: &mut [u64],
    ) -> Result<[PlanePoint; 2], Error> {
        let [a, b] = &self.plans;
        let [pa, pb] = parts;
        Ok([a.finish(layer, pa, scratch)?, b.finish(layer, pb, scratch)?])
    }
}

/// Estimates of one layer as they are computed: alone, or two together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Group {
    /// One estimate: its index in the list, and its plan.
    One(usize, Plan),
    /// Two estimates that share work: their indices, in the order of [`JointPlan::plans`].
    Two([usize; 2], JointPlan),
}

/// The plans of one layer grouped for computing: each plan is paired with the first later
/// unpaired plan it shares work with ([`Plan::joint`]), else alone. Every index appears
/// once; results go back to their indices, so the output order is the list's.
#[cfg(feature = "alloc")]
#[must_use]
pub fn group(plans: &[Plan]) -> alloc::vec::Vec<Group> {
    let mut used = alloc::vec![false; plans.len()];
    let mut out = alloc::vec::Vec::with_capacity(plans.len());
    for (i, p) in plans.iter().enumerate() {
        if used.get(i).copied().unwrap_or(true) {
            continue;
        }
        let partner = plans.iter().enumerate().skip(i + 1).find_map(|(j, q)| {
            if used.get(j).copied().unwrap_or(true) {
                return None;
            }
            p.joint(q).map(|jp| (j, jp))
        });
        match partner {
            Some((j, jp)) => {
                if let Some(u) = used.get_mut(j) {
                    *u = true;
                }
                out.push(Group::Two([i, j], jp));
            }
            None => out.push(Group::One(i, *p)),
        }
    }
    out
}

/// [`Error::InvalidParameter`] `"parts"` unless `part.index < part.count ≤ max`.
const fn check_part(part: Part, max: usize) -> Result<(), Error> {
    if part.index >= part.count || part.count > max {
        return Err(Error::InvalidParameter { name: "parts" });
    }
    Ok(())
}

/// `scratch` if it holds `req`, else [`Error::ScratchTooSmall`].
fn need(scratch: &mut [u64], req: ScratchReq) -> Result<&mut [u64], Error> {
    if scratch.len() < req.words() {
        Err(Error::ScratchTooSmall {
            needed: req.words(),
            got: scratch.len(),
        })
    } else {
        Ok(scratch)
    }
}
