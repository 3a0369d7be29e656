"""Data-parallel training on one machine: 2 ranks x 1 BLAS thread against 1 process x 2 threads
and 1 x 1, the time share of the gradient all-reduce with one fused all-reduce, with one per
layer started during the backward pass (overlap) and with one per layer started after it, and
a cost model of the scaling to 2-64 nodes checked against 2 and 3 local ranks.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/distributed.py [--steps 30]
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/distributed.py --overlap 5

Each configuration runs in fresh processes (mpiexec for the ranks) with the BLAS thread count
set before numpy loads; a step's time is the median over epochs after the first of the
epoch's time divided by its steps. Adam, float32, ReLU, softmax + cross-entropy, shuffle=False.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NETWORKS = {"784-512-256-10": [784, 512, 256, 10], "54-256-256-7": [54, 256, 256, 7]}
GLOBAL_BATCH = 128
LINKS_GBPS = (10, 25, 100)
NODES = (2, 4, 8, 16, 32, 64)
LATENCY_S = 5e-6  # per message hop on a cluster network (assumed)


def worker(name: str, batch: int, steps: int, overlap: str, epochs: int) -> dict:
    import numpy as np

    import backprop as bp
    from backprop import distributed

    sizes = NETWORKS[name]
    size = distributed.size()
    rows = batch * steps
    rng = np.random.default_rng(distributed.rank())
    X = rng.normal(size=(rows, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], size=rows)
    net = bp.Network(sizes, hidden="relu", output="softmax", loss="cross_entropy", seed=0)
    stamps = []
    option = session(overlap) if size > 1 else False
    net.fit(
        X,
        y,
        epochs=1,
        batch_size=batch,
        optimizer="adam",
        shuffle=False,
        warn=False,
        distributed=option,
    )  # compiles and warms the caches
    if size > 1:
        option = session(overlap)
    stamps.append(time.perf_counter())
    net.fit(
        X,
        y,
        epochs=epochs,
        batch_size=batch,
        optimizer="adam",
        shuffle=False,
        warn=False,
        distributed=option,
        callbacks=[lambda *_: stamps.append(time.perf_counter())],
    )
    epoch_seconds = sorted(b - a for a, b in zip(stamps, stamps[1:], strict=False))
    step = epoch_seconds[len(epoch_seconds) // 2] / steps
    result = {"step_s": step, "params": int(net.params.size)}
    if size > 1:
        reduction = option.reduction
        result["comm_share"] = reduction.seconds / (stamps[-1] - stamps[0])
        result["allreduce_s"] = allreduce_seconds(net.params.size)
    return result


def session(overlap: str):
    """``"layers-after"``: per-layer all-reduces started after the backward pass."""
    from backprop import distributed

    if overlap == "layers-after":
        return distributed.Session(distributed.world(), "layers", during_backward=False)
    return distributed.Session(distributed.world(), overlap)


def allreduce_seconds(count: int, repeats: int = 30) -> float:
    """The median time of one blocking all-reduce of ``count`` float32 values, alone."""
    import numpy as np
    from mpi4py import MPI

    comm, buffer = MPI.COMM_WORLD, np.ones(count, np.float32)
    times = []
    for _ in range(repeats):
        comm.Barrier()
        start = time.perf_counter()
        comm.Allreduce(MPI.IN_PLACE, buffer)
        times.append(time.perf_counter() - start)
    return sorted(times)[repeats // 2]


def launch(ranks: int, threads: int, name: str, batch: int, steps: int, overlap="fused"):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[variable] = str(threads)
    command = [sys.executable, __file__, "--worker", name, str(batch), str(steps), overlap]
    if ranks > 1:
        mpiexec = Path(sys.executable).with_name("mpiexec")
        command = [str(mpiexec), "-n", str(ranks)] + command
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if run.returncode:
        raise SystemExit(run.stderr)
    return json.loads(run.stdout.strip().splitlines()[-1])


def ring_seconds(nodes: int, nbytes: float, gbps: float) -> float:
    """Ring all-reduce: 2(N-1) steps, each sending 1/N of the buffer, each paying a latency."""
    return 2 * (nodes - 1) / nodes * nbytes * 8 / (gbps * 1e9) + 2 * (nodes - 1) * LATENCY_S


def report(steps: int) -> None:
    for name in NETWORKS:
        alone = launch(1, 1, name, GLOBAL_BATCH, steps)
        threads = launch(1, 2, name, GLOBAL_BATCH, steps)
        local = launch(1, 1, name, GLOBAL_BATCH // 2, steps)  # one rank's share of the batch
        local3 = launch(1, 1, name, GLOBAL_BATCH // 3, steps)
        fused = launch(2, 1, name, GLOBAL_BATCH // 2, steps, "fused")
        layers = launch(2, 1, name, GLOBAL_BATCH // 2, steps, "layers")
        after = launch(2, 1, name, GLOBAL_BATCH // 2, steps, "layers-after")
        three = launch(3, 1, name, GLOBAL_BATCH // 3, steps, "fused")
        params = alone["params"]
        print(f"\n## {name} ({params} parameters), global batch {GLOBAL_BATCH}")
        print(f"1 x 1 thread      {alone['step_s'] * 1e3:8.2f} ms/step  1.00x")
        for label, run in (
            ("1 x 2 threads", threads),
            ("2 ranks fused", fused),
            ("2 ranks layers", layers),
            ("2 ranks lay.after", after),
            ("3 ranks fused", three),
        ):
            speed = alone["step_s"] / run["step_s"]
            share = (
                f"  all-reduce {run['comm_share']:.0%} of the time" if "comm_share" in run else ""
            )
            print(f"{label:17} {run['step_s'] * 1e3:8.2f} ms/step  {speed:.2f}x{share}")
        nbytes = params * 4
        compute = local["step_s"]  # one node's step on its share, without communication
        print(
            f"cost model: {nbytes / 1e6:.2f} MB per step, compute {compute * 1e3:.2f} ms/step "
            f"at local batch {GLOBAL_BATCH // 2}; efficiency = compute / (compute + ring)"
        )
        print("nodes " + " ".join(f"{n:>6}" for n in NODES))
        for gbps in LINKS_GBPS:
            cells = [compute / (compute + ring_seconds(n, nbytes, gbps)) for n in NODES]
            print(f"{gbps:>3} Gb/s " + " ".join(f"{c:6.0%}" for c in cells))
        for ranks, run, base in ((2, fused, local), (3, three, local3)):
            predicted = base["step_s"] / (base["step_s"] + run["allreduce_s"])
            measured = base["step_s"] / run["step_s"]
            print(
                f"{ranks} local ranks: predicted efficiency {predicted:.0%} (all-reduce alone "
                f"{run['allreduce_s'] * 1e3:.2f} ms), measured {measured:.0%}"
            )


def overlap_report(steps: int, repeats: int) -> None:
    """2 ranks with each gradient reduction, run in turn ``repeats`` times: the median step
    time and the median share of the time spent waiting for the all-reduces."""
    modes = ("fused", "layers", "layers-after")
    for name in NETWORKS:
        runs = {mode: [] for mode in modes}
        for _ in range(repeats):
            for mode in modes:
                runs[mode].append(launch(2, 1, name, GLOBAL_BATCH // 2, steps, mode))
        print(f"\n## {name}: 2 ranks, global batch {GLOBAL_BATCH}, median of {repeats} runs")
        for mode in modes:
            step = sorted(r["step_s"] for r in runs[mode])[repeats // 2]
            share = sorted(r["comm_share"] for r in runs[mode])[repeats // 2]
            print(f"{mode:13} {step * 1e3:8.2f} ms/step  waiting for the all-reduce {share:.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--worker", nargs=4)
    parser.add_argument(
        "--overlap", type=int, metavar="REPEATS", help="only compare the 2-rank reductions"
    )
    options = parser.parse_args()
    if options.overlap:
        overlap_report(options.steps, options.overlap)
        return
    if options.worker:
        name, batch, steps, overlap = options.worker
        result = worker(name, int(batch), int(steps), overlap, epochs=4)
        from backprop import distributed

        if distributed.rank() == 0:
            print(json.dumps(result))
        return
    report(options.steps)


if __name__ == "__main__":
    main()
