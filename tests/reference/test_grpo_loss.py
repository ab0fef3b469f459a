"""The GRPO loss and its gradient in genc against PyTorch autograd, written here from the
formulas of shared/reference/r1-grpo.md (DeepSeekMath GRPO, Dr. GRPO, DAPO), on fixed random
logits, rewards-derived advantages and response masks: every aggregation ("grpo", "dr_grpo",
"dapo"), beta 0 and > 0, on-policy (ratio 1) and off-policy (some ratios clipped), at
temperature 1 and at a sampling temperature of 0.7 (logits divided by it, as TRL does).
Usage: test_grpo_loss.py <genc binary> <build dir>"""
import os, subprocess, sys, tempfile

import numpy as np
import torch
from st_io import st_read, st_write

AGGS = {"grpo": 0, "dr_grpo": 1, "dapo": 2}


def torch_loss(logits, actions, old, ref, adv, mask, eps_low, eps_high, beta, agg, max_len, tau):
    z = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    logp = torch.log_softmax(z / tau, -1).gather(-1, torch.tensor(actions)[:, None]).squeeze(-1)
    old, ref, adv = (torch.tensor(x, dtype=torch.float64) for x in (old, ref, adv))
    ratio = torch.exp(logp - old)
    surr = torch.minimum(ratio * adv, torch.clamp(ratio, 1 - eps_low, 1 + eps_high) * adv)
    kl = torch.exp(ref - logp) - (ref - logp) - 1
    per_tok = (surr - beta * kl).reshape(mask.shape)
    m = torch.tensor(mask, dtype=torch.float64)
    if agg == "grpo":
        J = ((per_tok * m).sum(1) / m.sum(1)).mean()
    elif agg == "dr_grpo":
        J = (per_tok * m).sum() / (mask.shape[0] * max_len)
    else:
        J = (per_tok * m).sum() / m.sum()
    loss = -J
    loss.backward()
    return loss.item(), z.grad.numpy()


def case(tool, tmp, rng, agg, beta, off_policy, tau):
    rows, T, V = 6, 7, 11  # 6 rollouts (2 prompts x G = 3), 7 positions, vocabulary 11
    N = rows * T
    logits = rng.normal(0, 1.5, (N, V)).astype(np.float32)
    actions = rng.integers(0, V, N).astype(np.int64)
    logp = torch.log_softmax(torch.tensor(logits, dtype=torch.float64) / tau, -1).numpy()[np.arange(N), actions]
    shift = rng.normal(0, 0.4, N) if off_policy else np.zeros(N)
    old = (logp + shift).astype(np.float32)
    ref = (logp + rng.normal(0, 0.3, N)).astype(np.float32)
    rewards = rng.integers(0, 2, rows).astype(np.float64)
    groups = rewards.reshape(2, 3)
    a = (groups - groups.mean(1, keepdims=True)) / (groups.std(1, keepdims=True) + 1e-4)
    adv = np.repeat(a.reshape(-1), T).astype(np.float32)
    mask = np.zeros((rows, T), np.float32)
    for r in range(rows):  # prompt of 2 tokens, then a response of 2..5 tokens, then padding
        mask[r, 2:2 + rng.integers(2, 6)] = 1
    meta = {"eps_low": "0.2", "eps_high": "0.28", "beta": str(beta), "agg": str(AGGS[agg]), "max_len": "5",
            "temperature": str(tau)}
    st_write(tmp + "/in.safetensors", {"logits": logits, "actions": actions, "old_logp": old, "ref_logp": ref,
                                       "adv": adv, "mask": mask}, meta)
    subprocess.run([tool, tmp + "/in.safetensors", tmp + "/out.safetensors"], check=True)
    got, _ = st_read(tmp + "/out.safetensors")
    want_loss, want_grad = torch_loss(logits.astype(np.float64), actions, old.astype(np.float64),
                                      ref.astype(np.float64), adv.astype(np.float64), mask, 0.2, 0.28, beta, agg, 5, tau)
    scale = max(np.abs(want_grad).max(), 1e-6)
    ok_loss = abs(got["loss"][0] - want_loss) <= 1e-5 + 1e-4 * abs(want_loss)
    ok_grad = np.abs(got["dlogits"] - want_grad).max() <= 1e-5 + 1e-4 * scale
    label = "%s beta=%g %s tau=%g" % (agg, beta, "off-policy" if off_policy else "on-policy", tau)
    if not (ok_loss and ok_grad):
        print("FAIL %s: loss %g vs %g, max grad err %g (scale %g)" % (label, got["loss"][0], want_loss,
              np.abs(got["dlogits"] - want_grad).max(), scale))
    return ok_loss and ok_grad


def main():
    build = sys.argv[2]
    tool = os.path.join(build, "grpo_tool")
    rng = np.random.default_rng(20261127)
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for agg in AGGS:
            for beta in (0.0, 0.04):
                for off in (False, True):
                    for tau in (1.0, 0.7):  # 0.7: the log-probs of rollouts sampled at T = 0.7
                        if case(tool, tmp, rng, agg, beta, off, tau):
                            passed += 1
                        else:
                            failed += 1
    print("grpo loss vs PyTorch: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
