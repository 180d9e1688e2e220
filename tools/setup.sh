#!/usr/bin/env bash
# Installs what nflow needs on Debian (bookworm), builds it in ./build and runs
# the demo training. Usage: tools/setup.sh [--no-demo]
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
PACKAGES=(build-essential cmake pkg-config libopenblas-dev libhdf5-dev hdf5-tools libcmocka-dev
          libpng-dev libjpeg62-turbo-dev libgif-dev zlib1g-dev libplplot-dev plplot-driver-cairo libsegyio-dev
          dataset-fashion-mnist python3-h5py python3-numpy
          python3-sklearn   # C2ST of the conditional acceptance (tools/acceptance/gaussian_linear.sh)
          python3-matplotlib   # the time-to-quality plot (tools/bench/time_to_quality.py; its peer also needs python3-torch)
          clang libclang-rt-dev   # clang + libFuzzer: the fuzz harnesses (tests/fuzz/run.sh, CI)
          openmpi-bin libopenmpi-dev)  # data-parallel training across ranks (docs/cluster.md)
missing=()
for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# with MPI: `mpirun -n R build/nflow train ...` works; one process runs exactly as without
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DNFLOW_MPI=ON
cmake --build build -j"$(nproc)"
if [ "${1:-}" != "--no-demo" ]; then
  if [ -x build/nflow ]; then
    build/nflow demo --out demo_out
  else
    build/banana_demo demo_out
  fi
fi
