/* launch_helpers.c - work-group sizing for the one-work-item-per-element ops. */
#include "launch_helpers.h"

#include <limits.h>
#include <stdint.h>

#include "../device/driver.h"

/* Small enough for every OpenCL device (the minimum CL_DEVICE_MAX_WORK_GROUP_SIZE is 1, but
   real devices give at least 64), large enough to fill a SIMD unit. */
#define LAUNCH_GROUP_ITEMS 64

static size_t pow2_at_least(size_t n, size_t cap) {
    size_t p = 1;
    while (p < n && p * 2 <= cap) p *= 2;
    return p;
}

/* The narrowest x that drivers compiling a work-group function per local size get (driver.h): a
   16-float vector's width. */
#define SPECIALISED_MIN_X 16

void launch_local_size(const clseg_device_info *dev, const size_t gws[3], size_t lws[3]) {
    if (driver_traits_of(dev)->specialises_local_size) {
        /* Every distinct local size is one more compile at the first run (PoCL: 0.1-2 s each,
           docs/bench.md): a few shapes (x 64, 32 or 16, y or else z filling
           64) whatever the grid, for a few idle work-items at the edges of narrow grids. */
        const size_t all[3] = {SIZE_MAX, SIZE_MAX, SIZE_MAX};
        size_t want[3] = {pow2_at_least(gws[0], LAUNCH_GROUP_ITEMS), 1, 1};
        if (want[0] < SPECIALISED_MIN_X) want[0] = SPECIALISED_MIN_X;
        if (gws[1] > 1)
            want[1] = LAUNCH_GROUP_ITEMS / want[0];
        else if (gws[2] > 1)
            want[2] = LAUNCH_GROUP_ITEMS / want[0];
        launch_clamp_local(dev, 0, want, all, lws);
        return;
    }
    size_t budget = LAUNCH_GROUP_ITEMS;
    if (dev->max_work_group_size && dev->max_work_group_size < budget)
        budget = dev->max_work_group_size;
    for (int d = 0; d < 3; d++) {
        size_t cap = budget;
        if (dev->max_work_item_sizes[d] && dev->max_work_item_sizes[d] < cap)
            cap = dev->max_work_item_sizes[d];
        /* Whatever x leaves over goes to y; z (planes or batch) stays 1 unless x and y are
           tiny, so that a work-group stays within one or a few rows of memory. */
        lws[d] = pow2_at_least(gws[d] ? gws[d] : 1, cap);
        budget /= lws[d];
        if (budget < 1) budget = 1;
    }
}

int launch_fits_int(shape4 s) {
    return s.n >= 0 && s.c >= 0 && s.h >= 0 && s.w >= 0 && shape4_count(s) <= (size_t)INT_MAX;
}

clseg_status launch_check_shape(clseg_context *ctx, op_kind kind, shape4 got, shape4 want) {
    if (got.n == want.n && got.c == want.c && got.h == want.h && got.w == want.w) return CLSEG_OK;
    return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT,
                    "%s: a tensor is %dx%dx%dx%d where %dx%dx%dx%d is needed", op_kind_name(kind),
                    got.n, got.c, got.h, got.w, want.n, want.c, want.h, want.w);
}

clseg_status launch_check_conv_io(clseg_context *ctx, const op_call *call, shape4 ys) {
    clseg_status st = launch_check_shape(ctx, call->kind, call->out[0].s, ys);
    if (st == CLSEG_OK && (!call->in[0].mem || !call->in[1].mem || !call->out[0].mem))
        st = ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "%s: missing buffer",
                      op_kind_name(call->kind));
    return st;
}

void launch_clamp_local(const clseg_device_info *dev, size_t kernel_limit, const size_t want[3],
                        const size_t gws[3], size_t lws[3]) {
    size_t limit = dev->max_work_group_size;
    if (kernel_limit && (!limit || kernel_limit < limit)) limit = kernel_limit;
    size_t total = 1;
    for (int d = 0; d < 3; d++) {
        lws[d] = CLSEG_MIN(want[d], gws[d]);
        if (dev->max_work_item_sizes[d]) lws[d] = CLSEG_MIN(lws[d], dev->max_work_item_sizes[d]);
        if (lws[d] < 1) lws[d] = 1;
        total *= lws[d];
    }
    while (limit && total > limit) {
        int big = 0;
        for (int d = 1; d < 3; d++)
            if (lws[d] > lws[big]) big = d;
        total = total / lws[big] * ((lws[big] + 1) / 2);
        lws[big] = (lws[big] + 1) / 2;
    }
}
