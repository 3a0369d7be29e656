"""Checkpoint and resume: an interrupted run, resumed, ends bitwise where an uninterrupted one
ends."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import backprop as bp
from backprop.training import checkpoint as checkpoints

pytest.importorskip("safetensors")
SRC = Path(__file__).resolve().parents[1] / "src"
X, Y = bp.datasets.two_moons(n_samples=120, noise=0.2, seed=1)[:2]


def options(**changes):
    """Fresh settings each time: a schedule keeps state, so runs must not share one."""
    settings = {
        "batch_size": 16,
        "optimizer": "adam",
        "lr": 0.01,
        "validation_split": 0.25,
        "warn": False,
        "schedule": bp.schedules.ReduceOnPlateau(patience=1, factor=0.5),
    }
    return {**settings, **changes}


def network():
    return bp.Network(
        [2, bp.Layer(8, "relu", dropout=0.2), bp.Layer(2, "softmax")], loss="cross_entropy", seed=3
    )


def uninterrupted(epochs=6):
    net = network()
    history = net.fit(X, Y, epochs=epochs, **options())
    return net, history


def test_resume_after_a_partial_run_is_bitwise_identical(tmp_path):
    path = tmp_path / "run.ckpt"
    reference, reference_history = uninterrupted()
    network().fit(X, Y, epochs=3, checkpoint=path, **options())
    resumed = network()
    history = resumed.fit(X, Y, epochs=6, checkpoint=path, resume=True, **options())
    assert np.array_equal(resumed.params, reference.params)
    assert history.loss == reference_history.loss and history.lr == reference_history.lr
    assert history.optimizer_state.step == reference_history.optimizer_state.step


def test_every_part_of_the_state_matters(tmp_path, monkeypatch):
    """Leaving the optimiser state or the generator out of the restore changes the result."""
    path = tmp_path / "run.ckpt"
    reference, _ = uninterrupted()
    network().fit(X, Y, epochs=3, checkpoint=path, **options())
    real_restore = bp.training.checkpoint.restore
    for forget in ("optimizer", "rng"):

        def partial_restore(saved, net, schedule, forget=forget):
            state = net.rng.bit_generator.state
            real_restore(saved, net, schedule)
            if forget == "optimizer":
                saved.state.optimizer_state = bp.Adam().init(net.params)
            else:
                net.rng.bit_generator.state = state

        monkeypatch.setattr(bp.training.checkpoint, "restore", partial_restore)
        broken = network()
        broken.fit(X, Y, epochs=6, checkpoint=path, resume=True, **options())
        assert not np.array_equal(broken.params, reference.params), forget


def test_resume_without_a_checkpoint_starts_fresh(tmp_path):
    reference, _ = uninterrupted()
    net = network()
    net.fit(X, Y, epochs=6, checkpoint=tmp_path / "new.ckpt", resume=True, **options())
    assert np.array_equal(net.params, reference.params)
    assert (tmp_path / "new.ckpt").exists()


def test_resuming_a_finished_run_adds_nothing(tmp_path):
    path = tmp_path / "run.ckpt"
    done = network()
    done.fit(X, Y, epochs=4, checkpoint=path, **options())
    again = network()
    history = again.fit(X, Y, epochs=4, checkpoint=path, resume=True, **options())
    assert np.array_equal(again.params, done.params) and len(history) == 4


def test_a_changed_setup_is_refused_naming_what_differs(tmp_path):
    path = tmp_path / "run.ckpt"
    network().fit(X, Y, epochs=2, checkpoint=path, **options())
    net = network()
    before = net.params.copy(), net.rng.bit_generator.state
    with pytest.raises(ValueError, match="batch_size: 16 then, 8 now"):
        net.fit(X, Y, epochs=4, checkpoint=path, resume=True, **options(batch_size=8))
    assert np.array_equal(net.params, before[0]) and net.rng.bit_generator.state == before[1]
    wider = bp.Network(
        [2, bp.Layer(9, "relu", dropout=0.2), bp.Layer(2, "softmax")], loss="cross_entropy", seed=3
    )
    with pytest.raises(ValueError, match="network"):
        wider.fit(X, Y, epochs=4, checkpoint=path, resume=True, **options())


def test_a_corrupt_checkpoint_falls_back_to_the_previous_one(tmp_path):
    path = tmp_path / "run.ckpt"
    reference, _ = uninterrupted()
    network().fit(X, Y, epochs=3, checkpoint=path, **options())
    assert (tmp_path / "run.ckpt.prev").exists()
    path.write_bytes(b"0")
    resumed = network()
    resumed.fit(X, Y, epochs=6, checkpoint=path, resume=True, **options())
    assert np.array_equal(resumed.params, reference.params)


def test_when_no_checkpoint_can_be_read_resume_is_refused(tmp_path):
    path = tmp_path / "run.ckpt"
    network().fit(X, Y, epochs=2, checkpoint=path, **options())
    path.write_bytes(b"0")
    Path(str(path) + ".prev").write_bytes(path.read_bytes()[:1])
    with pytest.raises(ValueError, match="cannot resume from"):
        network().fit(X, Y, epochs=4, checkpoint=path, resume=True, **options())


def test_a_model_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "model.safetensors"
    network().save(path)
    with pytest.raises(ValueError, match="not a checkpoint"):
        network().fit(X, Y, epochs=2, checkpoint=path, resume=True, **options())


def test_checkpoint_arguments_are_checked():
    with pytest.raises(ValueError, match="resume=True needs checkpoint"):
        network().fit(X, Y, epochs=1, resume=True)
    with pytest.raises(ValueError, match="checkpoint_every"):
        network().fit(X, Y, epochs=1, checkpoint="x", checkpoint_every=0)


def test_interrupt_rolls_back_to_the_last_completed_epoch(tmp_path):
    path = tmp_path / "run.ckpt"

    def interrupt(net, epoch, logs):
        if epoch == 2:
            raise KeyboardInterrupt

    net = network()
    with pytest.raises(KeyboardInterrupt):
        net.fit(
            X, Y, epochs=6, checkpoint=path, checkpoint_every=5, callbacks=[interrupt], **options()
        )
    three_epochs = network()
    three_epochs.fit(X, Y, epochs=2, **options())
    assert np.array_equal(net.params, three_epochs.params)  # usable: epochs 0 and 1 kept
    resumed = network()
    resumed.fit(X, Y, epochs=6, checkpoint=path, resume=True, **options())
    assert np.array_equal(resumed.params, uninterrupted()[0].params)


SCRIPT = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    import backprop as bp
    X, Y = bp.datasets.two_moons(n_samples=4000, noise=0.2, seed=1)[:2]
    net = bp.Network([2, 64, 64, 2], hidden="relu", output="softmax", loss="cross_entropy",
                     seed=3)
    def report(net, epoch, logs):
        print("EPOCH", epoch, flush=True)
        time.sleep(0.05)
    net.fit(X, Y, epochs=int(sys.argv[2]), batch_size=8, optimizer="adam", warn=False,
            checkpoint=sys.argv[1], resume=True, callbacks=[report])
    np.save(sys.argv[3], net.params)
    """
)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_real_signal_then_resume_ends_bitwise_identical(tmp_path, signum):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}

    def run(checkpoint, result, wait_for=None):
        process = subprocess.Popen(
            [sys.executable, str(script), str(checkpoint), "5", str(result)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        if wait_for is not None:
            for line in process.stdout:
                if line.strip() == wait_for:
                    time.sleep(0.1)  # now inside the next epoch
                    process.send_signal(signum)
                    break
        out, err = process.communicate(timeout=240)
        return process.returncode, err

    code, _ = run(tmp_path / "whole.ckpt", tmp_path / "whole.npy")
    assert code == 0
    code, err = run(tmp_path / "cut.ckpt", tmp_path / "cut.npy", wait_for="EPOCH 1")
    assert code != 0 and "KeyboardInterrupt" in err
    assert not (tmp_path / "cut.npy").exists() and (tmp_path / "cut.ckpt").exists()
    code, _ = run(tmp_path / "cut.ckpt", tmp_path / "cut.npy")
    assert code == 0
    assert np.array_equal(np.load(tmp_path / "cut.npy"), np.load(tmp_path / "whole.npy"))


KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    import backprop as bp
    X, Y = bp.datasets.two_moons(n_samples=2000, noise=0.2, seed=1)[:2]
    net = bp.Network([2, 256, 256, 2], hidden="relu", output="softmax", loss="cross_entropy",
                     seed=3)
    # a first epoch loads what the first update loads (numba's kernels: most of a second), so
    # that after READY a checkpoint is written every few milliseconds
    net.fit(X, Y, epochs=1, batch_size=2000, optimizer="adam", warn=False)
    print("READY", flush=True)
    net.fit(X, Y, epochs=100000, batch_size=2000, optimizer="adam", warn=False,
            checkpoint=sys.argv[1])
    """
)


def test_sigkill_at_random_moments_never_leaves_a_torn_checkpoint(tmp_path):
    """Checkpoints are written every epoch; a kill at any moment leaves one readable."""
    script = tmp_path / "loop.py"
    script.write_text(KILL_SCRIPT)
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    path = tmp_path / "loop.ckpt"
    delays = np.random.default_rng(0).uniform(0.05, 0.6, size=10)
    for delay in delays:
        process = subprocess.Popen(
            [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True, env=env
        )
        assert process.stdout.readline().strip() == "READY"
        time.sleep(delay)
        process.kill()
        process.wait(timeout=30)
        process.stdout.close()
        saved = bp.training.checkpoint.read(
            path
        )  # never raises: the latest or the previous is whole
        if saved is not None:
            assert saved.meta["kind"] == "backprop-checkpoint" and np.isfinite(saved.params).all()
    assert checkpoints.read(path) is not None  # the latest, or the previous during a swap
