#!/usr/bin/env bash
# Install npm's node-llama-cpp 3.21.1 (llama.cpp's prebuilt CPU libraries for linux-x64 and a
# JS API) into DIR/node-llama-cpp (default build/data), for the llama.cpp agreement test.
# Only the CPU platform package: --omit=optional skips the CUDA/Vulkan builds (~620 MB), and
# --ignore-scripts skips the postinstall, which would try to fetch or build binaries from
# GitHub (unreachable here); the prebuilt .so files ship inside @node-llama-cpp/linux-x64.
# Does nothing when it is already there.
set -euo pipefail

dir="${1:-build/data}/node-llama-cpp"
version="3.21.1"
lib="$dir/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64"

if [ -f "$lib/libllama.v0.4.0.so" ] && [ -f "$dir/node_modules/node-llama-cpp/dist/index.js" ]; then
    echo "node-llama-cpp $version already in $dir"
    exit 0
fi
command -v npm >/dev/null || { echo "fetch_llama_cpp.sh: npm not found" >&2; exit 1; }
mkdir -p "$dir"
[ -f "$dir/package.json" ] || echo '{"private": true}' > "$dir/package.json"
(cd "$dir" && npm i -E --silent --no-audit --no-fund --omit=optional --ignore-scripts \
    "node-llama-cpp@$version" "@node-llama-cpp/linux-x64@$version")
[ -f "$lib/libllama.v0.4.0.so" ] || { echo "fetch_llama_cpp.sh: $lib/libllama.v0.4.0.so missing after install" >&2; exit 1; }
echo "node-llama-cpp $version installed into $dir"
