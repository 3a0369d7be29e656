"""Training on one CUDA GPU: backprop (CuPy) against PyTorch and JAX, epoch by epoch.

Every framework trains the same network (ReLU hidden layers, softmax + cross-entropy, float32,
Adam lr 1e-3, batch mean loss) on the same data (Gaussian X, labels from a fixed random linear
teacher), already on the GPU, shuffled every epoch, for whole epochs of ``--batches`` batches:

* ``backprop``: ``Network(..., device="cuda").fit`` as a user calls it (one call, many epochs;
  a callback records a CUDA event at the end of each epoch; the first epoch, which compiles the
  kernels, captures the step as a CUDA graph and copies the data, is not timed);
* ``backprop-eager``: the same with CUDA graphs off (``with backprop.gpu.cuda_graphs(False):``),
  every step launched kernel by kernel;
* ``backprop-unfused``: graphs on, but each layer's element-wise work run as the plain kernels
  (``with backprop.gpu.fused_layers(False):``), which tells what fusing them gains; measured
  after every other framework on every configuration (``LATE``);
* ``torch``: PyTorch eager, ``torch.optim.Adam(fused=True)``;
* ``torch-graph``: the whole step (gather, forward, backward, Adam with ``capturable=True``)
  captured once in a CUDA graph (``torch.cuda.graphs``) and replayed per batch;
* ``jax-step``: a jitted step per batch; ``jax-scan``: the whole epoch as one jitted
  ``lax.scan``. Adam is written out in JAX (optax need not be installed); matmuls at
  ``"highest"`` precision, so float32 is float32 for all (no TF32: CuPy and PyTorch do not use
  it unless asked).

The configurations named ``*-tf32`` and ``*-bf16`` (``PRECISIONS``) ask every framework for
TF32 products, or for bfloat16 products with float32 weights, instead: backprop inside ``with
backprop.gpu.tf32():`` or ``with backprop.gpu.bf16():``; PyTorch with
``torch.backends.cuda.matmul.allow_tf32`` and ``set_float32_matmul_precision("high")``, or
inside ``torch.autocast("cuda", torch.bfloat16)`` (its usual bfloat16 recipe, whose layers'
outputs are bfloat16 too); JAX with ``jax_default_matmul_precision`` ``"tensorfloat32"`` or
``"bfloat16"``; and the GEMM-only bound through backprop's own products likewise.

Measured per configuration and framework: samples/s as the median over timed epochs (CUDA
events for backprop and PyTorch; for JAX the wall clock around ``block_until_ready``, which
includes the host's dispatch), the epoch's mean loss, and the peak GPU memory (CuPy's memory
pool size after the run, PyTorch's ``max_memory_allocated``, JAX's ``peak_bytes_in_use``, a
process-wide maximum). The cuBLAS GEMM-only bound is the same products as backprop's step alone
(``a·Wᵀ``, ``δᵀ·a`` per layer, ``δ·W`` above the first), timed on the GPU with CUDA events:
samples/s = batch / time. For backprop, the GPU's time for one replay of its captured step
is timed too (``replay_seconds``), beside its time per batch in a second table: where the two
are close the GPU is the limit, where the batch takes longer the host is. Each framework's
timed epochs stop after ``--budget`` seconds, so the
whole script runs in a few minutes. Missing frameworks are skipped with a note.

Usage::

    PYTHONPATH=src python benchmarks/gpu.py [--configs mnist-128,...] [--repeats 5]
        [--budget 6] [--batches 40] [--frameworks backprop,torch,...] [--out DIR]

Writes ``gpu.json`` and ``gpu.md`` (a markdown table) to ``--out`` (default ``$OUT`` when set,
else the current directory).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

CONFIGS = {
    "mnist-128": ([784, 512, 256, 10], 128),
    "mnist-1024": ([784, 512, 256, 10], 1024),
    "mnist-4096": ([784, 512, 256, 10], 4096),
    "tabular-256": ([54, 256, 256, 7], 256),
    "tabular-4096": ([54, 256, 256, 7], 4096),
    "wide-4096": ([1024, 4096, 4096, 10], 4096),
    "wide-4096-tf32": ([1024, 4096, 4096, 10], 4096),
    "wide-4096-bf16": ([1024, 4096, 4096, 10], 4096),
}
PRECISIONS = {"wide-4096-tf32": "tf32", "wide-4096-bf16": "bf16"}
"""The configurations whose float32 products run as TF32 or from bfloat16 inputs, in every
framework; the others' are float32."""
FRAMEWORKS = ["backprop", "backprop-eager", "backprop-unfused", "torch", "torch-graph",
              "jax-step", "jax-scan"]  # fmt: skip
