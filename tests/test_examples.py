"""The example scripts run, print what they promise and draw their pictures where told."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PICTURES = {
    "mazur_worked_example.py": {"mazur_network.png"},
    "xor_story.py": {"xor_perceptron.png", "xor_two_layers.png", "xor_history.png"},
    "vanishing_gradients.py": {
        "vanishing_gradients.png",
        "vanishing_sigmoid_training.png",
        "vanishing_relu_training.png",
    },
}


def run_example(name, *arguments, cwd=None):
    source = str(ROOT / "src")  # absolute, so that a script run elsewhere imports this checkout
    path = os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": path, "MPLBACKEND": "Agg"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_mazur_example(tmp_path):
    out = run_example("mazur_worked_example.py", tmp_path)
    assert "0.75136507" in out and "0.35891648" in out


def test_xor_story(tmp_path):
    out = run_example("xor_story.py", tmp_path)
    assert "perceptron on XOR: converged=False" in out
    assert "two-layer network on XOR: [0, 1, 1, 0]" in out


def test_vanishing_gradients_example(tmp_path):
    out = run_example("vanishing_gradients.py", tmp_path)
    assert "gradients vanish" in out and "no problem found" in out


@pytest.mark.parametrize("name", sorted(PICTURES))
def test_examples_draw_their_pictures_into_the_folder_given(name, tmp_path):
    pytest.importorskip("matplotlib")
    run_example(name, tmp_path)
    assert {path.name for path in tmp_path.glob("*.png")} == PICTURES[name]


def test_examples_leave_the_committed_pictures_alone(tmp_path):
    pytest.importorskip("matplotlib")
    committed = {
        path: (path.stat().st_mtime_ns, path.read_bytes())
        for path in (ROOT / "docs" / "images").glob("*.png")
    }
    run_example("mazur_worked_example.py", cwd=tmp_path)
    assert {path.name for path in (tmp_path / "backprop_examples").glob("*.png")} == {
        "mazur_network.png"
    }
    assert {path: (path.stat().st_mtime_ns, path.read_bytes()) for path in committed} == committed
