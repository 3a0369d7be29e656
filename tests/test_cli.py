"""The command line, run as a user runs it."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
_WORKDIR = tempfile.TemporaryDirectory(prefix="backprop-cli-")
WORKDIR = _WORKDIR.name  # the demo saves its pictures in the cwd


@pytest.fixture(scope="module", autouse=True)
def _remove_workdir():
    yield
    _WORKDIR.cleanup()


def run(*args):
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run(
        [sys.executable, "-m", "backprop", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=WORKDIR,
        env=env,
    )


def test_demo_xor_learns_the_truth_table():
    result = run("demo")
    assert result.returncode == 0, result.stderr
    assert "XOR" in result.stdout and "correct: 4 of 4" in result.stdout
    rows = [line.split() for line in result.stdout.splitlines() if line.strip()[:1] in "01"]
    outputs = {(r[0], r[1]): float(r[3]) for r in rows if len(r) == 4}
    assert outputs[("0", "0")] < 0.1 and outputs[("1", "1")] < 0.1
    assert outputs[("0", "1")] > 0.9 and outputs[("1", "0")] > 0.9
    if "Pictures:" in result.stdout:  # saved by default when matplotlib is installed
        assert (Path(WORKDIR) / "backprop_demo" / "xor_two_layers.png").exists()


@pytest.mark.parametrize("dataset, expected", [("sin", "sin(x)"), ("moons", "accuracy")])
def test_other_demos(dataset, expected):
    result = run("demo", dataset)
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout


@pytest.mark.parametrize("args", [("demo", "nonsense"), ("frobnicate",), ()])
def test_bad_usage_exits_2_without_traceback(args):
    result = run(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.strip()


def test_version_names_the_optimiser_kernels():
    from backprop import __version__

    result = run("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"backprop {__version__} (numpy ")
    assert "updates: " in result.stdout


def test_version_says_when_the_compiled_kernels_are_turned_off(monkeypatch):
    monkeypatch.setenv("BACKPROP_NUMBA", "0")
    result = run("--version")
    assert result.returncode == 0, result.stderr
    assert "updates: numpy (BACKPROP_NUMBA=0)" in result.stdout


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# explain on Mazur's published network, with his input and target
EXPLAIN_MAZUR = (
    "explain",
    str(EXAMPLES / "mazur.json"),
    *("--input", "0.05,0.10"),
    *("--target", "0.01,0.99"),
)


def test_explain_mazur_prints_the_published_numbers():
    result = run(
        *EXPLAIN_MAZUR,
        "--lr",
        "0.5",
        "--precision",
        "9",
    )
    assert result.returncode == 0, result.stderr
    for number in ("0.75136507", "0.772928465", "0.298371109", "0.35891648", "0.149780716"):
        assert number in result.stdout


def test_explain_steps_tabulates_a_falling_error():
    result = run(
        *EXPLAIN_MAZUR,
        "--lr",
        "0.5",
        "--steps",
        "10",
    )
    assert result.returncode == 0, result.stderr
    rows = result.stdout.split("step")[-1].splitlines()[1:]
    table = [row.split() for row in rows if row.strip()]
    assert [int(step) for step, _ in table] == list(range(11))
    errors = [float(error) for _, error in table]
    assert errors == sorted(errors, reverse=True)


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_every_example_network_explains(example):
    spec = json.loads((EXAMPLES / example).read_text())
    n_in = len(spec["layers"][0]["W"][0])
    n_out = len(spec["layers"][-1]["b"])
    target = ",".join(["1"] + ["0"] * (n_out - 1))
    result = run(
        "explain",
        str(EXAMPLES / example),
        "--input",
        ",".join(["0.5"] * n_in),
        "--target",
        target,
        "--lr",
        "0.1",
        "--format",
        "latex",
    )
    assert result.returncode == 0, result.stderr
    assert r"\begin{align*}" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (("missing.json", "--input", "1", "--target", "1"), "no such file"),
        (("mazur.json", "--input", "0.05", "--target", "0.01,0.99"), "features"),
        (("mazur.json", "--input", "a,b", "--target", "0.01,0.99"), "comma-separated"),
        (("mazur.json", "--input", "1,2", "--target", "1,2", "--steps", "3"), "--steps needs"),
    ],
)
def test_explain_bad_usage_exits_2(args, message, tmp_path):
    args = (
        str(EXAMPLES / args[0]) if args[0] != "missing.json" else str(tmp_path / "x.json"),
        *args[1:],
    )
    result = run("explain", *args)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_explain_rejects_a_malformed_network_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"layers": [{"W": [[1, 2]], "b": [0]}, {"W": [[1, 2, 3]], "b": [0]}]}')
    result = run("explain", str(bad), "--input", "1,2", "--target", "1")
    assert result.returncode == 2 and "layer 2 has 3 inputs" in result.stderr


def test_demo_xor_saves_its_pictures(tmp_path):
    pytest.importorskip("matplotlib")
    result = run("demo", "xor", "--plots", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr
    names = sorted(p.name for p in tmp_path.glob("*.png"))
    assert names == ["xor_history.png", "xor_perceptron.png", "xor_two_layers.png"]


def test_explain_saves_the_network_picture(tmp_path):
    pytest.importorskip("matplotlib")
    picture = tmp_path / "mazur.svg"
    result = run(
        *EXPLAIN_MAZUR,
        "--plot",
        str(picture),
    )
    assert result.returncode == 0, result.stderr
    assert picture.read_text().lstrip().startswith("<?xml")
    bad = run(
        *EXPLAIN_MAZUR,
        "--plot",
        str(tmp_path / "x.gif"),
    )
    assert bad.returncode == 2 and ".png or .svg" in bad.stderr