LATE = {"backprop-unfused"}
"""Measured after every other framework on every configuration: it tells whether a default
pays, and is the one to lose when the run is short of time."""
LR = 1e-3


def make_data(sizes, n: int, seed: int = 0):
    """Gaussian X (float32) and labels from a fixed random linear teacher."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, sizes[0]), dtype=np.float32)
    teacher = rng.standard_normal((sizes[0], sizes[-1])).astype(np.float32)
    return X, (X @ teacher).argmax(axis=1).astype(np.int64)


def initial_weights(sizes, seed: int = 0):
    """He-normal W (n_out, n_in) and zero b per layer: the same start for every framework."""
    rng = np.random.default_rng(seed)
    return [
        (
            (rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)).astype(np.float32),
            np.zeros(n_out, np.float32),
        )
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
    ]


class Timed:
    """Timed epochs until the budget is spent (at least ``least``), at most ``most``."""

    def __init__(self, budget: float, least: int, most: int) -> None:
        self.budget, self.least, self.most = budget, least, most
        self.seconds: list[float] = []
        self.losses: list[float] = []
        self.start = time.perf_counter()

    def more(self) -> bool:
        spent = time.perf_counter() - self.start
        count = len(self.seconds)
        return count < self.least or (count < self.most and spent < self.budget)


# -- backprop ------------------------------------------------------------------------------


def run_backprop(
    sizes, batch, X, y, timed: Timed, precision: str, graphs: bool, fused: bool = True
) -> dict:
    import warnings

    import cupy

    import backprop as bp
    from backprop.gpu import bf16, cuda_graphs, fused_layers, tf32
    from backprop.gpu import graphs as gpu_graphs

    net = bp.Network(sizes, hidden="relu", output="softmax", loss="cross_entropy", seed=0)
    for layer, (W, b) in zip(net.layers[1:], initial_weights(sizes), strict=True):
        layer.W, layer.b = W, b
    net.to("cuda")
    Xd, yd = cupy.asarray(X), cupy.asarray(y)
    cupy.get_default_memory_pool().free_all_blocks()
    events = []

    def epoch_end(net, epoch, logs):
        event = cupy.cuda.Event()
        event.record()
        events.append(event)
        if len(events) > 1:
            event.synchronize()
            timed.seconds.append(cupy.cuda.get_elapsed_time(events[-2], event) / 1e3)
            timed.losses.append(float(logs["loss"]))
        return len(events) > 1 and not timed.more()

    captured, walks = [], []  # the graphs captured, and the counters they read (walk.Walk)
    real_capture, real_walk = gpu_graphs.capture, gpu_graphs.Walk

    def keeping(*args):
        captured.append(real_capture(*args))
        return captured[-1]

    class KeptWalk(real_walk):
        def __init__(self, *args):
            super().__init__(*args)
            walks.append(self)

    gpu_graphs.capture, gpu_graphs.Walk = keeping, KeptWalk
    try:
        with (
            tf32(precision == "tf32"),
            bf16(precision == "bf16"),
            cuda_graphs(graphs),
            fused_layers(fused),
            warnings.catch_warnings(record=True) as said,
        ):
            warnings.simplefilter("always", RuntimeWarning)
            net.fit(Xd, yd, epochs=1 + timed.most, batch_size=batch, optimizer=bp.Adam(LR),
                    callbacks=[epoch_end], warn=False)  # fmt: skip
            cupy.cuda.Device().synchronize()
            extra = {"peak_bytes": int(cupy.get_default_memory_pool().total_bytes())}
            if captured and walks:
                plain = captured[0][0]  # the plain step (the one recording statistics comes later)
                extra["replay_seconds"] = replay_seconds(cupy, plain, walks[-1])
    finally:
        gpu_graphs.capture, gpu_graphs.Walk = real_capture, real_walk
    if said:  # a capture that failed says so, and the step ran kernel by kernel
        extra["warnings"] = sorted({str(warning.message) for warning in said})
    return extra


def replay_seconds(cupy, graph, walk, most: int = 20) -> float:
    """The GPU's time for one replay of the captured step, launched back to back after the
    fit (training the network on) from the epoch's first batch: the graph reads which rows come
    next from ``walk``'s counters, which the fit left at the end of an epoch."""
    repeats = min(most, walk.order.shape[0] // walk.rows - 1)
    walk.set_cursors(0, 0, walk.cursors)
    graph.launch()
    start, stop = cupy.cuda.Event(), cupy.cuda.Event()
    start.record()
    for _ in range(repeats):
        graph.launch()
    stop.record()
    stop.synchronize()
    return cupy.cuda.get_elapsed_time(start, stop) / 1e3 / repeats


def gemm_bound(sizes, batch, precision: str, repeats: int = 20) -> float:
    """Samples/s of backprop's products alone, for one batch (cuBLAS as backprop calls it)."""
    import cupy

    import backprop as bp
    from backprop.gpu import bf16, tf32

    xp = bp.Network([1, 1], device="cuda").xp
    with tf32(precision == "tf32"), bf16(precision == "bf16"):
        return _gemm_bound(cupy, xp.matmul, sizes, batch, repeats)


def _gemm_bound(cupy, matmul, sizes, batch, repeats: int) -> float:
    rng = np.random.default_rng(0)
    a = [cupy.asarray(rng.standard_normal((batch, n), dtype=np.float32)) for n in sizes]
    shapes = [(n_out, n_in) for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)]
    W = [cupy.asarray(rng.standard_normal(shape, dtype=np.float32)) for shape in shapes]

    def products():
        for l in range(1, len(sizes)):
            matmul(a[l - 1], W[l - 1].T)  # z = a·Wᵀ
            matmul(a[l].T, a[l - 1])  # ∂E/∂W = δᵀ·a (δ has the shape of a)
            if l > 1:
                matmul(a[l], W[l - 1])  # δ·W, the error passed down

    products()
    start, stop = cupy.cuda.Event(), cupy.cuda.Event()
    best = float("inf")
    for _ in range(3):
        start.record()
        for _ in range(repeats):
            products()
        stop.record()
        stop.synchronize()
        best = min(best, cupy.cuda.get_elapsed_time(start, stop) / 1e3 / repeats)
    return batch / best


