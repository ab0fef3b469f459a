"""An independent PyTorch reference of the DeepSeek-V3 architecture as genc implements it
(facts: shared/reference/deepseek-v3.md). Float64 by default; functional, on a dict of
tensors named exactly as the Hugging Face checkpoint layout, so gradients come back under
the same names.

    import deepseek_ref as R
    cfg = R.Config.from_dict(json.loads(meta["config"]))
    model = R.Model(cfg, {name: torch.tensor(array) ...})      # float64, grads enabled
    out = model.forward(tokens)          # tokens LongTensor [B, T+1]
    out["loss"].backward(); model.params["lm_head.weight"].grad ...

Conventions (every one of these is a choice genc must match; see also test_lm_reference.py):
- RMSNorm: y = x * rsqrt(mean(x^2) + eps) * w (eps inside the root, mean over the last dim).
- MLA (naive path): q = q_b(rmsnorm(q_a x)) if q_lora_rank > 0 else q_proj x, per head
  [q_nope ; q_pe]; [c_kv ; k_pe] = kv_a_proj_with_mqa x, c_kv = kv_a_layernorm(c_kv);
  kv_b_proj c_kv per head [k_nope ; v]; RoPE on q_pe and the single shared k_pe, interleaved
  pairs (x[2i], x[2i+1]) rotated by pos * theta^(-2i/d_rope), positions 0..T-1; scores
  (q_nope.k_nope + q_pe.k_pe) * (qk_nope + qk_rope)^-0.5, causal; with rope_scaling YaRN
  (rope_frequencies: the interpolated frequencies, the cos/sin magnitude and the softmax
  scale's mscale^2, as DeepSeek-V3's config means them); no other scaling, whatever
  max_position_embeddings says.
- FFN: dense SwiGLU down(silu(gate x) * up x) in layers with index < first_k_dense_replace
  and in every layer when n_routed_experts == 0; otherwise MoE (see gate()).
- Gate: s = sigmoid(u W^T) or softmax over the routed experts; sel = s + b (b =
  e_score_correction_bias when the checkpoint has it, else 0), detached; groups (n_group > 1):
  group score = sum of the top-2 sel of the group (top-1 if a group has one expert), keep the
  topk_group best groups, the others' experts get sel = -inf; idx = the num_experts_per_tok
  largest sel. All top-k choices break ties toward the LOWER index (stable sort on
  (-value, index)). Weights g = s[idx] / sum s[idx] (sigmoid: always; softmax: only when
  norm_topk_prob), no epsilon, times routed_scaling_factor. Output = shared(u) +
  sum g_i expert_i(u). Gradient flows through s[idx] (hence the gate weight), never through
  the selection or b.
- MTP module k = 1..D (layer index n_layers + k - 1): h'_i = eh_proj [enorm(Emb(t_{i+k})) ;
  hnorm(h^{k-1}_i)] (embedding FIRST), i = 0..T-1-k; h^k = Block(h') at RoPE positions
  0..T-1-k; logits_k = lm_head(model.norm(h^k)), predicting t_{i+k+1}. h^0 = the main model's
  last hidden state before model.norm. Nothing is detached: MTP losses reach the main model.
- Losses: main = mean CE over B*T; mtp_k = mean CE over B*(T-k); total = main +
  genc_mtp_lambda / D * sum_k mtp_k + L_bal. L_bal (main-model MoE layers only, summed over
  them) is on iff aux_loss_alpha > 0 and genc_balance != "none" (seq_aux only picks the
  averaging: the complementary sequence-wise loss next to aux_free, or the classic loss with
  aux_loss; genc rejects "none" with aux_loss_alpha > 0). Per layer:
  alpha * sum_i f_i P_i with f_i = N_r / (K * T_grp) * #(tokens of the group whose idx contains
  i) (no gradient), P_i = mean over the group's tokens of s_i / sum_j s_j (all N_r experts);
  the group is one sequence (seq_aux: the per-sequence values are averaged over the B
  sequences) or the whole batch of B*T tokens (seq_aux false).
"""
import collections
import json
import math

