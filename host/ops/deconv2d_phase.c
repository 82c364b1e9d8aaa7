/* deconv2d_phase.c - deconv2d variant "stride_decomposed": the stride^2 output phases as dense
   sub-convolutions in one kernel (kernels/deconv2d_phase.cl), no multiplications by the zeros a
   transposed convolution inserts; it reads a zero-bordered copy of the input from the scratch,
   so the inner loop has no bounds checks. */
#include <stdio.h>
#include <string.h>

#include "launch_helpers.h"
#include "variant_util.h"

/* Tunables: the register tile (channels x q positions, times stride^2 phases) and the
   work-group shape (WG_X column blocks x WG_Y channel groups of one q row); 400 combinations. */
static const int tile_co_choices[] = {1, 2, 4, 8};
static const int tile_x_choices[] = {1, 4, 8, 16};
static const int wg_choices[] = {1, 2, 4, 8, 16};
enum { P_TILE_CO, P_TILE_X, P_WG_X, P_WG_Y, N_PARAMS };
static const variant_param params[N_PARAMS] = {
    {"TILE_CO", 4, tile_co_choices, CLSEG_ARRAY_LEN(tile_co_choices), PARAM_DEFINE},
    {"TILE_X", 8, tile_x_choices, CLSEG_ARRAY_LEN(tile_x_choices), PARAM_DEFINE},
    {"WG_X", 8, wg_choices, CLSEG_ARRAY_LEN(wg_choices), PARAM_LOCAL_X},
    {"WG_Y", 2, wg_choices, CLSEG_ARRAY_LEN(wg_choices), PARAM_LOCAL_Y},
};

/* Shapes the unrolled kernel is compiled for (one program per kernel side and stride);
   accumulators = stride^2 * TILE_CO vectors. Stride 1 has a single phase, a dense convolution
   with the flipped kernel: a conv's data gradient, where this kernel's padded input and
   unrolled taps ran 1.8x faster than the gather variant on PoCL (seed net training step). */
#define MAX_K           7
#define MAX_STRIDE      4
#define MAX_ACC_VECTORS 64

/* The work grid and the zero-bordered copy of one input image that the kernel reads (see
   kernels/deconv2d_phase.cl): q runs from pad / s over qw x qh positions. */
typedef struct phase_plan {
    size_t qw, qh, gws[3]; /* q extent, grid */
    int hp, wp;            /* padded image rows and columns */
    size_t bytes;          /* scratch for one padded image */
} phase_plan;

static int make_plan(const op_call *call, const op_config *cfg, phase_plan *pl) {
    const deconv2d_params *p = &call->p.deconv;
    shape4 ys;
    if (!deconv2d_out_shape(call->in[0].s, p, &ys)) return 0;
    const shape4 xs = call->in[0].s;
    const size_t s = (size_t)p->stride, tx = (size_t)cfg->v[P_TILE_X];
    const size_t tc = (size_t)cfg->v[P_TILE_CO], q0 = (size_t)p->pad / s;
    const size_t taps = ((size_t)p->k - 1) / s + 1;
    pl->qw = ((size_t)ys.w - 1 + (size_t)p->pad) / s - q0 + 1;
    pl->qh = ((size_t)ys.h - 1 + (size_t)p->pad) / s - q0 + 1;
    pl->gws[0] = (pl->qw + tx - 1) / tx;
    pl->gws[1] = ((size_t)ys.c + tc - 1) / tc;
    pl->gws[2] = pl->qh;
    /* Rows up to q0 + qh - 1 and columns up to q0 + gws[0] * tx - 1 are read, each shifted by
       the taps - 1 border. */
    const size_t hp = CLSEG_MAX((size_t)xs.h, q0 + pl->qh) + taps - 1;
    const size_t wp = CLSEG_MAX((size_t)xs.w, q0 + pl->gws[0] * tx) + taps - 1;
    if (hp > CLSEG_MAX_DIM * 2 || wp > CLSEG_MAX_DIM * 2) return 0;
    pl->hp = (int)hp;
    pl->wp = (int)wp;
    pl->bytes = (size_t)xs.c * hp * wp * sizeof(float);
    return 1;
}

