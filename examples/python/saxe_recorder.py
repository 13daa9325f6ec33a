"""Record the information plane of a PyTorch network while it trains, with infoplane.torch.

Trains Saxe et al.'s network for Tishby's 12-bit task in PyTorch: 12-10-7-5-4-3-2, tanh
(or --activation relu) hidden layers, softmax output; Adam, lr 4e-4, batch 256 reshuffled
every epoch, cross-entropy, on all 4096 patterns (as examples/pytorch_record.py does).

An ``infoplane.torch.Recorder`` watches the five hidden activations and the softmax output.
At the epochs of the schedule (default ``log:60``: epoch 0 and about 60 log-spaced epochs up
to the last) it runs the 4096 patterns through the network under ``torch.no_grad()``, copies
each layer's output once and hands it to a Rust thread, which estimates I(X;T) and I(T;Y)
(default: ``binning`` and ``kde-upper``) while training goes on. The training loop is

    rec = infoplane.torch.Recorder(net, x, y, layers=[...], schedule="log:60",
                                   epochs=EPOCHS, estimator=["binning", "kde-upper"])
    for epoch in range(EPOCHS):
        rec.record(epoch)          # the network after `epoch` epochs, if the schedule says so
        train_one_epoch()
    plane = rec.plane()            # waits for the estimates still running

so, as in ``infoplane run``, the measured epochs are 0 ... EPOCHS - 1 ("after E epochs").

The script then

* draws the plane (``plane.svg``, the first estimator; ``plane-<estimator>.svg`` for the
  others), every estimator on one plane (``plane-overlay.svg``) and each layer's I(X;T) and
  I(T;Y) against epoch (``layers-<estimator>.svg``), and writes the values to ``plane.csv``,
  all in --out;
* measures what recording costs: it trains the same network from the same seed without the
  recorder and with it, alternating, --repeats times, and prints the median wall time of
  each and their ratio. The recorded time runs up to the DataFrame in hand, so it includes
  waiting, after the last epoch, for the estimates still pending; that wait is also printed
  on its own, with the time the training loop spent inside ``record()``;
* checks that recording does not change training: the final weights of the recorded and the
  plain runs must be equal bit for bit (``torch.equal`` on every parameter).

The default, 2000 epochs, is long enough for the tanh network's deep layers to compress
(binning: layers 5 and 6 lose 1 to 2 bits of I(X;T) after epoch ~200) and takes about 17 s
per training run on one core, so the whole script (2 x 3 timed runs) finishes in about two
minutes on a 2-vCPU machine; --epochs 1000 --repeats 1 is a quick look. Saxe et al. train for
10000 epochs.

    infoplane dataset tishby --out tishby.csv
    python examples/python/saxe_recorder.py --data tishby.csv --out saxe-recorder
    python examples/python/saxe_recorder.py --data tishby.csv --activation relu --out saxe-relu

``binning`` puts 30 bin edges on [-1, 1] unless told otherwise (--bins, --range): right for
tanh, whose values lie there; ReLU's unbounded activations above 1 are clipped into the end
bin (the recorder warns), so for relu give a --range that covers them, or use
``--estimator binning-size`` (Saxe et al.'s unbounded bins of --bin-size).

Needs torch, numpy, pandas and infoplane (``pip install ./python``).
"""

import argparse
import os
import statistics
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import infoplane
import infoplane.torch

WIDTHS = [10, 7, 5, 4, 3, 2]


def make_net(inputs, activation):
    """12-10-7-5-4-3-2: Linear + activation for the hidden layers, Linear + softmax last."""
    act = {"tanh": nn.Tanh, "relu": nn.ReLU}[activation]
    mods, width = [], inputs
    for i, units in enumerate(WIDTHS):
        last = i == len(WIDTHS) - 1
        mods += [nn.Linear(width, units), nn.Softmax(dim=1) if last else act()]
        width = units
    return nn.Sequential(*mods)


def settings(args):
    """The estimators' settings given on the command line (the others keep their defaults)."""
    s = {}
    if args.bins is not None:
        s["bins"] = args.bins
    if args.range is not None:
        s["range"] = tuple(args.range)
    if args.bin_size is not None:
        s["bin_size"] = args.bin_size
    if args.noise_var is not None:
        s["noise_var"] = args.noise_var
    return s


