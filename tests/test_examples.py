"""The example scripts run and print what they promise."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_example(name, tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
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


@pytest.mark.parametrize("name", ["mazur_worked_example.py", "xor_story.py"])
def test_examples_draw_their_pictures(name, tmp_path):
    pytest.importorskip("matplotlib")
    run_example(name, tmp_path)
    assert list(tmp_path.glob("*.png"))
