# The checks test_image_nice.sh and test_image_glow.sh share (source after lib.sh, with `data`
# and the training flags `common` set): flow_checks HALF TEMPERATURE runs
#   1. training lowers validation bits/dim, reports test bits/dim, writes best checkpoint + plot;
#   2. HALF steps, stop, resume == the straight run, byte for byte;
#   3. eval prints the test log-likelihood; sample writes the grid, reconstructions (error
#      < 1e-4) and interpolation PNGs, deterministically for a seed.
# It leaves the trained checkpoint in $ck and the resumable run in $tmp/b.
flow_checks() {
  local half=$1 temperature=$2
  "$genc" image train "${common[@]}" --out "$tmp/a" >"$tmp/a.log" 2>&1 || bad "training failed: $(tail -1 "$tmp/a.log")"
  bpd() { grep '"event":"eval"' "$tmp/a/metrics.jsonl" | sed -n "$1" | sed 's/.*"val_bpd":\([0-9.e+-]*\).*/\1/'; }
  local first last
  first=$(bpd 1p) last=$(bpd '$p')
  python3 -c "import sys; sys.exit(0 if 0 < $last < $first else 1)" && ok || bad "val bits/dim $first -> $last"
  grep -q 'test (best checkpoint): [0-9]* images, log-likelihood .* nats, .* bits/dim' "$tmp/a.log" && ok \
    || bad "no test line: $(tail -2 "$tmp/a.log")"
  [ -s "$tmp/a/best.safetensors" ] && [ -s "$tmp/a/loss.png" ] && ok || bad "missing best checkpoint or loss plot"

  "$genc" image train "${common[@]}" --stop-at "$half" --out "$tmp/b" >"$tmp/b1.log" 2>&1 || bad "first half failed"
  grep -q "stopped at step $half" "$tmp/b1.log" && ok || bad "no stop message"
  "$genc" image train "${common[@]}" --resume --out "$tmp/b" >"$tmp/b2.log" 2>&1 || bad "resume failed: $(tail -1 "$tmp/b2.log")"
  cmp -s "$tmp/a/checkpoint.safetensors" "$tmp/b/checkpoint.safetensors" && ok || bad "resumed checkpoint differs"

  ck="$tmp/a/best.safetensors"
  "$genc" image eval --checkpoint "$ck" --data "$data" --threads 2 >"$tmp/e.log" 2>&1 || bad "eval failed: $(cat "$tmp/e.log")"
  grep -q 'test: [0-9]* images, log-likelihood .* nats, .* bits/dim' "$tmp/e.log" && ok || bad "eval output: $(cat "$tmp/e.log")"
  smp() { "$genc" image sample --checkpoint "$ck" --count 16 --temperature "$temperature" --threads 2 "$@" >>"$tmp/s.log" 2>&1; }
  smp --seed 3 --out "$tmp/s1.png" --recon "$tmp/r.png" --interp "$tmp/i.png" --data "$data" || bad "sample failed: $(tail -1 "$tmp/s.log")"
  smp --seed 3 --out "$tmp/s2.png" && smp --seed 4 --out "$tmp/s3.png" || bad "sample failed"
  for f in s1 r i; do [ -s "$tmp/$f.png" ] && ok || bad "$f.png not written"; done
  cmp -s "$tmp/s1.png" "$tmp/s2.png" && ok || bad "same seed, different samples"
  cmp -s "$tmp/s1.png" "$tmp/s3.png" && bad "different seeds, same samples" || ok
  local err
  err=$(sed -n 's/.*max |x - f^-1(f(x))| = \([0-9.e+-]*\).*/\1/p' "$tmp/s.log")
  python3 -c "import sys; sys.exit(0 if float('$err') < 1e-4 else 1)" 2>/dev/null && ok || bad "reconstruction error '$err'"
}
