/* A genc language model as a Hugging Face folder (see lm_export.h): config.json with every
 * DeepSeek-V3 key, model.safetensors (format "pt", weights only, the MTP modules in
 * DeepSeek's released layout with their own copies of the embedding, final norm and head),
 * tokenizer.json / tokenizer_config.json (the HF tokenizers schema) and
 * generation_config.json. */
#include "genc/lm_export.h"
#include "lm/export_internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* genc-v1 pre-tokenisation as a regex over characters (every non-ASCII character counts as
 * a letter, as every byte >= 0x80 does in genc): letter runs and punctuation runs with an
 * optional leading space, single digits, whitespace runs leaving a final space to a
 * following letter or punctuation. Only genc's 64-byte chunk cap is not expressed. */
const char *const genc_hf_pretok_regex =
    " ?[A-Za-z\\x{80}-\\x{10FFFF}]+| ?[!-/:-@\\[-`{-~]+|[0-9]"
    "|[\\t-\\r ]+(?=[ ][A-Za-z!-/:-@\\[-`{-~\\x{80}-\\x{10FFFF}])|[\\t-\\r ]+";

/* qwen2 pre-tokenisation: Qwen2's regex with its case-insensitive contractions spelt out in
 * ASCII, as llama.cpp runs it (an engine folding Unicode case would also take "'\u017f"). */
const char *const genc_hf_qwen2_regex =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static genc_status save_json(genc_ctx *ctx, json_t *j, const char *dir, const char *name) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = j ? json_dump_file(j, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : -1;
    json_decref(j);
    return rc ? genc_error(ctx, GENC_EIO, "%s: cannot write", path) : GENC_OK;
}

static const char *dtype_torch(genc_dtype dt) {
    return dt == GENC_DT_BF16 ? "bfloat16" : dt == GENC_DT_F16 ? "float16" : "float32";
}

static json_t *config_json(const genc_lm_config *c, const genc_tokenizer *tok, genc_dtype dt) {
    char *base = genc_lm_config_json(c);
    json_t *j = base ? json_loads(base, 0, NULL) : NULL;
    free(base);
    if (!j) return NULL;
    json_object_set_new(j, "torch_dtype", json_string(dtype_torch(dt)));
    json_object_set_new(j, "bos_token_id", json_integer(genc_tokenizer_special(tok, "<|bos|>")));
    json_object_set_new(j, "eos_token_id", json_integer(genc_tokenizer_special(tok, "<|eos|>")));
    json_object_set_new(j, "pad_token_id", json_integer(genc_tokenizer_special(tok, "<|pad|>")));
    json_object_set_new(j, "num_key_value_heads", json_integer(c->n_heads));
    json_object_set_new(j, "rope_interleave", json_true()); /* RoPE on (x[2i], x[2i+1]) pairs */
    json_object_set_new(j, "attention_bias", json_false());
    json_object_set_new(j, "attention_dropout", json_real(0.0));
    json_object_set_new(j, "moe_layer_freq", json_integer(1));
    json_object_set_new(j, "ep_size", json_integer(1));
    json_object_set_new(j, "initializer_range", json_real(0.02));
    json_object_set_new(j, "use_cache", json_true());
    json_object_set_new(j, "pretraining_tp", json_integer(1));
    return j;
}

/* One tensor, converted to dt (1-D norms and the balancing bias stay F32, as DeepSeek's
 * release keeps them in full precision). */
static genc_status add(genc_st_writer *w, const char *name, const genc_tensor *t, genc_dtype dt) {
    genc_dtype d = t->ndim == 1 ? GENC_DT_F32 : dt;
    return genc_st_writer_add_f32(w, name, d, t->ndim, t->shape, (const float *)t->data);
}

static genc_status write_weights(genc_ctx *ctx, const genc_lm *m, genc_dtype dt, const char *dir) {
    genc_st_writer *w = genc_st_writer_new(ctx);
    if (!w) return genc_ctx_status(ctx);
    genc_status s = genc_st_writer_meta(w, "format", "pt");
    for (int i = 0; !s && i < m->params.n; i++) s = add(w, m->params.t[i]->name, m->params.t[i], dt);
    for (int k = 0; !s && k < m->cfg.mtp_depth; k++) { /* DeepSeek's MTP layout: own copies of shared tensors */
        char name[96];
        int L = m->cfg.n_layers + k;
        snprintf(name, sizeof name, "model.layers.%d.embed_tokens.weight", L);
        s = add(w, name, m->embed, dt);
        snprintf(name, sizeof name, "model.layers.%d.shared_head.norm.weight", L);
        if (!s) s = add(w, name, m->final_norm, dt);
        snprintf(name, sizeof name, "model.layers.%d.shared_head.head.weight", L);
        if (!s) s = add(w, name, m->lm_head, dt);
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (!s) s = genc_st_writer_save(w, path);
    genc_st_writer_free(w);
    return s;
}

static json_t *added_token(int id, const char *text) {
    return json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", id, "content", text, "single_word", 0, "lstrip", 0,
                     "rstrip", 0, "normalized", 0, "special", 1);
}

