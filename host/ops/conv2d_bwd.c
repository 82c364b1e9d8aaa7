/* conv2d_bwd.c - gradients of conv2d and deconv2d: the data gradients run the other op's forward
   kernel (a conv's data gradient is a transposed conv with the same weights, and the other way
   round), the weight gradients the tiled kernel of kernels/backward_conv.cl. */
#include <stdio.h>
#include <string.h>

#include "backward.h"
#include "launch_helpers.h"
#include "wgrad.h"

/* ---- data gradients: the adjoint op's forward, chosen (and tuned) as that op ---- */

/* The shapes are checked against the parameters; buffers are copied, not required. */
int op_data_grad_adjoint(const op_call *call, op_call *inner) {
    shape4 xs = call->out[0].s, ys;
    if (call->kind == OP_CONV2D_BWD_DATA) {
        const conv2d_params *p = &call->p.conv;
        if (p->act || conv2d_groups(p) > 1 || conv2d_dil(p) > 1 || !conv2d_out_shape(xs, p, &ys))
            return 0;
        /* (h + 2 pad - k) % stride: the input rows/columns past the last window, which a
           transposed conv restores as output_padding (always < stride, so always legal). */
        deconv2d_params d = {p->cout, p->cin, p->k, p->stride, p->pad, 0, 0, 0};
        d.out_pad_h = deconv2d_out_pad_for(ys.h, p->k, p->stride, p->pad, xs.h);
        d.out_pad_w = deconv2d_out_pad_for(ys.w, p->k, p->stride, p->pad, xs.w);
        *inner = (op_call){.kind = OP_DECONV2D, .p.deconv = d};
    } else if (call->kind == OP_DECONV2D_BWD_DATA) {
        const deconv2d_params *p = &call->p.deconv;
        if (p->relu || !deconv2d_out_shape(xs, p, &ys)) return 0;
        *inner = (op_call){.kind = OP_CONV2D,
                           .p.conv = {p->cout, p->cin, p->k, p->stride, p->pad, 0, 1, 1}};
    } else {
        return 0;
    }
    const shape4 d = call->in[0].s;
    if (d.n != ys.n || d.c != ys.c || d.h != ys.h || d.w != ys.w) return 0;
    inner->in[0] = call->in[0];
    inner->in[1] = call->in[1];
    inner->out[0] = call->out[0];
    return 1;
}

/* The inner call and the inner choice the selector kept in cfg. */
static clseg_status data_call(clseg_context *ctx, const op_call *call, const op_config *cfg,
                              op_call *inner, op_choice *inner_choice) {
    const char *name = op_kind_name(call->kind);
    if (!op_data_grad_adjoint(call, inner))
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT,
                        "%s: invalid parameters or shapes (relu must be 0)", name);
    if (!call->in[0].mem || !call->in[1].mem || !call->out[0].mem)
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "%s: missing buffer", name);
    if (!cfg->inner || cfg->inner->kind != inner->kind)
        return ctx_fail(ctx, CLSEG_ERR_INTERNAL, "%s: chosen without the choice of its %s", name,
                        op_kind_name(inner->kind));
    op_choice_inner(cfg, inner_choice);
    return CLSEG_OK;
}

static clseg_status data_prepare(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    op_call inner;
    op_choice c;
    clseg_status st = data_call(ctx, call, cfg, &inner, &c);
    return st == CLSEG_OK ? op_prepare_choice(ctx, &inner, &c) : st;
}

static clseg_status data_run(clseg_context *ctx, const op_call *call, const op_config *cfg) {
    op_call inner;
    op_choice c;
    clseg_status st = data_call(ctx, call, cfg, &inner, &c);
    return st == CLSEG_OK ? op_run_choice(ctx, &inner, &c) : st;
}

static size_t data_scratch_bytes(const clseg_device_info *dev, const op_call *call,
                                 const op_config *cfg) {
    op_call inner;
    op_choice c;
    if (!cfg->inner || !op_data_grad_adjoint(call, &inner)) return 0;
    op_choice_inner(cfg, &c);
    return c.variant->scratch_bytes ? c.variant->scratch_bytes(dev, &inner, &c.cfg) : 0;
}

