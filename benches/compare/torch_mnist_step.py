"""PyTorch CPU time of one SGD step of Saxe et al.'s MNIST network, to set beside the Rust figure.

Network 784-1024-20-20-20-10, tanh hidden layers, softmax cross-entropy (mean), float32,
Glorot-uniform weights and zero biases, plain SGD lr 1e-3. Input is one fixed batch of 128 rows
of 784 pseudo-random bytes / 255 (torch.Generator seed 0), labels i % 10. One step is
zero_grad + forward + loss + backward + optimizer.step. After 20 warm-up steps, each repeat
times --steps steps with time.perf_counter.

    pip install torch   # the CPU build is enough
    python3 benches/compare/torch_mnist_step.py --threads 1 [--repeats 7] [--steps 200]

Prints a CSV line per repeat (repeat,threads,steps,seconds,ms_per_step), then
median_ms_per_batch=..., and epoch_10k_s= / epoch_60k_s= (median x 10000/128 or 60000/128
batches, in seconds: one pass over a 10k or 60k-sample set at batch 128).
"""
import argparse
import statistics
import time

import torch
from torch import nn


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)

    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (128, 784), generator=g, dtype=torch.uint8).float() / 255.0
    y = torch.arange(128) % 10

    sizes = [784, 1024, 20, 20, 20, 10]
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        lin = nn.Linear(a, b)
        nn.init.xavier_uniform_(lin.weight, generator=g)
        nn.init.zeros_(lin.bias)
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    model = nn.Sequential(*layers).float()
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.0)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(20):
        step()

    per_step = []
    print("repeat,threads,steps,seconds,ms_per_step")
    for r in range(args.repeats):
        t0 = time.perf_counter()
        for _ in range(args.steps):
            loss = step()
        dt = time.perf_counter() - t0
        ms = dt * 1000.0 / args.steps
        per_step.append(ms)
        print(f"{r},{args.threads},{args.steps},{dt:.4f},{ms:.4f}")

    med = statistics.median(per_step)
    print(f"# final loss {loss.item():.4f}")
    print(f"median_ms_per_batch={med:.4f} threads={args.threads} torch={torch.__version__}")
    print(f"epoch_10k_s={med * 10000 / 128 / 1000:.4f}")
    print(f"epoch_60k_s={med * 60000 / 128 / 1000:.4f}")


if __name__ == "__main__":
    main()