# -- PyTorch -------------------------------------------------------------------------------


def _torch_model(torch, sizes):
    layers = []
    for l, (W, b) in enumerate(initial_weights(sizes)):
        linear = torch.nn.Linear(W.shape[1], W.shape[0])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W))
            linear.bias.copy_(torch.from_numpy(b))
        layers.append(linear)
        if l < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers).cuda()


def run_torch(sizes, batch, X, y, timed: Timed, graph: bool, precision: str) -> dict:
    import contextlib

    import torch

    tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32  # float32 products in float32 unless asked
    torch.set_float32_matmul_precision("high" if tf32 else "highest")
    bf16 = precision == "bf16"
    torch.manual_seed(0)
    model = _torch_model(torch, sizes)
    Xd, yd = torch.from_numpy(X).cuda(), torch.from_numpy(y).cuda()
    n = X.shape[0]
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, **(
        {"capturable": True} if graph else {"fused": True}))  # fmt: skip
    loss_fn = torch.nn.CrossEntropyLoss()
    rows = torch.zeros(batch, dtype=torch.int64, device="cuda")

    def step():
        xb, yb = Xd.index_select(0, rows), yd.index_select(0, rows)
        optimizer.zero_grad()  # None before the capture: the graph then owns the gradients
        autocast = torch.autocast("cuda", torch.bfloat16, cache_enabled=False)
        with autocast if bf16 else contextlib.nullcontext():
            loss = loss_fn(model(xb).float(), yb)
        loss.backward()
        optimizer.step()
        return loss.detach()

    replay = step
    if graph:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):  # warm-up on a side stream before capture, as the docs ask
                step()
        torch.cuda.current_stream().wait_stream(side)
        optimizer.zero_grad(set_to_none=True)
        cuda_graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(cuda_graph):
            static_loss = step()

        def replay():
            cuda_graph.replay()
            return static_loss

    def epoch():
        order = torch.randperm(n, device="cuda")
        total = torch.zeros((), device="cuda")
        for start in range(0, n, batch):
            rows.copy_(order[start : start + batch])
            total += replay()
        return total / (n // batch)

    epoch()  # warm-up
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    while timed.more():
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        loss = epoch()
        stop.record()
        stop.synchronize()
        timed.seconds.append(start.elapsed_time(stop) / 1e3)
        timed.losses.append(float(loss))
    return {"peak_bytes": int(torch.cuda.max_memory_allocated())}


# -- JAX -----------------------------------------------------------------------------------


def run_jax(sizes, batch, X, y, timed: Timed, scan: bool, precision: str) -> dict:
    import jax
    import jax.numpy as jnp

    names = {"float32": "highest", "tf32": "tensorfloat32", "bf16": "bfloat16"}
    jax.config.update("jax_default_matmul_precision", names[precision])
    params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in initial_weights(sizes)]
    m, v = (jax.tree_util.tree_map(jnp.zeros_like, params) for _ in range(2))  # two buffers
    state = (params, m, v, jnp.zeros((), jnp.int32))
    Xd, yd = jnp.asarray(X), jnp.asarray(y)
    n, n_batches = X.shape[0], X.shape[0] // batch

    def loss_fn(params, xb, yb):
        a = xb
        for W, b in params[:-1]:
            a = jax.nn.relu(a @ W.T + b)
        W, b = params[-1]
        logits = a @ W.T + b
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), yb[:, None], 1))

    def step(state, rows, Xd, yd):  # the data as arguments: a closure would bake them in
        params, m, v, t = state
        loss, grads = jax.value_and_grad(loss_fn)(params, Xd[rows], yd[rows])
        t = t + 1
        m = jax.tree_util.tree_map(lambda m, g: 0.9 * m + 0.1 * g, m, grads)
        v = jax.tree_util.tree_map(lambda v, g: 0.999 * v + 0.001 * g * g, v, grads)
        lr_t = LR * jnp.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        params = jax.tree_util.tree_map(
            lambda p, m, v: p - lr_t * m / (jnp.sqrt(v) + 1e-8 * jnp.sqrt(1 - 0.999**t)),
            params, m, v,
        )  # fmt: skip
        return (params, m, v, t), loss

    key = jax.random.PRNGKey(0)
    if scan:

        @jax.jit
        def epoch(state, key, Xd, yd):
            order = jax.random.permutation(key, n)[: n_batches * batch].reshape(n_batches, batch)
            state, losses = jax.lax.scan(lambda s, rows: step(s, rows, Xd, yd), state, order)
            return state, losses.mean()

        def run_epoch(state, key):
            return epoch(state, key, Xd, yd)

    else:
        jit_step = jax.jit(step, donate_argnums=0)

        def run_epoch(state, key):
            order = jax.random.permutation(key, n)
            total = 0.0
            for start in range(0, n_batches * batch, batch):
                state, loss = jit_step(state, order[start : start + batch], Xd, yd)
                total = total + loss
            return state, total / n_batches

    state, loss = run_epoch(state, key)  # compile and warm up
    jax.block_until_ready(state)
    while timed.more():
        key, sub = jax.random.split(key)
        begin = time.perf_counter()
        state, loss = run_epoch(state, sub)
        jax.block_until_ready((state, loss))
        timed.seconds.append(time.perf_counter() - begin)
        timed.losses.append(float(loss))
    stats = jax.devices()[0].memory_stats() or {}
    return {"peak_bytes": int(stats.get("peak_bytes_in_use", 0)), "note": "JAX peak: process-wide"}


