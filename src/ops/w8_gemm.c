/* Weights held as FP8 for inference (DeepSeek-V3's release layout, report section 3.3: E4M3
 * codes with one F32 scale per 128x128 block, 1 byte per weight plus 4 per block) and the
 * product that reads them: y = x W^T with W decoded 128 rows at a time (the vector E4M3
 * decode of fp8.c, AVX2 where built) into a float panel that stays in cache, each panel then
 * multiplied by the BLAS GEMM. The weights stream from memory as bytes; the F32 copy never
 * exists. Values are exactly those of genc_fp8_dequantize. */
#include "genc/fp8.h"
#include "genc/genc.h"

#include <stdlib.h>
#include <string.h>

#define BLK GENC_FP8_TILE

static int64_t nblk(int64_t n) { return (n + BLK - 1) / BLK; }

genc_status genc_w8_from_f32(genc_ctx *ctx, const float *w, int64_t rows, int64_t cols, genc_w8 *out) {
    memset(out, 0, sizeof *out);
    out->codes = malloc((size_t)(rows * cols));
    out->scales = malloc((size_t)(nblk(rows) * nblk(cols)) * sizeof(float));
    if (!out->codes || !out->scales) {
        genc_w8_free(out);
        return genc_error(ctx, GENC_ENOMEM, "out of memory holding a %lld x %lld weight in FP8", (long long)rows,
                          (long long)cols);
    }
    out->rows = rows, out->cols = cols;
    genc_fp8_quantize(w, rows, cols, BLK, BLK, out->codes, out->scales);
    return GENC_OK;
}

void genc_w8_free(genc_w8 *w) {
    if (!w) return;
    free(w->codes), free(w->scales);
    memset(w, 0, sizeof *w);
}

int64_t genc_w8_bytes(const genc_w8 *w) {
    return w->rows * w->cols + nblk(w->rows) * nblk(w->cols) * (int64_t)sizeof(float);
}

/* Rows r0 .. r0 + nr of W, dequantised into panel [nr, cols]. */
static void decode_panel(const genc_w8 *w, int64_t r0, int64_t nr, genc_real *panel) {
    int64_t cols = w->cols, bc = nblk(cols);
    for (int64_t r = 0; r < nr; r++)
        for (int64_t b = 0; b < bc; b++) {
            int64_t c0 = b * BLK, n = cols - c0 < BLK ? cols - c0 : BLK;
            float s = w->scales[((r0 + r) / BLK) * bc + b];
            const uint8_t *code = w->codes + (r0 + r) * cols + c0;
#ifdef GENC_DOUBLE
            for (int64_t i = 0; i < n; i++) panel[r * cols + c0 + i] = (genc_real)genc_e4m3_decode(code[i]) * s;
#else
            genc_e4m3_decode_n(code, s, panel + r * cols + c0, n);
#endif
        }
}

static _Thread_local genc_real *panel_buf;
static _Thread_local size_t panel_cap;

bool genc_w8_matmul_nt(int64_t M, const genc_real *x, int64_t ldx, const genc_w8 *w, genc_real beta, genc_real *y,
                       int64_t ldy) {
    size_t need = (size_t)(BLK * w->cols);
    if (need > panel_cap) {
        genc_real *p = realloc(panel_buf, need * sizeof *p);
        if (!p) return false;
        panel_buf = p, panel_cap = need;
    }
    for (int64_t r0 = 0; r0 < w->rows; r0 += BLK) {
        int64_t nr = w->rows - r0 < BLK ? w->rows - r0 : BLK;
        decode_panel(w, r0, nr, panel_buf);
        genc_gemm(false, true, M, nr, w->cols, 1, x, ldx, panel_buf, w->cols, beta, y + r0, ldy);
    }
    return true;
}
