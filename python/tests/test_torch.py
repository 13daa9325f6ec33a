"""infoplane.torch.Recorder: a PyTorch model recorded while it trains gives what
infoplane.estimate gives on the same activations."""

import warnings

import numpy as np
import pytest

import infoplane

torch = pytest.importorskip("torch", reason="torch is not installed")
import infoplane.torch as ipt  # noqa: E402


def make_net(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(12, 10), torch.nn.Tanh(),
        torch.nn.Linear(10, 7), torch.nn.Tanh(),
        torch.nn.Linear(7, 5), torch.nn.Tanh(),
        torch.nn.Linear(5, 2), torch.nn.Softmax(dim=1),
    )


def train_epoch(net, opt, x, y, gen):
    logits = net[:-1]
    for batch in torch.randperm(len(x), generator=gen).split(256):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(logits(x[batch]), y[batch]).backward()
        opt.step()


def by_hand(net, x, upto):
    """Each Tanh's (and the Softmax's) output, computed without hooks."""
    outs, h = [], x
    with torch.no_grad():
        for m in net:
            h = m(h)
            if not isinstance(m, torch.nn.Linear):
                outs.append(h.numpy().copy())
    return outs[:upto]


@pytest.fixture(scope="module")
def data(tishby):
    x, y = tishby
    return torch.tensor(x), torch.tensor(y)


@pytest.mark.filterwarnings("ignore::infoplane.InfoplaneWarning")
def test_recorded_plane_equals_estimate_on_the_same_activations(data):
    x, y = data
    net = make_net(0)
    layers = [net[1], net[3], net[5], net[7]]
    epochs = 12
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    names = ["binning", "kde-upper", "ksg"]
    rec = ipt.Recorder(net, x, y, layers, schedule="log:6", epochs=epochs, estimator=names,
                       threads=2, bins=20)
    want = []
    for epoch in range(epochs):
        if rec.record(epoch):
            for l, t in enumerate(by_hand(net, x, 4), start=1):
                p = infoplane.estimate(t, y.numpy(), x.numpy(), estimator=names, bins=20)
                want += [(epoch, l, n, *p[n]) for n in names]
        train_epoch(net, opt, x, y, gen)
    df = rec.plane()
    rec.close()
    assert rec.measured == infoplane.schedule_epochs("log:6", epochs)
    assert list(df.columns) == list(infoplane.PLANE_COLUMNS)
    got = [(r.epoch, r.layer, r.estimator, r.i_xt_bits, r.i_ty_bits) for r in df.itertuples()]
    assert got == want  # exact
    assert (df["run"] == 0).all()
    # The figure draws.
    assert infoplane.plot_plane(df).svg.startswith("<svg")


def test_recording_does_not_change_training(data):
    x, y = data
    nets = []
    for recording in (True, False):
        net = make_net(1)
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        gen = torch.Generator().manual_seed(1)
        rec = ipt.Recorder(net, x, y, ["1", "3"], schedule="every:2", estimator="binning") if recording else None
        for epoch in range(6):
            if rec:
                rec.record(epoch)
            train_epoch(net, opt, x, y, gen)
        if rec:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                assert len(rec.plane()) == 3 * 2
            rec.close()
            # No hook is left on the model.
            assert all(not m._forward_hooks for m in net.modules())
        nets.append(net)
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        assert torch.equal(a, b)


@pytest.mark.filterwarnings("ignore::infoplane.InfoplaneWarning")
def test_delta_approx_follows_the_cores_rule(data):
    x, y = data
    net = make_net(2)
    # A frozen network: the plane never moves, so the stride doubles every time:
    # 0, 1, 3, 7, 15, 31 and the last epoch.
    rec = ipt.Recorder(net, x, y, [net[1], net[3]], schedule="delta-approx:0.01", epochs=40)
    for epoch in range(40):
        rec.record(epoch)
    df = rec.plane()
    assert rec.measured == [0, 1, 3, 7, 15, 31, 39]
    assert sorted(set(df["epoch"])) == rec.measured
    # Against infoplane run's delta skip on a network that does not learn (lr 0).
    r = infoplane.run("tishby", epochs=40, lr=0, schedule="delta-approx:0.01")
    assert sorted(set(r.plane["epoch"])) == rec.measured


def test_bad_recorder_arguments(data):
    x, y = data
    net = make_net(3)
    with pytest.raises(ValueError, match=r"layers\[0\]: the model has no module named 'nope'"):
        ipt.Recorder(net, x, y, ["nope"])
    with pytest.raises(ValueError, match=r"y: 10 labels for 4096 rows"):
        ipt.Recorder(net, x, y[:10], [net[1]])
    with pytest.raises(ValueError, match=r"schedule: 'log:5' needs epochs="):
        ipt.Recorder(net, x, y, [net[1]], schedule="log:5")
    with pytest.raises(ValueError, match=r"delta-exact"):
        ipt.Recorder(net, x, y, [net[1]], schedule="delta-exact:0.1", epochs=10)
    with pytest.raises(ValueError, match=r"bins=0 is not accepted"):
        ipt.Recorder(net, x, y, [net[1]], bins=0)
    rec = ipt.Recorder(net, x, y, [net[1]], schedule="every:1")
    assert rec.record(0) and not rec.record(0)  # an epoch is measured once
    with pytest.raises(ValueError, match=r"epoch: must be ≥ 0"):
        rec.record(-1)
    assert rec.record(3)
    with pytest.raises(ValueError, match=r"epoch: 2 comes after 3, already measured"):
        rec.record(2)
    rec.close()
    with pytest.raises(RuntimeError, match="closed"):
        rec.record(4)


def test_clipping_warnings_come_once_per_estimator():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
    x = torch.randn(512, 4) * 3
    y = torch.arange(512) % 2
    rec = ipt.Recorder(net, x, y, layers=[net[1]], schedule="every:1", estimator=["binning", "kde-upper"])
    for epoch in range(5):
        rec.record(epoch)
        with torch.no_grad():
            net[0].weight.mul_(1.3)  # a different share clipped at every epoch
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        rec.plane()
    clipped = [str(m.message) for m in w if "outside range" in str(m.message)]
    assert len(clipped) == 1, clipped
    assert clipped[0].startswith("binning: activations outside range -1,1")
    assert "(at 5 layer-epochs, up to " in clipped[0]
    rec.close()
