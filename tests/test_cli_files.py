"""No user file is ever destroyed: train and predict replace only files of their own kind, never
an input, follow symbolic links, and one checkpoint serves one run at a time."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from test_cli_csv import SRC, run, write_csv

import backprop as bp
from backprop.cli import main
from backprop.io import save

pytest.importorskip("safetensors")

TRAIN = ["--target", "label", "--epochs", "2", "--quiet"]


@pytest.fixture
def folder(tmp_path):
    """A training CSV, a model of ours, a user's CSV and notes, a directory with a file in it."""
    rng = np.random.default_rng(0)
    rows = [
        [f"{a:.4f}", f"{b:.4f}", "yes" if a * b > 0 else "no"] for a, b in rng.normal(size=(60, 2))
    ]
    write_csv(tmp_path / "data.csv", ["a", "b", "label"], rows)
    write_csv(tmp_path / "important.csv", ["name", "amount"], [["rent", "1200"], ["food", "300"]])
    (tmp_path / "notes.txt").write_text("do not lose this\n")
    (tmp_path / "mydir").mkdir()
    (tmp_path / "mydir" / "inside.txt").write_text("mine\n")
    save(bp.Network([2, 3, 2], output="softmax", seed=0), tmp_path / "model.st")
    return tmp_path


def snapshot(root):
    """Every path under ``root`` with its bytes, or its link target, or its kind."""
    state = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            state[path] = ("link", os.readlink(path))
        elif path.is_dir():
            state[path] = "dir"
        elif path.is_file():
            state[path] = path.read_bytes()
        else:  # a FIFO: reading it would wait for a writer
            state[path] = "special"
    return state


def refused_in_process(capsys, argv, *expected):
    """``main(argv)``, in this process: exit status 2 and one line naming what was expected."""
    capsys.readouterr()
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("backprop: error: "), lines
    for text in expected:
        assert text in lines[0], lines[0]


