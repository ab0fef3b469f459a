"""GRPO from Python: sample a group of rollouts per prompt with the token generator, score
them with a rule-based reward, and take policy-gradient steps with genc.grpo_loss
(DeepSeekMath eq. 3, clipped ratio, group-relative advantages).

The toy task: after "Say seven:" the reward is 1 when the answer contains the digit 7.
    PYTHONPATH=build/python /usr/bin/python3 examples/grpo.py [rounds]
"""
import sys

import numpy as np

import genc

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
G, MAX_NEW = 8, 6
text = "Say seven: 7. Say one: 1. Say seven: seven 7! " * 200 + open("/usr/share/games/fortunes/fortunes",
                                                                    encoding="latin-1").read()[:50_000]
tok = genc.Tokenizer.train(text, 300)
policy = genc.LanguageModel("tiny", tokenizer=tok, vocab_size=tok.vocab_size, max_position_embeddings=64)
ids = np.array(tok.encode(text), dtype=np.int32)
policy.fit(ids, steps=60, batch=8, seq=32)                  # a little pre-training, in C
opt = genc.AdamW(policy.parameters(), lr=1e-3, weight_decay=0.0)
prompt = tok.encode("Say seven:")

for r in range(rounds):
    rollouts = [list(policy.generate(prompt, MAX_NEW, temperature=1.0, eos=-1)) for _ in range(G)]
    rewards = [1.0 if "7" in tok.decode(o) else 0.0 for o in rollouts]
    adv = genc.grpo_advantages(rewards, G)
    rows = [prompt + o for o in rollouts]
    T = max(len(x) for x in rows)
    rows = [x + [0] * (T - len(x)) for x in rows]           # right padding (weight 0 there)
    with genc.no_grad():                                     # log-probs of the sampling policy
        old = genc.log_softmax(policy(rows)).numpy()
    actions, old_lp, advs, w = [], [], [], []
    for i, x in enumerate(rows):
        for t in range(T - 1):
            resp = len(prompt) - 1 <= t < len(prompt) - 1 + len(rollouts[i])
            actions.append(x[t + 1])
            old_lp.append(old[i, t, x[t + 1]])
            advs.append(adv[i])
            w.append(1.0 / (G * len(rollouts[i])) if resp else 0.0)
    opt.zero_grad()
    logits = policy(rows).reshape(G * T, -1)                # [G*T, V], with autograd
    keep = [i * T + t for i in range(G) for t in range(T - 1)]
    loss, stats = genc.grpo_loss(genc.gather_rows(logits, keep), actions, old_lp, advs, w)
    loss.backward()
    opt.step()
    print(f"round {r}: mean reward {np.mean(rewards):.2f}, loss {loss.item():+.4f}, clip {stats['clip_frac']:.2f}")
