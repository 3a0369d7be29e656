"""Where one training step's time goes, phase by phase, next to two floors.

For a configuration of ``run.py`` this runs backprop's own training step (the pieces ``fit``
runs per batch: gather the batch, forward, backward, log the error, optimiser update) for one
shuffled epoch, timing each phase, and prints microseconds per batch. Next to it:

* **GEMM only**: the same matrix products and nothing else (``run.py``'s bound);
* **minimal numpy loop**: the same epoch written as one flat function of numpy calls with
  nothing but the arithmetic (no validation, no loss, no layers or tables) and the same
  optimiser kernel as the step, the least that numpy's per-call cost allows for this network;
* **Adam alone**: one update of the flat buffers, to separate it from the rest, with the numpy
  kernels and (numba installed) the compiled pass.

The step and the minimal loop run with the optimiser kernels the environment selects
(``BACKPROP_NUMBA=0``: numpy's).

Usage::

    PYTHONPATH=src python benchmarks/profile_step.py [--config tiny|tabular|mnist-like]
        [--samples N]
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
from run import CONFIGS, gemm_bound

import backprop as bp
from backprop import training
from backprop.engine.backend import fused, row_max, row_sum
from backprop.engine.delta_rule import backward, forward


def phases(sizes, batch, n, seed=0):
    """Per-batch seconds of each phase of backprop's step over one shuffled epoch."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, sizes[0]), dtype=np.float32)
    Y = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], n)]
    net = bp.Network(sizes, hidden="relu", output="softmax", loss="cross_entropy", seed=seed)
    optimizer = bp.Adam(1e-3)
    state = optimizer.init(net.params)
    batches = training._Batches(training._Data(X, Y, None), batch)
    errors = training._ErrorLog(net, batch, False, net.params.copy(), 0)
    order = net.rng.permutation(n)
    spent = dict.fromkeys(("gather", "forward", "backward", "error log", "update"), 0.0)
    clock = time.perf_counter
    for number, start in enumerate(range(0, n, batch)):
        t0 = clock()
        Xb, Yb, _ = batches.get(order, start)
        work = net.workspace(Xb.shape[0])
        work.set_scale(None)
        t1 = clock()
        forward(net, work, Xb, training=True, rng=net.rng)
        t2 = clock()
        backward(net, work, Yb, training=True)
        t3 = clock()
        errors.add(work, Yb, None, number, 0.0)
        t4 = clock()
        state = optimizer.update(net.params, net.grads, state)
        t5 = clock()
        for key, seconds in zip(spent, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
            spent[key] += seconds
    errors.epoch_error()
    count = math.ceil(n / batch)
    return {key: seconds / count for key, seconds in spent.items()}


def minimal_loop(sizes, batch, n, seed=0):
    """Per-batch seconds of the same epoch as a flat run of numpy calls (ReLU, softmax, Adam)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, sizes[0]), dtype=np.float32)
    Y = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], n)]
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    size = sum(o * i + o for i, o in pairs)
    params = (rng.standard_normal(size) * 0.1).astype(np.float32)
    grads, m, v, s = (np.zeros_like(params) for _ in range(4))
    W, b, gW, gb, k = [], [], [], [], 0
    for i, o in pairs:
        W.append(params[k : k + o * i].reshape(o, i))
        gW.append(grads[k : k + o * i].reshape(o, i))
        b.append(params[k + o * i : k + o * i + o])
        gb.append(grads[k + o * i : k + o * i + o])
        k += o * i + o
    z, a, d, f = ([np.empty((batch, o), np.float32) for _, o in pairs] for _ in range(4))
    Xb, Yb = np.empty((batch, sizes[0]), np.float32), np.empty((batch, sizes[-1]), np.float32)
    L = len(pairs)
    inverse_n, zero = np.full((), 1.0 / batch, np.float32), np.zeros((), np.float32)
    ones = np.ones(batch, np.float32)
    adam = fused.compiled("adam")
    order = rng.permutation(n)
    start_time = time.perf_counter()
    for step, start in enumerate(range(0, n - batch + 1, batch), 1):
        rows = order[start : start + batch]
        np.take(X, rows, axis=0, out=Xb, mode="clip")
        np.take(Y, rows, axis=0, out=Yb, mode="clip")
        u = Xb
        for l in range(L):
            np.matmul(u, W[l].T, out=z[l])
            np.add(z[l], b[l], out=z[l])
            if l < L - 1 and z[l].size >= 8192:
                np.clip(z[l], 0, np.inf, out=a[l])  # the fastest ReLU for large arrays
            elif l < L - 1:
                np.maximum(z[l], zero, out=a[l])
            else:
                np.subtract(z[l], row_max(z[l])[:, None], out=a[l])
                np.exp(a[l], out=a[l])
                np.divide(a[l], row_sum(a[l])[:, None], out=a[l])
            u = a[l]
        np.subtract(a[-1], Yb, out=d[-1])
        np.multiply(d[-1], inverse_n, out=d[-1])
        for l in reversed(range(L)):
            np.matmul(d[l].T, a[l - 1] if l else Xb, out=gW[l])
            np.matmul(ones, d[l], out=gb[l])
            if l:
                np.matmul(d[l], W[l], out=d[l - 1])
                if a[l - 1].size < 2048:  # ReLU'(z) read off a, the fastest forms
                    np.sign(a[l - 1], out=f[l - 1])
                else:
                    np.greater(a[l - 1], 0, out=f[l - 1])
                np.multiply(d[l - 1], f[l - 1], out=d[l - 1])
        c = math.sqrt(1 - 0.999**step)
        if adam is not None:
            constants = [0.9, 0.1, 0.999, 0.001, 1e-8 * c, 1e-3 / (1 - 0.9**step) * c]
            adam(params, grads, m, v, np.array(constants, np.float32))
            continue
        np.multiply(grads, 0.1, out=s)
        np.multiply(m, 0.9, out=m)
        np.add(m, s, out=m)
        np.multiply(s, s, out=s)
        np.multiply(s, 0.001 / 0.01, out=s)
        np.multiply(v, 0.999, out=v)
        np.add(v, s, out=v)
        np.sqrt(v, out=s)
        np.add(s, 1e-8 * c, out=s)
        np.divide(m, s, out=s)
        np.multiply(s, 1e-3 / (1 - 0.9**step) * c, out=s)
        np.subtract(params, s, out=params)
    return (time.perf_counter() - start_time) / (n // batch)


def adam_alone(size, kernels, repeats=200):
    """Median seconds of one Adam update of ``size`` float32 parameters with ``kernels``."""
    previous = os.environ.get("BACKPROP_NUMBA")
    os.environ["BACKPROP_NUMBA"] = "1" if kernels == "numba" else "0"
    try:
        return _time_adam(size, repeats)
    finally:
        if previous is None:
            del os.environ["BACKPROP_NUMBA"]
        else:
            os.environ["BACKPROP_NUMBA"] = previous


def _time_adam(size, repeats):
    rng = np.random.default_rng(0)
    params = rng.standard_normal(size, dtype=np.float32)
    grads = rng.standard_normal(size, dtype=np.float32) * 1e-2
    optimizer = bp.Adam(1e-3)
    state = optimizer.init(params)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        state = optimizer.update(params, grads, state)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="mnist-like", choices=list(CONFIGS))
    parser.add_argument("--samples", type=int, default=None)
    args = parser.parse_args()
    sizes, batch, n_full, _ = CONFIGS[args.config]
    n = args.samples or min(n_full, 30_000)
    phases(sizes, batch, min(n, 8 * batch))  # warm-up
    spent = phases(sizes, batch, n)
    total = sum(spent.values())
    n_params = sum(o * i + o for i, o in zip(sizes[:-1], sizes[1:], strict=True))
    print(f"{args.config}: {'-'.join(map(str, sizes))}, batch {batch}, {n:,} samples")
    kernels = "numba" if fused.enabled() else "numpy"
    print(f"backprop step: {total * 1e6:8.1f} us/batch ({batch / total:,.0f} samples/s, {kernels})")
    for key, seconds in spent.items():
        print(f"  {key:10s} {seconds * 1e6:8.1f} us  {100 * seconds / total:5.1f}%")
    bound = gemm_bound(sizes, batch)
    print(f"GEMM only:     {batch / bound * 1e6:8.1f} us/batch ({bound:,.0f} samples/s)")
    floor = minimal_loop(sizes, batch, n)
    print(f"minimal numpy: {floor * 1e6:8.1f} us/batch ({batch / floor:,.0f} samples/s, {kernels})")
    for kernels in ("numpy", "numba") if fused.enabled() else ("numpy",):
        seconds = adam_alone(n_params, kernels)
        print(f"Adam alone:    {seconds * 1e6:8.1f} us for {n_params:,} parameters ({kernels})")


if __name__ == "__main__":
    main()
