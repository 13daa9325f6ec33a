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

/// Splits per-row results into train and test metrics. `probs` is the softmax output
/// (`rows × classes`), `nll` each row's −ln p(y|x) as written by
/// [`MlpPlan::evaluate`](crate::MlpPlan::evaluate), and `is_train[r]` says which side row `r`
/// is on.
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
    is_train: &[bool],
) -> Result<SplitMetrics, Error> {
    let n = probs.rows();
    for len in [nll.len(), labels.len(), is_train.len()] {
        if len != n {
            return Err(Error::ShapeMismatch {
                expected: n,
                got: len,
            });
        }
    }
    let mut sums = [(0.0f64, 0usize, 0usize); 2]; // (loss, correct, rows) for test, train
    for (((row, &l), &y), &tr) in probs.row_iter().zip(nll).zip(labels).zip(is_train) {
        let mut best = 0usize;
        let mut best_v = f32::NEG_INFINITY;
        for (j, &p) in row.iter().enumerate() {
            if p > best_v {
                best_v = p;
                best = j;
            }
        }
        if let Some(s) = sums.get_mut(usize::from(tr)) {
            s.0 += f64::from(l);
            s.1 += usize::from(best == y as usize);
            s.2 += 1;
        }
    }
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
    let [test, train] = sums;
    if train.2 == 0 {
        return Err(Error::EmptyInput);
    }
    Ok(SplitMetrics {
        train: to(train),
        test: (test.2 > 0).then(|| to(test)),
    })
}
