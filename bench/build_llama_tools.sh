#!/usr/bin/env bash
# Builds llama.cpp's own tools (llama-bench, llama-batched-bench, llama-server) from the same
# vendor/llama.cpp source and with the same compiler flags as pyllm's extension, for
# side-by-side benchmarks. Opt-in: not part of the normal install.
#   bash bench/build_llama_tools.sh            -> build/llama-tools/bin/
#   EXTRA_CMAKE_ARGS="-DGGML_CUDA=ON" bash bench/build_llama_tools.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f vendor/llama.cpp/CMakeLists.txt ]; then
  python3 cmake/fetch_llama_cpp.py vendor/llama.cpp
fi
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
# Same rule as CMakeLists.txt: a CPU can report AMX while the sandbox gives no tile state, and
# ggml's AMX kernels then crash; native builds leave them out unless PYLLM_CPU_AMX=1.
# (GCC and Clang let an explicit -mno-* win over -march=native whatever the order.)
cpu_flags=()
if [ "$(uname -m)" = x86_64 ] && [ "${PYLLM_CPU_AMX:-0}" != 1 ]; then
  cpu_flags=("-DCMAKE_C_FLAGS=-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
             "-DCMAKE_CXX_FLAGS=-mno-amx-tile -mno-amx-int8 -mno-amx-bf16")
fi
cmake -S vendor/llama.cpp -B build/llama-tools -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
  -DLLAMA_OPENSSL=OFF "${launcher[@]}" "${cpu_flags[@]}" ${EXTRA_CMAKE_ARGS:-}
cmake --build build/llama-tools --target llama-bench llama-batched-bench llama-server
ls build/llama-tools/bin/