static int supports(const clseg_device_info *dev, const op_call *call, const op_config *cfg,
                    char *why, size_t why_len) {
    const deconv2d_params *p = &call->p.deconv;
    const int tx = cfg->v[P_TILE_X], tc = cfg->v[P_TILE_CO];
    phase_plan pl;
    if (p->k < 1 || p->k > MAX_K)
        return op_refuse(why, why_len, "kernel size %d outside 1..%d", p->k, MAX_K);
    if (p->stride < 1 || p->stride > MAX_STRIDE)
        return op_refuse(why, why_len, "stride %d outside 1..%d", p->stride, MAX_STRIDE);
    if (p->pad < 0) return op_refuse(why, why_len, "negative padding");
    if (tc < 1 || tc > p->cout)
        return op_refuse(why, why_len, "TILE_CO %d outside 1..cout %d", tc, p->cout);
    if (p->stride * p->stride * tc > MAX_ACC_VECTORS)
        return op_refuse(why, why_len, "stride^2 x TILE_CO = %d accumulators > %d",
                         p->stride * p->stride * tc, MAX_ACC_VECTORS);
    if (tx < 1 || tx > 16 || (tx & (tx - 1)))
        return op_refuse(why, why_len, "TILE_X %d is not a power of 2 up to 16", tx);
    if (!launch_fits_int(call->in[0].s))
        return op_refuse(why, why_len, "input too large for int indexing");
    if (!make_plan(call, cfg, &pl)) return op_refuse(why, why_len, "invalid parameters or shapes");
    if (pl.bytes > scratch_budget(dev))
        return op_refuse(why, why_len, "needs %zu bytes of scratch, over the budget of %zu",
                         (size_t)pl.bytes, scratch_budget(dev));
    return 1;
}

static clseg_status get_kernels(clseg_context *ctx, const op_call *call, const op_config *cfg,
                                cl_kernel *pad, cl_kernel *conv) {
    char defines[256];
    variant_defines(ctx, &deconv2d_stride_decomposed, cfg, defines, sizeof defines);
    size_t used = strlen(defines);
    snprintf(defines + used, sizeof defines - used, " -DKSIZE=%d -DSTRIDE=%d", call->p.deconv.k,
             call->p.deconv.stride);
    clseg_status st = ctx_kernel(ctx, "deconv2d_phase", defines, "deconv2d_phase_pad", pad);
    return st == CLSEG_OK ? ctx_kernel(ctx, "deconv2d_phase", defines, "deconv2d_phase", conv) : st;
}

static clseg_status prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    cl_kernel pad, conv;
    return get_kernels(ctx, call, cfg, &pad, &conv);
}

/* Image by image: pad it into the scratch, then the phases' convolution. */
static clseg_status run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    shape4 ys;
    clseg_status st = deconv2d_check_call(ctx, call, &ys);
    if (st != CLSEG_OK) return st;
    phase_plan pl;
    if (!supports(&ctx->info, call, cfg, NULL, 0) || !make_plan(call, cfg, &pl))
        return ctx_fail(ctx, CLSEG_ERR_UNSUPPORTED, "deconv2d stride_decomposed: unsupported call");
    cl_kernel pad, conv;
    if ((st = get_kernels(ctx, call, cfg, &pad, &conv)) != CLSEG_OK) return st;
    cl_mem s;
    if ((st = scratch_get(ctx, pl.bytes, &s)) != CLSEG_OK) return st;
    const deconv2d_params *p = &call->p.deconv;
    const shape4 xs = call->in[0].s;
    size_t g_pad[3] = {(size_t)pl.wp, (size_t)pl.hp, (size_t)xs.c}, l_pad[3], lws[3];
    launch_local_size(&ctx->info, g_pad, l_pad);
    const size_t want[3] = {(size_t)cfg->v[P_WG_X], (size_t)cfg->v[P_WG_Y], 1};
    launch_clamp_local(&ctx->info, ctx_kernel_max_group(ctx, conv), want, pl.gws, lws);
    for (int n = 0; n < xs.n && st == CLSEG_OK; n++) {
        st = CTX_RUN(ctx, pad, 3, g_pad, l_pad, KARG_MEM(call->in[0].mem), KARG_MEM(s),
                     KARG_INT(xs.c), KARG_INT(xs.h), KARG_INT(xs.w), KARG_INT(pl.hp),
                     KARG_INT(pl.wp), KARG_INT(n));
        if (st == CLSEG_OK)
            st = CTX_RUN(ctx, conv, 3, pl.gws, lws, KARG_MEM(s), KARG_MEM(call->in[1].mem),
                         KARG_MEM(call->in[2].mem), KARG_MEM(call->out[0].mem), KARG_INT(xs.c),
                         KARG_INT(pl.hp), KARG_INT(pl.wp), KARG_INT(ys.c), KARG_INT(ys.h),
                         KARG_INT(ys.w), KARG_INT(p->pad), KARG_INT(p->relu), KARG_INT(n));
    }
    return st;
}

/* Kernel sides up to 7, strides 2 to 4, at least TILE_CO output channels, one padded input
   image within the scratch budget; any padding and batch. */
static size_t scratch_bytes(const clseg_device_info *dev, const op_call *call,
                            const op_config *cfg) {
    (void)dev;
    phase_plan pl;
    return make_plan(call, cfg, &pl) ? pl.bytes : 0;
}

const op_variant deconv2d_stride_decomposed = {.name = "stride_decomposed",
                                               .kind = OP_DECONV2D,
                                               .params = params,
                                               .n_params = N_PARAMS,
                                               .supports = supports,
                                               .prepare = prepare,
                                               .run = run,
                                               .scratch_bytes = scratch_bytes};
