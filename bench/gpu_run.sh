#!/usr/bin/env bash
# One prepared run for a lent GPU machine (see BENCHMARKS.md, "GPU"): CUDA/AMP checks and
# throughput, then ULMFiT at a larger recipe and the Transformer translation run on the GPU.
# Corpora come from a pre-filled TEXTKIT_HOME (the machine has no network). Models stay in
# $WORK; the few result files are copied flat into $OUT (the device returns at most 8 files).
#   OUT=/tmp/gpu TEXTKIT_HOME=.gpu-home bash bench/gpu_run.sh        (QUICK=1: a CPU dry run)
# STAGES picks a subset ("check ulmfit translation" by default); pure-Python packages the
# machine lacks (pysword, to read the Bibles) can travel in .whl/site.
set -u
STAGES=${STAGES:-check ulmfit translation}
OUT=${OUT:-bench/results/gpu}
WORK=${WORK:-/tmp/textkit-gpu-work}
mkdir -p "$OUT" "$WORK"
export PYTHONPATH=$PWD:$PWD/.whl/site${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
TEXTKIT=("$PY" -c 'import sys; from textkit.cli import main; sys.exit(main(sys.argv[1:]))')
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null > "$OUT/gpu.txt"
if [ "${QUICK:-0}" = 1 ]; then
  CHECK=(--skip-tests --steps 2); ULMFIT=(--quick); TRANSLATION=(--quick); LIMITS=(300 300 300)
else
  CHECK=(--steps 30); ULMFIT=(--device cuda --settings bench/ulmfit_gpu_settings.json)
  TRANSLATION=(--size base --minutes "${TRANSLATION_MINUTES:-1.5}" --clock wall --device cuda); LIMITS=(150 "${ULMFIT_LIMIT:-240}" "${TRANSLATION_LIMIT:-130}")
fi
if [[ " $STAGES " == *" check "* ]]; then
  timeout "${LIMITS[0]}" "$PY" bench/gpu_check.py "${CHECK[@]}" > "$OUT/gpu_check.log" 2>&1
  echo "gpu_check exit $?"; tail -25 "$OUT/gpu_check.log"
fi
if [[ " $STAGES " == *" gputests "* ]]; then  # only the gpu-marked tests
  timeout 60 "$PY" -m pytest -q -m gpu tests/train tests/nn tests/transfer -p no:cacheprovider > "$OUT/gpu_tests.log" 2>&1
  echo "gpu tests exit $?"; tail -5 "$OUT/gpu_tests.log"
fi
if [[ " $STAGES " == *" ulmfit "* ]]; then
  timeout "${LIMITS[1]}" "${TEXTKIT[@]}" reproduce ulmfit --out "$WORK/ulmfit" "${ULMFIT[@]}" > "$OUT/ulmfit.log" 2>&1
  echo "ulmfit exit $?"; tail -20 "$OUT/ulmfit.log"
  cp "$WORK/ulmfit/results.json" "$OUT/ulmfit_results.json" 2>/dev/null
fi
if [[ " $STAGES " == *" translation "* ]]; then
  timeout "${LIMITS[2]}" "${TEXTKIT[@]}" reproduce translation --models transformer --out "$WORK/translation" "${TRANSLATION[@]}" > "$OUT/translation.log" 2>&1
  echo "translation exit $?"; tail -8 "$OUT/translation.log"
  cp "$WORK/translation/results.json" "$OUT/translation_results.json" 2>/dev/null
fi
ls -la "$OUT"
