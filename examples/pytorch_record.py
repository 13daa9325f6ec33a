"""Record a PyTorch network's layer activations for infoplane.

Trains Saxe et al.'s network for Tishby's 12-bit task (12-10-7-5-4-3-2, tanh or relu hidden
layers, softmax output; Adam, lr 4e-4, batch 256, cross-entropy) on all 4096 patterns.
At log-spaced epochs it runs the whole data set through the network under torch.no_grad()
and keeps every hidden layer's activation output and the softmax output, through forward
hooks. Epoch E means "after E epochs of training": epoch 0 is the initial weights, and the
last recorded epoch is --epochs, the trained network.

The arrays go into one .npz file:

    epoch{E}_layer{L}   float32, (N, units)  L = 1 ... 6, the softmax output last
    labels              int64,   (N,)
    inputs              float32, (N, 12)

The script trains with recording and without it, from the same seed (--repeats times each,
alternating), and prints the best wall time of each, so you can see what recording costs.

    infoplane dataset tishby --out tishby.csv
    python examples/pytorch_record.py --data tishby.csv --out acts.npz
    infoplane estimate --history acts.npz --labels acts.npz:labels --inputs acts.npz:inputs --estimator binning --estimator ksg --out acts-plane

Needs torch and numpy.
"""

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

WIDTHS = [10, 7, 5, 4, 3, 2]


def make_net(inputs, activation):
    act = {"tanh": nn.Tanh, "relu": nn.ReLU}[activation]
    mods, width = [], inputs
    for i, units in enumerate(WIDTHS):
        last = i == len(WIDTHS) - 1
        mods += [nn.Linear(width, units), nn.Softmax(dim=1) if last else act()]
        width = units
    return nn.Sequential(*mods)


# --- recording: the snippet ---
def log_epochs(epochs, points=30):
    """0, the last epoch, and about `points` log-spaced epochs between them."""
    log = np.rint(np.geomspace(1, epochs, points)).astype(int)
    return sorted({0, epochs, *log.tolist()})


def record(net, layers, x, epoch, arrays):
    """Runs all of x through net; layer L's output becomes arrays[f"epoch{epoch}_layer{L}"]."""
    def keep(name):
        def hook(module, inputs, output):
            arrays[name] = output.detach().cpu().numpy().astype(np.float32)
        return hook

    handles = [m.register_forward_hook(keep(f"epoch{epoch}_layer{l}"))
               for l, m in enumerate(layers, start=1)]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in handles:
            h.remove()
# --- end of snippet ---


def train(x, y, args, recording):
    """Trains a fresh network; returns it and the recorded arrays (empty without recording)."""
    torch.manual_seed(args.seed)
    net = make_net(x.shape[1], args.activation)
    logits = net[:-1]  # the same modules without the softmax: what cross_entropy takes
    layers = [m for m in net if not isinstance(m, nn.Linear)]  # activations, then softmax
    opt = torch.optim.Adam(net.parameters(), lr=4e-4)
    shuffle = torch.Generator().manual_seed(args.seed)
    schedule = set(log_epochs(args.epochs)) if recording else set()
    arrays = {}
    for epoch in range(args.epochs + 1):
        if epoch in schedule:
            record(net, layers, x, epoch, arrays)
        if epoch == args.epochs:
            break
        for batch in torch.randperm(len(x), generator=shuffle).split(args.batch):
            opt.zero_grad()
            F.cross_entropy(logits(x[batch]), y[batch]).backward()
            opt.step()
    return net, arrays


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="CSV with a header: input columns, then the label")
    p.add_argument("--out", required=True, help="output .npz")
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--activation", choices=["tanh", "relu"], default="tanh")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--repeats", type=int, default=3, help="timed runs of each kind; best kept")
    args = p.parse_args()

    data = np.loadtxt(args.data, delimiter=",", skiprows=1, ndmin=2)
    x = torch.tensor(data[:, :-1], dtype=torch.float32)
    y = torch.tensor(data[:, -1], dtype=torch.int64)

    # Layers this small gain nothing from intra-op threads, and timings are steadier without.
    torch.set_num_threads(1)
    train(x, y, argparse.Namespace(**{**vars(args), "epochs": 1}), recording=False)  # warm-up

    # Alternate the two runs and keep each one's best time, so a busy machine skews less.
    with_rec = without = float("inf")
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        net, arrays = train(x, y, args, recording=True)
        with_rec = min(with_rec, time.perf_counter() - t0)
        t0 = time.perf_counter()
        plain, _ = train(x, y, args, recording=False)
        without = min(without, time.perf_counter() - t0)

    same = all(torch.equal(a, b) for a, b in zip(net.parameters(), plain.parameters()))
    with torch.no_grad():
        acc = (net(x).argmax(1) == y).float().mean().item()
    np.savez(args.out, **arrays, labels=y.numpy(), inputs=x.numpy())

    epochs = sorted({int(k.split("_")[0][5:]) for k in arrays})
    print(f"recorded {len(epochs)} epochs x {len(arrays) // len(epochs)} layers to {args.out}")
    print(f"final training accuracy {acc:.3f}")
    print(f"training with recording:    {with_rec:.2f} s")
    print(f"training without recording: {without:.2f} s")
    print(f"ratio {with_rec / without:.3f} (same final weights: {same})")


if __name__ == "__main__":
    main()
