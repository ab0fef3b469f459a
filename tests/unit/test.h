/* A minimal test harness for genc's C unit tests: CHECK macros that count failures and a
 * closing line "N passed, N failed" that CTest and CI read. */
#ifndef GENC_TEST_H
#define GENC_TEST_H
#include <math.h>
#include <stdio.h>
#include <string.h>

static int test_passed, test_failed;

#define CHECK(cond) do { if (cond) test_passed++; else { test_failed++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_MSG(cond, ...) do { if (cond) test_passed++; else { test_failed++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
/* |a - b| <= atol + rtol * |b| */
#define CHECK_CLOSE(a, b, rtol, atol) do { double a_ = (a), b_ = (b); \
    CHECK_MSG(fabs(a_ - b_) <= (atol) + (rtol) * fabs(b_), "%s = %.9g vs %s = %.9g", #a, a_, #b, b_); } while (0)

static int test_report(const char *name) {
    printf("%s: %d passed, %d failed\n", name, test_passed, test_failed);
    return test_failed ? 1 : 0;
}
#endif
