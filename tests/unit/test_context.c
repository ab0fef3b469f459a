/* The context's error message: sticky (the first error wins until cleared), and always one
 * line, with control characters from user data escaped, however long the message. */
#include "genc/core.h"
#include "test.h"

#include <stdlib.h>

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    CHECK(genc_error(ctx, GENC_EFORMAT, "f.json: model \"%s\"", "a\nb\tc\r\x01") == GENC_EFORMAT);
    CHECK_MSG(!strcmp(genc_last_error(ctx), "f.json: model \"a\\nb\\tc\\r\\x01\""), "got [%s]", genc_last_error(ctx));
    CHECK(genc_error(ctx, GENC_EIO, "second") == GENC_EIO && genc_ctx_status(ctx) == GENC_EFORMAT);
    CHECK(strstr(genc_last_error(ctx), "f.json") != NULL);
    genc_clear_error(ctx);
    CHECK(genc_ctx_status(ctx) == GENC_OK && genc_last_error(ctx)[0] == 0);
    char big[2000];
    memset(big, '\n', sizeof big - 1), big[sizeof big - 1] = 0;
    genc_error(ctx, GENC_EINVAL, "x%s", big);
    const char *m = genc_last_error(ctx);
    CHECK(m[0] == 'x' && !strchr(m, '\n') && strlen(m) > 400 && strlen(m) < 512);
    CHECK(strlen(m) % 2 == 1); /* "x" then whole "\n" escapes only: none cut in half */
    genc_clear_error(ctx);
    genc_error(ctx, GENC_EINVAL, "caf\xc3\xa9 ok");
    CHECK(!strcmp(genc_last_error(ctx), "caf\xc3\xa9 ok")); /* UTF-8 passes through */
    /* genc_error_prefix: the context goes in front, escaped; from a file, EINVAL becomes
     * EFORMAT and any other status stays; without an error it does nothing */
    genc_clear_error(ctx);
    CHECK(genc_error_prefix(ctx, true, "%s", "f.st") == GENC_OK && genc_last_error(ctx)[0] == 0);
    genc_error(ctx, GENC_EINVAL, "unknown prediction type 'x'");
    CHECK(genc_error_prefix(ctx, false, "%s: config\n", "f.st") == GENC_EINVAL);
    CHECK_MSG(!strcmp(genc_last_error(ctx), "f.st: config\\n: unknown prediction type 'x'"), "got [%s]",
              genc_last_error(ctx));
    CHECK(genc_error_prefix(ctx, true, "g") == GENC_EFORMAT);
    genc_clear_error(ctx);
    genc_error(ctx, GENC_ENOMEM, "out of memory");
    CHECK(genc_error_prefix(ctx, true, "f.st") == GENC_ENOMEM);
    genc_clear_error(ctx);
    genc_error(ctx, GENC_EINVAL, "x%s", big); /* full message: the prefix stays, the end goes */
    CHECK(genc_error_prefix(ctx, false, "--flag") == GENC_EINVAL);
    m = genc_last_error(ctx);
    CHECK(!strncmp(m, "--flag: x\\n", 11) && strlen(m) < 512 && !strchr(m, '\n'));
    genc_ctx_free(ctx);
    return test_report("test_context");
}
