"""Helpers for the DeepSeek-V3 reference test (tests/reference/test_lm_reference.py).

- st_read / st_write: a small safetensors reader and writer (struct + json; no dependency on
  the safetensors package). Layout: u64 little-endian header length N, N bytes of JSON
  {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}, then raw little-endian
  row-major data, offsets relative to the end of the header.
- TEST_CONFIGS: the configs the driver hands to genc's lm_ref_dump tool (the three the
  brief asked for, a batch-wise auxiliary-loss one, and the two remaining corners of
  scoring_func x norm_topk_prob).
- init_params: random weights for the reference's self-checks (no genc needed).
- compare helpers with the float32 tolerances the driver uses.
"""

import numpy as np

from st_io import st_read, st_write  # noqa: F401  (re-exported for the LM tests)

# safetensors dtype name -> numpy little-endian dtype (BF16 is decoded by hand below)
# ---- the configs the driver hands to lm_ref_dump (Hugging Face field names + genc's own) ----
_BASE = {
    "rope_theta": 10000.0,
    "rms_norm_eps": 1e-6,
    "max_position_embeddings": 64,
    "genc_bias_update_speed": 0.001,
}

TEST_CONFIGS = {
    # (1) q LoRA, sigmoid MoE with 2 groups (1 kept), 1 dense layer then 1 MoE layer, 2 MTP
    # modules (their blocks sit at layer indices 2 and 3 >= first_k_dense_replace: MoE),
    # complementary sequence-wise balance loss.
    "qlora_sigmoid_groups_mtp2": dict(_BASE, **{
        "vocab_size": 80, "hidden_size": 48, "intermediate_size": 96,
        "moe_intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 3,
        "n_shared_experts": 1, "n_routed_experts": 8, "num_experts_per_tok": 2,
        "n_group": 2, "topk_group": 1, "routed_scaling_factor": 2.5, "scoring_func": "sigmoid",
        "norm_topk_prob": True, "first_k_dense_replace": 1,
        "q_lora_rank": 24, "kv_lora_rank": 16, "qk_nope_head_dim": 8, "qk_rope_head_dim": 4,
        "v_head_dim": 8, "num_nextn_predict_layers": 2, "genc_mtp_lambda": 0.3,
        "genc_balance": "aux_free", "aux_loss_alpha": 0.01, "seq_aux": True,
    }),
    # (2) plain q_proj, softmax scores (V2-Lite style), no groups, 2 shared experts, every layer
    # MoE, 1 MTP module (block index 2: MoE), no balance loss.
    "qproj_softmax_mtp1": dict(_BASE, **{
        "vocab_size": 64, "hidden_size": 32, "intermediate_size": 64,
        "moe_intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
        "n_shared_experts": 2, "n_routed_experts": 4, "num_experts_per_tok": 2,
        "n_group": 1, "topk_group": 1, "routed_scaling_factor": 1.0, "scoring_func": "softmax",
        "norm_topk_prob": False, "first_k_dense_replace": 0,
        "q_lora_rank": 0, "kv_lora_rank": 16, "qk_nope_head_dim": 8, "qk_rope_head_dim": 8,
        "v_head_dim": 12, "num_nextn_predict_layers": 1, "genc_mtp_lambda": 0.5,
        "genc_balance": "none", "aux_loss_alpha": 0.0, "seq_aux": False,
    }),
    # (4) beyond the three asked for: the classic batch-wise auxiliary loss (seq_aux false),
    # 4 groups keeping 2, 3 active experts, no shared expert, every layer MoE, 1 MTP module.
    "sigmoid_groups4_auxloss_batch": dict(_BASE, **{
        "vocab_size": 72, "hidden_size": 40, "intermediate_size": 80,
        "moe_intermediate_size": 12, "num_hidden_layers": 2, "num_attention_heads": 2,
        "n_shared_experts": 0, "n_routed_experts": 8, "num_experts_per_tok": 3,
        "n_group": 4, "topk_group": 2, "routed_scaling_factor": 1.5, "scoring_func": "sigmoid",
        "norm_topk_prob": True, "first_k_dense_replace": 0,
        "q_lora_rank": 16, "kv_lora_rank": 12, "qk_nope_head_dim": 6, "qk_rope_head_dim": 6,
        "v_head_dim": 6, "num_nextn_predict_layers": 1, "genc_mtp_lambda": 0.3,
        "genc_balance": "aux_loss", "aux_loss_alpha": 0.02, "seq_aux": False,
    }),
    # (5), (6): the two remaining corners of scoring x norm_topk_prob (the weights are
    # renormalised over the chosen experts for sigmoid always, for softmax only with
    # norm_topk_prob): sigmoid without norm_topk_prob (renormalised all the same) and softmax
    # with it (renormalised), so each of the four combinations has a fixture.
    "sigmoid_nonorm": dict(_BASE, **{
        "vocab_size": 48, "hidden_size": 24, "intermediate_size": 48,
        "moe_intermediate_size": 12, "num_hidden_layers": 1, "num_attention_heads": 2,
        "n_shared_experts": 1, "n_routed_experts": 4, "num_experts_per_tok": 2,
        "n_group": 1, "topk_group": 1, "routed_scaling_factor": 2.0, "scoring_func": "sigmoid",
        "norm_topk_prob": False, "first_k_dense_replace": 0,
        "q_lora_rank": 0, "kv_lora_rank": 8, "qk_nope_head_dim": 4, "qk_rope_head_dim": 4,
        "v_head_dim": 6, "num_nextn_predict_layers": 0, "genc_mtp_lambda": 0.3,
        "genc_balance": "aux_free", "aux_loss_alpha": 0.0, "seq_aux": False,
    }),
    "softmax_norm": dict(_BASE, **{
        "vocab_size": 48, "hidden_size": 24, "intermediate_size": 48,
        "moe_intermediate_size": 12, "num_hidden_layers": 1, "num_attention_heads": 2,
        "n_shared_experts": 0, "n_routed_experts": 6, "num_experts_per_tok": 3,
        "n_group": 1, "topk_group": 1, "routed_scaling_factor": 1.5, "scoring_func": "softmax",
        "norm_topk_prob": True, "first_k_dense_replace": 0,
        "q_lora_rank": 0, "kv_lora_rank": 8, "qk_nope_head_dim": 4, "qk_rope_head_dim": 4,
        "v_head_dim": 6, "num_nextn_predict_layers": 0, "genc_mtp_lambda": 0.3,
        "genc_balance": "none", "aux_loss_alpha": 0.0, "seq_aux": False,
    }),
    # (3) dense only, no MTP, 4 heads.
    "dense_nomtp": dict(_BASE, **{
        "vocab_size": 100, "hidden_size": 40, "intermediate_size": 72,
        "moe_intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4,
        "n_shared_experts": 0, "n_routed_experts": 0, "num_experts_per_tok": 0,
        "n_group": 1, "topk_group": 1, "routed_scaling_factor": 1.0, "scoring_func": "sigmoid",
        "norm_topk_prob": True, "first_k_dense_replace": 0,
        "q_lora_rank": 20, "kv_lora_rank": 12, "qk_nope_head_dim": 6, "qk_rope_head_dim": 4,
        "v_head_dim": 10, "num_nextn_predict_layers": 0, "genc_mtp_lambda": 0.3,
        "genc_balance": "none", "aux_loss_alpha": 0.0, "seq_aux": False,
    }),
}


