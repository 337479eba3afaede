#!/usr/bin/env bash
# GPU checks of issue 15, prepared to run in <= 8 minutes on one data-centre GPU:
#   1. the GPU smoke tests (tests/test_platform.py; skipped without a GPU),
#   2. benchmarks/speed.py --gpu-only (seconds per event, clusters/s: FlaxClassifier.logits on
#      the GPU, and per formulation x precision one call from host memory (float32 and uint8
#      ADC) and device-resident),
#   3. benchmarks/train_throughput.py: the ResNet trainer step at full-profile size (2.0 M
#      training clusters resident on the GPU), one epoch or 60 s per batch size.
# Results go to ${OUT:-benchmarks/results}/speed_gpu.{json,md}, train_gpu.json, gpu_check.log.
#
# Usage (repository root; python3 with a CUDA jax, flax, optax, numpy, h5py, pyarrow,
# scikit-learn, onnxruntime):
#   WHEELS=path/to/wheels bash benchmarks/gpu_check.sh
# WHEELS (optional): a folder of wheels for what that python lacks (onnx, typer, tqdm,
# safetensors, plotly, uproot, awkward, xgboost-cpu), installed offline into a scratch dir.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-benchmarks/results}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
DEPS="$(mktemp -d)"
if [ -n "${WHEELS:-}" ]; then
  "$PY" -m pip install -q --no-index --no-deps --find-links "$WHEELS" --target "$DEPS" \
    "$WHEELS"/*.whl || echo "warning: some wheels did not install"
fi
export PYTHONPATH=".:$DEPS${PYTHONPATH:+:$PYTHONPATH}"
LOG="$OUT/gpu_check.log"
{
  date -u
  git rev-parse HEAD 2>/dev/null || true
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || true
  "$PY" -c "import jax; print('jax', jax.__version__, jax.devices())"
} 2>&1 | tee "$LOG"
if ! "$PY" -c "import jax, sys; sys.exit(0 if jax.devices('gpu') else 1)" 2>/dev/null; then
  echo "no GPU visible to JAX: nothing to measure" | tee -a "$LOG"
  exit 1
fi
step() {  # step SECONDS NAME CMD...: run with a time limit, log, keep going on failure
  local limit="$1" name="$2"
  shift 2
  echo "== $name (limit ${limit}s)" | tee -a "$LOG"
  local t0=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee -a "$LOG"
  echo "== $name: exit ${PIPESTATUS[0]} after $((SECONDS - t0)) s" | tee -a "$LOG"
}
if "$PY" -c "import pytest" 2>/dev/null; then
  step 90 "GPU smoke tests" "$PY" -m pytest -q -p no:cacheprovider tests/test_platform.py
fi
step 180 "speed.py --gpu-only" "$PY" benchmarks/speed.py --gpu-only --repeats 5 \
  --out "$OUT" --name speed_gpu
step 180 "ResNet training at full-profile size" "$PY" benchmarks/train_throughput.py \
  --model resnet --batch 256 1024 4096 --budget-s 45 --out "$OUT/train_gpu.json"
echo "done: $OUT/speed_gpu.md $OUT/train_gpu.json $LOG"
