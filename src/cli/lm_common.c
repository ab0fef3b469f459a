/* Shared helpers of the `genc lm` verbs (see lm_common.h). */
#include "cli/lm_common.h"

#include <stdlib.h>
#include <string.h>

char **genc_cli_split_list(const char *csv, int *n) {
    int cap = 1;
    for (const char *p = csv; *p; p++) cap += *p == ',';
    char **list = calloc((size_t)cap, sizeof *list);
    *n = 0;
    for (const char *p = csv; list && *p;) {
        size_t len = strcspn(p, ",");
        if (len > 0 && !(list[(*n)++] = strndup(p, len))) {
            genc_cli_free_list(list, *n);
            return NULL;
        }
        p += len + (p[len] == ',');
    }
    return list;
}

void genc_cli_free_list(char **list, int n) {
    for (int i = 0; list && i < n; i++) free(list[i]);
    free(list);
}
