//! Inputs shared by the criterion benches in `benches/` (STYLE R28).
//!
//! Everything random comes from [`infoplane_tests::fixtures`] with its fixed seeds, so two
//! runs (and two machines) time the same work. The builders here only combine fixtures with
//! core plans; they allocate, and the benches call them outside the timed closures.

use infoplane_core::data::{TISHBY_BITS, TISHBY_ROWS, train_count};
use infoplane_core::{Activation, Error, Init, MatRef, MlpPlan, MlpShape, Stream, StreamRng};
use infoplane_tests::fixtures;

/// Widths of the IDNNs network (Shwartz-Ziv & Tishby 2017): 12-10-7-5-4-3-2.
pub const TISHBY_WIDTHS: [u32; 7] = [12, 10, 7, 5, 4, 3, 2];
/// The IDNNs mini-batch size.
pub const TISHBY_BATCH: usize = 512;
/// The IDNNs Adam learning rate.
pub const TISHBY_LR: f32 = 4e-4;
/// The run seed used for the benches' weight initialisation.
pub const BENCH_SEED: u64 = fixtures::RUN_SEED;

/// The Tishby task with an initialised 12-10-7-5-4-3-2 tanh network, ready to train or run.
#[derive(Debug, Clone)]
pub struct TishbyNet {
    /// Plan for blocks of [`TISHBY_BATCH`] samples.
    pub plan: MlpPlan,
    /// Parameters, initialised like IDNNs (truncated normal, σ = 1/√fan-in).
    pub params: Vec<f32>,
    /// The 4096 × 12 inputs, row-major.
    pub x: Vec<f32>,
    /// The 4096 labels.
    pub labels: Vec<u32>,
    /// Training rows: the first 80 % (3277), as IDNNs' default split.
    pub train_rows: Vec<u32>,
}

impl TishbyNet {
    /// Builds the data set, the plan and initial weights from [`BENCH_SEED`].
    ///
    /// # Errors
    /// Only if a core constructor rejects the fixed shapes, which would be a core bug.
    pub fn new() -> Result<Self, Error> {
        let shape = MlpShape::new(&TISHBY_WIDTHS, Activation::Tanh)?;
        let plan = MlpPlan::new(shape, TISHBY_BATCH)?;
        let mut params = vec![0.0f32; plan.shape().param_len()];
        let mut rng = StreamRng::new(BENCH_SEED, Stream::Init);
        plan.init(Init::TruncatedNormalFanIn, &mut params, &mut rng)?;
        let (x, labels) = fixtures::tishby();
        let n_train = train_count(TISHBY_ROWS, 0.8)?;
        let n_train = u32::try_from(n_train).map_err(|_| Error::TooLarge)?;
        Ok(Self {
            plan,
            params,
            x,
            labels,
            train_rows: (0..n_train).collect(),
        })
    }

    /// The inputs as a checked view.
    ///
    /// # Errors
    /// Never for the fixture's sizes.
    pub fn x(&self) -> Result<MatRef<'_>, Error> {
        MatRef::new(&self.x, TISHBY_ROWS, TISHBY_BITS)
    }

    /// Runs the network over all rows and returns hidden layer `layer` (1-based, 1 = the
    /// first hidden layer) as an `rows × width` row-major buffer: real tanh activations of the
    /// kind the information plane bins, rather than independent uniform values.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] `"layer"` for a layer outside the hidden layers; as
    /// [`MlpPlan::evaluate`].
    pub fn hidden_layer(&self, layer: usize) -> Result<(Vec<f32>, usize), Error> {
        let shape = self.plan.shape();
        let widths = shape.widths();
        if layer == 0 || layer + 1 >= widths.len() {
            return Err(Error::InvalidParameter { name: "layer" });
        }
        let mut layers = vec![0.0f32; TISHBY_ROWS * shape.activation_len()];
        let mut nll = vec![0.0f32; TISHBY_ROWS];
        let mut scratch = vec![0.0f32; self.plan.scratch_len()];
        self.plan.evaluate(
            &self.params,
            self.x()?,
            &self.labels,
            &mut layers,
            &mut nll,
            &mut scratch,
        )?;
        // Layers are stored one after another, each `rows × width`.
        let start: usize = widths
            .iter()
            .skip(1)
            .take(layer - 1)
            .map(|&w| w as usize * TISHBY_ROWS)
            .sum();
        let width = widths.get(layer).map_or(0, |&w| w as usize);
        let out = layers
            .get(start..start + width * TISHBY_ROWS)
            .ok_or(Error::TooLarge)?
            .to_vec();
        Ok((out, width))
    }
}
