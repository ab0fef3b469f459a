/* A minimal test harness for genc's C unit tests: CHECK macros that count failures and a
 * closing line "N passed, N failed" that CTest and CI read. A part that cannot run for want
 * of something outside the repository calls test_skip: the test then exits 77, which CTest
 * shows as skipped (SKIP_RETURN_CODE), unless GENC_REQUIRE_DEPS=1 (set by `make test`, whose
 * set-up installs every dependency), where it counts as a failure. */
#ifndef GENC_TEST_H
#define GENC_TEST_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_SKIP_CODE 77
static int test_passed, test_failed, test_skipped;

#define CHECK(cond) do { if (cond) test_passed++; else { test_failed++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_MSG(cond, ...) do { if (cond) test_passed++; else { test_failed++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
/* |a - b| <= atol + rtol * |b| */
#define CHECK_CLOSE(a, b, rtol, atol) do { double a_ = (a), b_ = (b); \
    CHECK_MSG(fabs(a_ - b_) <= (atol) + (rtol) * fabs(b_), "%s = %.9g vs %s = %.9g", #a, a_, #b, b_); } while (0)

/* A missing dependency (what, and how to get it): skipped, or failed under GENC_REQUIRE_DEPS=1. */
static inline void test_skip(const char *why) {
    const char *req = getenv("GENC_REQUIRE_DEPS");
    if (req && !strcmp(req, "1")) {
        fprintf(stderr, "FAIL: a required dependency is missing (GENC_REQUIRE_DEPS=1): %s\n", why);
        test_failed++;
    } else {
        printf("SKIP %s\n", why);
        test_skipped++;
    }
}

static int test_report(const char *name) {
    printf("%s: %d passed, %d failed, %d skipped\n", name, test_passed, test_failed, test_skipped);
    return test_failed ? 1 : test_skipped ? TEST_SKIP_CODE : 0;
}
#endif
