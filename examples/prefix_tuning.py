"""Prefix-tuning: a frozen MLA language model learns a few per-layer latent prefix slots
(c_kv and the decoupled RoPE key) that steer it toward a style.

    PYTHONPATH=build/python /usr/bin/python3 examples/prefix_tuning.py [steps]
"""
import sys

import numpy as np

import genc

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 100
text = open("/usr/share/games/fortunes/fortunes", encoding="latin-1").read()[:300_000]
tok = genc.Tokenizer.train(text, 400)
lm = genc.LanguageModel("tiny", tokenizer=tok, vocab_size=tok.vocab_size)
lm.fit(np.array(tok.encode(text), dtype=np.int32), steps=max(steps, 50), batch=8, seq=64)   # the base model

style = tok.encode("Q: what is it? A: it is a cat. " * 40)                 # what the prefix should evoke
prefix = genc.PrefixTuning(lm, length=6, hidden=64)                          # freezes lm (read-only)
print(prefix)
opt = genc.AdamW([p for p in prefix.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.0)
for step in range(steps):
    starts = np.random.default_rng(step).integers(0, len(style) - 33, 8)
    opt.zero_grad()
    loss = prefix.loss([style[s:s + 33] for s in starts])
    loss.backward()
    opt.step()
    if step % 25 == 0 or step == steps - 1:
        print(f"step {step}: loss {loss.item():.3f}")
print(prefix.generate("Q:", max_new_tokens=20)[1])
