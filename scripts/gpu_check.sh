#!/usr/bin/env bash
# One prepared end-to-end check of evalkit's CUDA path (README, "Inference"):
# installs onnxruntime-gpu, then runs benches/gpu_check.py (the provider,
# the scores of a float32 and a float16 model against Python onnxruntime-gpu
# and against the CPU, and rows/s at three batch sizes).
#
#   scripts/gpu_check.sh [--device cuda:0] [--wheels DIR] [gpu_check.py options]
#
# - onnxruntime-gpu goes into .venv-gpu from PyPI, or from the wheels in DIR
#   (`--wheels DIR`, no network: onnxruntime-gpu, numpy, pyarrow and their
#   needs, for this machine's Python and CUDA); with ONNXRUNTIME_GPU=spec to
#   pin it (default: onnxruntime-gpu, the newest).
# - evalkit: $EVALKIT_BIN, else a release build here (`cargo build --release`).
# - `--device cpu` runs the same checks on the CPU provider with the plain
#   onnxruntime wheel (how the script itself is tested without a GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
device=cuda:0
wheels=
rest=()
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device=$2; shift 2 ;;
    --wheels) wheels=$2; shift 2 ;;
    *) rest+=("$1"); shift ;;
  esac
done
venv=${GPU_VENV:-.venv-gpu}
package=${ONNXRUNTIME_GPU:-onnxruntime-gpu}
[ "$device" = cpu ] && package=${ONNXRUNTIME:-onnxruntime}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if [ -n "$wheels" ]; then
  "$venv/bin/pip" install -q --no-index --find-links "$wheels" "$package" numpy pyarrow
else
  "$venv/bin/pip" install -q --no-cache-dir "$package" numpy pyarrow
fi
if [ -z "${EVALKIT_BIN:-}" ]; then
  cargo build --release --bin evalkit
  EVALKIT_BIN=${CARGO_TARGET_DIR:-target}/release/evalkit
fi
export EVALKIT_BIN
exec "$venv/bin/python" benches/gpu_check.py --device "$device" ${rest[@]+"${rest[@]}"}
