/* genc: the umbrella header. Include this to get the whole public C API. */
#ifndef GENC_GENC_H
#define GENC_GENC_H
#include "core.h"
#include "tensor.h"
#include "autograd.h"
#include "ops.h"
#endif
