#!/usr/bin/env bash
# Builds pyllm's CUDA wheel with the CUDA toolkit that PyPI ships (nvidia-cuda-nvcc and
# friends, CUDA 13), never a system toolkit, for the GPU architectures given:
#   bash scripts/build_cuda_wheel.sh 90            # H100/H200 -> dist/pyllm-<v>+cu13-*.whl
#   bash scripts/build_cuda_wheel.sh "86;89;90"    # several generations (longer build)
# Works on a machine without a GPU or driver. The wheel:
#   - links cudart and cuBLAS dynamically, requires nvidia-cuda-runtime and nvidia-cublas, and
#     finds them in site-packages (RUNPATH $ORIGIN/../nvidia/cu13/lib), so a machine with only
#     the NVIDIA driver needs nothing else;
#   - does not link libcuda.so (GGML_CUDA_NO_VMM): it imports on a machine without a driver
#     and says so (`pyllm info --devices`, and -ngl fails loudly) instead of failing to import;
#   - has a portable x86-64-v3 CPU part (AVX2/FMA), since it is built to run elsewhere;
#   - carries the local version +cu13.
# Then it installs the wheel in a fresh venv (no toolkit there) and runs `pyllm info`.
# Environment: PYLLM_CUDA_BUILD (build root, default build/cuda), JOBS (default: nproc),
# SKIP_CHECK=1 to skip the install check.
set -euo pipefail
cd "$(dirname "$0")/.."
archs="${1:?usage: build_cuda_wheel.sh CMAKE_CUDA_ARCHITECTURES (e.g. 90 or \"86;89;90\")}"
root="${PYLLM_CUDA_BUILD:-build/cuda}"
jobs="${JOBS:-$(nproc)}"
cuda_major=13
toolkit_packages=("nvidia-cuda-nvcc==$cuda_major.*" "nvidia-nvvm==$cuda_major.*" "nvidia-cuda-crt==$cuda_major.*"
                  "nvidia-cuda-runtime==$cuda_major.*" "nvidia-cublas==$cuda_major.*" "nvidia-cuda-cccl==$cuda_major.*")

# A system toolkit (/usr/local/cuda, nvcc on PATH) must not be picked up by anything below.
PATH="$(printf '%s' "$PATH" | tr ':' '\n' | grep -v -i cuda | paste -sd: -)"
export PATH
unset CUDA_PATH CUDA_HOME CUDACXX CUDAToolkit_ROOT

venv="$root/toolkit"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q "${toolkit_packages[@]}" scikit-build-core pybind11 ninja wheel
tk="$("$venv/bin/python" -c "import nvidia, os; print(os.path.join(nvidia.__path__[0], 'cu$cuda_major'))")"
for tool in nvcc ptxas fatbinary nvlink cudafe++; do
  [ -x "$tk/bin/$tool" ] || { echo "build_cuda_wheel: $tk/bin/$tool is missing" >&2; exit 1; }
done
[ -x "$tk/nvvm/bin/cicc" ] || { echo "build_cuda_wheel: $tk/nvvm/bin/cicc is missing (nvidia-nvvm)" >&2; exit 1; }
# The PyPI packages ship only versioned sonames; CMake's FindCUDAToolkit looks for the
# unversioned development names (a toolkit's -dev files). This venv is private to the build.
for lib in cudart cublas cublasLt; do
  so="$(cd "$tk/lib" && ls "lib$lib.so.$cuda_major"* | head -n1)"
  ln -sf "$so" "$tk/lib/lib$lib.so"
done
runtime_version="$("$venv/bin/python" -c "import importlib.metadata as m; print('.'.join(m.version('nvidia-cuda-runtime').split('.')[:2]))")"
cublas_version="$("$venv/bin/python" -c "import importlib.metadata as m; print('.'.join(m.version('nvidia-cublas').split('.')[:2]))")"
echo "build_cuda_wheel: toolkit $tk ($("$tk/bin/nvcc" --version | tail -n1)), archs $archs"

