#!/usr/bin/env bash
# Builds llama.cpp's own rpc-server (the ggml-rpc-server target alone: ggml, its CPU and RPC
# backends) from the same llama.cpp source as pyllm, for the RPC tests and for serving a
# model larger than one machine (`pyllm serve --rpc host:port,... -ngl 99`).
#   bash scripts/build_rpc_server.sh [BUILD_DIR]    -> BUILD_DIR/bin/ggml-rpc-server
# BUILD_DIR defaults to build/rpc-server; EXTRA_CMAKE_ARGS="-DGGML_CUDA=ON" gives the worker
# a GPU. The tests call this into a cache directory when the binary is not there yet.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
src="${PYLLM_LLAMA_CPP_DIR:-$repo/vendor/llama.cpp}"
out="${1:-$repo/build/rpc-server}"
if [ ! -f "$src/CMakeLists.txt" ]; then
  python3 "$repo/cmake/fetch_llama_cpp.py" "$src"
fi
if [ -z "${PYLLM_LLAMA_CPP_DIR:-}" ]; then
  python3 "$repo/cmake/patch_llama_cpp.py" "$src"
fi
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
# As pyllm's own native builds (CMakeLists.txt, PYLLM_CPU_AMX): a CPU may report AMX that its
# sandbox does not give the process, and ggml's AMX kernels then die on their first tile load.
cpu_flags=()
if [ "$(uname -m)" = x86_64 ]; then
  cpu_flags=("-DCMAKE_C_FLAGS=-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
             "-DCMAKE_CXX_FLAGS=-mno-amx-tile -mno-amx-int8 -mno-amx-bf16")
fi
generator=()
if command -v ninja >/dev/null; then
  generator=(-G Ninja)
fi
mkdir -p "$out"
cmake -S "$src" -B "$out" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_SHARED_LIBS=OFF -DGGML_RPC=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_OPENSSL=OFF \
  "${launcher[@]}" "${cpu_flags[@]}" ${EXTRA_CMAKE_ARGS:-} >"$out/configure.log" 2>&1 || { cat "$out/configure.log" >&2; exit 1; }
cmake --build "$out" --target ggml-rpc-server -j "${JOBS:-$(nproc)}"
echo "$out/bin/ggml-rpc-server"
