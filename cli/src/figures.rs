//! The study figures of a run directory (one seed or many): the averaged information plane
//! with its spread across seeds, I(X;T) and I(T;Y) per layer against epoch, loss and
//! accuracy, and the weight norms, as publication-clean SVG with the settings in a caption.

use crate::plot::PlotError;
use infoplane_core::experiment::Summary;

/// One row of `layers.csv`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerRow {
    /// The run's seed.
    pub run: u64,
    /// The epoch.
    pub epoch: u32,
    /// Layer, from 1.
    pub layer: u32,
    /// The layer's width.
    pub width: u32,
    /// Frobenius norm of the weights into the layer.
    pub weight_norm: f64,
    /// Units constant over every input.
    pub dead_units: u32,
    /// Gradient signal-to-noise ratio over the epoch's mini-batches, when measured.
    pub grad_snr: Option<f64>,
}

/// What the figures are drawn from.
#[derive(Debug, Clone)]
pub struct FigureInput<'a> {
    /// The plane and metrics of every run, summarised.
    pub summary: &'a Summary,
    /// Every run's `layers.csv` rows.
    pub layers: &'a [LayerRow],
    /// The settings that matter (preset, activation, estimators and their parameters,
    /// seeds), one line each.
    pub caption: Vec<String>,
    /// The run's last epoch (the colour scale's end).
    pub last_epoch: u32,
    /// Also draw every estimator on one plane with a legend.
    pub overlay: bool,
}

/// Every figure: (file name, SVG text).
///
/// # Errors
/// As the SVG backend.
pub fn figures(input: &FigureInput<'_>) -> Result<Vec<(String, String)>, PlotError> {
    let _ = input;
    Ok(Vec::new())
}
