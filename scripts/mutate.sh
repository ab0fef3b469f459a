#!/usr/bin/env bash
# Mutation check (before a release; not part of CI): applies each one-line mutation of
# scripts/mutations.tsv to a scratch copy of the working tree, builds it, runs the tests
# the row names (ctest -R), and reports which mutations the tests killed (a test failed)
# and which survived, with the kill rate. The working tree itself is never modified.
#
#   scripts/mutate.sh [-j N] [-k] [-t TABLE] [FILTER]
#     FILTER  only rows whose line (file, texts, tests) matches this grep -E pattern
#     -j N    build jobs (default 2)
#     -k      keep the scratch copy (printed) to look at or reuse: MUTATE_SCRATCH=DIR
#             reuses an existing one (its build is kept, so only changed files rebuild)
#     -t      the table (default scripts/mutations.tsv)
#
# Each row: FILE, ORIGINAL (literal text that must occur exactly once in FILE), MUTATED,
# TESTS (a ctest -R regex). Outcomes: KILLED (a named test failed or timed out), SURVIVED
# (all passed: a test is missing), NO-TESTS (the regex matched no test: fix the table),
# NOT-FOUND (the original text is not in the file once: the code moved), BUILD-FAILED (the
# mutant does not compile: not counted). Kill rate = KILLED / (KILLED + SURVIVED).
# Exit status: 0 when every counted mutation was killed, 1 otherwise.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
jobs=2 keep=0 table="$root/scripts/mutations.tsv"
while getopts "j:kt:" o; do
    case $o in
        j) jobs=$OPTARG ;;
        k) keep=1 ;;
        t) table=$OPTARG ;;
        *) sed -n '2,12p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
filter=${1:-}

scratch=${MUTATE_SCRATCH:-}
if [ -z "$scratch" ]; then
    scratch=$(mktemp -d /tmp/genc-mutate.XXXXXX)
    [ "$keep" -eq 1 ] || trap 'rm -rf "$scratch"' EXIT
fi
echo "scratch copy: $scratch"
# The working tree as it is (committed or not), without build folders or .git.
(cd "$root" && tar --exclude='./build*' --exclude='./.git' --exclude='./runs' -cf - .) | (cd "$scratch" && tar -xf -)
build="$scratch/build"
cmake -S "$scratch" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$scratch/configure.log" 2>&1 \
    || { echo "configure failed: $scratch/configure.log"; exit 2; }
echo "building the unmutated copy..."
cmake --build "$build" -j"$jobs" >"$scratch/build.log" 2>&1 || { echo "the unmutated copy does not build: $scratch/build.log"; exit 2; }

killed=0 survived=0 other=0 n=0
survivors=()
while IFS=$'\t' read -r file orig mut tests; do
    case "$file" in ''|'#'*) continue ;; esac
    line="$file	$orig	$mut	$tests"
    if [ -n "$filter" ] && ! grep -Eq -- "$filter" <<<"$line"; then continue; fi
    n=$((n + 1))
    label="#$n $file: '$orig' -> '$mut'"
    target="$scratch/$file"
    cp "$target" "$scratch/.orig"
    # Literal replacement of the one occurrence (python: no escaping of sed metacharacters).
    if ! python3 - "$target" "$orig" "$mut" <<'PY'
import sys
path, orig, mut = sys.argv[1:4]
text = open(path).read()
if text.count(orig) != 1:
    sys.exit(1)
open(path, "w").write(text.replace(orig, mut))
PY
    then
        echo "NOT-FOUND     $label"
        other=$((other + 1))
        continue
    fi
    if ! cmake --build "$build" -j"$jobs" >"$scratch/mutant.log" 2>&1; then
        echo "BUILD-FAILED  $label"
        other=$((other + 1))
    else
        out=$(cd "$build" && ctest -R "$tests" --timeout 600 2>&1)
        total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' <<<"$out")
        if [ -z "$total" ] || [ "$total" -eq 0 ]; then
            echo "NO-TESTS      $label  [ctest -R '$tests']"
            other=$((other + 1))
        elif grep -q '100% tests passed' <<<"$out"; then
            echo "SURVIVED      $label  [$total tests: $tests]"
            survived=$((survived + 1))
            survivors+=("$label")
        else
            failed=$(grep -E '\*\*\*(Failed|Timeout|Exception)' <<<"$out" | sed 's/.*Test *#[0-9]*: \([A-Za-z0-9_]*\) .*/\1/' | tr '\n' ' ')
            echo "KILLED        $label  [by: $failed]"
            killed=$((killed + 1))
        fi
    fi
    cp "$scratch/.orig" "$target"
done <"$table"

# Leave the scratch build matching the unmutated sources (for MUTATE_SCRATCH reuse).
cmake --build "$build" -j"$jobs" >/dev/null 2>&1
counted=$((killed + survived))
echo
echo "$n mutations: $killed killed, $survived survived, $other not counted (not found, no tests, build failed)"
if [ "$counted" -gt 0 ]; then
    awk -v k="$killed" -v c="$counted" 'BEGIN { printf "kill rate %.1f%% (%d of %d)\n", 100 * k / c, k, c }'
fi
for s in "${survivors[@]}"; do echo "  survived: $s"; done
[ "$survived" -eq 0 ] && [ "$counted" -gt 0 ]
