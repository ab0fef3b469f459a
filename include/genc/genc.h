/* genc: the umbrella header. Include this to get the whole public C API: every header
 * under include/genc/ (tests/e2e/test_install.sh checks that none is missing). */
#ifndef GENC_GENC_H
#define GENC_GENC_H
#include "core.h"
#include "tensor.h"
#include "autograd.h"
#include "ops.h"
#include "safetensors.h"
#include "png.h"
#include "data.h"
#include "train.h"
#include "tokenizer.h"
#include "lm.h"
#include "lm_infer.h"
#include "prefix.h"
#include "tasks.h"
#include "grpo.h"
#include "grpo_train.h"
#include "image.h"
#include "flow.h"
#include "glow.h"
#include "flow_model.h"
#include "unet.h"
#include "diffusion.h"
#include "diffusion_model.h"
#include "fid.h"
#endif
