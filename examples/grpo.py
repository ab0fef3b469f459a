"""GRPO (DeepSeekMath eq. 3, the R1-Zero recipe) from Python: a tiny MLA/MoE/MTP model is
pre-trained on worked 2-digit additions, then reinforced on generated problems: each round
samples a group of responses per prompt, scores them with genc's rule-based reward (answer
in <answer> tags, checked exactly), and takes a step on the clipped group-relative
objective.

    PYTHONPATH=build/python /usr/bin/python3 examples/grpo.py [rounds] [pre-training steps]
"""
import sys

import numpy as np

import genc

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
pre_steps = int(sys.argv[2]) if len(sys.argv) > 2 else 400
rng = np.random.default_rng(0)
head = "Think in <think> </think>, then answer in <answer> </answer>. User: "
docs = []
for a, b in rng.integers(10, 100, size=(4000, 2)):
    docs.append(f"{head}What is {a} + {b}? Assistant: <think> {a} + {b} = {a + b} </think> <answer>{a + b}</answer>")
text = "\n".join(docs)
tok = genc.Tokenizer.train(text, 320)
policy = genc.LanguageModel("tiny", tokenizer=tok, vocab_size=tok.vocab_size, max_position_embeddings=160)
policy.fit(np.array(tok.encode(text), dtype=np.int32), steps=pre_steps, batch=8, seq=128)   # genc's loop, in C

opt = genc.AdamW(policy.parameters(), lr=2e-5, weight_decay=0.0)
for r in range(rounds):
    batch = policy.grpo_rollout("arith", prompts=4, group=8, max_new=24, temperature=0.7, seed=7, index=4 * r,
                                a_digits=2, b_digits=2)
    if batch.rows == 0:
        print(f"round {r}: rewards all equal ({batch.mean_reward:.2f}); no signal")
        continue
    opt.zero_grad()
    loss, stats = batch.loss()
    loss.backward()
    genc.clip_grad_norm(policy.parameters(), 1.0)
    opt.step()
    policy.update_bias()
    print(f"round {r}: reward {batch.mean_reward:.2f}, accuracy {batch.accuracy:.2f}, format {batch.format_rate:.2f}, "
          f"loss {loss.item():+.4f}, clipped {stats['clip_frac']:.2f}")
print("a response:", batch.texts[0])