/* The forward variants handle every shape, so these do too. */
const op_variant conv2d_bwd_data_via_deconv = {.name = "via_deconv",
                                               .kind = OP_CONV2D_BWD_DATA,
                                               .prepare = data_prepare,
                                               .run = data_run,
                                               .scratch_bytes = data_scratch_bytes,
                                               .inner_call = op_data_grad_adjoint};
const op_variant deconv2d_bwd_data_via_conv = {.name = "via_conv",
                                               .kind = OP_DECONV2D_BWD_DATA,
                                               .prepare = data_prepare,
                                               .run = data_run,
                                               .scratch_bytes = data_scratch_bytes,
                                               .inner_call = op_data_grad_adjoint};

/* ---- weight gradients ---- */

static const int tile_c_choices[] = {1, 2, 4, 8};
static const int tile_x_choices[] = {1, 2, 4, 8};
static const int lanes_choices[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
static const int chunk_choices[] = {64, 128, 256, 512, 1024, 4096, 65536};
enum { P_TILE_CO, P_TILE_CI, P_TILE_X, P_WG_LANES, P_CHUNK_KB, N_PARAMS };
/* Defaults for CPUs: on PoCL (AVX-512, 2 cores) the seed net's 64->128 3x3 layer at 120x88,
   batch 4, ran at ~45 GFLOP/s with 4x4 tiles of float16, ~60 with 8x8 of float8 (more
   accumulators than registers, yet fewer loads per multiply-add); float16 tiles fall back to the
   gather kernel on rows narrower than 16 (the 15x11 deconv: 6 GFLOP/s), hence TILE_X 8. The
   chunk size hardly mattered on PoCL. One lane per work-group suits a CPU; a GPU wants many
   (the tuner picks). */
static const variant_param wparams[N_PARAMS] = {
    {"TILE_CO", 8, tile_c_choices, CLSEG_ARRAY_LEN(tile_c_choices), PARAM_DEFINE},
    {"TILE_CI", 8, tile_c_choices, CLSEG_ARRAY_LEN(tile_c_choices), PARAM_DEFINE},
    {"TILE_X", 8, tile_x_choices, CLSEG_ARRAY_LEN(tile_x_choices), PARAM_DEFINE},
    {"WG_LANES", 1, lanes_choices, CLSEG_ARRAY_LEN(lanes_choices), PARAM_LOCAL_X},
    {"CHUNK_KB", 1024, chunk_choices, CLSEG_ARRAY_LEN(chunk_choices), PARAM_HOST},
};

int wgrad_geometry(const op_call *call, shape4 *as, shape4 *bs, int *k, int *stride) {
    shape4 xs = call->in[0].s, ys;
    if (call->kind == OP_CONV2D_BWD_WEIGHT) {
        const conv2d_params *p = &call->p.conv;
        if (p->act || conv2d_groups(p) > 1 || conv2d_dil(p) > 1 || !conv2d_out_shape(xs, p, &ys))
            return 0;
        *as = xs, *bs = ys, *k = call->p.conv.k, *stride = call->p.conv.stride;
        return 1;
    }
    if (call->kind != OP_DECONV2D_BWD_WEIGHT || call->p.deconv.relu ||
        !deconv2d_out_shape(xs, &call->p.deconv, &ys))
        return 0;
    *as = ys, *bs = xs, *k = call->p.deconv.k, *stride = call->p.deconv.stride;
    return 1;
}

clseg_status wgrad_problem(clseg_context *ctx, const op_call *call, wgrad *g) {
    const char *name = op_kind_name(call->kind);
    shape4 xs = call->in[0].s, ys = {0, 0, 0, 0};
    int ok;
    *g = (wgrad){.dw = call->out[0].mem, .db = call->out[1].mem, .dy = call->in[1].mem};
    if (call->kind == OP_CONV2D_BWD_WEIGHT) {
        const conv2d_params *p = &call->p.conv;
        ok = !p->act && conv2d_groups(p) == 1 && conv2d_dil(p) == 1 && conv2d_out_shape(xs, p, &ys);
        g->a = call->in[0].mem, g->as = xs;
        g->b = call->in[1].mem, g->bs = ys;
        g->k = p->k, g->stride = p->stride, g->pad = p->pad;
    } else {
        const deconv2d_params *p = &call->p.deconv;
        ok = call->kind == OP_DECONV2D_BWD_WEIGHT && !p->relu && deconv2d_out_shape(xs, p, &ys);
        g->a = call->in[1].mem, g->as = ys;
        g->b = call->in[0].mem, g->bs = xs;
        g->k = p->k, g->stride = p->stride, g->pad = p->pad;
    }
    if (!ok)
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "%s: invalid parameters (relu must be 0)",
                        name);
    g->dys = ys;
    clseg_status st = launch_check_shape(ctx, call->kind, call->in[1].s, ys);
    if (st != CLSEG_OK) return st;
    if (!g->a || !g->b || !g->dw)
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "%s: missing buffer", name);
    if (!launch_fits_int(xs) || !launch_fits_int(ys))
        return ctx_fail(ctx, CLSEG_ERR_TOO_LARGE, "%s: tensor too large", name);
    return CLSEG_OK;
}

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

