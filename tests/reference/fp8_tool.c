/* Driver for tests/reference/test_fp8.py: runs genc's FP8 conversions, fine-grained
 * quantisation and emulated FP8 GEMM (include/genc/fp8.h, DeepSeek-V3 report section 3.3)
 * on raw little-endian files the script writes, and writes the results raw.
 *   fp8_tool decode4|decode5 OUT            all 256 codes -> OUT (float32 x 256)
 *   fp8_tool encode4|encode5 IN N OUT       N float32 -> N codes (vector path)
 *   fp8_tool qdq IN ROWS COLS GR GC OUT SCALES
 *   fp8_tool gemm A B M N K PROMOTE OUT     C = A B (A, B already quantised), beta 0 */
#include "genc/fp8.h"
#include "tool_io.h"

#include <string.h>

static int write_raw(const char *path, const void *p, size_t bytes) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, bytes, f) != bytes) return fprintf(stderr, "fp8_tool: cannot write %s\n", path), 1;
    return fclose(f) != 0;
}

static int run(int argc, char **argv) {
    const char *op = argv[1];
    if ((!strcmp(op, "decode4") || !strcmp(op, "decode5")) && argc == 3) {
        float v[256];
        for (int c = 0; c < 256; c++) v[c] = op[6] == '4' ? genc_e4m3_decode((uint8_t)c) : genc_e5m2_decode((uint8_t)c);
        return write_raw(argv[2], v, sizeof v);
    }
    if ((!strcmp(op, "encode4") || !strcmp(op, "encode5")) && argc == 5) {
        size_t n = (size_t)atol(argv[3]);
        float *x = tool_read_bytes(argv[2], n * 4);
        uint8_t *out = malloc(n + 1);
        if (!x || !out) return 1;
        if (op[6] == '4') genc_e4m3_encode_n(x, 1.0f, out, (int64_t)n);
        else genc_e5m2_encode_n(x, 1.0f, out, (int64_t)n);
        int r = write_raw(argv[4], out, n);
        return free(x), free(out), r;
    }
    if (!strcmp(op, "qdq") && argc == 9) {
        int64_t R = atol(argv[3]), C = atol(argv[4]), gr = atol(argv[5]), gc = atol(argv[6]);
        int64_t ns = ((R + gr - 1) / gr) * ((C + gc - 1) / gc);
        float *x = tool_read_bytes(argv[2], (size_t)(R * C) * 4), *y = malloc((size_t)(R * C) * 4), *s = malloc((size_t)ns * 4);
        if (!x || !y || !s) return 1;
        genc_fp8_qdq(x, R, C, C, gr, gc, y, C, s);
        int r = write_raw(argv[7], y, (size_t)(R * C) * 4) || write_raw(argv[8], s, (size_t)ns * 4);
        return free(x), free(y), free(s), r;
    }
    if (!strcmp(op, "gemm") && argc == 9) {
        int64_t M = atol(argv[4]), N = atol(argv[5]), K = atol(argv[6]);
        float *A = tool_read_bytes(argv[2], (size_t)(M * K) * 4), *B = tool_read_bytes(argv[3], (size_t)(K * N) * 4);
        float *C = calloc((size_t)(M * N), 4);
        if (!A || !B || !C) return 1;
        genc_fp8_gemm_acc(M, N, K, A, K, B, N, 0, C, N, atoi(argv[7]), GENC_FP8_ACC_BITS);
        int r = write_raw(argv[8], C, (size_t)(M * N) * 4);
        return free(A), free(B), free(C), r;
    }
    fprintf(stderr, "fp8_tool: unknown command or arguments\n");
    return 2;
}

int main(int argc, char **argv) { return argc < 2 ? 2 : run(argc, argv); }
