"""Running ``python -m backprop`` in a child process, as a user would, for the CLI tests."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

SRC = Path(__file__).resolve().parents[1] / "src"


def environment() -> dict:
    """This environment with the checkout's ``src`` first on the child's import path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    return env


def run(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "backprop", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=180,
        env=environment(),
        cwd=cwd,
    )


def ok(*args) -> str:
    """The command's standard output, once it has exited 0."""
    result = run(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def refused(result: subprocess.CompletedProcess, expected: str) -> None:
    """The command exited 2 with one line naming ``expected``."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("backprop: error:"), result.stderr
    assert expected in lines[0]


def write_blobs(path, n_rows: int, separation: float, seed: int = 0) -> None:
    """A CSV of ``n_rows`` rows: features a-d, normal noise with each of three classes (red,
    green, blue in ``label``) shifted by ``separation`` along its own axis."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n_rows)
    X = rng.normal(size=(n_rows, 4)) + np.eye(3, 4)[y] * separation
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["a", "b", "c", "d", "label"])
        writer.writerows(
            [*map(float, row), ["red", "green", "blue"][k]] for row, k in zip(X, y, strict=True)
        )


def write_curve(path, x, y) -> None:
    """A CSV of columns x and y."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["x", "y"])
        writer.writerows(zip(map(float, x), map(float, y), strict=True))