# -- the run -------------------------------------------------------------------------------


def measure(framework, sizes, batch, X, y, args, precision: str) -> dict:
    timed = Timed(args.budget, least=2, most=args.repeats)
    try:
        if framework.startswith("backprop"):
            graphs = framework != "backprop-eager"
            fused = framework != "backprop-unfused"
            extra = run_backprop(sizes, batch, X, y, timed, precision, graphs, fused)
        elif framework.startswith("torch"):
            graph = framework == "torch-graph"
            extra = run_torch(sizes, batch, X, y, timed, graph=graph, precision=precision)
        else:
            scan = framework == "jax-scan"
            extra = run_jax(sizes, batch, X, y, timed, scan=scan, precision=precision)
    except ImportError as error:
        return {"skipped": f"{type(error).__name__}: {error}"}
    except Exception as error:  # one framework failing must not lose the others' results
        return {"failed": f"{type(error).__name__}: {error}"}
    finally:
        release_memory()
    rates = [X.shape[0] // batch * batch / s for s in timed.seconds]
    return {
        "samples_per_s": statistics.median(rates),
        "min": min(rates),
        "max": max(rates),
        "epochs": len(rates),
        "loss": timed.losses[-1] if timed.losses else None,
        **extra,
    }


def release_memory() -> None:
    """Give the GPU memory each library caches back, so the next one finds it free."""
    gc.collect()
    if "cupy" in sys.modules:
        sys.modules["cupy"].get_default_memory_pool().free_all_blocks()
    if "torch" in sys.modules:
        sys.modules["torch"].cuda.empty_cache()


def machine() -> dict:
    info = {"python": platform.python_version(), "numpy": np.__version__}
    try:
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(0)
        info.update(gpu=props["name"].decode(), cupy=cupy.__version__)
    except Exception as error:
        info["gpu"] = f"unavailable ({type(error).__name__})"
    return info


def table(results: dict) -> str:
    lines = [
        "| config | batch | " + " | ".join(FRAMEWORKS) + " | GEMM bound | bp / bound |",
        "|---" * (len(FRAMEWORKS) + 4) + "|",
    ]
    for name, entry in results["configs"].items():
        cells = []
        for framework in FRAMEWORKS:
            got = entry["frameworks"].get(framework, {})
            rate = got.get("samples_per_s")
            cells.append(
                f"{rate:,.0f}"
                if rate
                else next((k for k in ("skipped", "failed") if k in got), "-")
            )
        bound = entry.get("gemm_bound")
        bp_rate = entry["frameworks"].get("backprop", {}).get("samples_per_s")
        share = f"{bp_rate / bound:.0%}" if bound and bp_rate else "-"
        bound_text = f"{bound:,.0f}" if bound else "-"
        lines.append(f"| {name} | {entry['batch']} | " + " | ".join(cells)
                     + f" | {bound_text} | {share} |")  # fmt: skip
    note = (
        "samples/s, median of timed epochs; float32, Adam; TF32 products in the -tf32 row, "
        "bfloat16 products in the -bf16 row"
    )
    return "\n".join(lines) + f"\n\n{note}.\n\n" + replay_table(results)


def replay_table(results: dict) -> str:
    """backprop's time per batch against the GPU's time for one replay of its graph: where the
    two are close the GPU is the limit, where the batch takes longer the host is."""
    lines = ["| config | batch | µs per batch | µs per replay on the GPU | replay / batch |",
             "|---|---|---|---|---|"]  # fmt: skip
    for name, entry in results["configs"].items():
        got = entry["frameworks"].get("backprop", {})
        rate, replay = got.get("samples_per_s"), got.get("replay_seconds")
        if rate and replay:
            per_batch = entry["batch"] / rate
            lines.append(f"| {name} | {entry['batch']} | {per_batch * 1e6:,.1f} | "
                         f"{replay * 1e6:,.1f} | {replay / per_batch:.0%} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS), help="comma-separated")
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs at most")
    parser.add_argument("--budget", type=float, default=6.0, help="seconds of timed epochs")
    parser.add_argument("--batches", type=int, default=40, help="batches per epoch")
    parser.add_argument(
        "--deadline", type=float, default=270.0, help="seconds for the whole run; later runs skip"
    )
    parser.add_argument("--out", default=os.environ.get("OUT", "."), help="folder for results")
    args = parser.parse_args(argv)
    args.configs = [c for c in args.configs.split(",") if c]
    args.frameworks = [f for f in args.frameworks.split(",") if f]
    for name in args.configs:
        if name not in CONFIGS:
            parser.error(f"unknown config {name!r}; known: {', '.join(CONFIGS)}")
    for name in args.frameworks:
        if name not in FRAMEWORKS:
            parser.error(f"unknown framework {name!r}; known: {', '.join(FRAMEWORKS)}")
    return args


def schedule(configs, frameworks) -> list[list[str]]:
    """The frameworks measured per pass over the configurations: first every one but
    ``LATE``'s, then ``LATE``'s, so that a run cut short by ``--deadline`` loses those first."""
    passes = [[f for f in frameworks if f not in LATE], [f for f in frameworks if f in LATE]]
    return [chosen for chosen in passes if chosen]


def main(argv=None) -> int:
    args = parse(argv)
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # JAX shares the GPU
    results = {"machine": machine(), "settings": vars(args).copy(), "configs": {}}
    began_all = time.perf_counter()
    print(json.dumps(results["machine"]), flush=True)
    for frameworks in schedule(args.configs, args.frameworks):
        for name in args.configs:
            sizes, batch = CONFIGS[name]
            precision = PRECISIONS.get(name, "float32")
            X, y = make_data(sizes, batch * args.batches)
            entry = results["configs"].setdefault(name, {"sizes": sizes, "batch": batch})
            entry["precision"] = precision
            entry.setdefault("frameworks", {})
            for framework in frameworks:
                began = time.perf_counter()
                if began - began_all > args.deadline:
                    skipped = {"skipped": f"past --deadline {args.deadline:g}s"}
                    entry["frameworks"][framework] = skipped
                    continue
                got = measure(framework, sizes, batch, X, y, args, precision)
                entry["frameworks"][framework] = got
                print(f"{name} {framework}: {got} ({time.perf_counter() - began:.1f}s)", flush=True)
            if "gemm_bound" not in entry and "gemm_bound_error" not in entry:
                try:
                    entry["gemm_bound"] = gemm_bound(sizes, batch, precision)
                except Exception as error:
                    entry["gemm_bound_error"] = f"{type(error).__name__}: {error}"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    (out / "gpu.md").write_text(table(results))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
