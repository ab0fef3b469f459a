#!/usr/bin/env bash
# Faults of a 2-rank data-parallel run (mpirun --oversubscribe -np 2, loopback), with
# --dist-timeout 3 (the documented deadline of every exchange):
#   1. rank 1 killed (kill -9) mid-run: rank 0 exits within 2 x the timeout + 10 s with one line
#      naming rank 1; the last checkpoint is intact (it loads and scores text).
#      mpirun --enable-recovery keeps the launcher from killing rank 0 itself, so genc's own
#      detection is what is tested (plain mpirun ends the job at once and names the rank).
#   2. rank 1 hung (SIGSTOP): the same line from rank 0 within the bound.
#   3. Ctrl-C (SIGINT) to rank 1 alone: every rank stops after the same step and the
#      checkpoint holds that step.
. "$(dirname "$0")/lib.sh" "$1"
. "$(dirname "$0")/mpi_lib.sh"
data=/usr/share/common-licenses/GPL-3
common=(--data "$data" --tok-vocab 300 --batch 4 --seq 32 --steps 3000 --eval-every 0 --eval-tokens 500 --threads 1
        --dim 32 --layers 2 --save-every 10 --dist-timeout 3)
bound=16 # two timeouts (the exchange, then the roll call naming the rank) + 10 s

# start NAME [MPIRUN FLAGS]: a long 2-rank run in $tmp/NAME, once its first checkpoint exists;
# sets mp (the launch's pid: timeout, which ends mpirun after 90 s), r0 and r1 (the ranks' pids).
start() {
  local name=$1; shift
  timeout -s KILL 90 mpirun --oversubscribe "$@" -np 2 "$genc" lm train "${common[@]}" --out "$tmp/$name" \
    >"$tmp/$name.log" 2>&1 & mp=$!
  for _ in $(seq 300); do [ -s "$tmp/$name/checkpoint.safetensors" ] && break; sleep 0.1; done
  r0=$(rank_pid $mp 0) r1=$(rank_pid $mp 1)
  [ -n "$r0" ] && [ -n "$r1" ] || bad "$name: the ranks' processes were not found"
}
# finish: wait for the launch, end any rank left.
finish() {
  wait $mp
  kill -9 $r0 $r1 2>/dev/null
}
# gone PID SECONDS: true when PID has exited within SECONDS.
gone() { [ -n "$1" ] || return 1; local i; for i in $(seq $(($2 * 10))); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; return 1; }
ckpt_step() {
  python3 -c "import json,struct,sys; b=open(sys.argv[1],'rb').read(); n=struct.unpack('<Q',b[:8])[0]
print(json.loads(json.loads(b[8:8+n])['__metadata__']['train_state'])['step'])" "$1"
}
intact() { "$genc" lm eval --checkpoint "$1" --data /usr/share/common-licenses/GPL-2 --seq 32 --threads 1 2>&1 | grep -q perplexity; }
one_line_naming_rank1() {
  [ "$(grep -c '^genc: error: ' "$1")" -eq 1 ] && grep -q '^genc: error: rank 0: rank 1 did not answer within 3 s at ' "$1"
}

# 1. A killed rank.
start kill --enable-recovery
[ -n "$r1" ] && kill -9 "$r1"
gone "$r0" $bound && ok || bad "rank 0 still running $bound s after rank 1 was killed"
finish
one_line_naming_rank1 "$tmp/kill.log" && ok || bad "killed rank: $(cat "$tmp/kill.log")"
intact "$tmp/kill/checkpoint.safetensors" && ok || bad "the checkpoint does not load after the kill"
ls "$tmp/kill" | grep -q '\.tmp' && bad "a temporary file was left: $(ls "$tmp/kill")" || ok

# 2. A hung rank.
start hang --enable-recovery
[ -n "$r1" ] && kill -STOP "$r1"
gone "$r0" $bound && ok || bad "rank 0 still running $bound s after rank 1 hung"
kill -9 "$r1"; finish
one_line_naming_rank1 "$tmp/hang.log" && ok || bad "hung rank: $(cat "$tmp/hang.log")"

# 3. Ctrl-C on one rank: both stop at the step the checkpoint holds.
start int
[ -n "$r1" ] && kill -INT "$r1"
gone "$mp" $bound && ok || bad "the job still runs after SIGINT"
finish
steps=$(sed -n 's/^genc: error: interrupted at step \([0-9]*\);.*/\1/p' "$tmp/int.log" | sort -u)
saved=$(ckpt_step "$tmp/int/checkpoint.safetensors")
echo "interrupted at step(s) $steps; checkpoint step $saved"
[ "$(grep -c '^genc: error: interrupted at step' "$tmp/int.log")" -eq 2 ] && [ "$steps" = "$saved" ] && ok \
  || bad "SIGINT: ranks stopped at '$steps', checkpoint step $saved: $(cat "$tmp/int.log")"
echo "e2e mpi faults: $pass passed, $fail failed"
[ $fail -eq 0 ]