def train(x, y, args, recording):
    """Trains a fresh network from args.seed for args.epochs epochs.

    Returns the network, the plane (a DataFrame; None without recording) and the timings in
    seconds: ``total`` (from building the network to the DataFrame in hand), ``record`` (spent
    inside ``rec.record()``) and ``wait`` (``rec.plane()`` after the last epoch: the estimates
    still pending)."""
    t_start = time.perf_counter()
    torch.manual_seed(args.seed)
    net = make_net(x.shape[1], args.activation)
    logits = net[:-1]  # the same modules without the softmax: what cross_entropy takes
    opt = torch.optim.Adam(net.parameters(), lr=4e-4)
    shuffle = torch.Generator().manual_seed(args.seed)

    rec = None
    if recording:
        layers = [m for m in net if not isinstance(m, nn.Linear)]  # 5 activations, softmax
        rec = infoplane.torch.Recorder(
            net, x, y, layers=layers, schedule=args.schedule, epochs=args.epochs,
            estimator=args.estimator, run=args.seed, threads=1, **settings(args),
        )
    in_record = 0.0
    for epoch in range(args.epochs):
        if rec is not None:
            t0 = time.perf_counter()
            rec.record(epoch)
            in_record += time.perf_counter() - t0
        # The shuffle has its own generator, so the recorder's forward passes cannot move it.
        for batch in torch.randperm(len(x), generator=shuffle).split(args.batch):
            opt.zero_grad()
            F.cross_entropy(logits(x[batch]), y[batch]).backward()
            opt.step()

    plane, wait = None, 0.0
    if rec is not None:
        t0 = time.perf_counter()
        plane = rec.plane()
        wait = time.perf_counter() - t0
        rec.close()
    timings = {"total": time.perf_counter() - t_start, "record": in_record, "wait": wait}
    return net, plane, timings


def caption(args, plane):
    """The lines under the figures: what was trained and how it was measured."""
    epochs = sorted(set(plane["epoch"].tolist()))
    s = settings(args)
    est = ", ".join(args.estimator)
    if s:
        est += " (" + ", ".join(f"{k} {v}" for k, v in s.items()) + ")"
    return [
        f"Saxe et al.'s 12-10-7-5-4-3-2 {args.activation} net on Tishby's 12-bit task "
        f"(all 4096 patterns), PyTorch, seed {args.seed}",
        f"Adam lr 4e-4, batch {args.batch}, {args.epochs} epochs; recorded with "
        f"infoplane.torch.Recorder at {len(epochs)} epochs ({args.schedule}): {est}",
    ]


def save_figures(plane, args):
    """plane.svg and plane-<estimator>.svg, plane-overlay.svg, layers-<estimator>.svg and
    plane.csv in args.out; returns the file names."""
    os.makedirs(args.out, exist_ok=True)
    cap = caption(args, plane)
    figs = [infoplane.plot_plane(plane, caption=cap)]
    figs += [infoplane.plot_plane(plane, e, caption=cap) for e in args.estimator[1:]]
    if len(args.estimator) > 1:
        figs.append(infoplane.plot_plane(plane, overlay=True, caption=cap))
    figs += [infoplane.plot_layers(plane, e, caption=cap) for e in args.estimator]
    names = []
    for fig in figs:
        fig.save(os.path.join(args.out, fig.name))
        names.append(fig.name)
    plane.to_csv(os.path.join(args.out, "plane.csv"), index=False)
    return names + ["plane.csv"]


def median(timings, key):
    """The median of one of train()'s timings over the repeats."""
    return statistics.median(t[key] for t in timings)


