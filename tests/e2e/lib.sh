# The harness every end-to-end script sources (`. "$(dirname "$0")/lib.sh" "$1"`): the genc
# binary from the first argument, a temporary folder removed at exit, pass/fail counters, and
# expect_error for the project's promise on bad input.
set -u
genc="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
# expect_error NAME PATTERN COMMAND...: COMMAND exits non-zero without crashing (< 128) and
# prints exactly one line, "genc: error: ...PATTERN...", on stderr.
expect_error() {
  local name="$1" pat="$2"; shift 2
  "$@" >"$tmp/err.out" 2>"$tmp/err.log"; local rc=$?
  if [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -q -- "^genc: error: .*$pat" "$tmp/err.log" \
     && [ "$(wc -l <"$tmp/err.log")" -eq 1 ]; then ok
  else bad "$name: rc=$rc stderr=$(cat "$tmp/err.log")"; fi
}
# set_flag NAME VALUE ARGS...: ARGS with --NAME's value replaced by VALUE (appended when
# absent), into the array `args`: genc refuses a flag given twice.
set_flag() {
  local name="$1" value="$2" found=0; shift 2; args=()
  while [ $# -gt 0 ]; do
    if [ "$1" = "--$name" ]; then args+=("$1" "$value"); shift 2; found=1; else args+=("$1"); shift; fi
  done
  [ $found -eq 1 ] || args+=("--$name" "$value")
}
