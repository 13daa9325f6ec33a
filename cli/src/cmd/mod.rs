//! One module per subcommand.

pub mod dataset;
pub mod estimate;
pub mod run;

use crate::args::EstimatorName;
use crate::error::CliError;
use infoplane_core::BinRule;

/// Parses `LO,HI` for `--range`.
///
/// # Errors
/// A `--range` error unless both are finite numbers with LO < HI.
pub fn parse_range(s: &str) -> Result<(f32, f32), CliError> {
    let bad = || CliError::option("--range", format!("{s:?} is not LO,HI with LO < HI"));
    let (lo, hi) = s.split_once(',').ok_or_else(bad)?;
    let lo: f32 = lo.trim().parse().map_err(|_| bad())?;
    let hi: f32 = hi.trim().parse().map_err(|_| bad())?;
    if lo.is_finite() && hi.is_finite() && lo < hi {
        Ok((lo, hi))
    } else {
        Err(bad())
    }
}

/// The binning settings shared by `run` and `estimate`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinSettings {
    /// Number of edges.
    pub bins: u32,
    /// Edge range.
    pub range: (f32, f32),
    /// IDNNs-compatibility mode.
    pub idnns: bool,
    /// Fixed bin size.
    pub bin_size: f32,
}

impl BinSettings {
    /// The core rule for one estimator, validated.
    ///
    /// # Errors
    /// An option error naming `--bins` or `--bin-size`.
    pub fn rule(&self, name: EstimatorName) -> Result<BinRule, CliError> {
        let rule = match name {
            EstimatorName::Binning => BinRule::Edges {
                n_edges: self.bins,
                lo: self.range.0,
                hi: self.range.1,
                idnns: self.idnns,
            },
            EstimatorName::BinningSize => BinRule::Size {
                size: self.bin_size,
            },
            EstimatorName::BinningRange => BinRule::LayerRange { n_edges: self.bins },
        };
        rule.validate().map_err(|e| match e {
            infoplane_core::Error::InvalidParameter { name: "bins" } => CliError::option(
                "--bins",
                format!(
                    "{} edges: need at least 2 (n edges make n − 1 intervals)",
                    self.bins
                ),
            ),
            infoplane_core::Error::InvalidParameter { name: "bin_size" } => CliError::option(
                "--bin-size",
                format!("{}: must be a positive number", self.bin_size),
            ),
            other => CliError::core("binning settings", other),
        })?;
        Ok(rule)
    }
}
