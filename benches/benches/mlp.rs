//! The network kernels on the IDNNs setup (12-10-7-5-4-3-2 tanh, Tishby's 12-bit task).
//!
//! Run one group: `cargo bench -p infoplane-benches --bench mlp -- epoch`.
// Bench setup that fails is a bug in the fixtures or in core, and the only sensible reaction
// is to stop with the error, so `expect` is allowed here (not in library code, R29).
#![allow(clippy::expect_used)]

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use infoplane_benches::{BENCH_SEED, TISHBY_BATCH, TISHBY_LR, TishbyNet};
use infoplane_core::{
    Activation, BatchOrder, ByteMatRef, Init, Isa, MlpPlan, MlpShape, Optimizer, Stream, StreamRng,
    Trainer, simd,
};
use std::hint::black_box;

/// `MlpPlan::gradient` of the mean cross-entropy over one batch of 512 training rows.
fn gradient(c: &mut Criterion) {
    let net = TishbyNet::new().expect("tishby net");
    let x = net.x().expect("inputs");
    let rows = net
        .train_rows
        .get(..TISHBY_BATCH)
        .expect("at least one batch of training rows");
    let mut grads = vec![0.0f32; net.plan.shape().param_len()];
    let mut scratch = vec![0.0f32; net.plan.scratch_len()];
    net.plan
        .gradient(&net.params, x, &net.labels, rows, &mut grads, &mut scratch)
        .expect("gradient succeeds");
    let mut g = c.benchmark_group("gradient");
    g.throughput(Throughput::Elements(TISHBY_BATCH as u64));
    // Once per instruction-set level this CPU has (the same bits on each, only the time
    // differs): `tishby-net/<level>/batch=512`.
    for isa in Isa::ALL.into_iter().filter(|i| i.is_available()) {
        simd::force(Some(isa)).expect("an available level");
        let id = BenchmarkId::new(format!("tishby-net/{isa}"), "batch=512");
        g.bench_function(id, |b| {
            b.iter(|| {
                black_box(net.plan.gradient(
                    black_box(&net.params),
                    black_box(x),
                    black_box(&net.labels),
                    black_box(rows),
                    black_box(&mut grads),
                    black_box(&mut scratch),
                ))
            });
        });
    }
    simd::force(None).expect("back to the best level");
    g.finish();
}

/// `Trainer::epoch`: 3277 training rows in 7 batches of ≤ 512, one Adam (4e-4) step each,
/// fixed batch order as in IDNNs. Every iteration starts from the same weights and optimiser
/// state (restored untimed by `iter_batched_ref`), so each times the same epoch.
fn epoch(c: &mut Criterion) {
    let net = TishbyNet::new().expect("tishby net");
    let x = net.x().expect("inputs");
    let trainer = Trainer::new(
        net.plan.clone(),
        Optimizer::adam(TISHBY_LR),
        BatchOrder::Fixed,
    )
    .expect("trainer");
    let state0 = vec![0.0f32; trainer.state_len()];
    let mut scratch = vec![0.0f32; trainer.scratch_len()];
    let mut rng = StreamRng::new(BENCH_SEED, Stream::Shuffle);
    {
        let (mut p, mut s, mut o, mut step) = (
            net.params.clone(),
            state0.clone(),
            net.train_rows.clone(),
            0,
        );
        trainer
            .epoch(
                &mut p,
                &mut s,
                &mut step,
                x,
                &net.labels,
                &mut o,
                &mut rng,
                &mut scratch,
            )
            .expect("epoch succeeds");
    }
    let mut g = c.benchmark_group("epoch");
    g.throughput(Throughput::Elements(net.train_rows.len() as u64));
    g.bench_function(
        BenchmarkId::new("tishby-net-adam", "rows=3277,batch=512"),
        |b| {
            b.iter_batched_ref(
                || (net.params.clone(), state0.clone(), net.train_rows.clone()),
                |(params, state, order)| {
                    let mut step = 0u64;
                    black_box(trainer.epoch(
                        black_box(params),
                        black_box(state),
                        &mut step,
                        black_box(x),
                        black_box(&net.labels),
                        order,
                        &mut rng,
                        black_box(&mut scratch),
                    ))
                },
                BatchSize::SmallInput,
            );
        },
    );
    g.finish();
}

/// `MlpPlan::evaluate` over all 4096 rows (blocks of 512): every layer's activations and the
/// per-row loss, as captured for the information plane at each measured epoch.
fn evaluate(c: &mut Criterion) {
    let net = TishbyNet::new().expect("tishby net");
    let x = net.x().expect("inputs");
    let rows = net.labels.len();
    let mut layers = vec![0.0f32; rows * net.plan.shape().activation_len()];
    let mut nll = vec![0.0f32; rows];
    let mut scratch = vec![0.0f32; net.plan.scratch_len()];
    net.plan
        .evaluate(
            &net.params,
            x,
            &net.labels,
            &mut layers,
            &mut nll,
            &mut scratch,
        )
        .expect("evaluate succeeds");
    let mut g = c.benchmark_group("evaluate");
    g.throughput(Throughput::Elements(rows as u64));
    g.bench_function(BenchmarkId::new("tishby-net", "rows=4096"), |b| {
        b.iter(|| {
            black_box(net.plan.evaluate(
                black_box(&net.params),
                black_box(x),
                black_box(&net.labels),
                black_box(&mut layers),
                black_box(&mut nll),
                black_box(&mut scratch),
            ))
        });
    });
    g.finish();
}

