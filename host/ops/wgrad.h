/* wgrad.h - what the weight-gradient variants of conv2d and deconv2d share (conv2d_bwd.c). */
#ifndef CLSEG_WGRAD_H
#define CLSEG_WGRAD_H

#include "ops.h"

/* The weight-gradient problem as a conv from `a` (cin channels) to `b` (cout channels): for a
   conv, a = x and b = dy; for a deconv, a = dy and b = x (its adjoint conv's input and output),
   and dw's [cin][cout] deconv layout is that conv's [cout][cin]. */
typedef struct wgrad {
    cl_mem a, b, dw, db, dy;
    shape4 as, bs, dys;
    int k, stride, pad;
} wgrad;

/* The adjoint conv's input (a) and output (b) shapes, side and stride, from the call alone (no
   buffers needed: for supports() and scratch sizes); 0 unless the call is a dense conv or deconv
   without activation (the trained ops' form) with valid shapes. */
int wgrad_geometry(const op_call *call, shape4 *as, shape4 *bs, int *k, int *stride);
/* Checks an OP_CONV2D_BWD_WEIGHT or OP_DECONV2D_BWD_WEIGHT call and fills g. */
clseg_status wgrad_problem(clseg_context *ctx, const op_call *call, wgrad *g);
/* db = the sum of dy over images and pixels, per channel (g->db must be set). */
clseg_status wgrad_bias(clseg_context *ctx, const wgrad *g);

#endif
