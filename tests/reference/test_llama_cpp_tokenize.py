#!/usr/bin/python3
"""The "qwen2" (the default) and "gpt2" pre-tokenisations against llama.cpp's own tokeniser
(npm node-llama-cpp 3.21.1's prebuilt CPU build, tests/reference/llama_eval.mjs).

    /usr/bin/python3 tests/reference/test_llama_cpp_tokenize.py <genc binary> <build dir>

For each mode genc trains a 1,024-token tokenizer with `lm train --tok-pretok MODE` (and a
tiny model for 20 steps, so that there is a GGUF to load and probabilities to compare),
exports it with `lm export --format gguf` (tokenizer.ggml.model "gpt2", pre "qwen2" or
"gpt-2", tokens, merges and token types), and llama.cpp tokenises a set of texts (contractions in both cases, digit runs, space
runs, tabs, CR LF and newline runs after punctuation, accents, combining marks, CJK, emoji
with ZWJ, Unicode punctuation and spaces, U+FFFD, which is what llama.cpp reads each invalid
UTF-8 byte as) plus 300 random ones: every id list must equal genc's; for qwen2, llama.cpp's
next-token probabilities on the f32 GGUF (F32 KV cache) at every position of the hand-picked
texts must be within 1e-4 of genc's. The HF folder export of the same model must carry the
mode's pre_tokenizer (qwen2: a Split with Qwen2's regex, then ByteLevel; gpt2: ByteLevel
with use_regex) and load back into a tokenizer giving the same ids. A genc-v1 tokenizer
trained the same way is run through the same texts as the control: it must disagree with
llama.cpp on some of them (else the texts could not tell the modes apart). Exit 77 (skipped) when node or node-llama-cpp is missing, unless GENC_REQUIRE_DEPS=1.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = "/usr/share/games/fortunes/fortunes"
TEXTS = [
    "The secret of life is", "don't stop, we'll've it's I'M 'S 'Re", "In 2024 we counted 365 days;  x1y2",
    "a  b   c\t\td\n\n e", "   leading and trailing   ", "caf\u00e9 na\u00efve r\u00e9sum\u00e9 e\u0301t\u00e9",
    "\u6771\u4eac\u306e\u5929\u6c17\u306f\u6674\u308c\u3067\u3059\u3002", "Party \U0001f389\U0001f973 time "
    "\U0001f468\u200d\U0001f469\u200d\U0001f467!", "a\u00a0b \u3000c \u00ab\u00bb\u2014 \u201cquoted\u201d",
    "\u0661\u0662\u0663 \u00b2 \u2167", "12,345.67 + 0.5 = 12,346.17", "What's that?\r\n\r\nIt isn't.",
    "Q: Why?\n\nA: Because -- said he --  well...", "x" * 40 + " " + "9" * 30,
    "WE'LL've THEY'D 'Re 'x", "end.\n\nNext (word) [x]\tword\n\tnext", "a \n  b\r\n\r\n  c  \n",
    "f(x) = 2*y + 10;\n", "<think>12+30=42</think> <answer>42</answer>", "bad \ufffd\ufffdbytes \ufffd1",
]
QWEN2_RX = (r"""(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"""
            r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")
POOL = list("abcXYZ019 '\t\n\r.,!?-()\"<>/") + ["'s", "'t", "'re", "'ll", "'S", "'LL", "  ", "\r\n", "\n\n",
                                                   "\u00a0", "\u00e9", "e\u0301", "\u4e2d", "\u0661", "\u00b2",
                                                   "\U0001f600", "\u200d", "\u2014", "\ufffd", " the", " of"]


def skip_or_fail(why):
    if os.environ.get("GENC_REQUIRE_DEPS") == "1":
        print("test_llama_cpp_tokenize: FAIL: %s (a required dependency: make deps)" % why)
        sys.exit(1)
    print("test_llama_cpp_tokenize: SKIP (%s)" % why)
    sys.exit(77)


def run(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        sys.exit("test_llama_cpp_tokenize: %s failed: %s" % (" ".join(cmd[:3]), out.stderr.strip()))
    return out.stdout


def model(genc_bin, tmp, pretok):
    out = os.path.join(tmp, pretok)
    run([genc_bin, "lm", "train", "--data", os.path.join(tmp, "corpus.txt"), "--preset", "tiny", "--tok-vocab", "1024",
         "--tok-pretok", pretok, "--steps", "20", "--lr", "0.01", "--batch", "2", "--seq", "32", "--threads", "1",
         "--out", out])
    ckpt = os.path.join(out, "checkpoint.safetensors")
    gguf = os.path.join(tmp, pretok + ".gguf")
    run([genc_bin, "lm", "export", "--checkpoint", ckpt, "--format", "gguf", "--out", gguf])
    return ckpt, gguf


def llama_run(nlc, gguf, tmp, texts, sequences=(), n_vocab=0):
    job, res = os.path.join(tmp, "job.json"), os.path.join(tmp, "res.json")
    with open(job, "w") as f:
        json.dump({"sequences": list(sequences), "n_vocab": n_vocab, "greedy": 0, "threads": 1, "kv_f32": True,
                   "texts": texts}, f)
    run(["node", os.path.join(HERE, "llama_eval.mjs"), nlc, gguf, job, res])
    with open(res) as f:
        return json.load(f)


def prob_check(genc, nlc, ckpt, gguf, tmp, pretok, seqs):
    """llama.cpp's next-token probabilities on the f32 GGUF against genc's, every position."""
    import numpy as np
    lm = genc.LanguageModel.load(ckpt)
    res = llama_run(nlc, gguf, tmp, [], seqs, lm.config["vocab_size"])["results"]
    diff = 0.0
    with genc.no_grad():
        for ids, r in zip(seqs, res):
            lg = np.asarray(lm(np.array([ids], dtype=np.int32)))[0].astype(np.float64)
            p = np.exp(lg - lg.max(1, keepdims=True))
            diff = max(diff, float(np.abs(np.array(r["probs"]) - p / p.sum(1, keepdims=True)).max()))
    ok = diff <= 1e-4
    print("%s %-7s f32 GGUF: max |p_genc - p_llama.cpp| %.1e at every position of %d texts (tol 1e-4)" % (
        "ok  " if ok else "FAIL", pretok, diff, len(seqs)))
    return ok


def hf_check(genc_bin, genc, ckpt, hf, pretok, texts, mine):
    """The HF folder carries the mode's pre_tokenizer and loads back giving the same ids."""
    run([genc_bin, "lm", "export", "--checkpoint", ckpt, "--format", "hf", "--out", hf])
    pre = json.load(open(os.path.join(hf, "tokenizer.json")))["pre_tokenizer"]
    if pretok == "gpt2":
        what = "ByteLevel pre_tokenizer with use_regex"
        ok = pre.get("type") == "ByteLevel" and pre.get("use_regex") is True
    else:
        what = "Split with Qwen2's regex (Isolated), then ByteLevel without a regex"
        seq = pre.get("pretokenizers") or [{}, {}]
        ok = pre.get("type") == "Sequence" and len(seq) == 2 and seq[0].get("type") == "Split" and \
            seq[0].get("pattern") == {"Regex": QWEN2_RX} and seq[0].get("behavior") == "Isolated" and \
            seq[1].get("type") == "ByteLevel" and seq[1].get("use_regex") is False
    back = genc.LanguageModel.load(hf).tokenizer
    back_ids = [list(back.encode(t.encode(), allow_special=False)) for t in texts]
    ok = ok and back.pretokenizer == pretok and back_ids == mine
    print("%s %-7s HF folder: %s, reloaded ids equal" % ("ok  " if ok else "FAIL", pretok, what))
    return ok


def main():
    genc_bin, build = sys.argv[1], sys.argv[2]
    nlc = os.path.join(build, "data", "node-llama-cpp")
    if not shutil.which("node"):
        skip_or_fail("no node on PATH")
    if not os.path.exists(os.path.join(nlc, "node_modules", "node-llama-cpp", "dist", "index.js")):
        skip_or_fail("node-llama-cpp is not installed in %s (scripts/fetch_llama_cpp.sh)" % nlc)
    if not os.path.exists(CORPUS):
        skip_or_fail("no %s (Debian package fortunes)" % CORPUS)
    sys.path.insert(0, os.path.join(build, "python"))
    import genc

    rng = random.Random(5)
    texts = TEXTS + ["".join(rng.choice(POOL) for _ in range(rng.randint(1, 30))) for _ in range(300)]
    tmp = tempfile.mkdtemp(prefix="genc_llama_tok_")
    with open(CORPUS, "rb") as f, open(os.path.join(tmp, "corpus.txt"), "wb") as g:
        g.write(f.read()[:400000])
    failed = 0
    for pretok in ("qwen2", "gpt2", "genc-v1"):
        ckpt, gguf = model(genc_bin, tmp, pretok)
        tok = genc.LanguageModel.load(ckpt).tokenizer
        mine = [list(tok.encode(t.encode(), allow_special=False)) for t in texts]
        theirs = llama_run(nlc, gguf, tmp, texts)["tokenized"]
        same = sum(a == b for a, b in zip(mine, theirs))
        if pretok != "genc-v1":
            ok = same == len(texts)
            for t, a, b in [(t, a, b) for t, a, b in zip(texts, mine, theirs) if a != b][:3]:
                print("     %r: genc %s, llama.cpp %s" % (t, a, b))
        else:
            ok = same < len(texts)
        failed += not ok
        print("%s %-7s llama.cpp's tokenisation equals genc's for %d of %d texts%s" % (
            "ok  " if ok else "FAIL", pretok, same, len(texts), "" if pretok != "genc-v1" else
            " (the control: genc-v1 is neither llama.cpp split)"))
        if pretok != "genc-v1":
            failed += not hf_check(genc_bin, genc, ckpt, os.path.join(tmp, "hf_" + pretok), pretok, texts, mine)
        if pretok == "qwen2":
            failed += not prob_check(genc, nlc, ckpt, gguf, tmp, pretok, [m for m in mine[:len(TEXTS)] if m])
    shutil.rmtree(tmp, ignore_errors=True)
    print("test_llama_cpp_tokenize: %d checks failed" % failed if failed else "test_llama_cpp_tokenize: all passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
