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
cmake -S vendor/llama.cpp -B build/llama-tools -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
  -DLLAMA_OPENSSL=OFF "${launcher[@]}" ${EXTRA_CMAKE_ARGS:-}
cmake --build build/llama-tools --target llama-bench llama-batched-bench llama-server
ls build/llama-tools/bin/
