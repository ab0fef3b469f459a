# Shared by run.sh, tune.sh and variants.sh (sourced): one `genc lm prefix-tune` run at a time
# in the background, at most $JOBS at once (one thread each), on base $B with binary $G.
#  prefix_run LOGS OUT EVAL NAME FLAGS...
#      evaluates on EVAL after training; LOGS/NAME.log gets the last progress line and the
#      eval/trained/stored/first lines; the result is kept as OUT/NAME.st (OUT "-": not kept);
#      a run whose log exists already is not run again. Prints "== NAME: FLAGS" and the eval line.
prefix_run() {
  [ -s "$1/$4.log" ] && return 0
  while [ "$(jobs -rp | wc -l)" -ge "${JOBS:-1}" ]; do wait -n; done
  prefix_run1 "$@" &
}
prefix_run1() {
  local logs=$1 out=$2 ev=$3 name=$4
  shift 4
  local st=$out/$name.st
  [ "$out" = - ] && st=$logs/$name.st
  "$G" lm prefix-tune --checkpoint "$B" --eval "$ev" --max-new 40 --threads 1 --out "$st" "$@" 2>&1 \
    | tr '\r' '\n' >"$logs/$name.raw"
  { grep -a '^step' "$logs/$name.raw" | tail -1; grep -aE '^(eval|trained|stored|first)' "$logs/$name.raw"; } \
    >"$logs/$name.log"
  rm -f "$logs/$name.raw"
  [ "$out" = - ] && rm -f "$st"
  echo "== $name: $*"; grep -a '^eval' "$logs/$name.log"
}
