"""Data-parallel training: ``fit(distributed=True)`` under ``mpiexec -n 2`` and ``-n 3``.

The MPI tests launch ``tests/distributed_scenarios.py`` as a subprocess of mpiexec, with a
timeout, and compare what every rank wrote. They are skipped where mpi4py (the ``[mpi]`` extra)
is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from processes import interruptible

import backprop as bp
from backprop import distributed
from backprop.cli.lock import checkpoint_lock
from backprop.cli.trained_model import load_trained_model

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
SCENARIOS = Path(__file__).with_name("distributed_scenarios.py")
MPIEXEC = shutil.which(
    "mpiexec", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
)
needs_mpi = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None or MPIEXEC is None,
    reason="mpi4py and mpiexec are not installed (pip install 'backprop[mpi]')",
)


def environment():
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = "1"
    return env


def launch(ranks, scenario, out, *arguments, timeout=90):
    env = environment()
    command = [MPIEXEC, "-n", str(ranks), sys.executable, str(SCENARIOS), scenario, str(out)]
    return subprocess.run(
        command + [str(a) for a in arguments],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def results(out, scenario, ranks):
    return [json.loads((Path(out) / f"{scenario}.{r}.json").read_text()) for r in range(ranks)]


def test_shards_are_contiguous_blocks_in_rank_order_differing_by_at_most_one():
    for n in (0, 1, 7, 10, 12):
        for size in (1, 2, 3, 5):
            blocks = [distributed.shard(n, r, size) for r in range(size)]
            assert [i for block in blocks for i in block] == list(range(n))
            assert max(map(len, blocks)) - min(map(len, blocks)) <= 1
    assert distributed.shard(10, 0, 3) == range(0, 4)
    with pytest.raises(ValueError, match="rank"):
        distributed.shard(10, 3, 3)


def test_without_mpi_distributed_true_is_exactly_a_plain_fit():
    X, y = bp.datasets.two_moons(n_samples=60, noise=0.2, seed=1)[:2]
    runs = []
    for option in ({}, {"distributed": True}):
        net = bp.Network([2, 6, 2], output="softmax", loss="cross_entropy", seed=2)
        history = net.fit(X, y, epochs=4, batch_size=8, optimizer="adam", warn=False, **option)
        runs.append((net.params.copy(), history.loss))
    assert distributed.size() == 1 and distributed.rank() == 0
    assert np.array_equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]


def test_an_unknown_distributed_value_is_refused():
    X, y = bp.datasets.xor()[:2]
    net = bp.Network([2, 2, 1], seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match="distributed must be"):
        net.fit(X, y, epochs=1, distributed="yes")
    assert np.array_equal(net.params, before)


@needs_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_n_ranks_make_the_updates_of_one_process_with_n_times_the_batch(tmp_path, ranks):
    """Even and uneven shards, with and without sample weights, every optimiser, L2, the
    fused all-reduce and the per-layer ones."""
    run = launch(ranks, "equivalence", tmp_path)
    assert run.returncode == 0, run.stderr
    seen = results(tmp_path, "equivalence", ranks)
    assert len(seen[0]) == 2 * 5 * 2
    for case, numbers in seen[0].items():
        assert numbers["params"] < 1e-10, case
        assert numbers["loss"] < 1e-10, case
        assert all(rank[case]["checksum"] == numbers["checksum"] for rank in seen), case


@needs_mpi
def test_every_rank_keeps_the_same_history_and_stops_early_at_the_same_epoch(tmp_path):
    run = launch(3, "history", tmp_path, "plateau")
    assert run.returncode == 0, run.stderr
    seen = results(tmp_path, "history", 3)
    assert seen[0]["stopped_early"] and seen[0]["epochs"] < 200
    assert all(rank == seen[0] for rank in seen)  # losses, metrics, layer records, weights


@needs_mpi
def test_rank_0_alone_writes_checkpoints_and_an_interrupted_run_resumes_bitwise(tmp_path):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    whole.mkdir(), cut.mkdir()
    assert launch(2, "checkpoint", whole, whole / "run.RANK.ckpt", 4).returncode == 0
    assert sorted(p.name for p in whole.glob("*.ckpt")) == ["run.0.ckpt"]
    run = launch(2, "checkpoint", cut, cut / "run.ckpt", 4, "interrupt")
    assert run.returncode == 0, run.stderr
    assert [r["outcome"] for r in results(cut, "checkpoint", 2)] == ["interrupted"] * 2
    saved = bp.training.checkpoint.read(
        cut / "run.ckpt",
        bp.Network([3, 5, 2], output="softmax", loss="cross_entropy", dtype="float64"),
        bp.Adam(),
        bp.schedules.get_schedule(None),
    )
    assert saved.state.epoch == 0  # the epoch before the interruption
    assert launch(2, "checkpoint", cut, cut / "run.ckpt", 4).returncode == 0
    finished = results(cut, "checkpoint", 2) + results(whole, "checkpoint", 2)
    assert all(r["outcome"] == "done" for r in finished)
    assert all(r["params"] == finished[-1]["params"] for r in finished)


@needs_mpi
def test_ctrl_c_to_mpiexec_saves_the_checkpoint_and_the_resumed_run_ends_bitwise(tmp_path):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    whole.mkdir(), cut.mkdir()
    assert launch(2, "interrupted", whole, whole / "run.ckpt", 6).returncode == 0
    process = subprocess.Popen(
        [MPIEXEC, "-n", "2", sys.executable, str(SCENARIOS), "interrupted", str(cut)]
        + [str(cut / "run.ckpt"), "1000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
        preexec_fn=interruptible,
    )
    for line in process.stdout:
        if line.startswith("EPOCH 2"):  # epoch 1 is saved by then
            process.send_signal(signal.SIGINT)
            break
    _, err = process.communicate(timeout=60)
    assert process.returncode != 0 and "KeyboardInterrupt" in err
    saved = bp.training.checkpoint.read(cut / "run.ckpt")
    assert 1 <= saved.meta["epoch"] < 6
    assert launch(2, "interrupted", cut, cut / "run.ckpt", 6).returncode == 0
    finished = results(cut, "interrupted", 2) + results(whole, "interrupted", 2)
    assert all(r["params"] == finished[0]["params"] for r in finished)


@needs_mpi
@pytest.mark.parametrize(
    ("ranks", "fault", "expected"),
    [
        (3, "nan", "rank 1 failed with ValueError: X contains infinity"),
        (2, "raise", "rank 1 failed with OSError: No space left on device"),
    ],
)
def test_an_error_on_one_rank_stops_every_rank_with_the_same_error(
    tmp_path, ranks, fault, expected
):
    run = launch(ranks, "failure", tmp_path, fault, timeout=60)
    assert run.returncode == 0, run.stderr
    messages = {r["message"] for r in results(tmp_path, "failure", ranks)}
    assert len(messages) == 1
    assert messages.pop().startswith(f"DistributedError: training stopped: {expected}")


@needs_mpi
def test_a_killed_rank_ends_the_whole_job(tmp_path):
    run = launch(3, "killed", tmp_path, timeout=60)  # training would last forever
    assert run.returncode != 0
    assert "signal 9" in run.stdout + run.stderr


@needs_mpi
def test_the_cli_under_mpiexec_reads_each_ranks_rows_and_rank_0_writes_the_model(tmp_path):
    """Global scaling, classes the union over ranks (class "c" lives in the last rank's rows
    only), one report, one model file."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(61, 3)) * [1.0, 10.0, 0.1] + [0.0, 5.0, -2.0]
    labels = np.where(X[:, 0] > 0, "a", "b")
    labels[-10:] = "c"
    data = tmp_path / "data.csv"
    lines = [
        f"{x0:.6f},{x1:.6f},{x2:.6f},{label}" for (x0, x1, x2), label in zip(X, labels, strict=True)
    ]
    data.write_text("x0,x1,x2,y\n" + "\n".join(lines) + "\n")
    model = tmp_path / "model.safetensors"
    command = [MPIEXEC, "-n", "3", sys.executable, "-m", "backprop", "train", str(data)]
    command += ["--target", "y", "--out", str(model), "--epochs", "3", "--validation", "0"]
    run = subprocess.run(
        command + ["--quiet"], capture_output=True, text=True, env=environment(), timeout=90
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("model saved to") == 1 and "on 3 ranks" in run.stdout
    trained = load_trained_model(str(model))
    X = np.loadtxt(data, delimiter=",", skiprows=1, usecols=(0, 1, 2))  # as written
    assert trained.meta["classes"] == ["a", "b", "c"]
    assert np.allclose(trained.feature_mean, X.mean(axis=0), rtol=1e-12, atol=1e-12)
    assert np.allclose(trained.feature_scale, X.std(axis=0), rtol=1e-12)
    assert trained.meta["training"]["n_train"] == 61


def test_cli_distributed_outside_mpiexec_is_refused_in_one_line(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(20)))
    model = tmp_path / "model.safetensors"
    env = {k: v for k, v in environment().items() if not k.startswith(("PMI_", "OMPI_", "PMIX"))}
    command = [sys.executable, "-m", "backprop", "train", str(data), "--target", "y"]
    run = subprocess.run(
        command + ["--out", str(model), "--distributed"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode == 2 and not model.exists()
    assert run.stderr.startswith("backprop: error: --distributed: this process was not started")
    assert len(run.stderr.strip().splitlines()) == 1


@needs_mpi
def test_each_layers_all_reduce_starts_during_the_backward_pass_last_layer_first(tmp_path):
    """The share's all-reduce, then layer 3's W and b, layer 2's, layer 1's, all before the
    backward pass ends; after it when the overlap is off. The epoch's last step records the
    layer statistics from the local gradients, so it reduces after its backward pass. Both
    train the same weights bitwise."""
    orders, weights = {}, []
    for mode in ("during", "after"):
        run = launch(2, "overlap", tmp_path, mode)
        assert run.returncode == 0, run.stderr
        seen = results(tmp_path, "overlap", 2)
        assert seen[0] == seen[1]
        orders[mode] = seen[0]["steps"]
        weights.append(seen[0]["params"])
    assert weights[0] == weights[1]
    slices = [size for layer in reversed(seen[0]["slices"]) for size in layer]
    start, end = ["backward", "start"], ["backward", "end"]
    reduced_after = [start, end, ["allreduce", 1]] + [["allreduce", n] for n in slices]
    for mode, steps in orders.items():
        assert len(steps) == 2  # 4 rows per rank, batch 2
        if mode == "during":
            during = [["allreduce", 1], start] + [["allreduce", n] for n in slices] + [end]
            assert steps[0] == during
        else:
            assert steps[0] == reduced_after
        assert steps[-1] == reduced_after


@needs_mpi
@pytest.mark.parametrize(("ranks", "given"), [(2, "data"), (3, "split")])
def test_validation_on_some_ranks_only_is_refused_alike_on_every_rank(tmp_path, ranks, given):
    run = launch(ranks, "validation", tmp_path, given, timeout=60)
    assert run.returncode == 0, run.stderr
    seen = results(tmp_path, "validation", ranks)
    expected = (
        "ValueError: validation data must be given on every rank or on none: "
        f"1 of {ranks} ranks have validation_data or validation_split"
    )
    assert [r["message"] for r in seen] == [expected] * ranks
    assert all(r["unchanged"] for r in seen)


@needs_mpi
def test_the_cli_under_mpiexec_takes_the_checkpoint_lock_on_rank_0(tmp_path):
    """A run given a checkpoint another run holds stops at once on every rank with the
    single-process command's line; once the lock is free, it trains and leaves no lock."""
    data = tmp_path / "data.csv"
    data.write_text("x,y\n" + "".join(f"{i % 7},{i % 2}\n" for i in range(40)))
    model, checkpoint = tmp_path / "model.safetensors", tmp_path / "run.ckpt"
    command = ["-m", "backprop", "train", str(data), "--target", "y", "--out", str(model)]
    command += ["--checkpoint", str(checkpoint), "--epochs", "2", "--quiet"]
    alone_env = {k: v for k, v in environment().items() if not k.startswith(("PMI", "OMPI_"))}
    with checkpoint_lock(str(checkpoint), "run.ckpt"):
        alone = subprocess.run(
            [sys.executable, *command], capture_output=True, text=True, env=alone_env, timeout=60
        )
        ranks = subprocess.run(
            [MPIEXEC, "-n", "2", sys.executable, *command],
            capture_output=True,
            text=True,
            env=environment(),
            timeout=60,
        )
    line = alone.stderr.strip()
    assert alone.returncode == 2 and "in use by another backprop run" in line
    assert ranks.returncode != 0 and not model.exists()
    # one line from each rank (mpiexec may join two ranks' lines when they end together)
    assert ranks.stderr.count(line) == 2 and ranks.stderr.count("backprop: error:") == 2
    assert "Traceback" not in ranks.stderr
    ranks = subprocess.run(
        [MPIEXEC, "-n", "2", sys.executable, *command],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=60,
    )
    assert ranks.returncode == 0, ranks.stderr
    assert model.exists() and checkpoint.exists()
    assert not Path(f"{checkpoint}.lock").exists()
