//! Compile-time checks (R26): plans and values can cross threads, so a caller can run one
//! plan per worker or share one read-only. These fail to build, not to run.

use infoplane_core::{
    Activation, BinRule, BinningPlan, Error, Info, MatRef, MlpPlan, MlpShape, Optimizer,
    PlanePoint, Schedule, StreamRng, Trainer,
};

const fn send_sync<T: Send + Sync>() {}
const fn send<T: Send>() {}
const fn error_type<T: std::error::Error + Send + Sync + 'static>() {}

const _: () = {
    send_sync::<MlpPlan>();
    send_sync::<MlpShape>();
    send_sync::<BinningPlan>();
    send_sync::<Trainer>();
    send_sync::<BinRule>();
    send_sync::<Optimizer>();
    send_sync::<Activation>();
    send_sync::<Schedule<'static>>();
    send_sync::<StreamRng>();
    send_sync::<MatRef<'static>>();
    send_sync::<Info>();
    send_sync::<PlanePoint>();
    send_sync::<infoplane_core::KdePlan>();
    send_sync::<infoplane_core::estimator::Plan>();
    send_sync::<infoplane_core::estimator::Estimator>();
    send_sync::<infoplane_core::estimator::Settings>();
    send_sync::<infoplane_core::estimator::Partial>();
    send_sync::<infoplane_core::ScratchReq>();
    send_sync::<infoplane_core::Workspace>();
    send_sync::<infoplane_core::dataset::Dataset>();
    send_sync::<infoplane_core::experiment::Measurer>();
    send_sync::<infoplane_core::experiment::Snapshot>();
    send_sync::<infoplane_core::experiment::Measurement>();
    // A run moves to another thread whole (its planner is `Send`, not `Sync`).
    send::<infoplane_core::experiment::Experiment>();
    send::<infoplane_core::experiment::Run>();
    // The error can be boxed into `Box<dyn Error + Send + Sync>` by callers.
    error_type::<Error>();
};

#[test]
fn plans_run_on_scoped_threads() {
    // The same plan, shared by reference across threads, gives the same bits in each.
    let plan = BinningPlan::new(64, 2, BinRule::Size { size: 0.1 }).unwrap();
    let t = infoplane_tests::fixtures::layer(64, 2, 1);
    let y = infoplane_tests::fixtures::labels(64, 2, 1);
    let run = || {
        let mut scratch = vec![0u64; plan.scratch_req().words()];
        crate::util::bin_mi(
            &plan,
            MatRef::new(&t, 64, 2).unwrap(),
            &y,
            None,
            &mut scratch,
        )
        .unwrap()
    };
    let here = run();
    let there: Vec<PlanePoint> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(run)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(there.iter().all(
        |p| p.i_xt.in_bits().to_bits() == here.i_xt.in_bits().to_bits()
            && p.i_ty.in_bits().to_bits() == here.i_ty.in_bits().to_bits()
    ));
}
