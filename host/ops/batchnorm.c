/* batchnorm.c - BatchNorm in training mode and its gradient (kernels/batchnorm.cl): a
   per-channel reduction kernel (one work-group per channel) and an elementwise kernel each. */
#include "backward.h"
#include "launch_helpers.h"

/* Lanes per work-group of the per-channel reductions. A CPU gets one: it streams each channel
   through vector registers, while PoCL runs a 64-lane group with a barrier about 20x slower
   (a bias gradient of 128 x 42k floats took 170 ms). Other devices get 64 lanes, within their
   limits. */
static size_t reduce_lanes(const clseg_device_info *dev) {
    size_t lanes = dev->type == CLSEG_DEVICE_CPU ? 1 : 64;
    if (dev->max_work_group_size && dev->max_work_group_size < lanes)
        lanes = dev->max_work_group_size;
    if (dev->max_work_item_sizes[0] && dev->max_work_item_sizes[0] < lanes)
        lanes = dev->max_work_item_sizes[0];
    return lanes;
}

static clseg_status check(clseg_context *ctx, const op_call *call) {
    const char *name = op_kind_name(call->kind);
    shape4 s = call->in[0].s;
    if (s.n < 1 || s.c < 1 || s.h < 1 || s.w < 1 || !launch_fits_int(s))
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "%s: bad shape %dx%dx%dx%d", name, s.n,
                        s.c, s.h, s.w);
    clseg_status st = launch_check_shape(ctx, call->kind, call->out[0].s, s);
    if (st == CLSEG_OK && call->kind == OP_BATCHNORM_TRAIN_BWD)
        st = launch_check_shape(ctx, call->kind, call->in[1].s, s);
    if (st != CLSEG_OK) return st;
    int need = call->kind == OP_BATCHNORM_TRAIN
                   ? call->in[1].mem && call->in[2].mem && call->out[1].mem
                   : call->in[1].mem && call->in[2].mem && call->out[1].mem && call->out[2].mem;
    if (!call->in[0].mem || !call->out[0].mem || !need)
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "%s: missing buffer", name);
    return CLSEG_OK;
}

static clseg_status prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    int fwd = call->kind == OP_BATCHNORM_TRAIN;
    cl_kernel kernel;
    clseg_status st =
        ctx_kernel(ctx, "batchnorm", NULL, fwd ? "bn_stats" : "bn_bwd_reduce", &kernel);
    if (st != CLSEG_OK) return st;
    return ctx_kernel(ctx, "batchnorm", NULL, fwd ? "bn_apply" : "bn_bwd_apply", &kernel);
}

static void elementwise_sizes(const clseg_device_info *dev, shape4 s, size_t gws[3],
                              size_t lws[3]) {
    gws[0] = (size_t)s.h * (size_t)s.w;
    gws[1] = (size_t)s.c;
    gws[2] = (size_t)s.n;
    launch_local_size(dev, gws, lws);
}

static clseg_status fwd_run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    clseg_status st = check(ctx, call);
    if (st != CLSEG_OK) return st;
    const shape4 s = call->in[0].s;
    const int relu = call->p.bn.relu != 0;
    cl_kernel stats, apply;
    st = ctx_kernel(ctx, "batchnorm", NULL, "bn_stats", &stats);
    if (st == CLSEG_OK) st = ctx_kernel(ctx, "batchnorm", NULL, "bn_apply", &apply);
    if (st != CLSEG_OK) return st;
    size_t lanes = reduce_lanes(&ctx->info);
    size_t gws[3] = {lanes, (size_t)s.c, 1}, lws[3] = {lanes, 1, 1};
    st = CTX_RUN(ctx, stats, 2, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->in[1].mem),
                 KARG_MEM(call->in[2].mem), KARG_MEM(call->out[1].mem), KARG_MEM(call->out[2].mem),
                 KARG_MEM(call->out[3].mem), KARG_INT(s.c), KARG_INT(s.h * s.w), KARG_INT(s.n),
                 KARG_FLOAT(BN_EPS), KARG_FLOAT(BN_MOMENTUM),
                 KARG_LOCAL((lanes + 1) * sizeof(float)));
    if (st != CLSEG_OK) return st;
    elementwise_sizes(&ctx->info, s, gws, lws);
    return CTX_RUN(ctx, apply, 3, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->out[1].mem),
                   KARG_MEM(call->out[0].mem), KARG_INT(s.c), KARG_INT(s.h * s.w), KARG_INT(s.n),
                   KARG_INT(relu));
}

