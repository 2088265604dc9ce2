#!/usr/bin/env bash
# Builds bench/fa_rows.cpp against the llama.cpp libraries of bench/build_llama_tools.sh (run
# that first) and runs it: bash bench/fa_rows.sh MODEL [FLASH_ATTN] [SWA_FULL] [DEPTHS] [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
B=build/llama-tools
V=vendor/llama.cpp
libs=("$B/src/libllama.a" "$B/ggml/src/libggml.a")
[ -f "$B/ggml/src/ggml-rpc/libggml-rpc.a" ] && libs+=("$B/ggml/src/ggml-rpc/libggml-rpc.a")
libs+=("$B/ggml/src/libggml-cpu.a" "$B/ggml/src/libggml-base.a")
c++ -O2 -std=c++17 bench/fa_rows.cpp -o "$B/bin/fa-rows" -I"$V/include" -I"$V/ggml/include" \
  "${libs[@]}" \
  -fopenmp -lpthread -ldl
exec "$B/bin/fa-rows" "$@"
