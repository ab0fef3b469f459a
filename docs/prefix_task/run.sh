#!/usr/bin/env bash
# The prefix-tuning evidence of docs/prefix.md, end to end: data (gen.py), the base model
# (a dense 4-layer model pre-trained on record-to-text documents, <|eos|> after each line),
# then base / full fine-tuning / prefix-tuning on the data-to-text task, all on one thread.
# Usage: docs/prefix_task/run.sh [genc-binary] [workdir]   (~25 min on one core)
set -euo pipefail
G=$(realpath "${1:-build/genc}")
W=${2:-runs/prefix_task}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$W" && cd "$W"
/usr/bin/python3 "$here/gen.py" .
/usr/bin/python3 - <<'PY'
# The same records in the pre-training text's own notation ("Record: ...; Text:"): the task
# with a familiar input and a new output template.
import json, re
for f in ["train", "test", "train50"]:
    with open(f + "_rec.jsonl", "w") as out:
        for line in open(f + ".jsonl"):
            e = json.loads(line)
            e["input"] = "Record: %s; %s; %s; %s; %s. Text:" % tuple(re.findall(r"\[([^\]]*)\]", e["input"]))
            out.write(json.dumps(e) + "\n")
PY
[ -f base/checkpoint.safetensors ] || /usr/bin/time -f "base: %e s" "$G" lm train --data base.txt --docs lines \
  --tok-vocab 400 --steps 4000 --seq 64 --batch 16 --max-seq 192 --mtp 0 --layers 4 --dim 128 --experts 0 \
  --eval-every 1000 --threads 1 --out base >base.log 2>&1
B=base/checkpoint.safetensors
run() { # name, train file, eval file, flags...
  local name=$1 data=$2 ev=$3; shift 3
  echo "== $name ($data -> $ev): $*"
  "$G" lm prefix-tune --checkpoint $B ${data:+--data $data} --eval "$ev" --max-new 40 --threads 1 "$@" 2>&1 \
    | tr '\r' '\n' | grep -aE '^(eval|trained|stored)'
}
for fmt in "" _rec; do
  run "base$fmt" "" test$fmt.jsonl --eval-only
  run "full$fmt" train$fmt.jsonl test$fmt.jsonl --out full$fmt.st --full --lr 3e-3 --steps 300
  run "prefix10$fmt" train$fmt.jsonl test$fmt.jsonl --out p10$fmt.st --prefix-len 10 --reparam 512 --lr 5e-3 --steps 800
  run "prefix5$fmt" train$fmt.jsonl test$fmt.jsonl --out p5$fmt.st --prefix-len 5 --reparam 512 --lr 5e-3 --steps 800
  run "low_full$fmt" train50$fmt.jsonl test$fmt.jsonl --out lf$fmt.st --full --lr 3e-3 --steps 300
  run "low_prefix10$fmt" train50$fmt.jsonl test$fmt.jsonl --out lp10$fmt.st --prefix-len 10 --reparam 512 --lr 5e-3 --steps 800
done
