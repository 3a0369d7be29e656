"""The command line, run as a user runs it."""

import subprocess
import sys

import pytest


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "backprop", *args], capture_output=True, text=True, timeout=120
    )


def test_demo_xor_learns_the_truth_table():
    result = run("demo")
    assert result.returncode == 0, result.stderr
    assert "XOR" in result.stdout and "correct: 4 of 4" in result.stdout
    rows = [line.split() for line in result.stdout.splitlines() if line.strip()[:1] in "01"]
    outputs = {(r[0], r[1]): float(r[3]) for r in rows if len(r) == 4}
    assert outputs[("0", "0")] < 0.1 and outputs[("1", "1")] < 0.1
    assert outputs[("0", "1")] > 0.9 and outputs[("1", "0")] > 0.9


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
