//! Optimiser steps against the `f64` reference, one step at a time from the core's state.

use infoplane_core::{Error, Optimizer};
use infoplane_tests::fixtures::{self, GRAD_SEED, PARAM_SEED};
use infoplane_tests::reference::optimizer_step_f64;
use infoplane_tests::tolerance::{OPT_STATE_REL, OPT_UPDATE_REL};

/// Half an ulp of `x` in `f32`, as an `f64` (the rounding of the final θ − Δ).
fn half_ulp(x: f32) -> f64 {
    let a = x.abs();
    (f64::from(f32::from_bits(a.to_bits() + 1)) - f64::from(a)) / 2.0
}

/// Runs `steps` updates of `opt` on random parameters and gradients; before each, widens the
/// core's current parameters and state to `f64`, takes one reference step, and compares.
fn check(opt: Optimizer, steps: u64, first_step: u64, grad_scale: f32) {
    let n = 257; // not a multiple of any lane width
    let mut p = fixtures::uniform(n, 1.0, PARAM_SEED + 300);
    let mut state = vec![0.0f32; opt.state_len(n)];
    let (mut worst_state, mut worst_update) = (0.0f64, 0.0f64);
    for k in 0..steps {
        let t = first_step + k;
        let g = fixtures::uniform(n, grad_scale, GRAD_SEED + k);
        let mut rp: Vec<f64> = p.iter().copied().map(f64::from).collect();
        let mut rs: Vec<f64> = state.iter().copied().map(f64::from).collect();
        let before_p = rp.clone();
        let before_s = rs.clone();
        let rg: Vec<f64> = g.iter().copied().map(f64::from).collect();
        optimizer_step_f64(opt, t, &mut rp, &rg, &mut rs).unwrap();
        opt.step(t, &mut p, &g, &mut state).unwrap();
        // State: each element is a sum of two terms; allow OPT_STATE_REL of their magnitudes.
        let (term_a, term_b): (Vec<f64>, Vec<f64>) = match opt {
            Optimizer::Adam { beta1, beta2, .. } => {
                let (b1, b2) = (f64::from(beta1), f64::from(beta2));
                let a = before_s
                    .iter()
                    .enumerate()
                    .map(|(i, &s)| if i < n { b1 * s.abs() } else { b2 * s.abs() })
                    .collect();
                let b = (0..2 * n)
                    .map(|i| {
                        let gi = rg[i % n];
                        if i < n {
                            (1.0 - b1) * gi.abs()
                        } else {
                            (1.0 - b2) * gi * gi
                        }
                    })
                    .collect();
                (a, b)
            }
            Optimizer::Sgd { lr, momentum } => (
                // Plain SGD keeps no state: its first term is 0.
                (0..n)
                    .map(|i| f64::from(momentum) * before_s.get(i).map_or(0.0, |s| s.abs()))
                    .collect(),
                rg.iter().map(|&gi| f64::from(lr) * gi.abs()).collect(),
            ),
            _ => unreachable!("only the optimisers above are tested"),
        };
        for (i, (&got, &want)) in state.iter().zip(&rs).enumerate() {
            let allowed = OPT_STATE_REL * (term_a[i] + term_b[i]) + f64::MIN_POSITIVE;
            worst_state = worst_state.max(
                (f64::from(got) - want).abs() / (term_a[i] + term_b[i]).max(f64::MIN_POSITIVE),
            );
            assert!(
                (f64::from(got) - want).abs() <= allowed,
                "{opt:?} step {t}: state {i}: {got} vs {want}"
            );
        }
        // Parameters: ½ ulp for the final rounding plus OPT_UPDATE_REL of the update's size,
        // where the size of Adam's m counts both of its terms (cancellation in m is allowed).
        for i in 0..n {
            let delta = (rp[i] - before_p[i]).abs();
            let size = match opt {
                Optimizer::Adam { .. } => {
                    let m_terms = term_a[i] + term_b[i];
                    let m = rs[i].abs();
                    if m > 0.0 { delta * m_terms / m } else { delta }
                }
                _ => term_a[i] + term_b[i],
            };
            let allowed = half_ulp(p[i]) + OPT_UPDATE_REL * size;
            worst_update = worst_update.max(
                ((f64::from(p[i]) - rp[i]).abs() - half_ulp(p[i])).max(0.0)
                    / size.max(f64::MIN_POSITIVE),
            );
            assert!(
                (f64::from(p[i]) - rp[i]).abs() <= allowed,
                "{opt:?} step {t}: parameter {i}: {} vs {} (update {delta:e})",
                p[i],
                rp[i]
            );
        }
    }
    println!(
        "{opt:?} from step {first_step}: worst state error {worst_state:e}, update error {worst_update:e} (relative)"
    );
}