static clseg_status bwd_run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    (void)cfg;
    clseg_status st = check(ctx, call);
    if (st != CLSEG_OK) return st;
    const shape4 s = call->in[0].s;
    const int relu = call->p.bn.relu != 0;
    cl_kernel reduce, apply;
    st = ctx_kernel(ctx, "batchnorm", NULL, "bn_bwd_reduce", &reduce);
    if (st == CLSEG_OK) st = ctx_kernel(ctx, "batchnorm", NULL, "bn_bwd_apply", &apply);
    if (st != CLSEG_OK) return st;
    size_t lanes = reduce_lanes(&ctx->info);
    size_t gws[3] = {lanes, (size_t)s.c, 1}, lws[3] = {lanes, 1, 1};
    st = CTX_RUN(ctx, reduce, 2, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->in[1].mem),
                 KARG_MEM(call->in[2].mem), KARG_MEM(call->out[1].mem), KARG_MEM(call->out[2].mem),
                 KARG_INT(s.c), KARG_INT(s.h * s.w), KARG_INT(s.n), KARG_INT(relu),
                 KARG_LOCAL((lanes + 1) * sizeof(float)));
    if (st != CLSEG_OK) return st;
    elementwise_sizes(&ctx->info, s, gws, lws);
    const float inv_m = 1.0f / ((float)s.n * (float)s.h * (float)s.w);
    return CTX_RUN(ctx, apply, 3, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->in[1].mem),
                   KARG_MEM(call->in[2].mem), KARG_MEM(call->out[1].mem),
                   KARG_MEM(call->out[2].mem), KARG_MEM(call->out[0].mem), KARG_INT(s.c),
                   KARG_INT(s.h * s.w), KARG_INT(s.n), KARG_INT(relu), KARG_FLOAT(inv_m));
}

const op_variant batchnorm_train_direct = {
    .name = "direct", .kind = OP_BATCHNORM_TRAIN, .prepare = prepare, .run = fwd_run};
const op_variant batchnorm_train_bwd_direct = {
    .name = "direct", .kind = OP_BATCHNORM_TRAIN_BWD, .prepare = prepare, .run = bwd_run};

/* ---- Synchronised BatchNorm: the same ops over a batch split across ranks ------------------ */

static clseg_status sync_sums(clseg_context *ctx, const op_call *call, const bn_sync *sync,
                              cl_mem x, int centred, cl_mem out) {
    const shape4 s = call->in[0].s;
    cl_kernel k;
    clseg_status st = ctx_kernel(ctx, "batchnorm", NULL, "bn_sums", &k);
    if (st != CLSEG_OK) return st;
    size_t lanes = reduce_lanes(&ctx->info);
    size_t gws[3] = {lanes, (size_t)s.c, 1}, lws[3] = {lanes, 1, 1};
    return CTX_RUN(ctx, k, 2, gws, lws, KARG_MEM(x), KARG_MEM(sync->a), KARG_MEM(out),
                   KARG_INT(s.c), KARG_INT(s.h * s.w), KARG_INT(s.n), KARG_INT(centred),
                   KARG_LOCAL((lanes + 1) * sizeof(float)));
}

/* Reads `count` floats of each of the mems, sums them over the ranks, and writes back each
   sum times `scale` (as float) into the matching dst. */
static clseg_status sync_reduce(clseg_context *ctx, const bn_sync *sync, int parts,
                                const cl_mem *src, const cl_mem *dst, size_t count, double scale) {
    clseg_status st = CLSEG_OK;
    for (int p = 0; p < parts && st == CLSEG_OK; p++)
        st = ctx_read(ctx, src[p], 0, count * sizeof(float), sync->hostf + p * count);
    if (st != CLSEG_OK) return st;
    for (size_t i = 0; i < (size_t)parts * count; i++) sync->host[i] = sync->hostf[i];
    st = sync->reduce(sync->user, sync->host, (size_t)parts * count);
    if (st != CLSEG_OK) return st;
    for (size_t i = 0; i < (size_t)parts * count; i++)
        sync->hostf[i] = (float)(sync->host[i] * scale);
    for (int p = 0; p < parts && st == CLSEG_OK; p++)
        st = ctx_write(ctx, dst[p], 0, count * sizeof(float), sync->hostf + p * count);
    return st;
}

