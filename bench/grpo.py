#!/usr/bin/python3
"""bench/grpo.py: GRPO throughput of PyTorch on the same DeepSeek-V3-architecture model and
the same work as bench/grpo.c (the genc half; bench/grpo.sh runs both).

The model is genc's PREFIX.safetensors (bench_grpo writes it), run by the float32 PyTorch
model of bench/lm_train.py (batched MLA with the shared decoupled RoPE key, vectorised MoE
dispatch; itself checked against genc there). The prompts are PREFIX.prompts [P, Lp].

rollout: P x G rows (each prompt repeated G times), one prefill of the prompts, then one
  token per row per step, drawn with torch.multinomial from softmax(logits) (temperature 1)
  with its log-probability, max_new tokens per row, no eos. The KV cache (--cache):
  "latent" (default) keeps what genc's cache keeps, per layer the normalised c_kv and the
  roped k_pe, and decodes in the absorbed form (q_nope folded through kv_b_proj's key part,
  the attention-weighted latent expanded by its value part); "kv" keeps plain per-head
  keys [k_nope ; k_pe] and values (kv_b_proj applied once per token) and runs ordinary
  attention. Both under torch.inference_mode().
update: on genc's own last rollout batch (PREFIX.rollout: tokens, old log-probs,
  advantages, aggregation weights), the clipped objective
  loss = -sum_n w_n min(r_n A_n, clip(r_n, 0.8, 1.2) A_n), r_n = exp(logp_n - old_n),
  forward, backward, clip_grad_norm_(1.0), AdamW (lr --lr, betas (0.9, 0.99), eps 1e-8, no
  weight decay), as bench_grpo.

Checks before timing (the script refuses to time a different function):
  - its cached decoder, fed genc's rollout tokens, gives genc's sampled log-probabilities
    (max abs difference < 1e-3: the cache and the model are the same);
  - the step-0 gradient norm agrees with genc's to rel 1e-3 (the objective and its gradient),
    and the losses after one and two AdamW updates to 1e-3 abs (the optimiser too).

Both rates count generated tokens (rows x max_new) per second of the phase. Timing: one
untimed rollout, then --rounds timed; three untimed updates (the checks), then --rounds
blocks of --steps updates. Prints medians (min/max too: the machine may be shared) and
"RESULT torch threads=N rollout_tokens_per_s=X update_tokens_per_s=Y".

    /usr/bin/python3 bench/grpo.py --prefix PREFIX --prompts 8 --group 8 --prompt-len 24
        --max-new 64 [--threads 2] [--rounds 5] [--steps 2] [--lr 1e-3] [--cache latent|kv]
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lm_train import Cfg, Model, rms_norm, st_read  # noqa: E402  (the float32 model of bench/lm_train.py)


class Decoder:
    """Incremental main-model decoding of B rows with a KV cache (latent or plain k/v)."""

    def __init__(self, model, B, max_len, kind):
        self.m, self.c, self.kind = model, model.c, kind
        c = self.c
        self.len = 0
        cos, sin, _ = model.tables(max_len)
        self.cos, self.sin = cos, sin                                           # [max_len, 1, rope/2]
        if kind == "latent":
            self.ckv = torch.zeros(c.n_layers, B, max_len, c.kv_lora)
            self.kpe = torch.zeros(c.n_layers, B, max_len, c.rope)
        else:
            self.k = torch.zeros(c.n_layers, B, c.n_heads, max_len, c.nope + c.rope)
            self.v = torch.zeros(c.n_layers, B, c.n_heads, max_len, c.vdim)

    def attention(self, layer, p, x):
        """x [B, n, dim] (normed) at slots len .. len + n - 1, causal within the chunk."""
        c, P = self.c, self.m.p
        B, n, _ = x.shape
        H, t0, t1 = c.n_heads, self.len, self.len + x.shape[1]
        cos, sin = self.cos[t0:t1], self.sin[t0:t1]
        if c.q_lora > 0:
            q = F.linear(rms_norm(F.linear(x, P[p + "self_attn.q_a_proj.weight"]),
                                  P[p + "self_attn.q_a_layernorm.weight"], c.eps), P[p + "self_attn.q_b_proj.weight"])
        else:
            q = F.linear(x, P[p + "self_attn.q_proj.weight"])
        q = q.view(B, n, H, c.nope + c.rope)
        q_nope, q_pe = q[..., :c.nope], Model.rope(q[..., c.nope:], cos, sin)
        kv = F.linear(x, P[p + "self_attn.kv_a_proj_with_mqa.weight"])
        ckv = rms_norm(kv[..., :c.kv_lora], P[p + "self_attn.kv_a_layernorm.weight"], c.eps)    # [B, n, r]
        k_pe = Model.rope(kv[..., c.kv_lora:].unsqueeze(2), cos, sin).squeeze(2)                # [B, n, rope]
        wkvb = P[p + "self_attn.kv_b_proj.weight"].view(H, c.nope + c.vdim, c.kv_lora)
        scale = (c.nope + c.rope) ** -0.5
        mask = torch.ones(n, t1, dtype=torch.bool).triu(t0 + 1) if n > 1 else None
        if self.kind == "latent":
            self.ckv[layer, :, t0:t1], self.kpe[layer, :, t0:t1] = ckv, k_pe
            C, Kp = self.ckv[layer, :, :t1], self.kpe[layer, :, :t1]                           # [B, t1, r|rope]
            q_lat = torch.einsum("bnhd,hdr->bhnr", q_nope, wkvb[:, :c.nope])                   # absorbed query
            s = (torch.matmul(q_lat, C.unsqueeze(1).transpose(-1, -2)) +
                 torch.matmul(q_pe.transpose(1, 2), Kp.unsqueeze(1).transpose(-1, -2))) * scale  # [B, H, n, t1]
            if mask is not None:
                s = s.masked_fill(mask, float("-inf"))
            o_lat = torch.matmul(torch.softmax(s, -1), C.unsqueeze(1))                         # [B, H, n, r]
            o = torch.einsum("bhnr,hvr->bnhv", o_lat, wkvb[:, c.nope:])
        else:
            kvb = F.linear(ckv, P[p + "self_attn.kv_b_proj.weight"]).view(B, n, H, c.nope + c.vdim)
            k = torch.cat((kvb[..., :c.nope], k_pe.unsqueeze(2).expand(B, n, H, c.rope)), -1)
            self.k[layer, :, :, t0:t1], self.v[layer, :, :, t0:t1] = k.transpose(1, 2), kvb[..., c.nope:].transpose(1, 2)
            qf = torch.cat((q_nope, q_pe), -1).transpose(1, 2)                                 # [B, H, n, qk]
            s = torch.matmul(qf, self.k[layer, :, :, :t1].transpose(-1, -2)) * scale
            if mask is not None:
                s = s.masked_fill(mask, float("-inf"))
            o = torch.matmul(torch.softmax(s, -1), self.v[layer, :, :, :t1]).transpose(1, 2)   # [B, n, H, v]
        return F.linear(o.reshape(B, n, H * c.vdim), P[p + "self_attn.o_proj.weight"])

    def step(self, tokens):
        """tokens [B, n] -> logits [B, V] of the last new slot."""
        c, P, m = self.c, self.m.p, self.m
        B, n = tokens.shape
        x = F.embedding(tokens, P["model.embed_tokens.weight"])
        for L in range(c.n_layers):
            p = "model.layers.%d." % L
            x = x + self.attention(L, p, rms_norm(x, P[p + "input_layernorm.weight"], c.eps))
            u = rms_norm(x, P[p + "post_attention_layernorm.weight"], c.eps)
            x = x + (m.moe(p, u.reshape(B * n, c.dim)).view(B, n, c.dim) if c.is_moe(L) else m.swiglu(p + "mlp.", u))
        self.len += n
        return m.head(x[:, -1])


@torch.inference_mode()
def rollout(model, prompts, G, max_new, kind, force=None):
    """Sample max_new tokens for each prompt repeated G times; with force [rows, max_new],
    feed those tokens instead (teacher forcing) and return their log-probabilities."""
    rows, Lp = prompts.shape[0] * G, prompts.shape[1]
    dec = Decoder(model, rows, Lp + max_new, kind)
    logits = dec.step(prompts.repeat_interleave(G, 0))
    out = torch.empty(rows, max_new, dtype=torch.long)
    logp = torch.empty(rows, max_new)
    for i in range(max_new):
        lsm = torch.log_softmax(logits, -1)
        ids = force[:, i:i + 1] if force is not None else torch.multinomial(lsm.exp(), 1)
        out[:, i:i + 1], logp[:, i:i + 1] = ids, lsm.gather(1, ids)
        if i + 1 < max_new:
            logits = dec.step(ids)
    return out, logp


def policy_logits(model, tokens):
    """Main-model logits [R, T, V] of tokens [R, T] (no MTP), with autograd."""
    c, P = model.c, model.p
    T = tokens.shape[1]
    x = F.embedding(tokens, P["model.embed_tokens.weight"])
    for L in range(c.n_layers):
        x = model.block(L, x, T)
    return model.head(x)


def grpo_loss(logits, actions, old, adv, weight, eps_low=0.2, eps_high=0.2):
    logp = torch.log_softmax(logits.reshape(-1, logits.shape[-1]), -1).gather(1, actions.reshape(-1, 1)).squeeze(1)
    ratio = torch.exp(logp - old)
    surr = torch.minimum(ratio * adv, torch.clamp(ratio, 1 - eps_low, 1 + eps_high) * adv)
    return -(weight * surr).sum()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--prompt-len", type=int, default=24)
    ap.add_argument("--max-new", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--cache", choices=("latent", "kv"), default="latent")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    arrays, meta = st_read(a.prefix + ".safetensors")
    model = Model(Cfg(json.loads(meta["config"])), arrays)
    P, G, Lp, N = a.prompts, a.group, a.prompt_len, a.max_new
    rows, T = P * G, Lp + N
    prompts = torch.from_numpy(np.fromfile(a.prefix + ".prompts", dtype="<i4").astype(np.int64)).view(P, Lp)
    raw = open(a.prefix + ".rollout", "rb").read()
    tokens = torch.from_numpy(np.frombuffer(raw, dtype="<i4", count=rows * T).astype(np.int64)).view(rows, T)
    f32 = np.frombuffer(raw, dtype="<f4", offset=4 * rows * T).reshape(3, rows * T)
    old, adv, weight = (torch.from_numpy(f32[k].copy()) for k in range(3))
    actions = torch.cat((tokens[:, 1:], torch.zeros(rows, 1, dtype=torch.long)), 1)
    want = dict(line.split() for line in open(a.prefix + ".losses"))
    model.tables(T)   # RoPE tables made outside inference mode: the update's autograd reuses them

    # Check 1: the cached decoder reproduces genc's sampled log-probabilities.
    _, lp = rollout(model, prompts, G, N, a.cache, force=tokens[:, Lp:])
    genc_lp = old.view(rows, T)[:, Lp - 1:T - 1]
    dlp = (lp - genc_lp).abs().max().item()
    print("check decode (%s cache) log-probs of genc's rollout: max abs diff %.2e (tol 1e-3)" % (a.cache, dlp))

    train = [t for t in model.p.values() if t.requires_grad]
    opt = torch.optim.AdamW(train, lr=a.lr, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.0)

    def update():
        opt.zero_grad(set_to_none=True)
        loss = grpo_loss(policy_logits(model, tokens), actions, old, adv, weight)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(train, 1.0)
        opt.step()
        return loss.item(), norm.item()

    # Check 2: gradient norm of step 0, losses of steps 1 and 2 (after AdamW updates).
    got = [update() for _ in range(3)]
    g0, w0 = got[0][1], float(want["gnorm0"])
    bad = dlp > 1e-3
    print("check step-0 grad norm: torch %.7f genc %.7f rel %.2e (tol 1e-3)" % (g0, w0, abs(g0 - w0) / w0))
    bad |= not abs(g0 - w0) <= 1e-3 * w0
    for s in range(3):   # step 0: ratio 1, so the loss is ~0 (sum of advantages); then relative
        w = float(want["loss%d" % s])
        tol = 1e-6 if s == 0 else 1e-3 * abs(w)
        print("check step %d loss: torch %.9f genc %.9f abs diff %.2e (tol %.1e)" % (s, got[s][0], w, abs(got[s][0] - w), tol))
        bad |= not abs(got[s][0] - w) <= tol
    if bad:
        raise SystemExit("grpo.py: results differ from genc's: not the same work")

    rollout(model, prompts, G, N, a.cache)                                     # warm-up
    roll = []
    for _ in range(a.rounds):
        t0 = time.perf_counter()
        rollout(model, prompts, G, N, a.cache)
        roll.append(rows * N / (time.perf_counter() - t0))
    upd = []
    for _ in range(a.rounds):
        t0 = time.perf_counter()
        for _ in range(a.steps):
            update()
        upd.append(a.steps * rows * N / (time.perf_counter() - t0))
    n_params = sum(t.numel() for t in model.p.values())
    rm, um = statistics.median(roll), statistics.median(upd)
    print("torch  %d params  %d x %d rollouts, prompt %d + %d new tokens, threads %d, %s cache" %
          (n_params, P, G, Lp, N, a.threads, a.cache))
    print("torch  rollout %.0f tokens/s (median of %d; min %.0f, max %.0f); update %.0f tokens/s (median of %d blocks "
          "of %d; min %.0f, max %.0f)" % (rm, a.rounds, min(roll), max(roll), um, a.rounds, a.steps, min(upd), max(upd)))
    print("RESULT torch threads=%d rollout_tokens_per_s=%.1f update_tokens_per_s=%.1f" % (a.threads, rm, um))


if __name__ == "__main__":
    main()