build_dir="$root/sm-${archs//;/-}"
out="$root/dist"
rm -rf "$out/raw" && mkdir -p "$out/raw"
export CMAKE_BUILD_PARALLEL_LEVEL="$jobs"
start=$(date +%s)
"$venv/bin/python" -m pip wheel . --no-build-isolation --no-deps -w "$out/raw" \
  -C build-dir="$build_dir" \
  -C cmake.define.GGML_CUDA=ON \
  -C cmake.define.CMAKE_CUDA_ARCHITECTURES="$archs" \
  -C cmake.define.CMAKE_CUDA_COMPILER="$tk/bin/nvcc" \
  -C cmake.define.CUDAToolkit_ROOT="$tk" \
  -C cmake.define.GGML_CUDA_NO_VMM=ON \
  -C cmake.define.GGML_NATIVE=OFF -C cmake.define.GGML_AVX=ON -C cmake.define.GGML_AVX2=ON \
  -C cmake.define.GGML_FMA=ON -C cmake.define.GGML_F16C=ON -C cmake.define.GGML_BMI2=ON
echo "build_cuda_wheel: built in $(( $(date +%s) - start )) s"

# Nothing from a system toolkit may have been used.
cache="$build_dir/CMakeCache.txt"
for var in CMAKE_CUDA_COMPILER CUDAToolkit_BIN_DIR CUDA_cudart_LIBRARY CUDA_cublas_LIBRARY; do
  value="$(grep -E "^$var:" "$cache" | cut -d= -f2-)"
  case "$value" in
    "$PWD/$tk"*|"$tk"*) ;;
    *) echo "build_cuda_wheel: $var=$value is not the PyPI toolkit $tk" >&2; exit 1 ;;
  esac
done

# The local version +cu13 names the backend; the runtime packages it links become requirements.
raw="$(ls "$out"/raw/pyllm-*.whl)"
work="$out/unpacked" && rm -rf "$work" && mkdir -p "$work"
"$venv/bin/python" -m wheel unpack -d "$work" "$raw" >/dev/null
dir="$(ls -d "$work"/pyllm-*)"
version="$(sed -n 's/^Version: //p' "$dir"/pyllm-*.dist-info/METADATA)"
new_version="${version%%+*}+cu$cuda_major"
info_dir="$(ls -d "$dir"/pyllm-*.dist-info)"
python3 - "$info_dir/METADATA" "$new_version" "$runtime_version" "$cublas_version" <<'PY'
import sys
path, version, runtime, cublas = sys.argv[1:]
lines = open(path, encoding="utf-8").read().split("\n")
out, done = [], False
for line in lines:
    if line.startswith("Version: "):
        line = f"Version: {version}"
    if line.startswith("Requires-Dist:") and not done:
        major = runtime.split(".")[0]
        out.append(f"Requires-Dist: nvidia-cuda-runtime<{int(major) + 1},>={runtime}")
        out.append(f"Requires-Dist: nvidia-cublas<{int(major) + 1},>={cublas}")
        done = True
    out.append(line)
open(path, "w", encoding="utf-8").write("\n".join(out))
PY
so="$(ls "$dir"/pyllm/_core*.so)"
readelf -d "$so" | grep -E 'NEEDED|RUNPATH|RPATH'
if readelf -d "$so" | grep -q 'libcuda\.so'; then
  echo "build_cuda_wheel: _core links libcuda.so; the wheel would not import without a driver" >&2
  exit 1
fi
mv "$info_dir" "$dir/pyllm-$new_version.dist-info"
mv "$dir" "$work/pyllm-$new_version"
rm -f "$out"/pyllm-*+cu$cuda_major-*.whl
"$venv/bin/python" -m wheel pack -d "$out" "$work/pyllm-$new_version" >/dev/null
rm -rf "$work" "$out/raw"
wheel="$(ls "$out"/pyllm-"$new_version"-*.whl)"
echo "build_cuda_wheel: $wheel ($(du -m "$wheel" | cut -f1) MiB)"


if [ "${SKIP_CHECK:-0}" != 1 ]; then
  check="$root/check-venv"
  rm -rf "$check" && python3 -m venv "$check"
  "$check/bin/pip" install -q "$wheel[model]"
  "$check/bin/pyllm" info --devices
  if "$check/bin/pyllm" info -ngl 99 >/dev/null 2>"$root/ngl-check.txt"; then
    if ! "$check/bin/python" -c "import pyllm, sys; sys.exit(0 if any(d.startswith('CUDA') for d in pyllm.build_info()['devices']) else 1)"; then
      echo "build_cuda_wheel: -ngl 99 ran without a CUDA device" >&2; exit 1
    fi
  else
    echo "build_cuda_wheel: -ngl 99 without a CUDA device fails as it should: $(tail -n1 "$root/ngl-check.txt")"
  fi
fi
