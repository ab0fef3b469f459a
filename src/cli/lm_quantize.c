/* genc lm quantize: write a language-model checkpoint's weights in DeepSeek-V3's FP8 release
 * layout (F8_E4M3 + F32 _scale_inv per 128x128 block, report section 3.3; src/lm/fp8_export.c),
 * readable by lm sample and lm eval. Prints the file sizes. */
#include "cli/cli.h"
#include "cli/lm_common.h"

#include <stdio.h>
#include <sys/stat.h>

typedef struct {
    const char *checkpoint, *out;
    int64_t threads;
} quantize_args;

static genc_status save_tokenizer(genc_ctx *ctx, void *user, genc_st_writer *w) {
    return genc_tokenizer_add_to(user, ctx, w);
}

static long long file_bytes(const char *path) {
    struct stat st;
    return stat(path, &st) ? -1 : (long long)st.st_size;
}

static genc_status run(genc_ctx *ctx, void *args) {
    quantize_args *a = args;
    genc_lm m = {0};
    genc_tokenizer *tok = NULL;
    int64_t n_fp8 = 0;
    genc_status s = genc_lm_load(ctx, a->checkpoint, true, &m, &tok);
    if (!s) s = genc_lm_save_fp8(ctx, &m, a->out, save_tokenizer, tok, &n_fp8);
    if (!s) { /* the quantised tensors' bytes: 4 per value in F32, 1 in FP8 plus 4 per 128x128 block */
        int64_t fp8 = 0, scales = 0, all = genc_params_numel(&m.params);
        for (int i = 0; i < m.params.n; i++) {
            const genc_tensor *t = m.params.t[i];
            if (!genc_lm_param_is_fp8(t)) continue;
            fp8 += genc_numel(t), scales += ((t->shape[0] + 127) / 128) * ((t->shape[1] + 127) / 128);
        }
        printf("wrote %s: %lld bytes (F32 weights alone: %lld bytes); %lld tensors (%lld of %lld weights) in F8_E4M3: "
               "%lld bytes in F32 -> %lld with their scales\n", a->out, file_bytes(a->out), (long long)(4 * all),
               (long long)n_fp8, (long long)fp8, (long long)all, (long long)(4 * fp8), (long long)(fp8 + 4 * scales));
    }
    genc_lm_free(&m), genc_tokenizer_free(tok);
    return s;
}

int genc_cli_lm_quantize(int argc, char **argv) {
    quantize_args a = {.out = "runs/lm/fp8.safetensors"};
    genc_flag flags[] = {
        {"checkpoint", FLAG_STRING, &a.checkpoint, "language-model checkpoint (F32)"},
        {"out", FLAG_STRING, &a.out, "output file (FP8 weights)"},
        GENC_THREADS_FLAG_ENTRY(a),
    };
    int r = genc_flags_parse("lm quantize", "Write a model's weights as FP8 (E4M3, 128x128 block scales).", flags,
                             (int)(sizeof flags / sizeof *flags), argc, argv);
    if (r) return r == 1 ? 0 : 2;
    if (!a.checkpoint) {
        fprintf(stderr, "genc: error: lm quantize: --checkpoint is required\n");
        return 2;
    }
    return genc_cli_run(a.threads, 1, run, &a);
}
