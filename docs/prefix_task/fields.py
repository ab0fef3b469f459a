# Per-field accuracy of greedy generations on the held-out task inputs (docs/prefix.md):
# which of name, food, area, price and rating a model (with or without a prefix) gets right.
# Usage: python3 fields.py GENC CHECKPOINT TEST.jsonl [PREFIX] [N_EXAMPLES_TO_PRINT]
import json, re, subprocess, sys

OUT_RE = re.compile(r" ?(\S+) is a (\S+) restaurant in the ([a-z ]+) with (\S+) prices and an? (\S+) rating\.")
FIELDS = ["name", "food", "area", "price", "rating"]


def generate(genc, ckpt, prefix, prompt):
    cmd = [genc, "lm", "sample", "--checkpoint", ckpt, "--prompt", prompt, "--temperature", "0",
           "--max-tokens", "40", "--threads", "1"] + (["--prefix", prefix] if prefix else [])
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def main(genc, ckpt, test, prefix=None, show=3):
    right = dict.fromkeys(FIELDS, 0)
    exact = parsed = n = 0
    for line in open(test):
        e = json.loads(line)
        want = dict(zip(["name", "food", "price", "area", "rating"], re.findall(r"\[([^\]]*)\]", e["input"])))
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
    print("%d inputs: exact %d, in the task template %d; fields right: %s" % (
        n, exact, parsed, ", ".join("%s %d" % (f, right[f]) for f in FIELDS)))


if __name__ == "__main__":
    main(*sys.argv[1:])
