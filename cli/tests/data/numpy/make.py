"""Writes the NumPy fixtures of cli/tests/arrays.rs (run from this directory with numpy).

Every activation is an f32 whose 9-significant-digit text reads back to the same f32, so the
text tables here and the arrays hold the same values.
"""
import os
import numpy as np

rng = np.random.default_rng(12)
n = 64
labels = (rng.random(n) < 0.5).astype(np.int64)
inputs = rng.integers(0, 3, size=(n, 4)).astype(np.float32)  # repeated rows: input groups
hist = {}
for e in (0, 5, 12):
    for layer, width in ((1, 3), (2, 2)):
        w = rng.standard_normal((4, width)) * (1 + e / 6)
        hist[f"epoch{e}_layer{layer}"] = np.tanh(inputs @ w + labels[:, None] * 0.3).astype(np.float32)
np.savez("hist.npz", labels=labels, inputs=inputs, **hist)
np.savez_compressed("hist_z.npz", labels=labels, inputs=inputs, **hist)
os.makedirs("histdir", exist_ok=True)
for k, v in hist.items():
    np.save(f"histdir/{k}.npy", v)
t = hist["epoch5_layer1"]
np.save("t_f64_fortran.npy", np.asfortranarray(t.astype(np.float64)))
np.savetxt("t.txt", t, fmt="%.9g")
np.savetxt("t.tsv", t, fmt="%.9g", delimiter="\t", header="a\tb\tc")
np.save("y_i32.npy", labels.astype(np.int32))
np.save("x.npy", inputs)
# Correlated Gaussians, rho = 0.8: I = -log2(1 - rho^2) / 2 = 0.7370 bits.
a = rng.standard_normal((2000, 1))
b = 0.8 * a + 0.6 * rng.standard_normal((2000, 1))
np.save("ga.npy", a.astype(np.float32))
np.save("gb.npy", b.astype(np.float32))
