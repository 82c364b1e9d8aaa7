/* launch_helpers.h - work-group sizing and checks shared by the memory-bound ops. */
#ifndef CLSEG_LAUNCH_HELPERS_H
#define CLSEG_LAUNCH_HELPERS_H

#include "ops.h"

/* Local size for a grid of gws[0] x gws[1] x gws[2] work-items whose dimension 0 runs along
   contiguous memory: up to 64 work-items, as many as useful along x, the rest along y, within
   the device's limits. ctx_run rounds the global size up and the kernels bounds-check. On a
   driver that compiles a work-group function per local size (PoCL), x is 64, 32 or 16 and y
   (else z) fills the 64 even past the grid: a few shapes, fewer first-run compiles. */
void launch_local_size(const clseg_device_info *dev, const size_t gws[3], size_t lws[3]);

/* lws = the wanted work-group shape clamped to the grid, to the device's per-dimension limits
   and to kernel_limit work-items in all (halving the largest dimension until the total fits).
   For kernels whose work-group shape is a launch choice only (no define, no local array sized
   by it); kernel_limit is ctx_kernel_max_group() of the kernel to launch. */
void launch_clamp_local(const clseg_device_info *dev, size_t kernel_limit, const size_t want[3],
                        const size_t gws[3], size_t lws[3]);

/* 1 if every extent fits the int arguments the kernels take; ops reject larger shapes with
   CLSEG_ERR_TOO_LARGE instead of letting indices wrap. */
int launch_fits_int(shape4 s);

/* CLSEG_OK if `got` (a shape the caller passed in the op_call) equals `want` (the shape the op
   needs there), else CLSEG_ERR_INVALID_ARGUMENT naming the op and both shapes. */
clseg_status launch_check_shape(clseg_context *ctx, op_kind kind, shape4 got, shape4 want);

/* For conv-like calls (input, weights, optional bias -> output): the output shape the caller
   passed equals ys, and the input, weight and output buffers are there. */
clseg_status launch_check_conv_io(clseg_context *ctx, const op_call *call, shape4 ys);

#endif
