/* Pieces shared by the `genc lm` verbs: splitting comma-separated file lists and --weights
 * fp8 (a model opens with genc_lm_load, include/genc/lm.h). */
#ifndef GENC_CLI_LM_COMMON_H
#define GENC_CLI_LM_COMMON_H
#include "genc/lm.h"
#include "genc/tokenizer.h"

/* "a.txt,b.txt" -> an array of n strings (NULL when out of memory); empty items skipped. */
char **genc_cli_split_list(const char *csv, int *n);
void genc_cli_free_list(char **list, int n);
/* --weights fp8: hold the model's block weights in FP8 (genc_lm_hold_fp8) and say on stderr
 * how many bytes they took before and after. */
genc_status genc_cli_hold_fp8(genc_ctx *ctx, genc_lm *m);
#endif
