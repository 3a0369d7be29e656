"""Training-throughput benchmark: backprop against scikit-learn, PyTorch (CPU) and JAX + optax.

Every framework trains the same architecture (ReLU hidden layers, softmax + cross-entropy,
float32) with Adam (lr 1e-3), for one shuffled epoch, with the same batch size, on the same
synthetic data: Gaussian X and integer labels from a fixed random linear teacher.

Each measurement runs in a fresh subprocess (``--worker``), and the frameworks alternate
within every repeat (the order rotates from repeat to repeat), so that slow drift of the machine
(thermal, other load) spreads over all of them. A worker

1. imports its framework, creates the data, builds the model and touches the runtime once
   (a tiny op; for backprop, one Adam step on four numbers, which loads numba and its compiled
   kernels when they are installed), then reads ``ru_maxrss`` -- the baseline;
2. warms up: a short fit on a few batches for backprop / scikit-learn / PyTorch (a fresh model
   is built afterwards with the same seed), the ahead-of-time compile for JAX (compile time is
   excluded from the timing, as asked; its memory is not excluded from the peak);
3. times one full epoch (``time.perf_counter`` around the training call alone);
4. reports the samples/s, the epoch's mean training loss as the framework itself reports it, and
   the peak RSS increase ``ru_maxrss(end) - ru_maxrss(baseline)``.

Ratios are given two ways: medians over medians, and paired, the median over repeats of
backprop's rate over the other's in the same repeat (the GEMM-only bound is measured right
after backprop's run in each repeat, so it has a pair too).

Usage::

    PYTHONPATH=src python benchmarks/run.py [--quick] [--configs tiny,tabular,mnist-like,scaling]
        [--repeats N] [--json out.json] [--unset-openblas-env]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
LR = 1e-3
SEED = 0

# name: (layer sizes, batch size, samples in the full run, samples with --quick)
CONFIGS = {
    "tiny": ([2, 16, 16, 2], 32, 20_000, 5_000),
    "tabular": ([54, 256, 256, 7], 256, 50_000, 10_000),
    "mnist-like": ([784, 512, 256, 10], 128, 60_000, 10_000),
}
SCALING_SIZES = (10_000, 100_000, 1_000_000)
SCALING_SIZES_QUICK = (10_000, 100_000)
FRAMEWORKS = ("backprop", "bp-numpy", "sklearn", "torch", "jax-step", "jax-scan")
REQUIRES = {
    "backprop": ("backprop",),
    "bp-numpy": ("backprop",),  # backprop with its numpy optimiser kernels (BACKPROP_NUMBA=0)
    "sklearn": ("sklearn",),
    "torch": ("torch",),
    "jax-step": ("jax", "optax"),
    "jax-scan": ("jax", "optax"),
}
THREADS = [0]  # 0: every core (the default); set by --threads


def thread_env(threads: int) -> dict:
    """Environment that pins numpy's BLAS, PyTorch and XLA to ``threads`` threads."""
    env = {
        name: str(threads)
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BENCH_THREADS")
    }
    flags = os.environ.get("XLA_FLAGS", "")
    if threads == 1:
        flags += " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    env["XLA_FLAGS"] = flags.strip()
    return env


OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def n_cores(pinned: bool = True) -> int:
    """Threads to use: the --threads value when pinned, else the cores this process may use."""
    if pinned and os.environ.get("BENCH_THREADS"):
        return int(os.environ["BENCH_THREADS"])
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def make_data(n: int, sizes: list[int], seed: int = SEED):
    """Gaussian float32 X and labels argmax(X·T) from a fixed random linear teacher T."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, sizes[0]), dtype=np.float32)
    teacher = np.random.default_rng(12345).standard_normal((sizes[0], sizes[-1]), np.float32)
    y = np.argmax(X @ teacher, axis=1).astype(np.int64)
    return X, y


def max_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


# ------------------------------------------------------------------------------------------
# workers: one framework, one configuration, one timed epoch, in a fresh process
# ------------------------------------------------------------------------------------------


def warm_then_time(build, train, X, y, batch):
    """(seconds, what ``train`` returned, baseline KiB, model) for one timed epoch.

    A model is built before the baseline is read; a throwaway model then warms up on four
    batches, and a fresh model trains the timed epoch.
    """
    model = build()
    base = max_rss_kb()
    warm = min(len(X), 4 * batch)
    train(build(), X[:warm], y[:warm])
    model = build()
    start = time.perf_counter()
    result = train(model, X, y)
    return time.perf_counter() - start, result, base, model


def worker_backprop(X, y, sizes, batch):
    import backprop as bp
    from backprop import fused

    touch = np.ones(4, np.float32)
    bp.Adam().update(touch, touch.copy(), bp.Adam().init(touch))

    def build():
        return bp.Network(
            sizes, hidden="relu", output="softmax", loss="cross_entropy", dtype="float32", seed=SEED
        )

    def train(net, X, y):
        return net.fit(X, y, epochs=1, batch_size=batch, optimizer="adam", lr=LR, warn=False)

    seconds, history, base, net = warm_then_time(build, train, X, y, batch)
    kernels = "numba" if fused.enabled() else "numpy"
    return seconds, float(history.loss[-1]), base, {"dtype": str(net.dtype), "kernels": kernels}


def worker_sklearn(X, y, sizes, batch):
    import warnings

    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    def build():
        return MLPClassifier(
            hidden_layer_sizes=tuple(sizes[1:-1]),
            activation="relu",
            solver="adam",
            batch_size=batch,
            learning_rate_init=LR,
            max_iter=1,
            shuffle=True,
            alpha=0.0,
            tol=0.0,
            random_state=SEED,
        )

    base = max_rss_kb()
    warm = min(len(X), 4 * batch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        build().fit(X[:warm], y[:warm])
        model = build()
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
    notes = {"dtype": str(model.coefs_[0].dtype), "version": sklearn.__version__}
    if sizes[-1] == 2:
        notes["note"] = "2 classes: sklearn uses 1 logistic output unit, not a 2-way softmax"
    return seconds, float(model.loss_), base, notes


def worker_torch(X, y, sizes, batch):
    import torch

    torch.set_num_threads(n_cores())
    torch.manual_seed(SEED)

    def build():
        torch.manual_seed(SEED)
        layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(torch.nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(torch.nn.ReLU())
        return torch.nn.Sequential(*layers)

    loss_fn = torch.nn.CrossEntropyLoss()

    def train(model, X, y):
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        n = X.shape[0]
        perm = torch.randperm(n)
        total = torch.zeros((), dtype=torch.float64)
        for start in range(0, n, batch):
            idx = perm[start : start + batch]
            xb, yb = X[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.detach() * idx.shape[0]
        return float(total) / n

    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    torch.zeros(1).sum()
    seconds, loss, base, model = warm_then_time(build, train, Xt, yt, batch)
    notes = {"dtype": str(next(model.parameters()).dtype), "version": torch.__version__}
    notes["threads"] = torch.get_num_threads()
    return seconds, loss, base, notes


def _jax_setup(sizes):
    import jax
    import jax.numpy as jnp
    import optax

    def init(key):
        params = []
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            key, sub = jax.random.split(key)
            W = jax.random.normal(sub, (a, b), jnp.float32) * jnp.sqrt(2.0 / a)
            params.append((W, jnp.zeros(b, jnp.float32)))
        return params

    def loss_fn(params, xb, yb):
        h = xb
        for W, b in params[:-1]:
            h = jax.nn.relu(h @ W + b)
        W, b = params[-1]
        logits = h @ W + b
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    tx = optax.adam(LR)

    def step(params, opt_state, xb, yb):
        loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return jax, jnp, init, tx, step


def worker_jax_step(X, y, sizes, batch):
    """A jitted train step called once per batch from a Python loop (numpy batches)."""
    jax, jnp, init, tx, step = _jax_setup(sizes)
    step = jax.jit(step, donate_argnums=(0, 1))
    params = init(jax.random.PRNGKey(SEED))
    opt_state = tx.init(params)
    jnp.zeros(1).block_until_ready()
    base = max_rss_kb()
    n = X.shape[0]
    # compile both batch shapes (full and remainder) before timing
    for rows in {min(batch, n), n % batch} - {0}:
        fresh = init(jax.random.PRNGKey(SEED))
        p, _, _ = step(fresh, tx.init(fresh), X[:rows], y[:rows])
        jax.block_until_ready(p)
    opt_state = tx.init(params)
    Xs, ys = np.empty_like(X), np.empty_like(y)
    rng = np.random.default_rng(SEED)

    start = time.perf_counter()
    order = rng.permutation(n)
    np.take(X, order, axis=0, out=Xs)
    np.take(y, order, axis=0, out=ys)
    losses = []
    for first in range(0, n, batch):
        params, opt_state, loss = step(
            params, opt_state, Xs[first : first + batch], ys[first : first + batch]
        )
        losses.append(loss)
    jax.block_until_ready(params)
    seconds = time.perf_counter() - start
    counts = [min(batch, n - first) for first in range(0, n, batch)]
    mean_loss = float(np.dot(np.array(losses, np.float64), counts) / n)
    return seconds, mean_loss, base, {"dtype": "float32", "version": jax.__version__}


def worker_jax_scan(X, y, sizes, batch):
    """The whole epoch (permutation, then lax.scan over the batches) as one compiled call."""
    jax, jnp, init, tx, step = _jax_setup(sizes)
    n = X.shape[0]
    full, rest = divmod(n, batch)

    def epoch(params, opt_state, X, y, key):
        order = jax.random.permutation(key, n)
        Xs, ys = X[order], y[order]
        Xb = Xs[: full * batch].reshape(full, batch, -1)
        yb = ys[: full * batch].reshape(full, batch)

        def body(carry, xy):
            p, s, l = step(*carry, *xy)
            return (p, s), l

        (params, opt_state), losses = jax.lax.scan(body, (params, opt_state), (Xb, yb))
        total = losses.sum() * batch
        if rest:
            tail = Xs[full * batch :], ys[full * batch :]
            params, opt_state, loss = step(params, opt_state, *tail)
            total = total + loss * rest
        return params, opt_state, total / n

    params = init(jax.random.PRNGKey(SEED))
    opt_state = tx.init(params)
    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    key = jax.random.PRNGKey(SEED)
    jnp.zeros(1).block_until_ready()
    base = max_rss_kb()
    compiled = jax.jit(epoch, donate_argnums=(0, 1)).lower(params, opt_state, Xj, yj, key).compile()
    start = time.perf_counter()
    params, opt_state, loss = compiled(params, opt_state, Xj, yj, key)
    jax.block_until_ready(params)
    seconds = time.perf_counter() - start
    return seconds, float(loss), base, {"dtype": "float32", "version": jax.__version__}


WORKERS = {
    "backprop": worker_backprop,
    "bp-numpy": worker_backprop,
    "sklearn": worker_sklearn,
    "torch": worker_torch,
    "jax-step": worker_jax_step,
    "jax-scan": worker_jax_scan,
}


def run_worker(args) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    X, y = make_data(args.n, sizes)
    seconds, loss, base, notes = WORKERS[args.worker](X, y, sizes, args.batch)
    peak_kb = max_rss_kb() - base
    result = {"seconds": seconds, "loss": loss, "peak_mib": peak_kb / 1024, **notes}
    print("RESULT " + json.dumps(result))


def measure(framework: str, sizes, batch: int, n: int) -> dict:
    command = [
        sys.executable,
        str(HERE),
        "--worker",
        framework,
        "--sizes",
        ",".join(map(str, sizes)),
        "--batch",
        str(batch),
        "--n",
        str(n),
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    env.setdefault("JAX_PLATFORMS", "cpu")
    if framework == "bp-numpy":
        env["BACKPROP_NUMBA"] = "0"
    if THREADS[0]:
        env.update(thread_env(THREADS[0]))
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
            result["samples_per_s"] = n / result["seconds"]
            return result
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    return {"error": " | ".join(tail) or f"exit status {done.returncode}"}


# ------------------------------------------------------------------------------------------
# the GEMM-only bound
# ------------------------------------------------------------------------------------------


def gemm_bound(sizes, batch: int, min_seconds: float = 0.3) -> float:
    """Samples/s if a training step did nothing but backprop's matrix products (numpy BLAS).

    Per layer: z = a·Wᵀ (forward), ∂W = δᵀ·a, and δ·W (not for the first layer), with the same
    float32 shapes and layouts (W is (out, in), C-contiguous) and preallocated outputs.
    """
    rng = np.random.default_rng(1)
    ops = []
    for i, (a_in, a_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        a = rng.standard_normal((batch, a_in), dtype=np.float32)
        W = rng.standard_normal((a_out, a_in), dtype=np.float32)
        delta = rng.standard_normal((batch, a_out), dtype=np.float32)
        z = np.empty((batch, a_out), np.float32)
        gW = np.empty((a_out, a_in), np.float32)
        ops.append((a, W.T, z))
        ops.append((delta.T, a, gW))
        if i > 0:
            ops.append((delta, W, np.empty((batch, a_in), np.float32)))

    def once():
        for left, right, out in ops:
            np.matmul(left, right, out=out)

    once()
    reps = 1
    while True:
        start = time.perf_counter()
        for _ in range(reps):
            once()
        elapsed = time.perf_counter() - start
        if elapsed > 0.05:
            break
        reps *= 4
    reps = max(1, int(reps * min_seconds / elapsed / 3))
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(reps):
            once()
        best = min(best, (time.perf_counter() - start) / reps)
    return batch / best


# ------------------------------------------------------------------------------------------
# the machine
# ------------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def version_of(module: str) -> str:
    if importlib.util.find_spec(module) is None:
        return "not installed"
    try:
        from importlib.metadata import version

        return version({"sklearn": "scikit-learn"}.get(module, module))
    except Exception:  # noqa: BLE001 - a version string is informative only
        return "installed"


def print_machine() -> None:
    print("# Machine")
    cores = n_cores(pinned=False)
    print(f"CPU: {cpu_model()}; cores available: {cores} (os.cpu_count {os.cpu_count()})")
    print(f"Python {platform.python_version()} on {platform.platform()}")
    print(f"numpy {np.__version__}")
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            print(
                f"  BLAS pool: {pool.get('internal_api')} {pool.get('version')} "
                f"kernel={pool.get('architecture')} threads={pool.get('num_threads')} "
                f"({Path(pool.get('filepath', '')).name})"
            )
    except ImportError:
        print("  threadpoolctl not installed: pip install threadpoolctl")
    for name in OPENBLAS_VARS:
        if name in os.environ:
            print(f"  env {name}={os.environ[name]} (set here; see --unset-openblas-env)")
    if os.environ.get("_BENCH_UNSET_OPENBLAS"):
        print(f"  re-executed without {', '.join(OPENBLAS_VARS)} (--unset-openblas-env)")
    for module in ("backprop", "numba", "sklearn", "torch", "jax", "jaxlib", "optax"):
        print(f"  {module}: {version_of(module)}")
    print()


# ------------------------------------------------------------------------------------------
# the driver
# ------------------------------------------------------------------------------------------


def available(framework: str) -> bool:
    if framework in ("backprop", "bp-numpy"):
        sys.path.insert(0, str(ROOT / "src"))
    return all(importlib.util.find_spec(m) is not None for m in REQUIRES[framework])


NOTE_KEYS = ("dtype", "kernels", "note", "threads")


def summarise(results: list[dict]) -> dict:
    good = [r for r in results if "error" not in r]
    if not good:
        return {"error": results[-1]["error"] if results else "no result"}
    rates = [r["samples_per_s"] for r in good]
    return {
        "median": statistics.median(rates),
        "min": min(rates),
        "max": max(rates),
        "seconds_median": statistics.median(r["seconds"] for r in good),
        "peak_mib": statistics.median(r["peak_mib"] for r in good),
        "loss": statistics.median(r["loss"] for r in good),
        "runs": len(good),
        "failed": len(results) - len(good),
        "notes": {k: v for k, v in good[-1].items() if k in NOTE_KEYS},
    }


def paired_ratios(ours: list[dict], theirs: list[dict]) -> list[float]:
    """backprop's samples/s over the other's, repeat by repeat: runs close in time, so a drift of
    the machine that slows both cancels out of each ratio."""
    return [
        a["samples_per_s"] / b["samples_per_s"]
        for a, b in zip(ours, theirs, strict=False)
        if "error" not in a and "error" not in b
    ]


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def run_config(name, sizes, batch, n, frameworks, repeats) -> dict:
    print(f"## {name}: {'-'.join(map(str, sizes))}, batch {batch}, {n:,} samples, 1 epoch")
    runs: dict[str, list[dict]] = {f: [] for f in frameworks}
    bounds = []  # one per repeat, right after backprop's run: its pair for the % of the bound
    for r in range(repeats):
        order = frameworks[r % len(frameworks) :] + frameworks[: r % len(frameworks)]
        for framework in order:
            runs[framework].append(measure(framework, sizes, batch, n))
            if framework == "backprop":
                bounds.append(gemm_bound(sizes, batch))
        if "backprop" not in frameworks:
            bounds.append(gemm_bound(sizes, batch))
    summary = {f: summarise(runs[f]) for f in frameworks}
    bound = statistics.median(bounds)
    paired = {f: paired_ratios(runs.get("backprop", []), runs[f]) for f in frameworks}
    of_bound = paired_ratios(runs.get("backprop", []), [{"samples_per_s": b} for b in bounds])
    load = os.getloadavg()[0]
    ours = summary.get("backprop", {}).get("median")
    head = f"{'framework':<10} {'samples/s median [min-max]':>34} {'bp/peer':>8} {'paired':>7}"
    print(head + f" {'peak MiB':>9} {'loss':>8}  notes")
    for framework, s in summary.items():
        if "error" in s:
            print(f"{framework:<10} FAILED: {s['error']}")
            continue
        spread = f"{fmt_rate(s['median'])} [{fmt_rate(s['min'])}-{fmt_rate(s['max'])}]"
        ratio = f"{ours / s['median']:.2f}x" if ours else "-"
        by_repeat = paired[framework]
        ratio += f" {statistics.median(by_repeat):>6.2f}x" if by_repeat else "       -"
        notes = ", ".join(f"{k}={v}" for k, v in s["notes"].items())
        if s["failed"]:
            notes += f", {s['failed']} runs failed"
        print(
            f"{framework:<10} {spread:>34} {ratio:>16} {s['peak_mib']:>9.1f} {s['loss']:>8.4f}  "
            + notes
        )
    line = (
        f"GEMM-only bound (numpy BLAS, batch {batch}): {fmt_rate(bound)} samples/s, median of "
        f"{len(bounds)} [{fmt_rate(min(bounds))}-{fmt_rate(max(bounds))}]"
    )
    if ours:
        line += f"; backprop reaches {100 * ours / bound:.1f}% of it"
    if of_bound:
        low, mid, high = (100 * f(of_bound) for f in (min, statistics.median, max))
        line += f"\n  repeat by repeat: {mid:.1f}% [{low:.1f}-{high:.1f}%]"
    print(line)
    cores = n_cores(pinned=False)
    print(f"load average (1 min) after this configuration: {load:.2f} on {cores} cores")
    if load > 1.5 * cores:
        print("WARNING: the machine is busy with other work; these numbers are disturbed")
    print()
    return {
        "load": load,
        "sizes": sizes,
        "batch": batch,
        "n": n,
        "repeats": repeats,
        "results": summary,
        "raw": runs,
        "gemm_bound": bound,
        "gemm_bounds": bounds,
        "paired_ratios": paired,
        "of_bound_by_repeat": of_bound,
    }


def run_scaling(sizes_n, frameworks, repeats) -> dict:
    sizes, batch = CONFIGS["tabular"][0], CONFIGS["tabular"][1]
    print(f"## scaling: tabular {'-'.join(map(str, sizes))}, batch {batch}, 1 epoch")
    table: dict[str, dict[int, dict]] = {f: {} for f in frameworks}
    for n in sizes_n:
        runs: dict[str, list[dict]] = {f: [] for f in frameworks}
        for r in range(repeats):
            order = frameworks[r % len(frameworks) :] + frameworks[: r % len(frameworks)]
            for framework in order:
                runs[framework].append(measure(framework, sizes, batch, n))
        for framework in frameworks:
            table[framework][n] = summarise(runs[framework])
    print(f"{'framework':<10} {'samples':>10} {'s/epoch':>9} {'µs/sample':>10} {'vs 10k':>7}")
    for framework in frameworks:
        first = None
        for n in sizes_n:
            s = table[framework][n]
            if "error" in s:
                print(f"{framework:<10} {n:>10,} FAILED: {s['error']}")
                continue
            per_sample = s["seconds_median"] / n
            first = first or per_sample
            print(
                f"{framework:<10} {n:>10,} {s['seconds_median']:>9.3f} "
                f"{1e6 * per_sample:>10.2f} {per_sample / first:>7.2f}"
            )
    print()
    return {"sizes": sizes, "batch": batch, "results": table}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 repeats, fewer samples")
    parser.add_argument("--configs", default="tiny,tabular,mnist-like,scaling")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--json", default=None, help="also write the results to this file")
    parser.add_argument(
        "--unset-openblas-env",
        action="store_true",
        help=f"re-exec without {', '.join(OPENBLAS_VARS)} (they can pick a slower kernel)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="pin every framework (BLAS, torch, XLA) to this many threads; default: all cores",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        run_worker(args)
        return 0
    if args.unset_openblas_env and any(v in os.environ for v in OPENBLAS_VARS):
        env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_VARS}
        env["_BENCH_UNSET_OPENBLAS"] = "1"
        os.execve(sys.executable, [sys.executable, *sys.argv], env)

    repeats = args.repeats or (2 if args.quick else 5)
    if args.threads:
        THREADS[0] = args.threads
        os.environ.update(thread_env(args.threads))  # for the workers
        try:  # numpy's BLAS is already loaded here: limit it for the GEMM bound
            from threadpoolctl import threadpool_limits

            threadpool_limits(args.threads)
        except ImportError:
            print("note: threadpoolctl missing; the GEMM bound uses all BLAS threads")
    print_machine()
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"repeats: {repeats} (frameworks alternate; each run is a fresh subprocess)")
    print(f"threads: {args.threads or f'all ({n_cores()})'}\n")

    wanted = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    frameworks = []
    for framework in wanted:
        if framework not in WORKERS:
            parser.error(f"unknown framework {framework!r}; known: {', '.join(FRAMEWORKS)}")
        if available(framework):
            frameworks.append(framework)
        else:
            needs = " + ".join(REQUIRES[framework])
            print(f"note: skipping {framework}: {needs} not importable")
    print()

    out = {"repeats": repeats, "quick": args.quick, "configs": {}}
    for name in [c.strip() for c in args.configs.split(",") if c.strip()]:
        if name == "scaling":
            peers = [f for f in frameworks if f in ("backprop", "torch")]
            sizes_n = SCALING_SIZES_QUICK if args.quick else SCALING_SIZES
            out["configs"]["scaling"] = run_scaling(sizes_n, peers, repeats)
        elif name in CONFIGS:
            sizes, batch, n_full, n_quick = CONFIGS[name]
            n = n_quick if args.quick else n_full
            out["configs"][name] = run_config(name, sizes, batch, n, frameworks, repeats)
        else:
            parser.error(f"unknown config {name!r}; known: {', '.join([*CONFIGS, 'scaling'])}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
