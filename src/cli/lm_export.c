/* genc lm export: a trained model for other runtimes: --format gguf (llama.cpp's deepseek2
 * layout, --type f32|f16|q8_0) or --format hf (a Hugging Face folder). Weights only: the
 * checkpoint's optimiser moments and training state are left behind. */
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

static genc_status run_export(genc_ctx *ctx, void *args) {
    const export_args *a = args;
    bool gguf = !strcmp(a->format, "gguf");
    if (!gguf)
        return genc_error(ctx, GENC_EINVAL, "--format: expected gguf, found \"%s\"", a->format);
    genc_ggml_type type = GENC_GGML_F32;
    genc_status s = parse_gguf_type(ctx, a->type, &type);
    if (s) return s;
    genc_lm m;
    genc_tokenizer *tok = NULL;
    s = genc_cli_lm_load(ctx, a->checkpoint, &m, &tok);
    if (s) return s;
    s = genc_lm_export_gguf(ctx, &m, tok, type, a->out);
    if (!s)
        printf("wrote %s: GGUF deepseek2, %s, %d layers (%d MTP modules left out), vocab %d\n", a->out,
               genc_ggml_type_name(type), m.cfg.n_layers, m.cfg.mtp_depth, m.cfg.vocab_size);
    genc_tokenizer_free(tok);
    genc_lm_free(&m);
    return s;
}

int genc_cli_lm_export(int argc, char **argv) {
    export_args a = {.format = "gguf", .type = "f32", .threads = 1};
    genc_flag flags[] = {
        {"checkpoint", FLAG_STRING, &a.checkpoint, "model checkpoint (genc lm train's checkpoint.safetensors)"},
        {"format", FLAG_STRING, &a.format, "gguf (llama.cpp)"},
        {"out", FLAG_STRING, &a.out, "the file to write"},
        {"type", FLAG_STRING, &a.type, "gguf: f32, f16 or q8_0 (norms and the router stay f32)"},
        GENC_THREADS_FLAG_ENTRY(a),
    };
    int r = genc_flags_parse("lm export", "Export a language model for llama.cpp (GGUF).", flags,
                             (int)(sizeof flags / sizeof *flags), argc, argv);
    if (r) return r == 1 ? 0 : 2;
    if (!a.checkpoint || !a.out) {
        fprintf(stderr, "genc: error: lm export: --checkpoint and --out are required\n");
        return 2;
    }
    return genc_cli_run(a.threads, 1, run_export, &a);
}