def refused(result, *expected):
    """Exit status 2, one line on stderr naming what was expected, no traceback."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("backprop: error: ") and "Traceback" not in result.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "checkpoint, expected",
    [
        ("important.csv", "is not a backprop checkpoint"),  # a user's CSV
        ("notes", "notes.prev exists and is not a backprop checkpoint"),  # a user's PATH.prev
        ("mydir", "is a directory"),
        ("model.st", "is a model file, not a backprop checkpoint"),
        ("data.csv", "is the training data"),
    ],
)
def test_checkpoint_never_takes_a_file_that_is_not_a_checkpoint(folder, checkpoint, expected):
    (folder / "notes.prev").write_text("my notes, kept as .prev\n")
    before = snapshot(folder)
    result = run(
        "train", "data.csv", *TRAIN, "--out", "new.st", "--checkpoint", checkpoint, cwd=folder
    )
    refused(result, f"--checkpoint {checkpoint}", expected)
    assert snapshot(folder) == before  # nothing renamed, written or removed


def test_checkpoint_in_a_missing_directory_fails_before_training(folder):
    before = snapshot(folder)
    result = run(
        "train", "data.csv", *TRAIN, "--out", "new.st", "--checkpoint", "nodir/ck", cwd=folder
    )
    refused(result, "--checkpoint nodir/ck", "does not exist")
    assert snapshot(folder) == before


@pytest.mark.parametrize("out", ["data.csv", "important.csv", "notes.txt", "mydir", "ck"])
def test_train_out_replaces_only_a_model_of_ours(folder, out):
    ok = run("train", "data.csv", *TRAIN, "--out", "x.st", "--checkpoint", "ck", cwd=folder)
    assert ok.returncode == 0, ok.stderr
    before = snapshot(folder)
    result = run("train", "data.csv", *TRAIN, "--out", out, "--checkpoint", "ck", cwd=folder)
    expected = {
        "data.csv": "is the training data",
        "important.csv": "is not a backprop model file",
        "notes.txt": "is not a backprop model file",
        "mydir": "is a directory",
        "ck": "is the --checkpoint",
    }[out]
    refused(result, f"--out {out}", expected)
    assert snapshot(folder) == before


def test_train_out_refuses_a_checkpoint(folder):
    ok = run("train", "data.csv", *TRAIN, "--out", "x.st", "--checkpoint", "ck", cwd=folder)
    assert ok.returncode == 0, ok.stderr
    before = snapshot(folder)
    refused(run("train", "data.csv", *TRAIN, "--out", "ck", cwd=folder), "is a training checkpoint")
    assert snapshot(folder) == before


def test_train_out_replaces_its_own_model(folder):
    old = (folder / "model.st").read_bytes()
    result = run("train", "data.csv", *TRAIN, "--out", "model.st", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert (folder / "model.st").read_bytes() != old
    assert bp.load(folder / "model.st").n_inputs == 2


def test_inputs_are_recognised_through_links(folder):
    os.symlink(folder / "data.csv", folder / "soft.csv")
    os.link(folder / "data.csv", folder / "hard.csv")
    before = snapshot(folder)
    for out in ("soft.csv", "hard.csv"):
        result = run("train", "data.csv", *TRAIN, "--out", out, cwd=folder)
        refused(result, f"--out {out}", "is the training data data.csv")
        result = run("predict", "model.st", "data.csv", "--out", out, cwd=folder)
        refused(result, f"--out {out}", "is the input data data.csv")
    assert snapshot(folder) == before


def test_an_output_link_is_followed_and_kept(folder):
    (folder / "models").mkdir()
    (folder / "models" / "v1.st").write_bytes((folder / "model.st").read_bytes())
    os.symlink("models/v1.st", folder / "current.st")
    result = run("train", "data.csv", *TRAIN, "--out", "current.st", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert os.readlink(folder / "current.st") == "models/v1.st"  # still the link
    assert (folder / "models" / "v1.st").read_bytes() != (folder / "model.st").read_bytes()
    assert bp.load(folder / "current.st").n_inputs == 2


def test_an_output_link_to_a_user_file_is_refused(folder):
    os.symlink("notes.txt", folder / "link.st")
    before = snapshot(folder)
    result = run("train", "data.csv", *TRAIN, "--out", "link.st", cwd=folder)
    refused(result, "--out link.st", "a link to", "notes.txt", "is not a backprop model file")
    assert snapshot(folder) == before


@pytest.mark.parametrize(
    "out, expected",
    [
        ("data.csv", "is the input data"),
        ("model.st", "is the model file"),
        ("important.csv", "is not a prediction file"),
        ("notes.txt", "is not a prediction file"),
        ("mydir", "is a directory"),
    ],
)
def test_predict_out_refuses_inputs_and_files_not_its_own(folder, out, expected):
    result = run("train", "data.csv", *TRAIN, "--out", "model.st", cwd=folder)
    assert result.returncode == 0, result.stderr
    before = snapshot(folder)
    refused(
        run("predict", "model.st", "data.csv", "--out", out, cwd=folder), f"--out {out}", expected
    )
    assert snapshot(folder) == before


def test_predict_out_replaces_its_own_predictions(folder):
    result = run("train", "data.csv", *TRAIN, "--out", "model.st", cwd=folder)
    assert result.returncode == 0, result.stderr
    for proba in ([], ["--proba"]):
        result = run("predict", "model.st", "data.csv", "--out", "pred.csv", *proba, cwd=folder)
        assert result.returncode == 0, result.stderr
    header = (folder / "pred.csv").read_text().splitlines()[0]
    assert header == "a,b,label,prediction,proba_no,proba_yes"


def _start(folder, *args):
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen(
        [sys.executable, "-m", "backprop", *args],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path, process, seconds=60):
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


@pytest.fixture
def long_run(folder):
    """Data that takes a while per epoch, and the arguments of a long training run on it."""
    rng = np.random.default_rng(1)
    rows = [
        [f"{a:.4f}", f"{b:.4f}", "yes" if a > b else "no"] for a, b in rng.normal(size=(4000, 2))
    ]
    write_csv(folder / "long.csv", ["a", "b", "label"], rows)
    return ["train", "long.csv", *TRAIN[:2], "--epochs", "400", "--batch-size", "4", "--quiet"]


def test_a_second_run_on_the_same_checkpoint_stops_at_once(folder, long_run):
    first = _start(folder, *long_run, "--out", "first.st", "--checkpoint", "ck")
    try:
        _wait_for(folder / "ck", first)  # the first run has finished an epoch
        os.symlink("ck", folder / "alias")
        for checkpoint in ("ck", "alias"):
            started = time.monotonic()
            second = run(*long_run, "--out", "second.st", "--checkpoint", checkpoint, cwd=folder)
            line = refused(second, f"--checkpoint {checkpoint}", "in use by another backprop run")
            assert f"pid {first.pid}" in line and time.monotonic() - started < 60
        assert first.poll() is None  # the first run goes on, undisturbed
        assert not (folder / "second.st").exists()
    finally:
        first.kill()
        first.communicate()
    assert bp.load(folder / "ck").n_inputs == 2  # its checkpoint intact


def test_a_killed_run_does_not_block_the_next(folder, long_run):
    first = _start(folder, *long_run, "--out", "first.st", "--checkpoint", "ck")
    _wait_for(folder / "ck.lock", first)
    first.send_signal(signal.SIGKILL)
    first.communicate()
    assert (folder / "ck.lock").exists()  # left behind, but no longer held
    result = run("train", "data.csv", *TRAIN, "--out", "next.st", "--checkpoint", "ck", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert not (folder / "ck.lock").exists()


def test_a_lock_file_that_is_not_ours_is_left_alone(folder):
    (folder / "ck.lock").write_text("someone's file\n")
    before = snapshot(folder)
    result = run("train", "data.csv", *TRAIN, "--out", "x.st", "--checkpoint", "ck", cwd=folder)
    refused(result, "--checkpoint ck", "is not a backprop lock file")
    assert snapshot(folder) == before
