#!/usr/bin/env bash
# On a machine with a CUDA GPU: the GPU tests, then the GPU benchmark (benchmarks/gpu.py).
# Results go to $OUT when it is set, else to ./gpu-results: environment.txt, tests.txt,
# benchmark.txt, gpu.json and gpu.md. Exits with the tests' status (the benchmark runs anyway).
#
#   bash benchmarks/gpu_check.sh            # at most 8.5 minutes; about 6-7 expected
#   bash benchmarks/gpu_check.sh --quick    # the benchmark on five configurations only
set -u
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-results}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE  # benchmark commands only (see BENCHMARKS.md)
PYTHON="${PYTHON:-python3}"

{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1
  "$PYTHON" - <<'PY'
import importlib, platform
print("python", platform.python_version())
for name in ("numpy", "cupy", "torch", "jax", "safetensors", "sklearn", "pytest"):
    try:
        print(name, importlib.import_module(name).__version__)
    except Exception as error:
        print(name, "missing:", type(error).__name__, error)
import backprop as bp
try:
    print("backprop", bp.__version__, "on", bp.Network([1, 1], device="cuda").device)
except bp.DeviceUnavailable as error:
    print("backprop", bp.__version__, "has no GPU here:", error)
PY
} 2>&1 | tee "$OUT/environment.txt"

# in 8 processes where pytest-xdist is installed: compiling each kernel the first time (NVRTC,
# on the CPU) is much of the tests' time on a fresh machine
parallel=()
if "$PYTHON" -c "import xdist" 2>/dev/null; then
  parallel=(-n 8)
fi
timeout 200 "$PYTHON" -m pytest tests/gpu -q -p no:cacheprovider -rs ${parallel[@]+"${parallel[@]}"} 2>&1 |
  tee "$OUT/tests.txt"
tests=${PIPESTATUS[0]}

configs=()
if [ "${1:-}" = "--quick" ]; then
  configs=(--configs mnist-128,tabular-4096,wide-4096,wide-4096-tf32,wide-4096-bf16)
fi
timeout 300 "$PYTHON" benchmarks/gpu.py --out "$OUT" --deadline 250 --budget 2 ${configs[@]+"${configs[@]}"} 2>&1 | tee "$OUT/benchmark.txt"
echo "tests exit status: $tests; benchmark exit status: ${PIPESTATUS[0]}" | tee -a "$OUT/tests.txt"
exit "$tests"