clseg_status wgrad_bias(clseg_context *ctx, const wgrad *g) {
    cl_kernel kernel;
    clseg_status st = ctx_kernel(ctx, "backward", NULL, "channel_sum", &kernel);
    if (st != CLSEG_OK) return st;
    size_t lanes = reduce_lanes(&ctx->info);
    size_t gws[3] = {lanes, (size_t)g->dys.c, 1}, lws[3] = {lanes, 1, 1};
    return CTX_RUN(ctx, kernel, 2, gws, lws, KARG_MEM(g->dy), KARG_MEM(g->db), KARG_INT(g->dys.c),
                   KARG_INT(g->dys.h * g->dys.w), KARG_INT(g->dys.n),
                   KARG_LOCAL(lanes * sizeof(float)));
}

/* Whether some tap's columns are fewer than a vector, or the stride is one the vector kernel
   does not compile (see kernels/backward_conv.cl): then the gather kernel runs too. */
static int needs_gather(const wgrad *g, int tile_x) {
    for (int kx = 0; kx < g->k; kx++) {
        int lo = kx >= g->pad ? 0 : (g->pad - kx + g->stride - 1) / g->stride;
        int hi = g->as.w - 1 + g->pad - kx < 0 ? 0 : (g->as.w - 1 + g->pad - kx) / g->stride + 1;
        hi = CLSEG_MIN(hi, g->bs.w);
        if (hi > lo && (hi - lo < tile_x || (g->stride != 1 && g->stride != 2))) return 1;
    }
    return 0;
}

/* The tile defines plus STRIDE for the strides the kernel specialises (1 and 2). */
static void weight_defines(const op_call *call, const op_config *cfg, char *buf, size_t len) {
    op_config_defines(&conv2d_bwd_weight_tiled, cfg, buf, len);
    int stride = call->kind == OP_CONV2D_BWD_WEIGHT ? call->p.conv.stride : call->p.deconv.stride;
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, " -DSTRIDE=%d", stride == 1 || stride == 2 ? stride : 0);
}

static clseg_status weight_tiled_prepare(clseg_context *ctx, const op_call *call,
                                         const op_config *cfg) {
    char defines[160];
    weight_defines(call, cfg, defines, sizeof defines);
    cl_kernel kernel;
    clseg_status st = ctx_kernel(ctx, "backward_conv", defines, "conv2d_bwd_weight", &kernel);
    if (st == CLSEG_OK)
        st = ctx_kernel(ctx, "backward_conv", defines, "conv2d_bwd_weight_gather", &kernel);
    if (st == CLSEG_OK && call->out[1].mem)
        st = ctx_kernel(ctx, "backward", NULL, "channel_sum", &kernel);
    return st;
}