#[test]
fn adam_matches_the_f64_reference() {
    check(Optimizer::adam(4e-4), 5, 1, 0.1);
    check(Optimizer::adam(1e-2), 5, 1, 1e-3);
    check(
        Optimizer::Adam {
            lr: 0.1,
            beta1: 0.5,
            beta2: 0.9,
            eps: 1e-3,
        },
        5,
        1,
        1.0,
    );
    // Late steps: the bias corrections are ≈ 1.
    check(Optimizer::adam(4e-4), 3, 10_000, 0.1);
}

#[test]
fn sgd_matches_the_f64_reference() {
    check(Optimizer::sgd(1e-3), 3, 1, 1.0);
    check(
        Optimizer::Sgd {
            lr: 0.05,
            momentum: 0.9,
        },
        5,
        1,
        1.0,
    );
    check(
        Optimizer::Sgd {
            lr: 1e-3,
            momentum: 0.5,
        },
        5,
        1,
        10.0,
    );
}

#[test]
fn first_adam_step_moves_each_parameter_by_about_lr() {
    // t = 1 from zero state: m = (1−β₁)g, v = (1−β₂)g², η₁ = η√(1−β₂)/(1−β₁), so
    // Δ = η·g/(|g| + ε/√(1−β₂)) ≈ η·sign(g) when |g| ≫ ε.
    let opt = Optimizer::adam(4e-4);
    let n = 100;
    let mut p = vec![0.5f32; n];
    let g: Vec<f32> = fixtures::uniform(n, 1.0, GRAD_SEED)
        .iter()
        .map(|v| v + v.signum() * 0.01)
        .collect();
    let mut state = vec![0.0f32; opt.state_len(n)];
    opt.step(1, &mut p, &g, &mut state).unwrap();
    for (i, (&pi, &gi)) in p.iter().zip(&g).enumerate() {
        let moved = f64::from(0.5 - pi);
        assert!(
            (moved - 4e-4 * f64::from(gi.signum())).abs() < 4e-4 * 1e-3,
            "parameter {i}: moved {moved}"
        );
    }
}

#[test]
fn state_sizes_and_validation() {
    assert_eq!(Optimizer::sgd(0.1).state_len(10), 0);
    assert_eq!(
        Optimizer::Sgd {
            lr: 0.1,
            momentum: 0.9
        }
        .state_len(10),
        10
    );
    assert_eq!(Optimizer::adam(0.1).state_len(10), 20);
    assert!(Optimizer::adam(4e-4).validate().is_ok());
    // A rate of 0 freezes the weights (the as-if-random control); below 0 or subnormal
    // is refused.
    assert!(Optimizer::adam(0.0).validate().is_ok());
    assert!(Optimizer::sgd(0.0).validate().is_ok());
    let bad = [
        (Optimizer::sgd(-1e-3), "lr"),
        (Optimizer::adam(1e-40), "lr"),
        (Optimizer::sgd(f32::NAN), "lr"),
        (
            Optimizer::Sgd {
                lr: 0.1,
                momentum: 1.0,
            },
            "momentum",
        ),
        (
            Optimizer::Sgd {
                lr: 0.1,
                momentum: -0.1,
            },
            "momentum",
        ),
        (
            Optimizer::Adam {
                lr: 0.1,
                beta1: 1.0,
                beta2: 0.999,
                eps: 1e-8,
            },
            "beta1",
        ),
        (
            Optimizer::Adam {
                lr: 0.1,
                beta1: 0.9,
                beta2: f32::INFINITY,
                eps: 1e-8,
            },
            "beta2",
        ),
        (
            Optimizer::Adam {
                lr: 0.1,
                beta1: 0.9,
                beta2: 0.999,
                eps: -1.0,
            },
            "eps",
        ),
    ];
    for (opt, name) in bad {
        assert_eq!(
            opt.validate(),
            Err(Error::InvalidParameter { name }),
            "{opt:?}"
        );
    }
}
