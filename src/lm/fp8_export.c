/* FP8 weights of a language model for inference and export, in DeepSeek-V3's release layout
 * (report section 3.3; shared/reference/deepseek-v3.md): every linear weight of the blocks
 * (attention and MLA projections, dense, shared and routed expert FFNs, the MTP projection)
 * as F8_E4M3 with an F32 `_scale_inv` per 128x128 block; the embedding, output head, MoE gate,
 * norms and the balancing bias stay F32. Any checkpoint reader (genc_checkpoint_load) reads it
 * back, dequantising the FP8 weights. */
#include "genc/fp8_weights.h"
#include "lm/lm_internal.h"

#include <stdlib.h>
#include <string.h>

bool genc_lm_param_is_fp8(const genc_tensor *t) {
    size_t n = strlen(t->name), g = strlen(".mlp.gate.weight");
    if (t->ndim != 2 || !strcmp(t->name, "model.embed_tokens.weight") || !strcmp(t->name, "lm_head.weight")) return false;
    return !(n > g && !strcmp(t->name + n - g, ".mlp.gate.weight"));
}

genc_status genc_lm_save_fp8(genc_ctx *ctx, const genc_lm *m, const char *path,
                             genc_status (*extra)(genc_ctx *, void *, genc_st_writer *),
                             void *extra_user, int64_t *n_fp8) {
    char *cfg = genc_lm_config_json(&m->cfg);
    genc_st_writer *w = cfg ? genc_st_writer_new(ctx) : NULL;
    genc_status s = !cfg ? genc_error(ctx, GENC_ENOMEM, "out of memory") : !w ? genc_ctx_status(ctx) : GENC_OK;
    if (!s) s = genc_st_writer_meta(w, "format", "genc-1");
    if (!s) s = genc_st_writer_meta(w, "config", cfg);
    if (!s) s = genc_st_writer_meta(w, "quantization_config", "{\"quant_method\":\"fp8\",\"fmt\":\"e4m3\","
                                       "\"activation_scheme\":\"dynamic\",\"weight_block_size\":[128,128]}");
    *n_fp8 = 0;
    for (int i = 0; !s && i < m->params.n; i++) {
        const genc_tensor *t = m->params.t[i];
        if (genc_lm_param_is_fp8(t)) {
            s = genc_fp8_weights_add(ctx, w, t->name, t->shape[0], t->shape[1], (const float *)t->data);
            ++*n_fp8;
        } else {
            s = genc_st_writer_add_f32(w, t->name, GENC_DT_F32, t->ndim, t->shape, (const float *)t->data);
        }
    }
    if (!s && extra) s = extra(ctx, extra_user, w);
    if (!s) s = genc_st_writer_save(w, path);
    genc_st_writer_free(w);
    free(cfg);
    return s;
}
