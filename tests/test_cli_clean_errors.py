"""Clean errors everywhere in the command line: exit status 2, one line naming the option or the
file, no traceback, nothing left behind."""

import os
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from test_cli_csv import run, write_csv
from test_cli_files import refused, snapshot

from backprop.cli import main, memory
from backprop.io import atomic_write

pytest.importorskip("safetensors")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MAZUR = [str(EXAMPLES / "mazur.json"), "--input", "0.05,0.10", "--target", "0.01,0.99"]


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(0)
    rows = [
        [f"{a:.4f}", f"{b:.4f}", "yes" if a * b > 0 else "no"] for a, b in rng.normal(size=(80, 2))
    ]
    return write_csv(tmp_path / "data.csv", ["a", "b", "label"], rows)


# -- memory --------------------------------------------------------------------------------------


def test_a_network_too_big_for_memory_is_refused_before_it_is_built(data):
    started = time.monotonic()
    result = run(
        "train",
        data,
        "--target",
        "label",
        "--out",
        data.parent / "m.st",
        "--hidden",
        "200000,200000",
    )
    line = refused(
        result, "--hidden 200000,200000", "40,001,200,002 parameters", "GiB", "available"
    )
    assert time.monotonic() - started < 60 and "MemoryError" not in line
    assert sorted(p.name for p in data.parent.iterdir()) == ["data.csv"]


@pytest.mark.parametrize(
    "optimizer, checkpoint, folds",
    [
        ("adam", False, 0),
        ("adam", True, 0),
        ("sgd", False, 0),
        ("adam", False, 5),
        ("sgd", False, 5),
    ],
)
def test_the_memory_estimate_covers_the_measured_peak(
    data, monkeypatch, optimizer, checkpoint, folds
):
    """The estimate lies above what tracemalloc sees train allocate, and not far above, for one
    network (--folds 0, 8 of 80 rows held out) and for a cross-validated ensemble of 5."""
    monkeypatch.setenv("BACKPROP_NUMBA", "0")  # numba's compiler has its own, fixed, overhead
    out = data.parent / "m.st"
    args = ["train", str(data), "--target", "label", "--out", str(out), "--hidden", "600,600"]
    args += ["--epochs", "2", "--quiet", "--optimizer", optimizer, "--folds", str(folds)]
    args += ["--checkpoint", str(data.parent / "ck")] if checkpoint else []
    main(args)  # a first run imports and warms up what a run needs once
    tracemalloc.start()
    try:
        assert main(args) == 0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    rows = (80, 0) if folds else (72, 8)
    estimate = memory.training_bytes(
        [2, 600, 600, 2], 32, *rows, optimizer, checkpoint, networks=max(folds, 1)
    )
    assert peak < estimate < 1.6 * peak, (peak, estimate)


def test_the_memory_check_compares_with_what_is_available(data, monkeypatch, capsys):
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**20)
    out = data.parent / "m.st"
    assert (
        main(["train", str(data), "--target", "label", "--out", str(out), "--hidden", "2000"]) == 2
    )
    err = capsys.readouterr().err
    assert "--hidden 2000: a 2-2000-2 network" in err and "1.0 MiB is available" in err
    assert (
        main(
            [
                "train",
                str(data),
                "--target",
                "label",
                "--out",
                str(out),
                "--hidden",
                "20",
                "--epochs",
                "1",
                "--quiet",
            ]
        )
        == 0
    )


# -- explain -------------------------------------------------------------------------------------


def test_a_deeply_nested_network_file(tmp_path):
    for name, text in {
        "deep.json": "[" * 100_000 + "]" * 100_000,
        "deeper.json": '{"layers": ' + "[" * 5000 + "]" * 5000 + "}",
    }.items():
        (tmp_path / name).write_text(text)
        result = run("explain", tmp_path / name, "--input", "1", "--target", "1")
        refused(result, name, "nested too deeply")


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--precision", "-3"], "--precision must be >= 1"),
        (["--precision", "0"], "--precision must be >= 1"),
        (["--steps", "-1", "--lr", "0.5"], "--steps must be >= 0"),
        (["--lr", "inf"], "--lr must be a finite number > 0"),
        (["--lr", "nan"], "--lr must be a finite number > 0"),
    ],
)
def test_explain_refuses_bad_numbers(extra, expected):
    refused(run("explain", *MAZUR, *extra), expected)