def init_params(torch, cfg, shapes, seed=0, gain=0.8):
    """Random float64 weights for self-checks: matrices N(0, gain^2 / fan_in),
    norm weights 1 + 0.1 N(0,1), balance biases 0.05 N(0,1) (non-zero, as genc's tool)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, shape in shapes.items():
        if name.endswith("e_score_correction_bias"):
            t = 0.05 * torch.randn(*shape, generator=g, dtype=torch.float64)
        elif len(shape) == 1:
            t = 1.0 + 0.1 * torch.randn(*shape, generator=g, dtype=torch.float64)
        elif name.endswith("embed_tokens.weight"):
            t = torch.randn(*shape, generator=g, dtype=torch.float64)
        else:
            t = torch.randn(*shape, generator=g, dtype=torch.float64) * (gain / shape[1] ** 0.5)
        out[name] = t
    return out


# ---- comparison (float32 genc against the float64 reference) ----
def cmp_elementwise(got, want, rtol, atol):
    """|got - want| <= atol + rtol * |want| elementwise. Returns (ok, max abs err, worst ratio)."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return False, float("inf"), float("inf")
    if got.size == 0:
        return True, 0.0, 0.0
    if not np.all(np.isfinite(got)):
        return False, float("inf"), float("inf")
    err = np.abs(got - want)
    ratio = err / (atol + rtol * np.abs(want))
    return bool(np.all(ratio <= 1.0)), float(err.max()), float(ratio.max())


def cmp_scaled(got, want, rtol, atol):
    """|got - want| <= atol + rtol * max|want| (one scale per tensor).

    Gradients are compared against the tensor's largest magnitude rather than each element:
    genc accumulates in float32 over long sums (tokens x features, experts, heads), so an
    element's absolute rounding error scales with the size of the terms summed, i.e. with the
    tensor's typical magnitude, not with the (possibly cancelled, near-zero) element itself."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return False, float("inf"), float("inf")
    if got.size == 0:
        return True, 0.0, 0.0
    if not np.all(np.isfinite(got)):
        return False, float("inf"), float("inf")
    err = np.abs(got - want)
    bound = atol + rtol * float(np.abs(want).max())
    return bool(err.max() <= bound), float(err.max()), float(err.max() / bound)
