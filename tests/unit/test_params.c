/* Parameter sets: genc_params_new adds a fresh named tensor that the set then owns; a duplicate
 * name is refused with a message naming it, leaving the set as it was (and leaking nothing,
 * which the ASan run checks); find and numel see what was added. */
#include "genc/genc.h"
#include "test.h"

#include <string.h>

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    genc_params p = {0};
    int64_t s1[2] = {3, 4}, s2[1] = {5};
    genc_tensor *w = genc_params_new(ctx, &p, "layer.weight", 2, s1);
    genc_tensor *b = genc_params_new(ctx, &p, "layer.bias", 1, s2);
    CHECK(w && b && p.n == 2 && p.t[0] == w && p.t[1] == b);
    CHECK(w && w->requires_grad && !strcmp(w->name, "layer.weight") && genc_numel(w) == 12);
    CHECK(genc_params_numel(&p) == 17);
    CHECK(genc_params_find(&p, "layer.bias") == b && genc_params_find(&p, "nope") == NULL);
    CHECK(genc_ctx_status(ctx) == GENC_OK);
    CHECK(genc_params_new(ctx, &p, "layer.bias", 2, s1) == NULL && p.n == 2);
    CHECK(genc_ctx_status(ctx) == GENC_EINVAL && strstr(genc_last_error(ctx), "layer.bias") != NULL);
    genc_params_free_all(&p);
    genc_ctx_free(ctx);
    return test_report("test_params");
}