/* The pre_tokenizer of each mode: genc-v1 and qwen2 as a Split regex then ByteLevel without
 * its own regex; gpt2 is ByteLevel with its built-in GPT-2 regex. */
static json_t *pre_tokenizer(genc_pretokenizer p) {
    if (p == GENC_PRETOK_GPT2)
        return json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1,
                         "use_regex", 1);
    const char *rx = p == GENC_PRETOK_QWEN2 ? genc_hf_qwen2_regex : genc_hf_pretok_regex;
    return json_pack("{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, {s:s, s:b, s:b, s:b}]}", "type", "Sequence", "pretokenizers",
                     "type", "Split", "pattern", "Regex", rx, "behavior", "Isolated", "invert", 0,
                     "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1, "use_regex", 0);
}

static json_t *tokenizer_json(const genc_export_vocab *v, genc_pretokenizer p) {
    json_t *vocab = json_object(), *merges = json_array(), *added = json_array();
    for (int id = 0; id < v->n; id++) {
        json_object_set_new(vocab, v->tokens[id], json_integer(id));
        if (v->types[id] != GENC_TOKTYPE_NORMAL) json_array_append_new(added, added_token(id, v->tokens[id]));
    }
    for (int i = 0; i < v->n_merges; i++) json_array_append_new(merges, json_string(v->merges[i]));
    json_t *pre = pre_tokenizer(p);
    json_t *model = json_pack("{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:o, s:o}", "type", "BPE", "dropout",
                              "unk_token", "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", 0,
                              "byte_fallback", 0, "ignore_merges", 0, "vocab", vocab, "merges", merges);
    return json_pack("{s:s, s:n, s:n, s:o, s:n, s:o, s:n, s:{s:s, s:b, s:b, s:b}, s:o}", "version", "1.0",
                     "truncation", "padding", "added_tokens", added, "normalizer", "pre_tokenizer", pre,
                     "post_processor", "decoder", "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1,
                     "use_regex", 0, "model", model);
}

static genc_status write_tokenizer(genc_ctx *ctx, const genc_tokenizer *tok, const genc_lm_config *c,
                                   const char *dir) {
    genc_export_vocab v;
    genc_status s = genc_export_vocab_build(ctx, tok, c->vocab_size, &v);
    if (s) return s;
    s = save_json(ctx, tokenizer_json(&v, genc_tokenizer_pretokenizer(tok)), dir, "tokenizer.json");
    genc_export_vocab_free(&v);
    json_t *tc = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:i, s:b}", "tokenizer_class", "PreTrainedTokenizerFast",
                           "bos_token", "<|bos|>", "eos_token", "<|eos|>", "pad_token", "<|pad|>", "add_bos_token", 0,
                           "add_eos_token", 0, "model_max_length", c->max_seq, "clean_up_tokenization_spaces", 0);
    if (!s) s = save_json(ctx, tc, dir, "tokenizer_config.json");
    else json_decref(tc);
    return s;
}

genc_status genc_lm_export_hf(genc_ctx *ctx, const genc_lm *m, const genc_tokenizer *tok, genc_dtype dt,
                              const char *dir) {
    if (dt != GENC_DT_F32 && dt != GENC_DT_BF16 && dt != GENC_DT_F16)
        return genc_error(ctx, GENC_EINVAL, "export: Hugging Face weights are F32, BF16 or F16, not %s",
                          genc_dtype_name(dt));
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return genc_error(ctx, GENC_EIO, "%s: cannot create the folder: %s", dir, strerror(errno));
    genc_status s = save_json(ctx, config_json(&m->cfg, tok, dt), dir, "config.json");
    if (!s) s = write_weights(ctx, m, dt, dir);
    if (!s) s = write_tokenizer(ctx, tok, &m->cfg, dir);
    json_t *gen = json_pack("{s:i, s:i, s:b, s:f, s:f}", "bos_token_id", genc_tokenizer_special(tok, "<|bos|>"),
                            "eos_token_id", genc_tokenizer_special(tok, "<|eos|>"), "do_sample", 1, "temperature", 1.0,
                            "top_p", 1.0);
    if (!s) s = save_json(ctx, gen, dir, "generation_config.json");
    else json_decref(gen);
    return s;
}