static clseg_status weight_tiled_run(clseg_context *ctx, const op_call *call,
                                     const op_config *cfg) {
    wgrad g;
    clseg_status st = wgrad_problem(ctx, call, &g);
    if (st != CLSEG_OK) return st;
    char defines[160];
    weight_defines(call, cfg, defines, sizeof defines);
    cl_kernel kernels[2];
    st = ctx_kernel(ctx, "backward_conv", defines, "conv2d_bwd_weight", &kernels[0]);
    if (st == CLSEG_OK)
        st = ctx_kernel(ctx, "backward_conv", defines, "conv2d_bwd_weight_gather", &kernels[1]);
    if (st != CLSEG_OK) return st;
    const size_t tco = (size_t)cfg->v[P_TILE_CO], tci = (size_t)cfg->v[P_TILE_CI];
    size_t lanes = (size_t)cfg->v[P_WG_LANES];
    const size_t kk = (size_t)g.k * (size_t)g.k;
    size_t gws[3] = {lanes, ((size_t)g.as.c + tci - 1) / tci * kk,
                     ((size_t)g.bs.c + tco - 1) / tco};
    size_t lws[3] = {lanes, 1, 1};
    /* Rows of dy (with the rows of x they read) per launch: about CHUNK_KB KiB of data. */
    const double row_bytes = 4.0 * ((double)g.bs.c * g.bs.w + (double)g.as.c * g.as.w * g.stride);
    const int rows = g.bs.n * g.bs.h;
    int chunk = (int)CLSEG_MAX(1.0, (double)cfg->v[P_CHUNK_KB] * 1024.0 / row_bytes);
    if (chunk > rows) chunk = rows;
    const int n_kernels = needs_gather(&g, cfg->v[P_TILE_X]) ? 2 : 1;
    for (int r0 = 0; r0 < rows && st == CLSEG_OK; r0 += chunk)
        for (int e = 0; e < n_kernels && st == CLSEG_OK; e++)
            st = CTX_RUN(ctx, kernels[e], 3, gws, lws, KARG_MEM(g.a), KARG_MEM(g.b), KARG_MEM(g.dw),
                         KARG_INT(g.as.c), KARG_INT(g.as.h), KARG_INT(g.as.w), KARG_INT(g.bs.c),
                         KARG_INT(g.bs.h), KARG_INT(g.bs.w), KARG_INT(g.k), KARG_INT(g.stride),
                         KARG_INT(g.pad), KARG_INT(r0), KARG_INT(CLSEG_MIN(r0 + chunk, rows)),
                         KARG_INT(r0 > 0), KARG_LOCAL(lanes * tco * tci * sizeof(float)));
    if (st != CLSEG_OK || !g.db) return st;
    return wgrad_bias(ctx, &g);
}

/* The lanes must fit one work-group and their partial tiles the local memory. */
static int weight_tiled_supports(const clseg_device_info *dev, const op_call *call,
                                 const op_config *cfg, char *why, size_t why_len) {
    (void)call;
    const int tx = cfg->v[P_TILE_X];
    const size_t lanes = (size_t)cfg->v[P_WG_LANES];
    if (cfg->v[P_TILE_CO] < 1 || cfg->v[P_TILE_CI] < 1)
        return op_refuse(why, why_len, "channel tiles must be >= 1");
    if (tx < 1 || tx > 16 || (tx & (tx - 1)))
        return op_refuse(why, why_len, "TILE_X %d is not a power of 2 up to 16", tx);
    if (lanes < 1 || (dev->max_work_group_size && lanes > dev->max_work_group_size) ||
        (dev->max_work_item_sizes[0] && lanes > dev->max_work_item_sizes[0]))
        return op_refuse(why, why_len, "%zu lanes do not fit a work-group of %zu", lanes,
                         dev->max_work_group_size);
    size_t local = lanes * (size_t)cfg->v[P_TILE_CO] * (size_t)cfg->v[P_TILE_CI] * sizeof(float);
    if (dev->local_mem_bytes && local > dev->local_mem_bytes)
        return op_refuse(why, why_len, "%zu bytes of partial tiles exceed %llu of local memory",
                         local, (unsigned long long)dev->local_mem_bytes);
    return 1;
}

const op_variant conv2d_bwd_weight_tiled = {.name = "tiled",
                                            .kind = OP_CONV2D_BWD_WEIGHT,
                                            .params = wparams,
                                            .n_params = N_PARAMS,
                                            .supports = weight_tiled_supports,
                                            .prepare = weight_tiled_prepare,
                                            .run = weight_tiled_run};
const op_variant deconv2d_bwd_weight_tiled = {.name = "tiled",
                                              .kind = OP_DECONV2D_BWD_WEIGHT,
                                              .params = wparams,
                                              .n_params = N_PARAMS,
                                              .supports = weight_tiled_supports,
                                              .prepare = weight_tiled_prepare,
                                              .run = weight_tiled_run};
