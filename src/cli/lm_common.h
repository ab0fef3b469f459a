/* Pieces shared by the `genc lm` verbs: loading a model checkpoint with its tokenizer, and
 * splitting comma-separated file lists. */
#ifndef GENC_CLI_LM_COMMON_H
#define GENC_CLI_LM_COMMON_H
#include "genc/lm.h"
#include "genc/tokenizer.h"

/* Model (config + parameters) and the tokenizer that travels inside the checkpoint, or from
 * a Hugging Face folder (config.json, weights, tokenizer.json; see genc/lm_import.h). */
genc_status genc_cli_lm_load(genc_ctx *ctx, const char *path, genc_lm *m, genc_tokenizer **tok);
/* "a.txt,b.txt" -> an array of n strings (NULL when out of memory); empty items skipped. */
char **genc_cli_split_list(const char *csv, int *n);
void genc_cli_free_list(char **list, int n);
#endif
