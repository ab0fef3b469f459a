"""A DeepSeek-V3-style language model (MLA attention, DeepSeekMoE, multi-token prediction)
trained from a Python loop on Debian's fortunes, then sampled as a token stream.

    PYTHONPATH=build/python /usr/bin/python3 examples/lm.py [steps]
"""
import sys

import numpy as np

import genc

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 200
text = open("/usr/share/games/fortunes/fortunes", encoding="latin-1").read()[:500_000]
tok = genc.Tokenizer.train(text, vocab_size=512)
ids = np.array(tok.encode(text), dtype=np.int32)

lm = genc.LanguageModel("tiny", tokenizer=tok, vocab_size=tok.vocab_size)
print(lm)
opt = genc.AdamW(lm.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1)
rng = np.random.default_rng(1)
for step in range(steps):
    starts = rng.integers(0, len(ids) - 65, size=16)
    batch = np.stack([ids[s:s + 65] for s in starts])      # [16, 64 + 1] tokens
    opt.zero_grad()
    loss, parts = lm.loss(batch)                            # main + MTP + balance, with autograd
    loss.backward()
    genc.clip_grad_norm(lm.parameters(), 1.0)
    opt.step()
    lm.update_bias()                                        # aux-loss-free MoE balancing
    if step % 50 == 0 or step == steps - 1:
        print(f"step {step}: loss {loss.item():.3f} (main {parts['main']:.3f}, mtp {parts['mtp']}) maxvio {lm.maxvio()}")

stream = lm.generate("The secret of life is", max_new_tokens=40, temperature=0.8, top_k=40)
pieces = [tok.decode([t]) for t, _ in zip(stream, range(20))]   # tokens as they are produced
pieces.append(tok.decode([stream.send("\nAnd")]))               # append text mid-stream
pieces += [tok.decode([t]) for t in stream]
print("The secret of life is" + "".join(pieces[:20]) + "\nAnd" + "".join(pieces[20:]))
stream.close()                                                  # frees the latent KV cache now
