#!/usr/bin/env bash
# Train the pinned FID/KID feature network of one data set, once, by one deterministic command:
#   bash scripts/fid_net.sh DATA [GENC] [DIR]     DATA: fashion-mnist | mnist | mnist-small
# writes DIR/DATA.safetensors (default DIR build/data/fid, where `genc image fid` looks by
# default) and prints the weights' hash, which `genc image fid` prints beside every FID/KID.
# The recipe is `genc classify train`'s defaults (convnet 32/64 channels, 256 features, 3
# epochs of 128, AdamW, 5,000 validation images) with seed 1 on one thread, so the same
# binary gives the same weights bit for bit; mnist-small validates on 1,000 images, 5 epochs.
# Tables compare only numbers measured with the same hash. An existing net is kept.
set -euo pipefail
data="${1:?usage: scripts/fid_net.sh fashion-mnist|mnist|mnist-small [genc] [dir]}"
genc="${2:-build/genc}"
dir="${3:-build/data/fid}"
extra=()
[ "$data" = mnist-small ] && extra=(--val 1000 --epochs 5)
if [ ! -s "$dir/$data.safetensors" ]; then
    mkdir -p "$dir/runs"
    "$genc" classify train --data "$data" "${extra[@]}" --seed 1 --threads 1 --eval-every 0 \
        --out "$dir/runs/$data" >"$dir/runs/$data.log" 2>&1
    tail -n 3 "$dir/runs/$data.log"
    cp "$dir/runs/$data/checkpoint.safetensors" "$dir/$data.safetensors.tmp"
    mv "$dir/$data.safetensors.tmp" "$dir/$data.safetensors"
fi
"$genc" image fid --classifier "$dir/$data.safetensors" --hash
