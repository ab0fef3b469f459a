/* Where a Fashion-MNIST accuracy lands among the baselines that ship with Debian's
 * dataset-fashion-mnist package: the submitted-benchmarks table of its README (the
 * package's baselines.json lists only the scikit-learn grid, without scores). */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define FASHION_README "/usr/share/doc/dataset-fashion-mnist/README.md.gz"

/* A table row "| name | preprocessing | 0.916 | ..." gives its third cell as a number. */
static bool row_accuracy(const char *line, double *acc, char *name, size_t n) {
    if (line[0] != '|') return false;
    const char *c1 = strchr(line + 1, '|'), *c2 = c1 ? strchr(c1 + 1, '|') : NULL;
    if (!c2) return false;
    char *end;
    double v = strtod(c2 + 1, &end);
    while (*end == ' ') end++;
    if (end == c2 + 1 || *end != '|' || v <= 0 || v >= 1) return false;
    size_t len = (size_t)(c1 - line - 1);
    snprintf(name, n, "%.*s", (int)(len < n ? len : n - 1), line + 1);
    *acc = v;
    return true;
}

void genc_cli_print_baseline_rank(double acc) {
    gzFile f = gzopen(FASHION_README, "rb");
    if (!f) return;
    char line[4096], name[256], below[256] = "", above[256] = "";
    int n = 0, beaten = 0;
    double v, best_below = 0, worst_above = 1;
    while (gzgets(f, line, sizeof line)) {
        if (!row_accuracy(line, &v, name, sizeof name)) continue;
        n++;
        if (v <= acc) {
            beaten++;
            if (v >= best_below) best_below = v, snprintf(below, sizeof below, "%s", name);
        } else if (v < worst_above) {
            worst_above = v, snprintf(above, sizeof above, "%s", name);
        }
    }
    gzclose(f);
    if (!n) return;
    printf("baselines (%s, submitted table): genc's %.3f is at or above %d of %d", FASHION_README, acc, beaten, n);
    if (below[0]) printf("; next below: %.3f (%s)", best_below, below);
    if (above[0]) printf("; next above: %.3f (%s)", worst_above, above);
    printf("\n");
}