def each(timings):
    """Every repeat's total time, in the order run."""
    return ", ".join(f"{t['total']:.2f}" for t in timings)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True,
                   help="CSV with a header: the 12 input columns, then the label "
                        "(infoplane dataset tishby --out tishby.csv)")
    p.add_argument("--out", default="saxe-recorder", help="directory for the figures and plane.csv (default saxe-recorder)")
    p.add_argument("--epochs", type=int, default=2000,
                   help="epochs of training (default 2000: about 17 s per run on one core)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the shuffle")
    p.add_argument("--activation", choices=["tanh", "relu"], default="tanh",
                   help="hidden layers' activation (default tanh)")
    p.add_argument("--batch", type=int, default=256, help="minibatch size (default 256)")
    p.add_argument("--schedule", default="log:60",
                   help="the epochs to measure: every:N, log:S, list:E,E,.., saxe, delta-approx:D "
                        "(default log:60)")
    p.add_argument("--estimator", action="append",
                   help="estimator, repeatable (default: binning and kde-upper)")
    p.add_argument("--bins", type=int, help="binning: number of bin edges (default 30)")
    p.add_argument("--range", type=float, nargs=2, metavar=("LO", "HI"),
                   help="binning: range of the bin edges (default -1 1)")
    p.add_argument("--bin-size", type=float, help="binning-size: size of the bins (default 0.07)")
    p.add_argument("--noise-var", type=float, help="kde-upper/lower: noise variance (default 1e-3)")
    p.add_argument("--repeats", type=int, default=3,
                   help="timed runs with and without recording, alternating; medians printed (default 3)")
    args = p.parse_args()
    args.estimator = args.estimator or ["binning", "kde-upper"]
    if args.repeats < 1:
        p.error("--repeats must be at least 1")

    data = np.loadtxt(args.data, delimiter=",", skiprows=1, ndmin=2)
    x = torch.tensor(data[:, :-1], dtype=torch.float32)
    y = torch.tensor(data[:, -1], dtype=torch.int64)

    # One intra-op thread: layers of 2 to 12 units gain nothing from torch's thread pool, the
    # timings are steadier without it, and the recorder's estimating thread gets a core of its
    # own instead of competing with torch's workers for it.
    torch.set_num_threads(1)
    warm = argparse.Namespace(**{**vars(args), "epochs": 1})
    train(x, y, warm, recording=False)  # warm-up: first-call costs out of the timings

    # Alternate the two kinds of run, so that a machine busy for a while slows both alike.
    plain_t, rec_t = [], []
    planes, same = [], True
    for i in range(args.repeats):
        plain, _, t = train(x, y, args, recording=False)
        plain_t.append(t)
        with warnings.catch_warnings():
            # The estimators' warnings (e.g. relu values clipped by binning) from the first
            # recorded run only: the others measure the same activations.
            warnings.simplefilter("default" if i == 0 else "ignore")
            net, plane, t = train(x, y, args, recording=True)
        rec_t.append(t)
        planes.append(plane)
        same &= all(torch.equal(a, b) for a, b in zip(net.parameters(), plain.parameters()))

    plane = planes[0]
    files = save_figures(plane, args)

    with torch.no_grad():
        acc = (net(x).argmax(1) == y).float().mean().item()
    without, with_rec = median(plain_t, "total"), median(rec_t, "total")
    epochs = sorted(set(plane["epoch"].tolist()))
    n_layers = plane["layer"].nunique()
    print(f"{args.activation}, {args.epochs} epochs, seed {args.seed}: "
          f"final training accuracy {acc:.3f}")
    print(f"recorded {len(epochs)} epochs x {n_layers} layers x {len(args.estimator)} estimators "
          f"({len(plane)} rows) -> {args.out}/: {', '.join(files)}")
    print(f"median of {args.repeats} runs each (wall time, one torch thread):")
    print(f"  training without recording: {without:7.2f} s  (runs: {each(plain_t)})")
    print(f"  training with recording:    {with_rec:7.2f} s  (runs: {each(rec_t)}; "
          f"up to the DataFrame in hand)")
    print(f"    of which inside record(): {median(rec_t, 'record'):7.2f} s")
    print(f"    of which plane() waiting: {median(rec_t, 'wait'):7.2f} s  "
          f"(estimates pending after the last epoch)")
    print(f"  ratio with / without:       {with_rec / without:7.3f}")
    print(f"same final weights with and without recording: {same}")
    same_planes = all(pl.equals(plane) for pl in planes[1:])
    print(f"same plane in every recorded run: {same_planes}")

    # The last measured epoch, layer by layer: where the deep layers ended up.
    last = plane[plane["epoch"] == epochs[-1]]
    print(f"epoch {epochs[-1]} (I(X;T), I(T;Y) in bits):")
    for est in args.estimator:
        rows = last[last["estimator"] == est].sort_values("layer")
        cells = "  ".join(f"L{int(r.layer)} ({r.i_xt_bits:.2f}, {r.i_ty_bits:.3f})"
                          for r in rows.itertuples())
        print(f"  {est:>10}: {cells}")


if __name__ == "__main__":
    main()
