/* genc lm export: a trained model for other runtimes: --format gguf (llama.cpp's deepseek2
 * layout, --type f32|f16|q8_0) or --format hf (a Hugging Face folder, --type f32|bf16|f16).
 * Weights only: the checkpoint's optimiser moments and training state are left behind. */
#include "cli/cli.h"
#include "cli/lm_common.h"
#include "genc/lm_export.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *checkpoint, *format, *out, *type;
    int64_t threads;
} export_args;

static genc_status parse_gguf_type(genc_ctx *ctx, const char *t, genc_ggml_type *out) {
    if (!strcmp(t, "f32")) *out = GENC_GGML_F32;
    else if (!strcmp(t, "f16")) *out = GENC_GGML_F16;
    else if (!strcmp(t, "q8_0")) *out = GENC_GGML_Q8_0;
    else return genc_error(ctx, GENC_EINVAL, "--type: expected f32, f16 or q8_0 for gguf, found \"%s\"", t);
    return GENC_OK;
}

static genc_status parse_hf_type(genc_ctx *ctx, const char *t, genc_dtype *out) {
    if (!strcmp(t, "f32")) *out = GENC_DT_F32;
    else if (!strcmp(t, "bf16")) *out = GENC_DT_BF16;
    else if (!strcmp(t, "f16")) *out = GENC_DT_F16;
    else return genc_error(ctx, GENC_EINVAL, "--type: expected f32, bf16 or f16 for hf, found \"%s\"", t);
    return GENC_OK;
}

static genc_status run_export(genc_ctx *ctx, void *args) {
    const export_args *a = args;
    bool gguf = !strcmp(a->format, "gguf"), hf = !strcmp(a->format, "hf");
    if (!gguf && !hf)
        return genc_error(ctx, GENC_EINVAL, "--format: expected gguf or hf, found \"%s\"", a->format);
    genc_ggml_type type = GENC_GGML_F32;
    genc_dtype dt = GENC_DT_F32;
    genc_status s = gguf ? parse_gguf_type(ctx, a->type, &type) : parse_hf_type(ctx, a->type, &dt);
    if (s) return s;
    genc_lm m;
    genc_tokenizer *tok = NULL;
    s = genc_lm_load(ctx, a->checkpoint, true, &m, &tok);
    if (s) return s;
    s = gguf ? genc_lm_export_gguf(ctx, &m, tok, type, a->out) : genc_lm_export_hf(ctx, &m, tok, dt, a->out);
    if (!s && gguf)
        printf("wrote %s: GGUF deepseek2, %s, %d layers (%d MTP modules left out), vocab %d\n", a->out,
               genc_ggml_type_name(type), m.cfg.n_layers, m.cfg.mtp_depth, m.cfg.vocab_size);
    if (!s && hf)
        printf("wrote %s/: config.json, model.safetensors (%s, weights only), tokenizer.json, tokenizer_config.json, "
               "generation_config.json\n", a->out, genc_dtype_name(dt));
    genc_tokenizer_free(tok);
    genc_lm_free(&m);
    return s;
}

int genc_cli_lm_export(int argc, char **argv) {
    export_args a = {.format = "gguf", .type = "f32", .threads = 1};
    genc_flag flags[] = {
        {"checkpoint", FLAG_STRING, &a.checkpoint, "model checkpoint (genc lm train's checkpoint.safetensors)"},
        {"format", FLAG_STRING, &a.format, "gguf (llama.cpp) or hf (a Hugging Face folder)", .choices = "gguf|hf"},
        {"out", FLAG_STRING, &a.out, "the file (gguf) or folder (hf) to write"},
        {"type", FLAG_STRING, &a.type, "gguf: f32, f16 or q8_0 (norms and the router stay f32); hf: f32, bf16 or f16",
         .choices = "f32|f16|q8_0|bf16"},
        GENC_THREADS_FLAG_ENTRY(a),
    };
    int r = genc_flags_parse("lm export", "Export a language model: GGUF for llama.cpp, or a Hugging Face folder.", flags,
                             (int)(sizeof flags / sizeof *flags), argc, argv);
    if (r) return r == 1 ? 0 : 2;
    if (!a.checkpoint || !a.out) {
        fprintf(stderr, "genc: error: lm export: --checkpoint and --out are required\n");
        return 2;
    }
    return genc_cli_run(a.threads, 1, run_export, &a);
}