# -- inputs that are not regular files -----------------------------------------------------------


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    "command",
    [
        ["info", "{fifo}"],
        ["evaluate", "{fifo}", "{data}"],
        ["predict", "{fifo}", "{data}", "--out", "{out}"],
        ["predict", "{model}", "{fifo}", "--out", "{out}"],
        ["evaluate", "{model}", "{fifo}"],
        ["train", "{fifo}", "--target", "label", "--out", "{out}"],
        ["explain", "{fifo}", "--input", "1", "--target", "1"],
    ],
)
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path, data, fifo, command):
    model = tmp_path / "model.st"
    assert (
        run(
            "train", data, "--target", "label", "--out", model, "--epochs", "1", "--quiet"
        ).returncode
        == 0
    )
    names = {"fifo": fifo, "data": data, "model": model, "out": tmp_path / "out.csv"}
    before = snapshot(tmp_path)
    started = time.monotonic()
    result = run(*(part.format(**names) for part in command))
    refused(result, str(fifo), "is a FIFO (named pipe)")
    assert time.monotonic() - started < 60
    assert snapshot(tmp_path) == before


def test_a_device_is_not_a_model_file():
    refused(run("info", "/dev/null"), "/dev/null: is a character device, not a model file")


# -- resuming ------------------------------------------------------------------------------------


def test_resume_with_another_seed_is_refused(data):
    folder = data.parent
    common = ["train", data, "--target", "label", "--quiet", "--checkpoint", folder / "ck"]
    assert run(*common, "--epochs", "2", "--seed", "1", "--out", folder / "a.st").returncode == 0
    before = snapshot(folder)
    result = run(*common, "--epochs", "4", "--seed", "2", "--resume", "--out", folder / "b.st")
    refused(result, "--resume", "ck", "another --seed than 2", "validation split")
    assert snapshot(folder) == before
    again = run(*common, "--epochs", "4", "--seed", "1", "--resume", "--out", folder / "b.st")
    assert again.returncode == 0, again.stderr


# -- Ctrl-C --------------------------------------------------------------------------------------


def _interrupt_at_once(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize("earlier, resume", [(False, False), (True, False), (True, True)])
def test_ctrl_c_names_a_checkpoint_only_when_it_holds_this_run(
    data, monkeypatch, capsys, earlier, resume
):
    folder = data.parent
    args = ["train", str(data), "--target", "label", "--quiet", "--out", str(folder / "m.st")]
    args += ["--checkpoint", str(folder / "ck"), "--epochs", "2"]
    if earlier:
        assert main(args) == 0
    monkeypatch.setattr("backprop.training.recipes.fit", _interrupt_at_once)
    capsys.readouterr()
    assert main(args + ["--resume"] * resume) == 130
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    kept = f"the last finished epoch is in {folder / 'ck'}, continue with --resume"
    if not resume:
        kept = "before the first epoch finished; no checkpoint was written"
    assert err == f"backprop: interrupted; {kept}"
    assert not (folder / "ck.lock").exists()


# -- temporary files left by a killed writer -----------------------------------------------------


def _aged(path, seconds=3600):
    path.write_bytes(b"half a file")
    old = time.time() - seconds
    os.utime(path, (old, old))
    return path


def test_stale_temporary_files_of_the_same_target_are_removed(tmp_path):
    target = tmp_path / "model.st"
    stale = [
        _aged(tmp_path / ".model.st.abcd1234.tmp"),
        _aged(tmp_path / ".model.st.zz_9zz_9.tmp"),
        _aged(tmp_path / "..model.st.abcd1234.tmp.efgh5678.tmp"),  # a temporary file's own
    ]
    kept = [
        _aged(tmp_path / ".model.st.abcd1234.tmp.bak"),  # not our pattern
        _aged(tmp_path / ".model.st.abc.tmp"),
        _aged(tmp_path / ".other.st.abcd1234.tmp"),  # another target's
        _aged(tmp_path / "model.st.abcd1234.tmp"),  # not hidden
        _aged(tmp_path / ".model.st.ABCD1234.tmp"),  # not tempfile's alphabet
        _aged(tmp_path / "..model.st.abcd1234.tmp"),
        _aged(tmp_path / ".model.st.abcd1234.tmp.efgh5678.tmp"),
        tmp_path / ".model.st.fresh123.tmp",  # a live writer's: young
    ]
    kept[-1].write_bytes(b"being written")
    (tmp_path / ".model.st.dir12345.tmp").mkdir()  # not a file
    os.symlink(kept[0], tmp_path / ".model.st.link1234.tmp")  # not a regular file
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in kept)
    assert (tmp_path / ".model.st.dir12345.tmp").is_dir()
    assert (tmp_path / ".model.st.link1234.tmp").is_symlink()


def test_train_removes_what_a_killed_run_left(data):
    folder = data.parent
    left = [
        _aged(folder / ".m.st.k1ll3d00.tmp"),
        _aged(folder / "..m.st.k1ll3d00.tmp.k1ll3d01.tmp"),  # killed while saving for the check
        _aged(folder / ".ck.k1ll3d00.tmp"),
    ]
    result = run(
        "train",
        data,
        "--target",
        "label",
        "--quiet",
        "--epochs",
        "2",
        "--out",
        folder / "m.st",
        "--checkpoint",
        folder / "ck",
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["ck", "ck.prev", "data.csv", "m.st"]
    assert not any(path.exists() for path in left)
