/* What a file is, for every kind genc reads or writes: checkpoints of each family (language
 * model, diffusion/rectified flow, NICE/Glow, classifier), prefix files, tokenizers,
 * exported weights, GGUF files, Hugging Face folders and training runs' folders. */
#ifndef GENC_INFO_H
#define GENC_INFO_H

#include "genc/core.h"

/* Prints to standard output the family, config, parameter count, dtypes, step, tokenizer
 * and size by part of the file or folder at path; a file it cannot read is an error (the
 * message names the file) and nothing is printed after the point of failure. */
genc_status genc_info_print(genc_ctx *ctx, const char *path);

#endif
