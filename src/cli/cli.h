/* Shared pieces of the genc command: the verb table entry and the verbs' entry points. */
#ifndef GENC_CLI_H
#define GENC_CLI_H
#include "genc/genc.h"

typedef struct {
    const char *family, *verb, *help;
    int (*run)(int argc, char **argv); /* argv after the verb; returns the exit code */
} genc_cli_verb;

int genc_cli_classify_train(int argc, char **argv);
int genc_cli_classify_eval(int argc, char **argv);
#endif
