# Per-field accuracy of greedy generations on the held-out task inputs (docs/prefix.md):
# which of name, food, area, price and rating a model (with or without a prefix) gets right.
# With TRAIN.jsonl (the examples the model was tuned on) it also counts how many wrong food, area,
# price and rating values are values of those training examples, against the count expected if
# a wrong value were any other value of its field at random.
# Usage: python3 fields.py GENC CHECKPOINT TEST.jsonl [PREFIX|-] [N_EXAMPLES_TO_PRINT] [TRAIN.jsonl]
import json, re, subprocess, sys

OUT_RE = re.compile(r" ?(\S+) is a (\S+) restaurant in the ([a-z ]+) with (\S+) prices and an? (\S+) rating\.")
FIELDS = ["name", "food", "area", "price", "rating"]
VALUES = {"food": ["Italian", "French", "Chinese", "Indian", "Japanese", "English"], "area": ["city centre", "riverside"],
          "price": ["cheap", "moderate", "high"], "rating": ["low", "average", "excellent"]}


def record(inp):
    return dict(zip(["name", "food", "price", "area", "rating"], re.findall(r"\[([^\]]*)\]", inp)))


def generate(genc, ckpt, prefix, prompt):
    cmd = [genc, "lm", "sample", "--checkpoint", ckpt, "--prompt", prompt, "--temperature", "0",
           "--max-new", "40", "--echo=false", "--threads", "1"] + (["--prefix", prefix] if prefix else [])
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def main(genc, ckpt, test, prefix=None, show=3, train=None):
    prefix = None if prefix == "-" else prefix
    seen = [record(json.loads(line)["input"]) for line in open(train)] if train else []
    right = dict.fromkeys(FIELDS, 0)
    exact = parsed = n = wrong = wrong_seen = 0
    chance = 0.0
    for line in open(test):
        e = json.loads(line)
        want = record(e["input"])
        got = generate(genc, ckpt, prefix, e["input"])
        if n < int(show):
            print("%s\n  -> %s" % (e["input"], got.strip()))
        n += 1
        got = got.rstrip("\n")
        exact += got == e["output"]
        m = OUT_RE.fullmatch(got)
        if m:
            parsed += 1
            for f, v in zip(FIELDS, m.groups()):
                right[f] += v == want[f]
                if seen and f in VALUES and v != want[f]:
                    in_train = {d[f] for d in seen} - {want[f]}
                    others = [x for x in VALUES[f] if x != want[f]]
                    wrong += 1
                    wrong_seen += v in in_train
                    chance += len(in_train) / len(others)
    print("%d inputs: exact %d, in the task template %d; fields right: %s" % (
        n, exact, parsed, ", ".join("%s %d" % (f, right[f]) for f in FIELDS)))
    if seen:
        print("wrong food/area/price/rating values: %d, of which %d are a training example's value (%.1f expected "
              "by chance)" % (wrong, wrong_seen, chance))


if __name__ == "__main__":
    main(*sys.argv[1:])
