/* Exporting genc language models for other runtimes: GGUF for llama.cpp (architecture
 * "deepseek2") and Hugging Face folders (config.json, model.safetensors, tokenizer.json).
 * Exports hold weights only: never optimiser moments or training state. */
#ifndef GENC_LM_EXPORT_H
#define GENC_LM_EXPORT_H

#include "gguf.h"
#include "lm.h"
#include "tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The model and its tokenizer as one GGUF file in llama.cpp's deepseek2 layout: every
 * hyper-parameter key llama.cpp reads for it, tensors named and shaped as its loader wants
 * (experts stacked, kv_b split into attn_k_b / attn_v_b, the selection bias exp_probs_b),
 * and the tokenizer as a byte-level "gpt2" vocabulary with merges (tokenizer.ggml.pre
 * "qwen2" for a qwen2 tokenizer, "gpt-2" for the others). The MTP modules are left
 * out (llama.cpp's converter drops them too). type: F32, F16 or Q8_0 for the matrices
 * (norms, the router and the bias stay F32; a Q8_0 matrix whose rows are not a multiple of
 * 32 is written F16). MoE layers without a shared expert get one of zero weights (llama.cpp
 * requires the tensors; zero weights add exactly nothing). */
genc_status genc_lm_export_gguf(genc_ctx *ctx, const genc_lm *m, const genc_tokenizer *tok, genc_ggml_type type,
                                const char *path);

/* The model as a Hugging Face folder dir (created if missing): config.json (every
 * DeepSeek-V3 key with HF names, torch_dtype, bos/eos ids, genc's training settings under
 * genc_* names), model.safetensors ({"format": "pt"}, the parameters in dt = F32, BF16 or
 * F16, 1-D tensors F32; each MTP module also gets DeepSeek's copies embed_tokens,
 * shared_head.norm (genc's MTP head uses the final norm) and shared_head.head),
 * tokenizer.json (BPE, vocab and merges in byte-level spelling, specials as added tokens,
 * the tokenizer's pre-tokenisation: qwen2 and genc-v1 as a Split regex then ByteLevel, gpt2
 * as ByteLevel with its GPT-2 regex), tokenizer_config.json and
 * generation_config.json. */
genc_status genc_lm_export_hf(genc_ctx *ctx, const genc_lm *m, const genc_tokenizer *tok, genc_dtype dt,
                              const char *dir);

/* The GPT-2 byte-level text of bytes s[0..n) (each byte one Unicode character: printable
 * Latin-1 bytes as themselves, the others from U+0100 on), NUL-terminated, into out of at
 * least 2 * n + 1 bytes; returns the length. */
size_t genc_byte_level_encode(const uint8_t *s, size_t n, char *out);
/* Its inverse: the bytes of the byte-level text s[0..n) into out (at least n bytes), their
 * count in *n_out; false for text that is not UTF-8 of the 256 mapped characters. */
bool genc_byte_level_decode(const char *s, size_t n, uint8_t *out, size_t *n_out);

#ifdef __cplusplus
}
#endif
#endif
