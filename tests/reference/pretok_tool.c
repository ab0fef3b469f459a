/* Driver for tests/reference/test_pretok_gpt2.py and test_pretok_qwen2.py: the chunks a genc
 * pre-tokenizer (src/lm/tok_gpt2.c, tok_qwen2.c) cuts each input record into.
 *   pretok_tool IN [MODE]  IN: records of a 4-byte little-endian length and that many bytes;
 *                          MODE: gpt2 (the default), qwen2 or genc-v1;
 *                          stdout: per record one line of chunk byte lengths, space-separated */
#include "lm/tok_internal.h"
#include "tool_io.h"

int main(int argc, char **argv) {
    genc_pretokenizer mode = GENC_PRETOK_GPT2;
    if (argc < 2 || argc > 3 || (argc == 3 && !genc_pretokenizer_parse(argv[2], &mode)))
        return fprintf(stderr, "usage: pretok_tool IN [gpt2|qwen2|genc-v1]\n"), 2;
    FILE *f = fopen(argv[1], "rb");
    if (!f) return fprintf(stderr, "pretok_tool: cannot open %s\n", argv[1]), 1;
    uint8_t len4[4], *buf = NULL;
    while (fread(len4, 1, 4, f) == 4) {
        size_t n = (size_t)len4[0] | (size_t)len4[1] << 8 | (size_t)len4[2] << 16 | (size_t)len4[3] << 24;
        uint8_t *b = realloc(buf, n + 1);
        if (!b || fread(b, 1, n, f) != n) return fprintf(stderr, "pretok_tool: short record\n"), free(b ? b : buf), 1;
        buf = b;
        for (size_t i = 0; i < n;) {
            size_t k = genc_tok_chunk(mode, buf + i, n - i);
            printf(i ? " %zu" : "%zu", k);
            i += k;
        }
        printf("\n");
    }
    free(buf);
    fclose(f);
    return 0;
}