clseg_status batchnorm_train_sync(clseg_context *ctx, const op_call *call, const bn_sync *sync) {
    clseg_status st = check(ctx, call);
    if (st != CLSEG_OK) return st;
    if (!call->out[2].mem || !call->out[3].mem)
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT,
                        "synchronised BatchNorm needs the running statistics");
    const shape4 s = call->in[0].s;
    const size_t C = (size_t)s.c;
    const double m = (double)s.n * s.h * s.w * sync->ranks;
    /* Pass 1: the mean into a; pass 2: the biased variance around it into b. */
    st = sync_sums(ctx, call, sync, call->in[0].mem, 0, sync->b);
    if (st == CLSEG_OK) st = sync_reduce(ctx, sync, 1, &sync->b, &sync->a, C, 1.0 / m);
    if (st == CLSEG_OK) st = sync_sums(ctx, call, sync, call->in[0].mem, 1, sync->b);
    if (st == CLSEG_OK) st = sync_reduce(ctx, sync, 1, &sync->b, &sync->b, C, 1.0 / m);
    cl_kernel finish, apply;
    if (st == CLSEG_OK) st = ctx_kernel(ctx, "batchnorm", NULL, "bn_finish", &finish);
    if (st == CLSEG_OK) st = ctx_kernel(ctx, "batchnorm", NULL, "bn_apply", &apply);
    if (st != CLSEG_OK) return st;
    size_t gws[3] = {C, 1, 1}, lws[3];
    launch_local_size(&ctx->info, gws, lws);
    st = CTX_RUN(ctx, finish, 1, gws, lws, KARG_MEM(sync->a), KARG_MEM(sync->b),
                 KARG_MEM(call->in[1].mem), KARG_MEM(call->in[2].mem), KARG_MEM(call->out[1].mem),
                 KARG_MEM(call->out[2].mem), KARG_MEM(call->out[3].mem), KARG_INT(s.c),
                 KARG_FLOAT((float)m), KARG_FLOAT(BN_EPS), KARG_FLOAT(BN_MOMENTUM));
    if (st != CLSEG_OK) return st;
    elementwise_sizes(&ctx->info, s, gws, lws);
    return CTX_RUN(ctx, apply, 3, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->out[1].mem),
                   KARG_MEM(call->out[0].mem), KARG_INT(s.c), KARG_INT(s.h * s.w), KARG_INT(s.n),
                   KARG_INT(call->p.bn.relu != 0));
}

clseg_status batchnorm_train_bwd_sync(clseg_context *ctx, const op_call *call,
                                      const bn_sync *sync) {
    clseg_status st = check(ctx, call);
    if (st != CLSEG_OK) return st;
    const shape4 s = call->in[0].s;
    const int relu = call->p.bn.relu != 0;
    cl_kernel reduce, apply;
    st = ctx_kernel(ctx, "batchnorm", NULL, "bn_bwd_reduce", &reduce);
    if (st == CLSEG_OK) st = ctx_kernel(ctx, "batchnorm", NULL, "bn_bwd_apply", &apply);
    if (st != CLSEG_OK) return st;
    size_t lanes = reduce_lanes(&ctx->info);
    size_t gws[3] = {lanes, (size_t)s.c, 1}, lws[3] = {lanes, 1, 1};
    /* This rank's dgamma and dbeta stay in out[1], out[2] (the gradient the trainer sums across
       ranks later); the global ones, which dx needs, go to a and b. */
    st = CTX_RUN(ctx, reduce, 2, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->in[1].mem),
                 KARG_MEM(call->in[2].mem), KARG_MEM(call->out[1].mem), KARG_MEM(call->out[2].mem),
                 KARG_INT(s.c), KARG_INT(s.h * s.w), KARG_INT(s.n), KARG_INT(relu),
                 KARG_LOCAL((lanes + 1) * sizeof(float)));
    const cl_mem src[2] = {call->out[1].mem, call->out[2].mem}, dst[2] = {sync->a, sync->b};
    if (st == CLSEG_OK) st = sync_reduce(ctx, sync, 2, src, dst, (size_t)s.c, 1.0);
    if (st != CLSEG_OK) return st;
    elementwise_sizes(&ctx->info, s, gws, lws);
    const float inv_m = (float)(1.0 / ((double)s.n * s.h * s.w * sync->ranks));
    return CTX_RUN(ctx, apply, 3, gws, lws, KARG_MEM(call->in[0].mem), KARG_MEM(call->in[1].mem),
                   KARG_MEM(call->in[2].mem), KARG_MEM(sync->a), KARG_MEM(sync->b),
                   KARG_MEM(call->out[0].mem), KARG_INT(s.c), KARG_INT(s.h * s.w), KARG_INT(s.n),
                   KARG_INT(relu), KARG_FLOAT(inv_m));
}
