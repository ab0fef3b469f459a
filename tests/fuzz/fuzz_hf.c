/* libFuzzer target for the Hugging Face folder readers' JSON parts: the first input byte
 * picks config.json (even) or tokenizer.json (odd), the rest is the file. Any input must be
 * refused with one line naming the label, or give a config that passes genc's own checks /
 * a tokenizer whose encode-decode round trip is exact. Crashes, sanitizer reports and broken
 * invariants abort. */
#include "genc/core.h"
#include "genc/lm_import.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

static void refused(genc_ctx *ctx, const char *label) {
    const char *msg = genc_last_error(ctx);
    REQUIRE(msg[0] && !strchr(msg, '\n') && strstr(msg, label));
    genc_clear_error(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static genc_ctx *ctx;
    if (!ctx) ctx = genc_ctx_new();
    if (size < 1) return 0;
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    if (data[0] % 2 == 0) {
        genc_lm_config c;
        if (genc_lm_config_from_hf(ctx, text, n, "fuzz/config.json", &c)) refused(ctx, "fuzz/config.json");
        else REQUIRE(genc_lm_config_check(ctx, &c) == GENC_OK);
        return 0;
    }
    genc_tokenizer *tok;
    if (genc_tokenizer_from_hf_json(ctx, text, n, "fuzz/tokenizer.json", &tok)) {
        REQUIRE(tok == NULL);
        refused(ctx, "fuzz/tokenizer.json");
        return 0;
    }
    static const uint8_t sample[] = "The caf\xc3\xa9 opens at 9 <|eos|> \xff";
    int32_t *ids;
    size_t n_ids, n_back;
    uint8_t *back;
    REQUIRE(genc_tokenizer_encode(tok, ctx, sample, sizeof sample - 1, true, &ids, &n_ids) == GENC_OK);
    REQUIRE(genc_tokenizer_decode(tok, ctx, ids, n_ids, &back, &n_back) == GENC_OK);
    REQUIRE(n_back == sizeof sample - 1 && !memcmp(back, sample, n_back));
    free(ids), free(back);
    genc_tokenizer_free(tok);
    return 0;
}
