/* genc info FILE|DIR: parses the one argument and prints what the file is (genc_info_print:
 * family, config, parameter count, dtypes, step, tokenizer and size by part). */
#include "cli/cli.h"
#include "genc/info.h"

#include <stdio.h>
#include <string.h>

static genc_status run_info(genc_ctx *ctx, void *args) { return genc_info_print(ctx, args); }

int genc_cli_info(int argc, char **argv) {
    if (argc == 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
        printf("usage: genc info FILE|DIR\n\nWhat a file is: a genc checkpoint of any family, a tokenizer, a prefix, "
               "exported weights, a GGUF file,\na Hugging Face folder or a training run's folder: family, config, "
               "parameter count, dtypes, step,\ntokenizer and size by part.\n");
        return 0;
    }
    if (argc != 1) {
        fprintf(stderr, "genc: error: info: expected one FILE or DIR, found %d arguments\n", argc);
        return 2;
    }
    return genc_cli_run(1, 1, run_info, argv[0]);
}
