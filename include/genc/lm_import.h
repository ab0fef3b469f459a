/* Loading Hugging Face DeepSeek-V3 folders into genc language models.
 *
 * A folder holds config.json, the weights in model.safetensors or in the shards listed by
 * model.safetensors.index.json ({"weight_map": {tensor: file}}), and tokenizer.json.
 *
 * config.json: every key is honoured or refused in one line. Honoured: the DeepSeek-V3
 * fields of genc_lm_config (null q_lora_rank, n_routed_experts, n_group, topk_group read
 * as 0/0/1/1), genc's own genc_* training settings, and keys that do not change the
 * function (ids, dtype, initializer_range, use_cache, ...), and rope_scaling null or YaRN
 * as DeepSeek-V3 writes it (src/lm/yarn.c). Refused: any other rope_scaling type or key,
 * norm_topk_prob false with sigmoid scoring (genc always
 * renormalises sigmoid weights), topk_method other than noaux_tc/greedy with groups,
 * hidden_act other than silu, attention_bias, moe_layer_freq other than 1,
 * rope_interleave false, tie_word_embeddings true, quantization_config other than
 * DeepSeek's fp8 [128, 128] blocks, and any key genc does not know.
 *
 * Weights: F32, BF16 or F16; or F8_E4M3 with a companion "<name>_scale_inv" of shape
 * [ceil(out/128), ceil(in/128)] (the FP8 release layout: each 128x128 block times its
 * scale). MTP modules may carry DeepSeek's copies embed_tokens, shared_head.norm and
 * shared_head.head: they must equal the model's embedding, final norm and head (genc's MTP
 * shares them). Every tensor must be used; shapes are checked before anything is read.
 *
 * tokenizer.json must be a genc-layout byte-level BPE (as genc lm export --format hf
 * writes): the 256 bytes as ids 0..255, genc's 7 specials at 256..262, merge i making id
 * 263 + i, and the pre-tokenizer of a genc mode: qwen2's or genc-v1's (a Split, behavior
 * Isolated, with the regex genc writes for the mode, then ByteLevel without a regex) or
 * GPT-2's (ByteLevel with use_regex: the "gpt2" mode); any pre-tokenizer when there are no
 * merges (each byte is then its own token whatever the splits). Vocabularies at other ids
 * (a GPT-2, Llama-3 or DeepSeek-V3 tokenizer.json) are refused with one line. */
#ifndef GENC_LM_IMPORT_H
#define GENC_LM_IMPORT_H

#include "lm.h"
#include "tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* true when path is a directory holding config.json. */
bool genc_lm_is_hf_dir(const char *path);
/* Model and tokenizer from the folder dir; on failure nothing is left allocated. */
genc_status genc_lm_load_hf(genc_ctx *ctx, const char *dir, genc_lm *m, genc_tokenizer **tok);
/* The tokenizer alone from a tokenizer.json file. */
genc_status genc_tokenizer_load_hf(genc_ctx *ctx, const char *path, genc_tokenizer **out);
/* The same two checks on text in memory (n bytes; `label` names it in messages). */
genc_status genc_lm_config_from_hf(genc_ctx *ctx, const char *text, size_t n, const char *label, genc_lm_config *c);
genc_status genc_tokenizer_from_hf_json(genc_ctx *ctx, const char *text, size_t n, const char *label,
                                        genc_tokenizer **out);

#ifdef __cplusplus
}
#endif
#endif