import torch
import torch.nn.functional as F

BALANCE_MODES = ("aux_free", "aux_loss", "none")


class Config:
    """The fields the reference uses, from a JSON dict with Hugging Face names."""

    REQUIRED = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")
    DEFAULTS = {
        "intermediate_size": 0, "moe_intermediate_size": 0, "n_shared_experts": 0,
        "n_routed_experts": 0, "num_experts_per_tok": 0, "n_group": 1, "topk_group": 1,
        "routed_scaling_factor": 1.0, "scoring_func": "sigmoid", "norm_topk_prob": True,
        "first_k_dense_replace": 0, "q_lora_rank": 0, "rope_theta": 10000.0,
        "rms_norm_eps": 1e-6, "max_position_embeddings": 4096, "num_nextn_predict_layers": 0,
        "aux_loss_alpha": 0.0, "seq_aux": True, "genc_mtp_lambda": 0.3,
        "genc_balance": "aux_free",
    }

    def __init__(self, d):
        missing = [k for k in self.REQUIRED if k not in d]
        if missing:
            raise ValueError("config lacks %s" % ", ".join(missing))
        self.raw = dict(d)
        self.defaulted = [k for k in self.DEFAULTS if k not in d]
        v = dict(self.DEFAULTS)
        v.update(d)
        self.vocab = int(v["vocab_size"])
        self.dim = int(v["hidden_size"])
        self.inter = int(v["intermediate_size"])
        self.moe_inter = int(v["moe_intermediate_size"])
        self.n_layers = int(v["num_hidden_layers"])
        self.n_heads = int(v["num_attention_heads"])
        self.n_shared = int(v["n_shared_experts"] or 0)
        self.n_routed = int(v["n_routed_experts"] or 0)
        self.n_active = int(v["num_experts_per_tok"] or 0)
        self.n_group = int(v["n_group"] or 1)
        self.topk_group = int(v["topk_group"] or 1)
        self.route_scale = float(v["routed_scaling_factor"])
        self.score = str(v["scoring_func"])
        self.norm_topk = bool(v["norm_topk_prob"])
        self.n_dense = int(v["first_k_dense_replace"] or 0)
        self.q_lora = int(v["q_lora_rank"] or 0)
        self.kv_lora = int(v["kv_lora_rank"])
        self.nope = int(v["qk_nope_head_dim"])
        self.rope = int(v["qk_rope_head_dim"])
        self.vdim = int(v["v_head_dim"])
        self.theta = float(v["rope_theta"])
        self.rope_scaling = v.get("rope_scaling") or None
        self.eps = float(v["rms_norm_eps"])
        self.max_seq = int(v["max_position_embeddings"])
        self.mtp = int(v["num_nextn_predict_layers"] or 0)
        self.aux_alpha = float(v["aux_loss_alpha"] or 0.0)
        self.seq_aux = bool(v["seq_aux"])
        self.mtp_lambda = float(v["genc_mtp_lambda"])
        self.balance = str(v["genc_balance"])
        self.check()

    @classmethod
    def from_dict(cls, d):
        return cls(d)

    @classmethod
    def from_json(cls, text):
        return cls(json.loads(text))

    def check(self):
        if self.score not in ("sigmoid", "softmax"):
            raise ValueError("scoring_func %r" % self.score)
        if self.balance not in BALANCE_MODES:
            raise ValueError("genc_balance %r" % self.balance)
        if self.rope % 2:
            raise ValueError("qk_rope_head_dim must be even")
        if self.n_routed > 0:
            if not 0 < self.n_active <= self.n_routed:
                raise ValueError("num_experts_per_tok %d with %d experts" % (self.n_active, self.n_routed))
            if self.n_routed % self.n_group:
                raise ValueError("n_group must divide n_routed_experts")
            if not 1 <= self.topk_group <= self.n_group:
                raise ValueError("topk_group out of range")
            if self.n_group > 1 and self.topk_group * (self.n_routed // self.n_group) < self.n_active:
                raise ValueError("kept groups hold fewer experts than num_experts_per_tok")

    def is_moe(self, layer):
        """Layer index (main layers 0..n_layers-1, MTP blocks n_layers..) has a MoE FFN."""
        return self.n_routed > 0 and layer >= self.n_dense

    def balance_loss_on(self):
        return self.aux_alpha > 0 and self.balance != "none"


def param_shapes(cfg):
    """Every tensor of the checkpoint, in a fixed order: name -> shape."""
    c = cfg
    s = collections.OrderedDict()
    s["model.embed_tokens.weight"] = (c.vocab, c.dim)
    qk = c.nope + c.rope

    def block(p, layer):
        s[p + "input_layernorm.weight"] = (c.dim,)
        if c.q_lora > 0:
            s[p + "self_attn.q_a_proj.weight"] = (c.q_lora, c.dim)
            s[p + "self_attn.q_a_layernorm.weight"] = (c.q_lora,)
            s[p + "self_attn.q_b_proj.weight"] = (c.n_heads * qk, c.q_lora)
        else:
            s[p + "self_attn.q_proj.weight"] = (c.n_heads * qk, c.dim)
        s[p + "self_attn.kv_a_proj_with_mqa.weight"] = (c.kv_lora + c.rope, c.dim)
        s[p + "self_attn.kv_a_layernorm.weight"] = (c.kv_lora,)
        s[p + "self_attn.kv_b_proj.weight"] = (c.n_heads * (c.nope + c.vdim), c.kv_lora)
        s[p + "self_attn.o_proj.weight"] = (c.dim, c.n_heads * c.vdim)
        s[p + "post_attention_layernorm.weight"] = (c.dim,)
        if c.is_moe(layer):
            s[p + "mlp.gate.weight"] = (c.n_routed, c.dim)
            s[p + "mlp.gate.e_score_correction_bias"] = (c.n_routed,)
            for e in range(c.n_routed):
                s[p + "mlp.experts.%d.gate_proj.weight" % e] = (c.moe_inter, c.dim)
                s[p + "mlp.experts.%d.up_proj.weight" % e] = (c.moe_inter, c.dim)
                s[p + "mlp.experts.%d.down_proj.weight" % e] = (c.dim, c.moe_inter)
            if c.n_shared > 0:
                w = c.n_shared * c.moe_inter
                s[p + "mlp.shared_experts.gate_proj.weight"] = (w, c.dim)
                s[p + "mlp.shared_experts.up_proj.weight"] = (w, c.dim)
                s[p + "mlp.shared_experts.down_proj.weight"] = (c.dim, w)
        else:
            s[p + "mlp.gate_proj.weight"] = (c.inter, c.dim)
            s[p + "mlp.up_proj.weight"] = (c.inter, c.dim)
            s[p + "mlp.down_proj.weight"] = (c.dim, c.inter)

    for L in range(c.n_layers):
        block("model.layers.%d." % L, L)
    for k in range(1, c.mtp + 1):
        L = c.n_layers + k - 1
        p = "model.layers.%d." % L
        s[p + "enorm.weight"] = (c.dim,)
        s[p + "hnorm.weight"] = (c.dim,)
        s[p + "eh_proj.weight"] = (c.dim, 2 * c.dim)
        block(p, L)
    s["model.norm.weight"] = (c.dim,)
    s["lm_head.weight"] = (c.vocab, c.dim)
    return s


def is_trainable(name):
    return not name.endswith("e_score_correction_bias")


def stable_topk_desc(x, k):
    """Indices of the k largest entries along the last dim, ties toward the lower index."""
    order = torch.sort(-x, dim=-1, stable=True).indices
    return order[..., :k]


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_frequencies(c):
    """(freq [d/2] float64, magnitude, softmax factor) of config c. Plain RoPE: theta^(-2i/d),
    1, 1. YaRN (Peng et al. 2023, section 3.2 "NTK-by-parts" and the temperature of 3.4) as
    DeepSeek-V3's rope_scaling holds it: a pair whose wavelength fits more than beta_fast turns
    into the original context L keeps its frequency, one with fewer than beta_slow turns is
    divided by the factor s, and in between the two mix along a linear ramp over the pair
    index (the boundaries are the pair indices of beta_fast and beta_slow turns, floored and
    ceiled); cos and sin are scaled by m(mscale) / m(mscale_all_dim) and the softmax scale by
    m(mscale_all_dim)^2 (when non-zero), m(k) = 0.1 k ln s + 1."""
    d = c.rope
    i = torch.arange(0, d // 2, dtype=torch.float64)
    freq = c.theta ** (-(2.0 * i) / d)
    rs = c.rope_scaling
    if not rs:
        return freq, 1.0, 1.0
    s, L = float(rs["factor"]), float(rs["original_max_position_embeddings"])
    # pair index k of wavelength 2 pi theta^(2k/d) making `turns` rotations in L positions
    at = lambda turns: d * math.log(L / (2 * math.pi * turns)) / (2 * math.log(c.theta))
    lo = max(math.floor(at(float(rs.get("beta_fast", 32)))), 0)
    hi = min(math.ceil(at(float(rs.get("beta_slow", 1)))), d - 1)
    hi = hi + 0.001 if hi == lo else hi
    interp = ((i - lo) / (hi - lo)).clamp(0.0, 1.0)                  # 0: keep, 1: divide by s
    freq = torch.lerp(freq, freq / s, interp)
    m = lambda k: 0.1 * k * math.log(s) + 1.0 if s > 1 else 1.0
    mall = float(rs.get("mscale_all_dim", 0))
    return freq, m(float(rs.get("mscale", 1))) / m(mall), (m(mall) ** 2 if mall else 1.0)


def rope_interleaved(x, pos, theta, freq=None, mag=1.0):
    """x [B, T, H, d], pos [T]: rotate each interleaved pair (x[2i], x[2i+1]) by the angle
    pos * theta^(-2i/d) (or pos * freq[i]), scaled by mag: mag (x0 cos - x1 sin, x0 sin +
    x1 cos). Angles in float64."""
    d = x.shape[-1]
    i = torch.arange(0, d // 2, dtype=torch.float64)
    if freq is None:
        freq = theta ** (-(2.0 * i) / d)
    ang = pos.to(torch.float64)[:, None] * freq[None, :]            # [T, d/2]
    cos = (mag * torch.cos(ang)).to(x.dtype)[None, :, None, :]      # [1, T, 1, d/2]
    sin = (mag * torch.sin(ang)).to(x.dtype)[None, :, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    y0 = x0 * cos - x1 * sin
    y1 = x0 * sin + x1 * cos
    return torch.stack((y0, y1), dim=-1).flatten(-2)


class Model:
    def __init__(self, cfg, params, dtype=torch.float64, requires_grad=True):
        self.cfg = cfg
        self.dtype = dtype
        self.params = collections.OrderedDict()
        for name, t in params.items():
            t = torch.as_tensor(t).detach().to(dtype).clone()
            if requires_grad and is_trainable(name):
                t.requires_grad_(True)
            self.params[name] = t
        self.trace = {}

    # ---- loading / checking ----
    @classmethod
    def from_arrays(cls, cfg, arrays, dtype=torch.float64):
        return cls(cfg, {k: torch.from_numpy(v.copy()) for k, v in arrays.items()}, dtype)

    def check_names(self):
        """Problems with the tensor set against param_shapes: list of strings."""
        want = param_shapes(self.cfg)
        probs = []
        for n, shp in want.items():
            if n not in self.params:
                if n.endswith("e_score_correction_bias"):
                    continue  # optional: treated as zero
                probs.append("missing tensor %s %s" % (n, list(shp)))
            elif tuple(self.params[n].shape) != tuple(shp):
                probs.append("tensor %s has shape %s, expected %s" % (n, list(self.params[n].shape), list(shp)))
        for n in self.params:
            if n not in want:
                probs.append("unexpected tensor %s" % n)
        return probs

    def P(self, name):
        return self.params[name]

    def zero_grad(self):
        for t in self.params.values():
            t.grad = None

    # ---- pieces ----
    def attention(self, p, x, pos):
        c = self.cfg
        B, T, _ = x.shape
        H, qk = c.n_heads, c.nope + c.rope
        if c.q_lora > 0:
            cq = rms_norm(F.linear(x, self.P(p + "self_attn.q_a_proj.weight")),
                          self.P(p + "self_attn.q_a_layernorm.weight"), c.eps)
            q = F.linear(cq, self.P(p + "self_attn.q_b_proj.weight"))
        else:
            q = F.linear(x, self.P(p + "self_attn.q_proj.weight"))
        q = q.view(B, T, H, qk)
        q_nope, q_pe = q[..., :c.nope], q[..., c.nope:]
        kv = F.linear(x, self.P(p + "self_attn.kv_a_proj_with_mqa.weight"))
        ckv, k_pe = kv[..., :c.kv_lora], kv[..., c.kv_lora:]
        ckv = rms_norm(ckv, self.P(p + "self_attn.kv_a_layernorm.weight"), c.eps)
        # Prefix-tuning: self.prefix[layer] = (ckv [Lp, kv_lora], k_pe [Lp, rope]) latents put
        # before the sequence's (genc's form), or (kv [Lp, H, nope + vdim], k_pe [Lp, rope])
        # per-head keys and values put before kv_b_proj's output (the form of
        # docs/prefix_task/perhead.py); their k_pe is not roped and every query sees them.
        prefix, layer = getattr(self, "prefix", None), int(p.split(".")[2])
        Lp = prefix[layer][0].shape[0] if prefix is not None and layer < len(prefix) else 0
        per_head = Lp > 0 and prefix[layer][0].dim() == 3
        if Lp and not per_head:
            ckv = torch.cat((prefix[layer][0].expand(B, Lp, c.kv_lora), ckv), 1)
        S = Lp + T
        kvb = F.linear(ckv, self.P(p + "self_attn.kv_b_proj.weight")).view(B, ckv.shape[1], H, c.nope + c.vdim)
        if per_head:
            kvb = torch.cat((prefix[layer][0].expand(B, Lp, H, c.nope + c.vdim), kvb), 1)
        k_nope, v = kvb[..., :c.nope], kvb[..., c.nope:]
        freq, mag, soft = rope_frequencies(c)
        q_pe = rope_interleaved(q_pe, pos, c.theta, freq, mag)
        k_pe = rope_interleaved(k_pe.unsqueeze(2), pos, c.theta, freq, mag)  # [B, T, 1, rope]
        if Lp:
            k_pe = torch.cat((prefix[layer][1].view(1, Lp, 1, c.rope).expand(B, Lp, 1, c.rope), k_pe), 1)
        qf = torch.cat((q_nope, q_pe), -1)
        kf = torch.cat((k_nope, k_pe.expand(B, S, H, c.rope)), -1)
        scores = torch.einsum("bthd,bshd->bhts", qf, kf) * (qk ** -0.5) * soft
        mask = torch.cat((torch.zeros(T, Lp, dtype=torch.bool), torch.ones(T, T, dtype=torch.bool).triu(1)), 1)
        scores = scores.masked_fill(mask, float("-inf"))
        prob = torch.softmax(scores, -1)
        o = torch.einsum("bhts,bshd->bthd", prob, v).reshape(B, T, H * c.vdim)
        return F.linear(o, self.P(p + "self_attn.o_proj.weight"))

    def swiglu(self, p, x):
        return F.linear(F.silu(F.linear(x, self.P(p + "gate_proj.weight"))) *
                        F.linear(x, self.P(p + "up_proj.weight")), self.P(p + "down_proj.weight"))

    def select(self, sel):
        """sel [N, E] (detached, biased) -> idx [N, K] (descending sel, ties to lower index)."""
        c = self.cfg
        N, E = sel.shape
        if c.n_group > 1:
            gsz = E // c.n_group
            g = sel.view(N, c.n_group, gsz)
            top = torch.sort(g, dim=-1, descending=True).values[..., :min(2, gsz)]
            gscore = top.sum(-1)                                              # [N, G]
            keep_g = stable_topk_desc(gscore, c.topk_group)
            keep = torch.zeros(N, c.n_group, dtype=torch.bool).scatter(1, keep_g, True)
            sel = sel.masked_fill(~keep.repeat_interleave(gsz, dim=1), float("-inf"))
        return stable_topk_desc(sel, c.n_active)

    def gate(self, p, u):
        """u [N, dim] -> s [N, E] (with grad), idx [N, K], weights [N, K] (with grad)."""
        c = self.cfg
        logits = F.linear(u, self.P(p + "mlp.gate.weight"))
        s = torch.sigmoid(logits) if c.score == "sigmoid" else torch.softmax(logits, -1)
        sel = s.detach()
        bname = p + "mlp.gate.e_score_correction_bias"
        if bname in self.params:
            sel = sel + self.params[bname].detach()
        idx = self.select(sel)
        w = s.gather(1, idx)
        if c.score == "sigmoid" or c.norm_topk:
            w = w / w.sum(-1, keepdim=True)
        return s, idx, w * c.route_scale

    def moe(self, p, u):
        """u [B, T, dim] (the normed input) -> y, (s [B,T,E], idx [B,T,K])."""
        c = self.cfg
        B, T, D = u.shape
        uf = u.reshape(B * T, D)
        s, idx, w = self.gate(p, uf)
        y = torch.zeros_like(uf)
        for e in range(c.n_routed):
            tok, slot = (idx == e).nonzero(as_tuple=True)
            if tok.numel() == 0:
                continue
            ye = self.swiglu(p + "mlp.experts.%d." % e, uf[tok])
            y = y.index_add(0, tok, ye * w[tok, slot].unsqueeze(-1))
        if c.n_shared > 0:
            y = y + self.swiglu(p + "mlp.shared_experts.", uf)
        return y.view(B, T, D), (s.view(B, T, -1), idx.view(B, T, -1))

    def block(self, layer, x, pos, p=None):
        c = self.cfg
        p = p or "model.layers.%d." % layer
        x = x + self.attention(p, rms_norm(x, self.P(p + "input_layernorm.weight"), c.eps), pos)
        u = rms_norm(x, self.P(p + "post_attention_layernorm.weight"), c.eps)
        if c.is_moe(layer):
            y, route = self.moe(p, u)
        else:
            y, route = self.swiglu(p + "mlp.", u), None
        return x + y, route

    def head(self, h):
        return F.linear(rms_norm(h, self.P("model.norm.weight"), self.cfg.eps), self.P("lm_head.weight"))

    def balance_loss(self, s, idx):
        """One MoE layer's balance loss from s [B, T, E] (with grad) and idx [B, T, K]."""
        c = self.cfg
        B, T, E = s.shape
        K = idx.shape[-1]
        sn = s / s.sum(-1, keepdim=True)
        onehot = torch.zeros(B, T, E, dtype=s.dtype).scatter(2, idx, 1.0)   # K distinct per token
        if c.seq_aux:
            f = onehot.sum(1) * (E / (K * T))                                # [B, E]
            Pm = sn.mean(1)                                                  # [B, E]
            return c.aux_alpha * (f * Pm).sum(-1).mean()
        f = onehot.sum((0, 1)) * (E / (K * B * T))
        Pm = sn.mean((0, 1))
        return c.aux_alpha * (f * Pm).sum()

    # ---- the whole model ----
    def forward(self, tokens):
        """tokens LongTensor [B, T+1]. Returns a dict: logits [B,T,V], mtp_logits [list of
        [B,T-k,V]], loss_main, loss_mtp [D] tensor, loss_bal, loss (total), hidden (h^0),
        routes (main layers: list of (layer, s, idx))."""
        c = self.cfg
        tokens = torch.as_tensor(tokens, dtype=torch.long)
        B, T1 = tokens.shape
        T = T1 - 1
        if T < 1 or T - c.mtp < 1:
            raise ValueError("sequence length %d too short for %d MTP modules" % (T, c.mtp))
        inp, tgt = tokens[:, :T], tokens[:, 1:]
        emb = self.P("model.embed_tokens.weight")
        x = F.embedding(inp, emb)
        pos = torch.arange(T, dtype=torch.float64)
        routes = []
        for L in range(c.n_layers):
            x, r = self.block(L, x, pos)
            if r is not None:
                routes.append((L, r[0], r[1]))
        h0 = x
        logits = self.head(h0)
        loss_main = F.cross_entropy(logits.reshape(-1, c.vocab), tgt.reshape(-1))
        zero = logits.new_zeros(())
        loss_bal = zero
        if c.balance_loss_on():
            for (_, s, idx) in routes:
                loss_bal = loss_bal + self.balance_loss(s, idx)
        mtp_logits, mtp_losses, mtp_routes = [], [], []
        h = h0
        for k in range(1, c.mtp + 1):
            L = c.n_layers + k - 1
            p = "model.layers.%d." % L
            n = T - k
            e = F.embedding(tokens[:, k:k + n], emb)                          # t_{i+k}
            cat = torch.cat((rms_norm(e, self.P(p + "enorm.weight"), c.eps),
                             rms_norm(h[:, :n], self.P(p + "hnorm.weight"), c.eps)), -1)
            hp = F.linear(cat, self.P(p + "eh_proj.weight"))
            h, r = self.block(L, hp, torch.arange(n, dtype=torch.float64), p)
            if r is not None:
                mtp_routes.append((L, r[0], r[1]))
            lk = self.head(h)
            mtp_logits.append(lk)
            mtp_losses.append(F.cross_entropy(lk.reshape(-1, c.vocab), tokens[:, k + 1:k + 1 + n].reshape(-1)))
        loss_mtp = torch.stack(mtp_losses) if mtp_losses else logits.new_zeros((0,))
        loss = loss_main + loss_bal
        if c.mtp > 0:
            loss = loss + (c.mtp_lambda / c.mtp) * loss_mtp.sum()
        return {"logits": logits, "mtp_logits": mtp_logits, "loss_main": loss_main,
                "loss_mtp": loss_mtp, "loss_bal": loss_bal, "loss": loss, "hidden": h0,
                "routes": routes, "mtp_routes": mtp_routes}

    # ---- incremental decoding with the latent ("absorbed") cache ----
    def decode(self, seq):
        """Main-model logits for a 1-D token sequence, one token at a time, caching per layer
        only the normed c_kv and the roped k_pe, with kv_b_proj's k-part folded into the
        query and its v-part applied after the attention-weighted sum of latents."""
        c = self.cfg
        H = c.n_heads
        qk = c.nope + c.rope
        cache = [([], []) for _ in range(c.n_layers)]
        out = []
        emb = self.P("model.embed_tokens.weight")
        with torch.no_grad():
            for t, tok in enumerate(list(seq)):
                x = emb[int(tok)].view(1, 1, -1)
                pos = torch.tensor([float(t)], dtype=torch.float64)
                for L in range(c.n_layers):
                    p = "model.layers.%d." % L
                    a = rms_norm(x, self.P(p + "input_layernorm.weight"), c.eps)
                    if c.q_lora > 0:
                        q = F.linear(rms_norm(F.linear(a, self.P(p + "self_attn.q_a_proj.weight")),
                                              self.P(p + "self_attn.q_a_layernorm.weight"), c.eps),
                                     self.P(p + "self_attn.q_b_proj.weight"))
                    else:
                        q = F.linear(a, self.P(p + "self_attn.q_proj.weight"))
                    q = q.view(1, 1, H, qk)
                    freq, mag, soft = rope_frequencies(c)
                    q_nope, q_pe = q[..., :c.nope], rope_interleaved(q[..., c.nope:], pos, c.theta, freq, mag)
                    kv = F.linear(a, self.P(p + "self_attn.kv_a_proj_with_mqa.weight"))
                    ckv = rms_norm(kv[..., :c.kv_lora], self.P(p + "self_attn.kv_a_layernorm.weight"), c.eps)
                    kpe = rope_interleaved(kv[..., c.kv_lora:].unsqueeze(2), pos, c.theta, freq, mag)
                    cache[L][0].append(ckv.view(-1))
                    cache[L][1].append(kpe.view(-1))
                    C = torch.stack(cache[L][0])                              # [t+1, r]
                    Kp = torch.stack(cache[L][1])                             # [t+1, rope]
                    wkvb = self.P(p + "self_attn.kv_b_proj.weight").view(H, c.nope + c.vdim, c.kv_lora)
                    wk, wv = wkvb[:, :c.nope], wkvb[:, c.nope:]
                    q_lat = torch.einsum("hn,hnr->hr", q_nope.view(H, c.nope), wk)
                    sc = (q_lat @ C.T + q_pe.view(H, c.rope) @ Kp.T) * (qk ** -0.5) * soft   # [H, t+1]
                    pr = torch.softmax(sc, -1)
                    o_lat = pr @ C                                             # [H, r]
                    o = torch.einsum("hvr,hr->hv", wv, o_lat).reshape(1, 1, H * c.vdim)
                    x = x + F.linear(o, self.P(p + "self_attn.o_proj.weight"))
                    u = rms_norm(x, self.P(p + "post_attention_layernorm.weight"), c.eps)
                    if c.is_moe(L):
                        y, _ = self.moe(p, u)
                    else:
                        y = self.swiglu(p + "mlp.", u)
                    x = x + y
                out.append(self.head(x).view(-1))
        return torch.stack(out)


def load_checkpoint(path, st_read):
    """(Config, Model) from a genc safetensors checkpoint (config JSON in metadata "config")."""
    arrays, meta = st_read(path)
    if "config" not in meta:
        raise ValueError("%s: no \"config\" in the metadata" % path)
    cfg = Config.from_json(meta["config"])
    return cfg, Model.from_arrays(cfg, arrays)


# A second, loop-per-token formulation of the gate, for the self-checks.
def gate_reference_loop(cfg, s_row, bias_row):
    """One token: s_row, bias_row lists of floats -> (idx list, weight list), plain Python."""
    E = len(s_row)
    sel = [s_row[i] + (bias_row[i] if bias_row is not None else 0.0) for i in range(E)]
    allowed = set(range(E))
    if cfg.n_group > 1:
        gsz = E // cfg.n_group
        gs = []
        for g in range(cfg.n_group):
            vals = sorted(sel[g * gsz:(g + 1) * gsz], reverse=True)
            gs.append(sum(vals[:min(2, gsz)]))
        groups = sorted(range(cfg.n_group), key=lambda g: (-gs[g], g))[:cfg.topk_group]
        allowed = {i for g in groups for i in range(g * gsz, (g + 1) * gsz)}
    idx = sorted(allowed, key=lambda i: (-sel[i], i))[:cfg.n_active]
    w = [s_row[i] for i in idx]
    if cfg.score == "sigmoid" or cfg.norm_topk:
        tot = sum(w)
        w = [x / tot for x in w]
    return idx, [x * cfg.route_scale for x in w]


def rope_complex(x, pos, theta):
    """RoPE as the official code writes it: pairs as complex numbers times e^{i pos freq}."""
    d = x.shape[-1]
    freq = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    ang = torch.outer(pos.to(torch.float64), freq)
    rot = torch.polar(torch.ones_like(ang), ang)                           # [T, d/2]
    xc = torch.view_as_complex(x.reshape(*x.shape[:-1], d // 2, 2).contiguous())
    y = xc * rot[None, :, None, :]
    return torch.view_as_real(y).flatten(-2)


def log_sum_exp_ce(logits, targets):
    """Mean cross-entropy written out (logsumexp - target logit), for the self-checks."""
    lse = torch.logsumexp(logits, -1)
    tl = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return (lse - tl).mean()


__all__ = ["Config", "Model", "param_shapes", "is_trainable", "stable_topk_desc", "rms_norm",
           "rope_interleaved", "rope_complex", "gate_reference_loop", "load_checkpoint",
           "log_sum_exp_ce"]
