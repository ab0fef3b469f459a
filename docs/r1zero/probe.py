"""How well a base model solves 3-digit sums in its own pre-training formats, outside the RL
template: a worked solution in prose after "Problem: What is A + B?" (correct when it ends
"So A + B = C." with both operands copied right and C their sum) and a direct answer after
"Q: A + B = ? A:". R1-Zero needs the first well above the second: this says whether GRPO has
correct reasoning to find. Usage: probe.py GENC CHECKPOINT [N=40] (T 0.7, fixed seeds)."""
import random, re, subprocess, sys

genc, ckpt = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 40
rng = random.Random(5)
worked = direct = 0
for i in range(n):
    a, b = rng.randint(100, 999), rng.randint(100, 999)
    for mode, prompt in (("worked", "Problem: What is %d + %d?\n" % (a, b)), ("direct", "Q: %d + %d = ? A:" % (a, b))):
        out = subprocess.run([genc, "lm", "sample", "--checkpoint", ckpt, "--prompt", prompt, "--max-tokens", "160",
                              "--temperature", "0.7", "--seed", str(i), "--threads", "1"],
                             capture_output=True, text=True, check=True).stdout
        body = out[len(prompt):] if out.startswith(prompt) else out
        if mode == "worked":
            m = re.search(r"So (\d+) \+ (\d+) = (\d+)\.", body)
            worked += bool(m) and int(m.group(3)) == a + b and {int(m.group(1)), int(m.group(2))} == {a, b}
        else:
            m = re.match(r"\s*(\d+)", body)
            direct += bool(m) and int(m.group(1)) == a + b
print("worked in prose: %d/%d correct; direct answer: %d/%d correct" % (worked, n, direct, n))
