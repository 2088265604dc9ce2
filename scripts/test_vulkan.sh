#!/usr/bin/env bash
# Builds pyllm's Vulkan wheel and runs the GPU tests on Mesa's lavapipe, a software Vulkan
# device, so the Vulkan backend is built and run for real on a machine without a GPU:
#   bash scripts/test_vulkan.sh            (as root on Debian/Ubuntu: installs what it needs)
# Steps: apt packages (mesa-vulkan-drivers, libvulkan-dev, glslc, spirv-headers) when missing; a venv of its
# own (build/vulkan/venv) with the Vulkan build (build dir build/vulkan/cmake, incremental);
# the default CPU build's greedy tokens as the reference (from .venv when it is there);
# pytest tests/gpu with PYLLM_TEST_NGL=99 on lavapipe (GGML_VK_VISIBLE_DEVICES=0: ggml
# skips CPU-type Vulkan devices unless asked). Timings go to build/vulkan/timings.txt.
# Environment: NICE (default 15), JOBS (default nproc), PYTEST_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."
root=build/vulkan
mkdir -p "$root"
nice_level="${NICE:-15}"
timings="$root/timings.txt"
: >"$timings"
stamp() { echo "$1 $(( $(date +%s) - $2 )) s" | tee -a "$timings"; }

missing=()
for pkg in mesa-vulkan-drivers libvulkan-dev glslc spirv-headers; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  t=$(date +%s)
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  stamp "apt-get install ${missing[*]}:" "$t"
fi
icd="$(ls /usr/share/vulkan/icd.d/lvp_icd*.json 2>/dev/null | head -n1)"
[ -n "$icd" ] || { echo "test_vulkan: no lavapipe ICD in /usr/share/vulkan/icd.d (mesa-vulkan-drivers)" >&2; exit 1; }
export VK_ICD_FILENAMES="$icd" GGML_VK_VISIBLE_DEVICES=0

venv="$root/venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q scikit-build-core pybind11 ninja
t=$(date +%s)
CMAKE_BUILD_PARALLEL_LEVEL="${JOBS:-$(nproc)}" nice -n "$nice_level" \
  "$venv/bin/pip" install -q --no-build-isolation ".[test]" -C build-dir="$root/cmake" -C cmake.define.GGML_VULKAN=ON
stamp "build and install (GGML_VULKAN=ON):" "$t"
"$venv/bin/python" -c "import json, pyllm; print(json.dumps({k: pyllm.build_info()[k] for k in ('backends', 'devices', 'gpu_backends')})); print(json.dumps(pyllm.devices()))"

# The CPU build's greedy tokens for the same prompts, when the CPU build is here.
reference="$root/cpu_reference.json"
if [ -x .venv/bin/python ] && .venv/bin/python -c "import pyllm" 2>/dev/null; then
  .venv/bin/python tests/gpu/reference.py "$reference"
  export PYLLM_TEST_REFERENCE="$PWD/$reference"
fi

t=$(date +%s)
PYLLM_TEST_NGL=99 nice -n "$nice_level" "$venv/bin/python" -m pytest -p no:cacheprovider tests/gpu -v ${PYTEST_ARGS:-}
stamp "pytest tests/gpu (PYLLM_TEST_NGL=99, lavapipe):" "$t"
