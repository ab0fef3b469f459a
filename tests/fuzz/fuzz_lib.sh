# Shared by tests/fuzz/run_fuzz*.sh (sourced): build one libFuzzer target with clang (library
# and target both instrumented: ASan, UBSan, coverage) and fuzz it for a bounded time.
#  fuzz_build TARGET   configures build-fuzz (or $GENC_FUZZ_BUILD) and builds TARGET; sets
#                      $root, $build and $work, a scratch folder removed on exit, with
#                      $work/corpus (new entries: the committed seeds are never modified),
#                      $work/seeds and $work/dict (empty) for the caller to fill
#  fuzz_run TARGET SECONDS MAX_LEN SEED_DIR...
#                      runs it; non-zero exit on a crash, the input left in $build/artifacts/
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${GENC_FUZZ_BUILD:-$root/build-fuzz}

fuzz_build() {
    CC=clang cmake -S "$root" -B "$build" -DGENC_FUZZ=ON -DGENC_NATIVE=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" --target "$1" -j "$(nproc)"
    work=$(mktemp -d "/tmp/genc_$1_XXXXXX")
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/corpus" "$work/seeds" "$build/artifacts"
    : >"$work/dict"
}

fuzz_run() {
    local target=$1 secs=$2 max_len=$3
    shift 3
    "$build/$target" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
        -print_final_stats=1 -dict="$work/dict" -artifact_prefix="$build/artifacts/" "$work/corpus" "$@"
}
