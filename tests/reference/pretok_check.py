"""Shared driver of the pre-tokenizer tests (test_pretok_gpt2.py, test_pretok_qwen2.py): random
texts from a pool of tricky pieces and random code points, and the comparison of genc's chunk
byte lengths (build/pretok_tool) with a regex's, texts with a chunk over genc's 64-byte cap
left out and counted."""
import os
import struct
import subprocess
import tempfile


def random_text(rng, pool):
    out = []
    for _ in range(rng.randint(0, 24)):
        if rng.random() < 0.15:
            c = rng.randint(0, 0x10FFFF)
            out.append(chr(c) if not 0xD800 <= c <= 0xDFFF else "x")
        else:
            out.append(rng.choice(pool))
    return "".join(out)


def compare(name, build, pat, texts, mode, what, min_kept):
    """0 when genc's mode splits every kept text as pat does and at least min_kept were kept."""
    want = [[len(p.encode()) for p in pat.findall(t)] for t in texts]
    keep = [i for i, w in enumerate(want) if all(k <= 64 for k in w)]
    with tempfile.NamedTemporaryFile(suffix=".bin", delete=False) as f:
        for i in keep:
            b = texts[i].encode()
            f.write(struct.pack("<I", len(b)) + b)
    out = subprocess.run([os.path.join(build, "pretok_tool"), f.name] + ([mode] if mode else []),
                         capture_output=True, text=True)
    os.unlink(f.name)
    if out.returncode:
        print("%s: FAIL: pretok_tool: %s" % (name, out.stderr.strip()))
        return 1
    got = [[int(x) for x in line.split()] for line in out.stdout.split("\n")[:len(keep)]]
    bad = [(texts[i], want[i], g) for i, g in zip(keep, got) if g != want[i]]
    for t, w, g in bad[:5]:
        print("FAIL %r: regex %s, genc %s" % (t, w, g))
    print("%s: %d of %d texts split as %s does (%d left out: a chunk over 64 bytes)" % (
        name, len(keep) - len(bad), len(keep), what, len(texts) - len(keep)))
    return 1 if bad or len(keep) < min_kept else 0
