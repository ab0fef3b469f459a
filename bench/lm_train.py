#!/usr/bin/python3
"""bench/lm_train.py: training throughput (tokens/s) of PyTorch on the same DeepSeek-V3-
architecture model as bench/lm_train.c (the genc half; bench/lm_train.sh runs both).

The model is read from genc's checkpoint PREFIX.safetensors (bench_lm_train writes it: the
Hugging Face tensor names, the config JSON in the metadata, genc's initial weights), the batch
[B, T + 1] from PREFIX.tokens (int32). It is the computation of tests/reference/deepseek_ref.py
(the independent float64 reference) written for speed in float32 with torch autograd:
batched attention with the decoupled RoPE key broadcast over heads, a precomputed causal mask
and RoPE table, and a vectorised MoE dispatch (tokens sorted by expert, one gather, one SwiGLU
per expert on its contiguous group, one index_add back; no per-token Python loop). The
balance loss (aux_loss_alpha > 0) is not implemented: the presets do not use it.

A step: zero_grad(set_to_none=True), forward, backward, clip_grad_norm_(1.0), AdamW (lr 1e-3,
betas (0.9, 0.95), eps 1e-8, weight decay 0.1 on matrices, none on vectors; foreach or not, as
--foreach says), the aux-loss-free bias update (b_i += gamma * sign(mean load - load_i)), as
genc does. The losses of steps 0, 1, 2 are compared with genc's (PREFIX.losses): step 0 must
agree to rel 1e-4 (same weights, same batch: the same function), steps 1 and 2 (after AdamW
updates: this checks gradients and the optimiser too) are reported and must agree to rel 1e-3.

Timing: --warmup steps untimed (>= 3), then --blocks blocks of --steps steps; prints the
median block's tokens/s (min/max too: the machine may be shared, so it is noisy) and
"RESULT torch threads=N tokens_per_s=X cpu_share=S peak_rss_mib=R base_rss_mib=R0" (S: process CPU
time / (wall x threads) over the timed blocks; R: the process's peak resident memory, getrusage;
R0: resident memory before the first step). torch.set_num_threads(--threads); set
OMP_NUM_THREADS to the same in the environment (bench/lm_train.sh does).

    /usr/bin/python3 bench/lm_train.py --prefix PREFIX --batch 16 --seq 128 [--threads 2]
        [--warmup 3] [--steps 5] [--blocks 5] [--foreach 1]
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
from lm_fixture import st_read  # noqa: E402  (a dependency-free safetensors reader)


class Cfg:
    def __init__(self, d):
        self.vocab, self.dim, self.n_layers = d["vocab_size"], d["hidden_size"], d["num_hidden_layers"]
        self.n_heads, self.q_lora, self.kv_lora = d["num_attention_heads"], d["q_lora_rank"], d["kv_lora_rank"]
        self.nope, self.rope, self.vdim = d["qk_nope_head_dim"], d["qk_rope_head_dim"], d["v_head_dim"]
        self.theta, self.eps = float(d["rope_theta"]), float(d["rms_norm_eps"])
        self.n_dense, self.n_routed = d["first_k_dense_replace"], d["n_routed_experts"]
        self.n_shared, self.n_active = d["n_shared_experts"], d["num_experts_per_tok"]
        self.n_group, self.topk_group = d["n_group"], d["topk_group"]
        self.route_scale, self.score = float(d["routed_scaling_factor"]), d["scoring_func"]
        self.norm_topk, self.mtp = bool(d["norm_topk_prob"]), d["num_nextn_predict_layers"]
        self.mtp_lambda, self.gamma = float(d["genc_mtp_lambda"]), float(d["genc_bias_update_speed"])
        self.aux_free = d["genc_balance"] == "aux_free"
        if float(d["aux_loss_alpha"]) > 0 and d["genc_balance"] != "none":
            raise SystemExit("lm_train.py: the balance loss (aux_loss_alpha > 0) is not implemented")

    def is_moe(self, layer):
        return self.n_routed > 0 and layer >= self.n_dense


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


class Model:
    """Functional on a dict of float32 leaf tensors named as the checkpoint."""

    def __init__(self, cfg, arrays):
        self.c = cfg
        self.p = {}
        for name, a in arrays.items():
            t = torch.from_numpy(np.array(a, dtype=np.float32))
            if not name.endswith("e_score_correction_bias"):
                t.requires_grad_(True)
            self.p[name] = t
        self.loads = {}     # MoE block prefix -> tokens routed to each expert in the last forward
        self._tables = {}

    def tables(self, T):
        """RoPE cos/sin [T, rope/2] (angles in float64, as the reference) and the causal mask."""
        if T not in self._tables:
            c = self.c
            i = torch.arange(0, c.rope // 2, dtype=torch.float64)
            ang = torch.arange(T, dtype=torch.float64)[:, None] * (c.theta ** (-(2.0 * i) / c.rope))[None, :]
            mask = torch.ones(T, T, dtype=torch.bool).triu(1)
            self._tables[T] = (torch.cos(ang).float()[:, None, :], torch.sin(ang).float()[:, None, :], mask)
        return self._tables[T]

    @staticmethod
    def rope(x, cos, sin):
        """x [B, T, H, d]: interleaved pairs rotated; cos/sin [T, 1, d/2]."""
        x0, x1 = x[..., 0::2], x[..., 1::2]
        return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), -1).flatten(-2)

    def attention(self, p, x, T):
        c, P = self.c, self.p
        B = x.shape[0]
        H = c.n_heads
        cos, sin, mask = self.tables(T)
        if c.q_lora > 0:
            q = F.linear(rms_norm(F.linear(x, P[p + "self_attn.q_a_proj.weight"]),
                                  P[p + "self_attn.q_a_layernorm.weight"], c.eps), P[p + "self_attn.q_b_proj.weight"])
        else:
            q = F.linear(x, P[p + "self_attn.q_proj.weight"])
        q = q.view(B, T, H, c.nope + c.rope)
        q_nope, q_pe = q[..., :c.nope], self.rope(q[..., c.nope:], cos, sin)
        kv = F.linear(x, P[p + "self_attn.kv_a_proj_with_mqa.weight"])
        ckv = rms_norm(kv[..., :c.kv_lora], P[p + "self_attn.kv_a_layernorm.weight"], c.eps)
        k_pe = self.rope(kv[..., c.kv_lora:].unsqueeze(2), cos, sin)                    # [B, T, 1, rope]
        kvb = F.linear(ckv, P[p + "self_attn.kv_b_proj.weight"]).view(B, T, H, c.nope + c.vdim)
        k_nope, v = kvb[..., :c.nope], kvb[..., c.nope:]
        # q.k = q_nope.k_nope + q_pe.k_pe, the shared k_pe broadcast over the heads
        scores = (torch.matmul(q_nope.transpose(1, 2), k_nope.permute(0, 2, 3, 1)) +
                  torch.matmul(q_pe.transpose(1, 2), k_pe.permute(0, 2, 3, 1)))          # [B, H, T, T]
        scores = (scores * (c.nope + c.rope) ** -0.5).masked_fill(mask, float("-inf"))
        o = torch.matmul(torch.softmax(scores, -1), v.transpose(1, 2))                  # [B, H, T, vdim]
        return F.linear(o.transpose(1, 2).reshape(B, T, H * c.vdim), P[p + "self_attn.o_proj.weight"])

    def swiglu(self, p, x):
        P = self.p
        return F.linear(F.silu(F.linear(x, P[p + "gate_proj.weight"])) * F.linear(x, P[p + "up_proj.weight"]),
                        P[p + "down_proj.weight"])

    def moe(self, p, u):
        c, P = self.c, self.p
        N, D = u.shape
        E, K = c.n_routed, c.n_active
        logits = F.linear(u, P[p + "mlp.gate.weight"])
        s = torch.sigmoid(logits) if c.score == "sigmoid" else torch.softmax(logits, -1)
        with torch.no_grad():
            sel = s + P[p + "mlp.gate.e_score_correction_bias"]
            if c.n_group > 1:
                gs = sel.view(N, c.n_group, E // c.n_group).topk(2, -1).values.sum(-1)     # [N, G]
                keep = torch.zeros(N, c.n_group, dtype=torch.bool)
                keep.scatter_(1, gs.topk(c.topk_group, -1).indices, True)
                sel = sel.masked_fill(~keep.repeat_interleave(E // c.n_group, 1), float("-inf"))
            idx = sel.topk(K, -1).indices                                                 # [N, K]
            flat = idx.reshape(-1)
            order = torch.sort(flat, stable=True).indices                                 # slots grouped by expert
            tok = order // K
            counts = torch.bincount(flat, minlength=E)
            self.loads[p] = counts
            counts = counts.tolist()
        w = s.gather(1, idx)
        if c.score == "sigmoid" or c.norm_topk:
            w = w / w.sum(-1, keepdim=True)
        w = (w * c.route_scale).reshape(-1)[order]
        xs = u[tok]
        outs, start = [], 0
        for e in range(E):
            if counts[e]:
                outs.append(self.swiglu(p + "mlp.experts.%d." % e, xs[start:start + counts[e]]))
                start += counts[e]
        ys = torch.cat(outs) * w.unsqueeze(-1)
        y = torch.zeros_like(u).index_add(0, tok, ys)
        if c.n_shared > 0:
            y = y + self.swiglu(p + "mlp.shared_experts.", u)
        return y

    def block(self, layer, x, T):
        c, P = self.c, self.p
        p = "model.layers.%d." % layer
        x = x + self.attention(p, rms_norm(x, P[p + "input_layernorm.weight"], c.eps), T)
        u = rms_norm(x, P[p + "post_attention_layernorm.weight"], c.eps)
        if c.is_moe(layer):
            B = u.shape[0]
            return x + self.moe(p, u.reshape(B * T, c.dim)).view(B, T, c.dim)
        return x + self.swiglu(p + "mlp.", u)

    def head(self, h):
        return F.linear(rms_norm(h, self.p["model.norm.weight"], self.c.eps), self.p["lm_head.weight"])

    def forward(self, tokens):
        """tokens [B, T+1] -> (total loss, main loss)."""
        c, P = self.c, self.p
        T = tokens.shape[1] - 1
        emb = P["model.embed_tokens.weight"]
        x = F.embedding(tokens[:, :T], emb)
        for L in range(c.n_layers):
            x = self.block(L, x, T)
        main = F.cross_entropy(self.head(x).reshape(-1, c.vocab), tokens[:, 1:].reshape(-1))
        total, h = main, x
        for k in range(1, c.mtp + 1):
            L, n = c.n_layers + k - 1, T - k
            p = "model.layers.%d." % L
            e = F.embedding(tokens[:, k:k + n], emb)
            cat = torch.cat((rms_norm(e, P[p + "enorm.weight"], c.eps), rms_norm(h[:, :n], P[p + "hnorm.weight"], c.eps)), -1)
            h = self.block(L, F.linear(cat, P[p + "eh_proj.weight"]), n)
            lk = F.cross_entropy(self.head(h).reshape(-1, c.vocab), tokens[:, k + 1:k + 1 + n].reshape(-1))
            total = total + (c.mtp_lambda / c.mtp) * lk
        return total, main

    @torch.no_grad()
    def update_bias(self):
        c = self.c
        if not self.aux_free_on():
            return
        for p, load in self.loads.items():
            mean = load.sum().item() / c.n_routed   # = tokens * K / E
            self.p[p + "mlp.gate.e_score_correction_bias"].add_(c.gamma * torch.sign(mean - load.double()).float())

    def aux_free_on(self):
        return self.c.aux_free and self.c.gamma != 0 and self.c.n_routed > 0


def rss_now_mib():
    """Resident memory now, from /proc/self/statm (0 where there is none)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1048576.0
    except OSError:
        return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--foreach", type=int, default=1, help="AdamW foreach implementation (1) or per tensor (0)")
    a = ap.parse_args()
    if a.warmup < 3:
        raise SystemExit("lm_train.py: --warmup must be >= 3")
    torch.set_num_threads(a.threads)
    arrays, meta = st_read(a.prefix + ".safetensors")
    cfg = Cfg(json.loads(meta["config"]))
    model = Model(cfg, arrays)
    B, T = a.batch, a.seq
    tokens = torch.from_numpy(np.fromfile(a.prefix + ".tokens", dtype="<i4").astype(np.int64)).view(B, T + 1)
    want = {}
    with open(a.prefix + ".losses") as f:
        for line in f:
            s, tot, mn = line.split()
            want[int(s)] = (float(tot), float(mn))

    train = [t for t in model.p.values() if t.requires_grad]
    opt = torch.optim.AdamW([{"params": [t for t in train if t.dim() >= 2], "weight_decay": 0.1},
                             {"params": [t for t in train if t.dim() < 2], "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8, foreach=bool(a.foreach))
    n_params = sum(t.numel() for t in model.p.values())

    def step():
        opt.zero_grad(set_to_none=True)
        total, main_loss = model.forward(tokens)
        total.backward()
        torch.nn.utils.clip_grad_norm_(train, 1.0)
        opt.step()
        model.update_bias()
        return total.item(), main_loss.item()

    base_rss = rss_now_mib()
    got = {}
    for i in range(a.warmup):
        r = step()
        if i < 3:
            got[i] = r
    bad = []
    for i in range(3):
        tol = 1e-4 if i == 0 else 1e-3
        for j, what in enumerate(("total", "main")):
            rel = abs(got[i][j] - want[i][j]) / abs(want[i][j])
            print("check step %d %s loss: torch %.7f genc %.7f rel %.2e (tol %.0e)" % (i, what, got[i][j], want[i][j], rel, tol))
            if not rel <= tol:
                bad.append((i, what))
    if bad:
        raise SystemExit("lm_train.py: losses differ from genc's at %s: not the same model" % bad)

    rates = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(a.blocks):
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step()
        rates.append(a.steps * B * T / (time.perf_counter() - t0))
    share = (time.process_time() - cpu0) / ((time.perf_counter() - wall0) * a.threads)
    med = statistics.median(rates)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("torch  %d params  B=%d T=%d threads=%d foreach=%d  %.0f tokens/s (median of %d blocks of %d steps; "
          "min %.0f, max %.0f)  cpu %.0f%%  step-0 loss %.6f" % (n_params, B, T, a.threads, a.foreach, med, a.blocks,
                                                                a.steps, min(rates), max(rates), 100 * share, got[0][0]))
    print("MEMORY peak RSS %.1f MiB (%.1f MiB before the first step)" % (peak, base_rss))
    print("RESULT torch threads=%d params=%d tokens_per_s=%.1f cpu_share=%.3f peak_rss_mib=%.1f base_rss_mib=%.1f"
          % (a.threads, n_params, med, share, peak, base_rss))


if __name__ == "__main__":
    main()
