"""``tests/gpu`` run over the numpy stand-in for CuPy, in a process of its own.

Without a GPU those tests are skipped, so nothing else would notice when a change to the GPU
code leaves them calling what is no longer there. Over the stand-in they run their own code,
fixtures and comparisons; what they check of CUDA itself (compiled kernels, cuRAND, real
cuBLAS and graphs, speed) only a GPU shows.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent


def run_over_the_stand_in(*arguments: str, timeout: int):
    """``python arguments`` with the tests' folder on the path, for ``stand_in_cupy``."""
    path = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, *arguments], env={**os.environ, "PYTHONPATH": path},
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def test_the_gpu_tests_pass_over_the_stand_in():
    pytest = ["-m", "pytest", "-p", "stand_in_cupy", "-p", "no:cacheprovider", "-rfEs"]
    result = run_over_the_stand_in(*pytest, str(TESTS / "gpu"), timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    summary = re.search(r"^\d+ passed.*$", result.stdout, re.MULTILINE)
    assert summary and "skipped" not in summary.group(), result.stdout[-2000:]


def test_the_gpu_benchmark_runs_over_the_stand_in(tmp_path):
    """``benchmarks/gpu.py``'s backprop columns, table and files, on two small configurations
    (PyTorch and JAX are not run here: without a GPU they say they were skipped or failed)."""
    argv = ["gpu.py", "--configs", "mnist-128,tabular-256", "--batches", "4", "--repeats", "2",
            "--budget", "0", "--frameworks",
            "backprop,backprop-eager,backprop-unfused",
            "--out", str(tmp_path)]  # fmt: skip
    script = TESTS.parent / "benchmarks" / "gpu.py"
    code = (
        f"import runpy, sys, stand_in_cupy; sys.argv = {argv!r}; "
        f"runpy.run_path({str(script)!r}, run_name='__main__')"
    )
    result = run_over_the_stand_in("-c", code, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    results = json.loads((tmp_path / "gpu.json").read_text())
    for name in ("mnist-128", "tabular-256"):
        entry = results["configs"][name]
        assert entry["gemm_bound"] > 0
        for framework in ("backprop", "backprop-eager", "backprop-unfused"):
            got = entry["frameworks"][framework]
            assert got["epochs"] == 2 and got["samples_per_s"] > 0 and "warnings" not in got
        for framework in ("backprop", "backprop-unfused"):  # the graph's, replayed
            assert entry["frameworks"][framework]["replay_seconds"] > 0
        assert "replay_seconds" not in entry["frameworks"]["backprop-eager"]
    table = (tmp_path / "gpu.md").read_text()
    assert re.search(r"^\| mnist-128 \| 128 \| [\d,]+ \| [\d,]+ \|", table, re.MULTILINE), table
    assert re.search(r"^\| tabular-256 \| 256 \| [\d,.]+ \| [\d,.]+ \| \d+% \|$", table, re.M), (
        table
    )
