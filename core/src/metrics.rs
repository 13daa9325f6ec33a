//! Loss and accuracy of a network's outputs over the train and test rows.

use crate::Error;
use crate::mat::MatRef;

/// Mean cross-entropy (nats) and accuracy over a set of rows.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Metrics {
    /// Mean of −ln p(y|x) over the rows, in nats (f64 accumulation, row order).
    pub loss: f64,
    /// Fraction of rows whose largest output (first on ties, as `argmax`) is the label.
    pub accuracy: f64,
    /// Number of rows.
    pub rows: usize,
}

/// Train and test metrics of one evaluation; `test` is `None` when no row is held out.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SplitMetrics {
    /// Over the training rows.
    pub train: Metrics,
    /// Over the held-out rows.
    pub test: Option<Metrics>,
}

/// What a row of a run's data set is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A training row.
    Train,
    /// A held-out row.
    Test,
    /// Neither (a training row left out by a limit on the training rows).
    Unused,
}

/// Accumulates train and test metrics row by row, in the order rows are added (the loss in
/// `f64`), so results added in blocks equal those of one pass.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricsAcc {
    /// (loss, correct, rows) for test, then train.
    sums: [(f64, usize, usize); 2],
}

impl MetricsAcc {
    /// Adds each row of `probs` (the softmax output, `rows × classes`) with its `nll`
    /// (`−ln p(y|x)`), label and role; [`Role::Unused`] rows are skipped.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the lengths disagree.
    pub fn add(
        &mut self,
        probs: MatRef<'_>,
        nll: &[f32],
        labels: &[u32],
        roles: &[Role],
    ) -> Result<(), Error> {
        let n = probs.rows();
        for len in [nll.len(), labels.len(), roles.len()] {
            if len != n {
                return Err(Error::ShapeMismatch {
                    expected: n,
                    got: len,
                });
            }
        }
        for (((row, &l), &y), &role) in probs.row_iter().zip(nll).zip(labels).zip(roles) {
            let side = match role {
                Role::Train => 1,
                Role::Test => 0,
                Role::Unused => continue,
            };
            let mut best = 0usize;
            let mut best_v = f32::NEG_INFINITY;
            for (j, &p) in row.iter().enumerate() {
                if p > best_v {
                    best_v = p;
                    best = j;
                }
            }
            if let Some(s) = self.sums.get_mut(side) {
                s.0 += f64::from(l);
                s.1 += usize::from(best == y as usize);
                s.2 += 1;
            }
        }
        Ok(())
    }

    /// The metrics of the rows added.
    ///
    /// # Errors
    /// [`Error::EmptyInput`] if no training row was added.
    pub fn finish(&self) -> Result<SplitMetrics, Error> {
        let to = |(loss, correct, rows): (f64, usize, usize)| {
            #[allow(clippy::cast_precision_loss)] // row counts < 2^53
            let r = rows as f64;
            #[allow(clippy::cast_precision_loss)]
            let c = correct as f64;
            Metrics {
                loss: loss / r,
                accuracy: c / r,
                rows,
            }
        };
        let [test, train] = self.sums;
        if train.2 == 0 {
            return Err(Error::EmptyInput);
        }
        Ok(SplitMetrics {
            train: to(train),
            test: (test.2 > 0).then(|| to(test)),
        })
    }
}

/// Splits per-row results into train and test metrics. `probs` is the softmax output
/// (`rows × classes`), `nll` each row's −ln p(y|x) as written by
/// [`MlpPlan::evaluate`](crate::MlpPlan::evaluate), and `roles[r]` says what row `r` is for.
///
/// # Errors
/// [`Error::ShapeMismatch`] if the lengths disagree; [`Error::EmptyInput`] if no row is a
/// training row.
///
/// # Complexity
/// O(rows · classes).
pub fn split_metrics(
    probs: MatRef<'_>,
    nll: &[f32],
    labels: &[u32],
    roles: &[Role],
) -> Result<SplitMetrics, Error> {
    let mut acc = MetricsAcc::default();
    acc.add(probs, nll, labels, roles)?;
    acc.finish()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp)]
    use super::*;

    #[test]
    fn losses_and_accuracies_by_hand() {
        // Five rows of three classes. Rows 0, 1, 3 train; 2 and 4 are held out.
        let probs = [
            0.7, 0.2, 0.1, // label 0: right
            0.1, 0.3, 0.6, // label 1: wrong (predicts 2)
            0.2, 0.5, 0.3, // label 1: right
            0.4, 0.4, 0.2, // label 1: tie of 0 and 1 → argmax takes the first (0): wrong
            0.3, 0.3, 0.4, // label 2: right
        ];
        let nll = [0.5f32, 1.25, 0.75, 2.0, 0.25];
        let labels = [0u32, 1, 1, 1, 2];
        let is_train = [
            Role::Train,
            Role::Train,
            Role::Test,
            Role::Train,
            Role::Test,
        ];
        let m =
            split_metrics(MatRef::new(&probs, 5, 3).unwrap(), &nll, &labels, &is_train).unwrap();
        assert_eq!(m.train.rows, 3);
        assert_eq!(m.train.loss, (0.5 + 1.25 + 2.0) / 3.0);
        assert_eq!(m.train.accuracy, 1.0 / 3.0);
        let test = m.test.unwrap();
        assert_eq!(test.rows, 2);
        assert_eq!(test.loss, (0.75 + 0.25) / 2.0);
        assert_eq!(test.accuracy, 1.0);
        // Everything trains: no test metrics.
        let all = split_metrics(
            MatRef::new(&probs, 5, 3).unwrap(),
            &nll,
            &labels,
            &[Role::Train; 5],
        )
        .unwrap();
        assert_eq!(all.test, None);
        // Unused rows count nowhere; blocks added in row order give one pass's bits.
        let roles = [
            Role::Train,
            Role::Unused,
            Role::Test,
            Role::Train,
            Role::Test,
        ];
        let one = split_metrics(MatRef::new(&probs, 5, 3).unwrap(), &nll, &labels, &roles).unwrap();
        assert_eq!(one.train.rows, 2);
        assert_eq!(one.train.loss, (0.5 + 2.0) / 2.0);
        let mut acc = MetricsAcc::default();
        acc.add(
            MatRef::new(&probs[..6], 2, 3).unwrap(),
            &nll[..2],
            &labels[..2],
            &roles[..2],
        )
        .unwrap();
        acc.add(
            MatRef::new(&probs[6..], 3, 3).unwrap(),
            &nll[2..],
            &labels[2..],
            &roles[2..],
        )
        .unwrap();
        assert_eq!(acc.finish().unwrap(), one);
        assert_eq!(all.train.accuracy, 3.0 / 5.0);
        // Nothing trains, or lengths disagree.
        assert_eq!(
            split_metrics(
                MatRef::new(&probs, 5, 3).unwrap(),
                &nll,
                &labels,
                &[Role::Test; 5]
            ),
            Err(Error::EmptyInput)
        );
        assert_eq!(
            split_metrics(
                MatRef::new(&probs, 5, 3).unwrap(),
                &nll[..4],
                &labels,
                &is_train
            ),
            Err(Error::ShapeMismatch {
                expected: 5,
                got: 4
            })
        );
    }
}
