//! One epoch of mini-batch training over caller buffers.

use crate::Error;
use crate::mat::Inputs;
use crate::mlp::{MlpPlan, Parallel, Serial};
use crate::optim::Optimizer;
use crate::rng::StreamRng;

/// How the training rows are visited each epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOrder {
    /// The same order every epoch (IDNNs).
    Fixed,
    /// The order is reshuffled at the start of every epoch (Keras's `shuffle=True`; ibsgd).
    Shuffled,
}

/// Trains a network for one epoch at a time: the training rows are cut into consecutive
/// batches of the plan's batch size (the last, shorter batch is kept) and each batch takes one
/// optimiser step. A batch size ≥ the number of training rows is full-batch training.
#[derive(Debug, Clone)]
pub struct Trainer {
    plan: MlpPlan,
    optimizer: Optimizer,
    order: BatchOrder,
}

impl Trainer {
    /// A trainer from a network plan (whose batch is the mini-batch size) and an optimiser.
    ///
    /// # Errors
    /// As [`Optimizer::validate`].
    pub fn new(plan: MlpPlan, optimizer: Optimizer, order: BatchOrder) -> Result<Self, Error> {
        optimizer.validate()?;
        Ok(Self {
            plan,
            optimizer,
            order,
        })
    }

    /// The network plan.
    #[must_use]
    pub const fn plan(&self) -> &MlpPlan {
        &self.plan
    }

    /// `f32` state the optimiser needs (zero it before the first epoch).
    #[must_use]
    pub fn state_len(&self) -> usize {
        self.optimizer.state_len(self.plan.shape().param_len())
    }

    /// `f32` scratch one epoch needs: the gradient buffer plus the plan's scratch.
    #[must_use]
    pub fn scratch_len(&self) -> usize {
        // gradient (kept across the optimiser step)  +  network scratch (reused per batch)
        self.plan
            .shape()
            .param_len()
            .saturating_add(self.plan.scratch_len())
    }

    /// Runs one epoch over the training rows listed in `order` (indices into `x`), reshuffling
    /// `order` first with `rng` when the batch order is [`BatchOrder::Shuffled`]. `step`
    /// counts optimiser updates across epochs and is advanced by one per batch.
    ///
    /// # Errors
    /// As [`MlpPlan::gradient`] and [`Optimizer::step`]; [`Error::EmptyInput`] for an empty
    /// `order`; [`Error::ScratchTooSmall`].
    ///
    /// # Scratch
    /// [`Trainer::scratch_len`] `f32`s.
    ///
    /// # Complexity
    /// O(rows · `param_len`).
    #[allow(clippy::too_many_arguments)] // state, scratch and data are separate by design (R8)
    pub fn epoch<'x>(
        &self,
        params: &mut [f32],
        state: &mut [f32],
        step: &mut u64,
        x: impl Into<Inputs<'x>>,
        labels: &[u32],
        order: &mut [u32],
        rng: &mut StreamRng,
        scratch: &mut [f32],
    ) -> Result<(), Error> {
        self.epoch_observed(params, state, step, x, labels, order, rng, scratch, |_| {})
    }

    /// [`Trainer::epoch`], handing each mini-batch's gradient (all parameters, in
    /// [`MlpPlan`] layout) to `observe` before the optimiser applies it.
    ///
    /// # Errors
    /// As [`Trainer::epoch`].
    #[allow(clippy::too_many_arguments)] // as `epoch`, plus the observer
    pub fn epoch_observed<'x>(
        &self,
        params: &mut [f32],
        state: &mut [f32],
        step: &mut u64,
        x: impl Into<Inputs<'x>>,
        labels: &[u32],
        order: &mut [u32],
        rng: &mut StreamRng,
        scratch: &mut [f32],
        observe: impl FnMut(&[f32]),
    ) -> Result<(), Error> {
        self.epoch_par(
            params, state, step, x, labels, order, rng, scratch, observe, &Serial,
        )
    }

    /// [`Trainer::epoch_observed`] with the wide layers' kernels split into jobs on `par`
    /// ([`MlpPlan::gradient_par`]): the same bits for any [`Parallel`].
    ///
    /// # Errors
    /// As [`Trainer::epoch`].
    #[allow(clippy::too_many_arguments)] // as `epoch_observed`, plus the threads
    pub fn epoch_par<'x>(
        &self,
        params: &mut [f32],
        state: &mut [f32],
        step: &mut u64,
        x: impl Into<Inputs<'x>>,
        labels: &[u32],
        order: &mut [u32],
        rng: &mut StreamRng,
        scratch: &mut [f32],
        mut observe: impl FnMut(&[f32]),
        par: &dyn Parallel,
    ) -> Result<(), Error> {
        let x = x.into();
        if order.is_empty() {
            return Err(Error::EmptyInput);
        }
        let needed = self.scratch_len();
        if scratch.len() < needed {
            return Err(Error::ScratchTooSmall {
                needed,
                got: scratch.len(),
            });
        }
        if self.order == BatchOrder::Shuffled {
            rng.shuffle(order);
        }
        let (grads, net_scratch) = scratch.split_at_mut(self.plan.shape().param_len());
        for batch in order.chunks(self.plan.batch()) {
            self.plan
                .gradient_par(params, x, labels, batch, grads, net_scratch, par)?;
            observe(grads);
            *step += 1;
            self.optimizer.step(*step, params, grads, state)?;
        }
        Ok(())
    }
}
