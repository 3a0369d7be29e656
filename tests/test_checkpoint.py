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
from processes import interruptible

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


def test_a_save_cut_short_leaves_the_last_checkpoint_in_place(tmp_path, monkeypatch):
    """The old file becomes ``.prev`` without leaving its own name: a run killed while the
    next checkpoint is written still has the last one at the checkpoint's path."""
    path, prev = tmp_path / "run.ckpt", tmp_path / "run.ckpt.prev"
    write = checkpoints.model_files.save
    seen = []

    def killed_while_writing_the_third(*args, **kwargs):
        if len(seen) == 2:
            assert path.read_bytes() == seen[-1] == prev.read_bytes()
            raise RuntimeError("killed")
        write(*args, **kwargs)
        seen.append(path.read_bytes())

    monkeypatch.setattr(checkpoints.model_files, "save", killed_while_writing_the_third)
    with pytest.raises(RuntimeError, match="killed"):
        network().fit(X, Y, epochs=3, checkpoint=path, **options())
    assert path.read_bytes() == seen[1] and prev.read_bytes() == seen[1] != seen[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.ckpt", "run.ckpt.prev"]


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
    import os, sys, time
    import numpy as np
    import backprop as bp
    X, Y = bp.datasets.two_moons(n_samples=4000, noise=0.2, seed=1)[:2]
    net = bp.Network([2, 64, 64, 2], hidden="relu", output="softmax", loss="cross_entropy",
                     seed=3)
    def report(net, epoch, logs):
        print("EPOCH", epoch, flush=True)
        while epoch == 1 and not os.path.exists(sys.argv[3] + ".go"):  # the test read it
            time.sleep(0.01)
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
        go = f"{result}.go"
        if wait_for is None:
            open(go, "w").close()
        process = subprocess.Popen(
            [sys.executable, str(script), str(checkpoint), "5", str(result)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            preexec_fn=interruptible,
        )
        if wait_for is not None:
            for line in process.stdout:
                if line.strip() == wait_for:
                    open(go, "w").close()
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


# -- damaged and crafted checkpoints -----------------------------------------------------------


def craft(path, change):
    """Rewrite a checkpoint through the library's own writer (so its checksums are right),
    after ``change(metadata, tensors)``: valid files holding wrong content."""
    net, meta, tensors = bp.io.load_with_metadata(path)
    change(meta, tensors)
    bp.io.save(net, path, metadata=meta, tensors=tensors)


def set_entry(key, value):
    return lambda meta, tensors: meta.update({key: value})


def drop_entry(key):
    return lambda meta, tensors: meta.pop(key)


def set_history(key, value):
    return lambda meta, tensors: meta["history"].update({key: value})


def set_tensor(name, value):
    return lambda meta, tensors: tensors.update({name: value})


CRAFTED = [
    pytest.param(drop_entry("history"), "history", id="history-removed"),
    pytest.param(set_history("records", {}), "no loss record", id="history-empty"),
    pytest.param(
        lambda meta, tensors: meta["history"]["records"]["loss"].pop(),
        "'loss' must be a list of 3 numbers",
        id="history-short",
    ),
    pytest.param(set_history("best_epoch", 7), "best_epoch 7 is after epoch 2", id="best-epoch"),
    pytest.param(set_entry("rng", 5), "rng is not a state of the random generator", id="rng-5"),
    pytest.param(
        lambda meta, tensors: meta["rng"].update(bit_generator="MT19937"),
        "rng is not a state",
        id="rng-other-generator",
    ),
    pytest.param(
        lambda meta, tensors: meta["rng"]["state"].update(state=-1),
        "rng is not a state",
        id="rng-negative",
    ),
    pytest.param(set_entry("split_rng", "x"), "split_rng is not a state", id="split-rng"),
    pytest.param(
        set_entry("optimizer_fields", ["step", "m", "v", "w"]),
        r"fields \['step', 'm', 'v', 'w'\]; AdamState has \['step', 'm', 'v'\]",
        id="unknown-optimizer-field",
    ),
    pytest.param(
        set_entry("optimizer_scalars", {"step": -1.5}), "'step' must be a finite integer", id="step"
    ),
    pytest.param(
        set_entry("optimizer_scalars", {"step": 3, "m": 0}), "'m' must be a tensor", id="m-scalar"
    ),
    pytest.param(set_entry("epoch", 10**6), "'loss' must be a list of 1000001", id="epoch-10**6"),
    pytest.param(set_entry("epoch", -1), "epoch must be an integer >= 0", id="epoch-negative"),
    pytest.param(set_entry("epoch", "2"), "epoch must be an integer", id="epoch-string"),
    pytest.param(set_entry("stopped", "no"), "stopped must be true or false", id="stopped"),
    pytest.param(drop_entry("early_stopping"), "early_stopping", id="no-early-stopping"),
    pytest.param(
        set_entry("schedule", {"scale": "half"}), "schedule's state does not fit", id="schedule"
    ),
    pytest.param(set_entry("setup", []), "setup is not an object", id="setup-list"),
    pytest.param(
        set_tensor("optimizer.m", np.zeros(5, np.float32)),
        r"'optimizer.m' has shape \(5,\)",
        id="m-shape",
    ),
    pytest.param(
        set_tensor("optimizer.v", np.full(42, np.nan, np.float32)),
        "'optimizer.v' holds non-finite values",
        id="v-nan",
    ),
    pytest.param(
        lambda meta, tensors: tensors.pop("optimizer.v"), "'optimizer.v' is missing", id="v-gone"
    ),
    pytest.param(
        set_tensor("optimizer.u", np.zeros(42, np.float32)),
        "unexpected tensor 'optimizer.u'",
        id="unknown-tensor",
    ),
]


def three_epochs(tmp_path):
    """A run of 3 of 6 epochs: run.ckpt after epoch 2, run.ckpt.prev after epoch 1."""
    path = tmp_path / "run.ckpt"
    network().fit(X, Y, epochs=3, checkpoint=path, **options())
    return path


@pytest.mark.parametrize("change, message", CRAFTED)
def test_a_crafted_checkpoint_falls_back_to_the_previous_one(tmp_path, change, message):
    path = three_epochs(tmp_path)
    craft(path, change)
    with pytest.raises(ValueError, match=message):  # the latest alone is refused, saying why
        bp.training.checkpoint.read(path.rename(tmp_path / "alone.ckpt"), *run_parts())
    (tmp_path / "alone.ckpt").rename(path)
    resumed = network()
    resumed.fit(X, Y, epochs=6, checkpoint=path, resume=True, **options())
    assert np.array_equal(resumed.params, uninterrupted()[0].params)


def run_parts():
    net = network()
    return net, bp.Adam(0.01), bp.schedules.ReduceOnPlateau(patience=1, factor=0.5)


@pytest.mark.parametrize("change, message", CRAFTED)
def test_when_every_checkpoint_is_crafted_nothing_is_touched(tmp_path, change, message):
    path = three_epochs(tmp_path)
    craft(path, change)
    Path(str(path) + ".prev").unlink()
    net = network()
    settings = options()
    before = net.params.copy(), net.rng.bit_generator.state, settings["schedule"].state()
    with pytest.raises(ValueError, match=rf"cannot resume from '.*run\.ckpt'.*{message}"):
        net.fit(X, Y, epochs=6, checkpoint=path, resume=True, **settings)
    assert np.array_equal(net.params, before[0]) and net.rng.bit_generator.state == before[1]
    assert settings["schedule"].state() == before[2]


def test_a_bit_flip_in_a_checkpoints_tensors_falls_back_to_the_previous_one(tmp_path):
    """Without checksums this flip resumed silently into a different run."""
    path = three_epochs(tmp_path)
    blob = bytearray(path.read_bytes())
    data_start = 8 + int.from_bytes(blob[:8], "little")
    blob[data_start + 3] ^= 0x04  # a mantissa bit of the first float of the first tensor
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="run.ckpt.*SHA-256"):
        bp.io.load_with_metadata(path)
    resumed = network()
    resumed.fit(X, Y, epochs=6, checkpoint=path, resume=True, **options())
    assert np.array_equal(resumed.params, uninterrupted()[0].params)


def test_a_directory_at_the_checkpoint_path(tmp_path):
    path = three_epochs(tmp_path)
    path.unlink()
    path.mkdir()
    (path / "keep.txt").write_text("mine")
    saved = bp.training.checkpoint.read(path)  # a reader falls back to the previous file
    assert saved.path == str(path) + ".prev"
    Path(saved.path).unlink()
    with pytest.raises(ValueError, match=r"cannot read '.*run\.ckpt'"):
        bp.training.checkpoint.read(path)
    for resume in (False, True):  # fit refuses before training: it could not save there
        net = network()
        before = net.params.copy(), net.rng.bit_generator.state
        with pytest.raises(ValueError, match=r"checkpoint '.*run\.ckpt' is a directory"):
            net.fit(X, Y, epochs=2, checkpoint=path, resume=resume, **options())
        assert np.array_equal(net.params, before[0]) and net.rng.bit_generator.state == before[1]
    assert (path / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.ckpt"]
