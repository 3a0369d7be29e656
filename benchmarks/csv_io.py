"""Time and peak memory of ``backprop train`` and ``predict`` on a large generated CSV.

    PYTHONPATH=src python benchmarks/csv_io.py                   # 1.2 M rows x 20 features
    PYTHONPATH=src python benchmarks/csv_io.py --rows 100000     # a quick look
    PYTHONPATH=src python benchmarks/csv_io.py --src /other/src  # another checkout's code
    PYTHONPATH=src python benchmarks/csv_io.py --no-pyarrow      # the numpy fallback reader

Each command runs in a fresh process under a small wrapper that reports its wall time and its
peak resident memory (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``). The environment
drops ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` (OpenBLAS picks its own kernel).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WRAPPER = (
    "import resource, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
    "seconds = time.perf_counter() - start\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(f'{code} {seconds:.2f} {peak}')\n"
)
NO_PYARROW = "raise ImportError('pyarrow hidden by benchmarks/csv_io.py --no-pyarrow')\n"


def write_data(path: Path, rows: int, features: int, seed: int = 0) -> None:
    """Gaussian features (6 decimals) and a 3-class label from a fixed linear rule."""
    rng = np.random.default_rng(seed)
    teacher = rng.normal(size=(features, 3))
    header = ",".join([*(f"x{j}" for j in range(features)), "label"])
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(header + "\n")
        for start in range(0, rows, 100_000):
            X = rng.normal(size=(min(100_000, rows - start), features))
            labels = (X @ teacher).argmax(axis=1)
            table = np.column_stack([X, labels]).astype(object)
            fmt = ",".join(["%.6f"] * features + ["%d"])
            np.savetxt(handle, table, fmt=fmt)


def measure(command: list[str], env: dict) -> tuple[float, float]:
    """(seconds, peak MiB) of one command in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-c", WRAPPER, *command], env=env, capture_output=True, text=True
    )
    code, seconds, peak_kib = result.stdout.split()
    if code != "0":
        raise SystemExit(f"failed ({code}): {' '.join(command)}\n{result.stderr}")
    return float(seconds), int(peak_kib) / 1024


def environment(src: Path, hide_pyarrow: Path | None) -> dict:
    dropped = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    paths = [str(hide_pyarrow)] if hide_pyarrow else []
    env["PYTHONPATH"] = os.pathsep.join([*paths, str(src)])
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_200_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the code to measure")
    parser.add_argument("--no-pyarrow", action="store_true", help="hide pyarrow")
    parser.add_argument("--keep", type=Path, default=None, help="folder for the data (kept)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        data = folder / f"data_{args.rows}x{args.features}.csv"
        if not data.exists():
            write_data(data, args.rows, args.features)
        hide = None
        if args.no_pyarrow:
            hide = Path(tmp) / "hide"
            (hide / "pyarrow").mkdir(parents=True)
            (hide / "pyarrow" / "__init__.py").write_text(NO_PYARROW)
        env = environment(args.src.resolve(), hide)
        size = data.stat().st_size / 2**20
        model, out = Path(tmp) / "model.st", Path(tmp) / "pred.csv"
        cli = [sys.executable, "-m", "backprop"]
        runs = {
            "train": [*cli, "train", str(data), "--target", "label", "--out", str(model),
                      "--epochs", str(args.epochs), "--quiet"],
            "predict": [*cli, "predict", str(model), str(data), "--out", str(out)],
        }  # fmt: skip
        print(f"{args.rows} rows x {args.features} features, {size:.0f} MiB; code: {args.src}")
        print("| command | seconds | peak MiB | peak / file size |")
        print("|---|---|---|---|")
        for name, command in runs.items():
            seconds, peak = measure(command, env)
            print(f"| {name} | {seconds:.1f} | {peak:.0f} | {peak / size:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