/// A batch of the MNIST benches.
const MNIST_BATCH: usize = 128;

/// Saxe et al.'s MNIST network (784-1024-20-20-20-10 tanh, Glorot uniform) with its plan for
/// batches of 128, and one batch: 128 byte images (a fixed pseudo-random stream, which costs
/// what real images cost: nothing depends on the values), the rows 0..128 and labels.
#[allow(clippy::type_complexity)] // the bench's fixture, taken apart at once
fn mnist_net() -> (MlpPlan, Vec<f32>, Vec<u8>, Vec<u32>, Vec<u32>) {
    const WIDTHS: [u32; 6] = [784, 1024, 20, 20, 20, 10];
    let shape = MlpShape::new(&WIDTHS, Activation::Tanh).expect("mnist shape");
    let plan = MlpPlan::new(shape, MNIST_BATCH).expect("mnist plan");
    let mut rng = StreamRng::new(BENCH_SEED, Stream::Init);
    let mut params = vec![0.0f32; plan.shape().param_len()];
    plan.init(Init::GlorotUniform, &mut params, &mut rng)
        .expect("init");
    let mut pixels = vec![0u8; MNIST_BATCH * 784];
    let mut state = BENCH_SEED;
    for p in &mut pixels {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        *p = state.to_be_bytes()[0];
    }
    let rows: Vec<u32> = (0..128).collect();
    let labels: Vec<u32> = rows.iter().map(|i| i % 10).collect();
    (plan, params, pixels, rows, labels)
}

/// `MlpPlan::gradient` on Saxe et al.'s MNIST network (784-1024-20-20-20-10 tanh, Glorot
/// uniform) over one batch of 128 byte images (pixels / 255; the bytes are a fixed
/// pseudo-random stream, which costs what real images cost: nothing depends on the values).
/// 0.41 GFLOP per batch (forward and weight gradient of the 784 × 1024 layer dominate).
fn mnist_gradient(c: &mut Criterion) {
    let (plan, params, pixels, rows, labels) = mnist_net();
    let x = ByteMatRef::new(&pixels, MNIST_BATCH, 784, 255.0).expect("pixels");
    let mut grads = vec![0.0f32; plan.shape().param_len()];
    let mut scratch = vec![0.0f32; plan.scratch_len()];
    let mut g = c.benchmark_group("gradient");
    g.throughput(Throughput::Elements(MNIST_BATCH as u64));
    for isa in Isa::ALL.into_iter().filter(|i| i.is_available()) {
        simd::force(Some(isa)).expect("an available level");
        let id = BenchmarkId::new(format!("saxe-mnist-net/{isa}"), "batch=128");
        g.bench_function(id, |b| {
            b.iter(|| {
                black_box(plan.gradient(
                    black_box(&params),
                    black_box(x),
                    black_box(&labels),
                    black_box(&rows),
                    black_box(&mut grads),
                    black_box(&mut scratch),
                ))
            });
        });
    }
    simd::force(None).expect("back to the best level");
    g.finish();
}

/// One SGD step (gradient and update, lr 1e-3) of Saxe et al.'s MNIST network on a batch
/// of 128 images at the best level, on 1 and 2 threads (the CLI's threads for the wide
/// layers; the same bits on both): what `benches/compare/torch_mnist_step.py --threads N`
/// times for `PyTorch`.
fn mnist_sgd_step(c: &mut Criterion) {
    let (plan, mut params, pixels, rows, labels) = mnist_net();
    let x = ByteMatRef::new(&pixels, MNIST_BATCH, 784, 255.0).expect("pixels");
    let sgd = Optimizer::sgd(1e-3);
    let mut grads = vec![0.0f32; plan.shape().param_len()];
    let mut scratch = vec![0.0f32; plan.scratch_len()];
    let mut opt_state = vec![0.0f32; sgd.state_len(plan.shape().param_len())];
    let mut g = c.benchmark_group("sgd-step");
    g.throughput(Throughput::Elements(MNIST_BATCH as u64));
    for threads in [1usize, 2] {
        let par = infoplane_cli::par::ScopedThreads(threads);
        let id = BenchmarkId::new("saxe-mnist-net", format!("threads={threads}"));
        let mut step = 0u64;
        g.bench_function(id, |b| {
            b.iter(|| {
                plan.gradient_par(
                    black_box(&params),
                    black_box(x),
                    black_box(&labels),
                    black_box(&rows),
                    black_box(&mut grads),
                    black_box(&mut scratch),
                    &par,
                )
                .expect("gradient");
                step += 1;
                sgd.step(step, &mut params, &grads, &mut opt_state)
                    .expect("sgd step");
            });
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    gradient,
    epoch,
    evaluate,
    mnist_gradient,
    mnist_sgd_step
);
criterion_main!(benches);
