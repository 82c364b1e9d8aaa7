/* desc.c - the description of every op kind (host/ops/desc.h): the one place for an op's name,
   layout, shape rule, signature, cost, reference and tolerance. */
#include "desc.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ref/ref.h"
#include "../ref/ref_backward.h"
#include "backward.h"

/* ---- shapes --------------------------------------------------------------------------------- */

static shape4 array(size_t count) {
    return (shape4){1, 1, 1, (int)count};
}

static int same(shape4 a, shape4 b) {
    return a.n == b.n && a.c == b.c && a.h == b.h && a.w == b.w;
}

static int positive(shape4 s) {
    return s.n >= 1 && s.c >= 1 && s.h >= 1 && s.w >= 1;
}

static size_t weights(int cin, int cout, int k) {
    return (size_t)cin * (size_t)cout * (size_t)k * (size_t)k;
}

static int shapes_conv2d(const op_call *c, shape4 in[], shape4 out[]) {
    const conv2d_params *p = &c->p.conv;
    in[0] = c->in[0].s;
    in[1] = array(weights(p->cin / conv2d_groups(p), p->cout, p->k));
    in[2] = array((size_t)p->cout);
    return conv2d_out_shape(in[0], p, &out[0]);
}

static int shapes_deconv2d(const op_call *c, shape4 in[], shape4 out[]) {
    const deconv2d_params *p = &c->p.deconv;
    in[0] = c->in[0].s;
    in[1] = array(weights(p->cin, p->cout, p->k));
    in[2] = array((size_t)p->cout);
    return deconv2d_out_shape(in[0], p, &out[0]);
}

static int shapes_pool(const op_call *c, shape4 in[], shape4 out[]) {
    in[0] = c->in[0].s;
    if (!positive(in[0]) || !pool_out_shape(in[0], &c->p.pool, &out[0])) return 0;
    if (c->kind == OP_MAXPOOL && c->p.pool.with_indices) out[1] = out[0];
    return 1;
}

static int shapes_upsample(const op_call *c, shape4 in[], shape4 out[]) {
    in[0] = c->in[0].s;
    return positive(in[0]) && upsample_out_shape(in[0], &c->p.up, &out[0]);
}

static int shapes_maxunpool(const op_call *c, shape4 in[], shape4 out[]) {
    const shape4 x = c->in[0].s;
    in[0] = in[1] = x;
    out[0] = (shape4){x.n, x.c, c->p.unpool.out_h, c->p.unpool.out_w};
    return positive(x) && positive(out[0]);
}

static int shapes_concat(const op_call *c, shape4 in[], shape4 out[]) {
    const shape4 a = c->in[0].s, b = c->in[1].s;
    in[0] = a;
    in[1] = b;
    out[0] = (shape4){a.n, a.c + b.c, a.h, a.w};
    return positive(a) && positive(b) && a.n == b.n && a.h == b.h && a.w == b.w;
}

/* One input shape s in every data slot of the layout. */
static int shapes_same(const op_call *c, shape4 in[], shape4 out[]) {
    const shape4 s = c->in[0].s;
    const op_desc *d = op_desc_get(c->kind);
    for (int i = 0; i < OP_IO_MAX; i++) {
        if (d->in[i]) in[i] = s;
        if (d->out[i]) out[i] = s;
    }
    return positive(s);
}

static int shapes_gap(const op_call *c, shape4 in[], shape4 out[]) {
    const shape4 x = c->in[0].s;
    in[0] = x;
    out[0] = (shape4){x.n, x.c, 1, 1};
    return positive(x);
}

/* b (in[1].s) is given: a's shape or one value per (image, channel). */
static int shapes_mul(const op_call *c, shape4 in[], shape4 out[]) {
    const shape4 a = c->in[0].s, b = c->in[1].s;
    in[0] = out[0] = a;
    in[1] = b;
    return positive(a) && b.n == a.n && b.c == a.c &&
           ((b.h == 1 && b.w == 1) || (b.h == a.h && b.w == a.w));
}

static int shapes_resize(const op_call *c, shape4 in[], shape4 out[]) {
    in[0] = c->in[0].s;
    return positive(in[0]) && resize_out_shape(in[0], &c->p.resize, &out[0]);
}

static int shapes_act(const op_call *c, shape4 in[], shape4 out[]) {
    return c->p.act.act >= 0 && c->p.act.act < ACT_KIND_COUNT && shapes_same(c, in, out);
}

static int shapes_argmax(const op_call *c, shape4 in[], shape4 out[]) {
    const shape4 x = c->in[0].s;
    in[0] = x;
    out[0] = (shape4){x.n, 1, x.h, x.w};
    return positive(x);
}

/* Data gradients: dx (out[0].s) is given; its forward output must be dy. */
static int shapes_conv2d_bwd_data(const op_call *c, shape4 in[], shape4 out[]) {
    const conv2d_params *p = &c->p.conv;
    shape4 y;
    in[0] = c->in[0].s;
    in[1] = array(weights(p->cin, p->cout, p->k));
    out[0] = c->out[0].s;
    return conv2d_out_shape(out[0], p, &y) && same(y, in[0]);
}

static int shapes_deconv2d_bwd_data(const op_call *c, shape4 in[], shape4 out[]) {
    const deconv2d_params *p = &c->p.deconv;
    shape4 y;
    in[0] = c->in[0].s;
    in[1] = array(weights(p->cin, p->cout, p->k));
    out[0] = c->out[0].s;
    return deconv2d_out_shape(out[0], p, &y) && same(y, in[0]);
}

static int shapes_conv2d_bwd_weight(const op_call *c, shape4 in[], shape4 out[]) {
    const conv2d_params *p = &c->p.conv;
    in[0] = c->in[0].s;
    out[0] = array(weights(p->cin, p->cout, p->k));
    out[1] = array((size_t)p->cout);
    return conv2d_out_shape(in[0], p, &in[1]);
}

static int shapes_deconv2d_bwd_weight(const op_call *c, shape4 in[], shape4 out[]) {
    const deconv2d_params *p = &c->p.deconv;
    in[0] = c->in[0].s;
    out[0] = array(weights(p->cin, p->cout, p->k));
    out[1] = array((size_t)p->cout);
    return deconv2d_out_shape(in[0], p, &in[1]);
}

static int shapes_batchnorm_train(const op_call *c, shape4 in[], shape4 out[]) {
    const shape4 x = c->in[0].s;
    in[0] = out[0] = x;
    in[1] = in[2] = out[2] = out[3] = array((size_t)x.c);
    out[1] = array(BN_SAVED_PER_CHANNEL * (size_t)x.c);
    return positive(x);
}

static int shapes_batchnorm_train_bwd(const op_call *c, shape4 in[], shape4 out[]) {
    const shape4 s = c->in[0].s;
    in[0] = in[1] = out[0] = s;
    in[2] = array(BN_SAVED_PER_CHANNEL * (size_t)s.c);
    out[1] = out[2] = array((size_t)s.c);
    return positive(s);
}

/* da (out[0].s) is given: its channels are where dy splits. */
static int shapes_concat_bwd(const op_call *c, shape4 in[], shape4 out[]) {
    const shape4 dy = c->in[0].s;
    const int ca = c->out[0].s.c;
    in[0] = dy;
    out[0] = (shape4){dy.n, ca, dy.h, dy.w};
    out[1] = (shape4){dy.n, dy.c - ca, dy.h, dy.w};
    return positive(dy) && ca >= 0 && ca <= dy.c;
}

static int shapes_maxpool_bwd(const op_call *c, shape4 in[], shape4 out[]) {
    shape4 y;
    in[0] = in[1] = c->in[0].s;
    out[0] = c->out[0].s;
    return positive(out[0]) && pool_out_shape(out[0], &c->p.pool, &y) && same(y, in[0]);
}

/* The indices (in[1].s) are given: they have the shape of the pooled tensor. */
static int shapes_maxunpool_bwd(const op_call *c, shape4 in[], shape4 out[]) {
    const shape4 dy = c->in[0].s, idx = c->in[1].s;
    in[0] = dy;
    in[1] = out[0] = idx;
    return positive(idx) && same(dy, (shape4){idx.n, idx.c, c->p.unpool.out_h, c->p.unpool.out_w});
}

static int shapes_upsample_bwd(const op_call *c, shape4 in[], shape4 out[]) {
    const shape4 dy = c->in[0].s;
    const int f = c->p.up.factor;
    in[0] = dy;
    if (f < 1 || !positive(dy) || dy.h % f || dy.w % f) return 0;
    out[0] = (shape4){dy.n, dy.c, dy.h / f, dy.w / f};
    return 1;
}

static int shapes_softmax_xent(const op_call *c, shape4 in[], shape4 out[]) {
    const shape4 s = c->in[0].s;
    in[0] = out[0] = s;
    in[1] = (shape4){s.n, 1, s.h, s.w};
    in[2] = array((size_t)s.c);
    out[1] = array(2 * softmax_xent_partials(s));
    return positive(s);
}

/* ---- tuning signatures ---------------------------------------------------------------------- */

static void sig_conv2d(const op_call *c, char *buf, size_t len) {
    const conv2d_params *q = &c->p.conv;
    /* relu= holds the act_kind (1 is relu, as before); groups and dilation only when used, so
       the signatures of dense convs stay what tuning files recorded */
    int o = snprintf(buf, len, " cout=%d k=%d stride=%d pad=%d relu=%d", q->cout, q->k, q->stride,
                     q->pad, q->act);
    if (o > 0 && (size_t)o < len && (conv2d_groups(q) > 1 || conv2d_dil(q) > 1))
        snprintf(buf + o, len - (size_t)o, " groups=%d dil=%d", conv2d_groups(q), conv2d_dil(q));
}

static void sig_deconv2d(const op_call *c, char *buf, size_t len) {
    const deconv2d_params *q = &c->p.deconv;
    snprintf(buf, len, " cout=%d k=%d stride=%d pad=%d oph=%d opw=%d relu=%d", q->cout, q->k,
             q->stride, q->pad, q->out_pad_h, q->out_pad_w, q->relu);
}

static void sig_pool(const op_call *c, char *buf, size_t len) {
    snprintf(buf, len, " k=%d stride=%d ceil=%d idx=%d", c->p.pool.k, c->p.pool.stride,
             c->p.pool.ceil_mode, c->kind == OP_MAXPOOL && c->p.pool.with_indices);
}

static void sig_upsample(const op_call *c, char *buf, size_t len) {
    snprintf(buf, len, " factor=%d mode=%d", c->p.up.factor, (int)c->p.up.mode);
}

static void sig_maxunpool(const op_call *c, char *buf, size_t len) {
    snprintf(buf, len, " oh=%d ow=%d", c->p.unpool.out_h, c->p.unpool.out_w);
}

static void sig_concat(const op_call *c, char *buf, size_t len) {
    snprintf(buf, len, " c2=%d", c->in[1].s.c);
}

static void sig_act(const op_call *c, char *buf, size_t len) {
    snprintf(buf, len, " act=%d", c->p.act.act);
}

static void sig_mul(const op_call *c, char *buf, size_t len) {
    snprintf(buf, len, " bh=%d bw=%d", c->in[1].s.h, c->in[1].s.w);
}

static void sig_resize(const op_call *c, char *buf, size_t len) {
    const resize_params *q = &c->p.resize;
    snprintf(buf, len, " oh=%d ow=%d linear=%d coord=%d round=%d sh=%g sw=%g", q->out_h, q->out_w,
             q->linear, q->coord, q->round, (double)q->scale_h, (double)q->scale_w);
}

static void sig_add(const op_call *c, char *buf, size_t len) {
    snprintf(buf, len, " relu=%d", c->p.add.relu);
}

/* The training ops: their parameters and second and third input shapes, by hash (callers zero
   op_call before filling it, so padding bytes are stable). */
static void sig_hash(const op_call *c, char *buf, size_t len) {
    uint64_t h = clseg_fnv1a64(CLSEG_FNV1A64_INIT, &c->p, sizeof c->p);
    for (int i = 1; i < 3; i++) h = clseg_fnv1a64(h, &c->in[i].s, sizeof c->in[i].s);
    snprintf(buf, len, " p=%016llx", (unsigned long long)h);
}

/* ---- cost ----------------------------------------------------------------------------------- */

static double count(shape4 s) {
    return (double)shape4_count(s);
}

/* in[0] read and out[0] written once, as the shapes in c say. */
static void cost_stream(const op_call *c, double *flops, double *bytes) {
    *flops = 0;
    *bytes = 4 * (count(c->in[0].s) + count(c->out[0].s));
}

static void cost_conv2d(const op_call *c, double *flops, double *bytes) {
    const conv2d_params *p = &c->p.conv;
    cost_stream(c, flops, bytes);
    *flops = conv2d_flops(c->in[0].s, p);
    *bytes += 4 * ((double)p->cout * p->cin * p->k * p->k + p->cout);
}

static void cost_deconv2d(const op_call *c, double *flops, double *bytes) {
    const deconv2d_params *p = &c->p.deconv;
    cost_stream(c, flops, bytes);
    *flops = deconv2d_flops(c->in[0].s, p);
    *bytes += 4 * ((double)p->cout * p->cin * p->k * p->k + p->cout);
}

static void cost_maxpool(const op_call *c, double *flops, double *bytes) {
    cost_stream(c, flops, bytes);
    if (c->p.pool.with_indices) *bytes += 4 * count(c->out[0].s);
}

/* A second input as large as its shape says. */
static void cost_two_inputs(const op_call *c, double *flops, double *bytes) {
    cost_stream(c, flops, bytes);
    *bytes += 4 * count(c->in[1].s);
}

/* ---- references ----------------------------------------------------------------------------- */

#define F(p)  ((const float *)(p))
#define I(p)  ((const int32_t *)(p))
#define FO(p) ((float *)(p))
#define IO(p) ((int32_t *)(p))

static int ref_conv2d_call(const op_call *c, const void *const *in, void *const *out) {
    ref_conv2d(F(in[0]), c->in[0].s, F(in[1]), F(in[2]), &c->p.conv, FO(out[0]));
    return 1;
}

static int ref_deconv2d_call(const op_call *c, const void *const *in, void *const *out) {
    ref_deconv2d(F(in[0]), c->in[0].s, F(in[1]), F(in[2]), &c->p.deconv, FO(out[0]));
    return 1;
}

static int ref_maxpool_call(const op_call *c, const void *const *in, void *const *out) {
    ref_maxpool(F(in[0]), c->in[0].s, &c->p.pool, FO(out[0]),
                c->p.pool.with_indices ? IO(out[1]) : NULL);
    return 1;
}

static int ref_avgpool_call(const op_call *c, const void *const *in, void *const *out) {
    ref_avgpool(F(in[0]), c->in[0].s, &c->p.pool, FO(out[0]));
    return 1;
}

static int ref_upsample_call(const op_call *c, const void *const *in, void *const *out) {
    ref_upsample(F(in[0]), c->in[0].s, &c->p.up, FO(out[0]));
    return 1;
}

static int ref_maxunpool_call(const op_call *c, const void *const *in, void *const *out) {
    ref_maxunpool(F(in[0]), I(in[1]), c->in[0].s, &c->p.unpool, FO(out[0]));
    return 1;
}

static int ref_concat_call(const op_call *c, const void *const *in, void *const *out) {
    ref_concat(F(in[0]), c->in[0].s, F(in[1]), c->in[1].s, FO(out[0]));
    return 1;
}

static int ref_add_call(const op_call *c, const void *const *in, void *const *out) {
    ref_add(F(in[0]), F(in[1]), c->in[0].s, &c->p.add, FO(out[0]));
    return 1;
}

static int ref_softmax_call(const op_call *c, const void *const *in, void *const *out) {
    ref_softmax(F(in[0]), c->in[0].s, FO(out[0]));
    return 1;
}

static int ref_act_call(const op_call *c, const void *const *in, void *const *out) {
    ref_act(F(in[0]), shape4_count(c->in[0].s), c->p.act.act, FO(out[0]));
    return 1;
}

static int ref_gap_call(const op_call *c, const void *const *in, void *const *out) {
    ref_gap(F(in[0]), c->in[0].s, FO(out[0]));
    return 1;
}

static int ref_mul_call(const op_call *c, const void *const *in, void *const *out) {
    ref_mul(F(in[0]), c->in[0].s, F(in[1]), c->in[1].s, FO(out[0]));
    return 1;
}

static int ref_resize_call(const op_call *c, const void *const *in, void *const *out) {
    ref_resize(F(in[0]), c->in[0].s, &c->p.resize, FO(out[0]));
    return 1;
}

static int ref_argmax_call(const op_call *c, const void *const *in, void *const *out) {
    ref_argmax(F(in[0]), c->in[0].s, IO(out[0]));
    return 1;
}

static int ref_conv2d_bwd_data_call(const op_call *c, const void *const *in, void *const *out) {
    ref_conv2d_bwd_data(F(in[0]), F(in[1]), &c->p.conv, c->out[0].s, FO(out[0]));
    return 1;
}

static int ref_conv2d_bwd_weight_call(const op_call *c, const void *const *in, void *const *out) {
    ref_conv2d_bwd_weight(F(in[0]), c->in[0].s, F(in[1]), &c->p.conv, FO(out[0]), FO(out[1]));
    return 1;
}

static int ref_deconv2d_bwd_data_call(const op_call *c, const void *const *in, void *const *out) {
    ref_deconv2d_bwd_data(F(in[0]), F(in[1]), &c->p.deconv, c->out[0].s, FO(out[0]));
    return 1;
}

static int ref_deconv2d_bwd_weight_call(const op_call *c, const void *const *in, void *const *out) {
    ref_deconv2d_bwd_weight(F(in[0]), c->in[0].s, F(in[1]), &c->p.deconv, FO(out[0]), FO(out[1]));
    return 1;
}

static int ref_batchnorm_train_call(const op_call *c, const void *const *in, void *const *out) {
    ref_batchnorm_train(F(in[0]), c->in[0].s, F(in[1]), F(in[2]), c->p.bn.relu, FO(out[0]),
                        FO(out[1]), FO(out[2]), FO(out[3]));
    return 1;
}

static int ref_batchnorm_train_bwd_call(const op_call *c, const void *const *in, void *const *out) {
    ref_batchnorm_train_bwd(F(in[0]), F(in[1]), c->in[0].s, F(in[2]), c->p.bn.relu, FO(out[0]),
                            FO(out[1]), FO(out[2]));
    return 1;
}

static int ref_relu_bwd_call(const op_call *c, const void *const *in, void *const *out) {
    ref_relu_bwd(F(in[0]), F(in[1]), shape4_count(c->in[0].s), FO(out[0]));
    return 1;
}

static int ref_add_bwd_call(const op_call *c, const void *const *in, void *const *out) {
    ref_add_bwd(F(in[0]), F(in[1]), shape4_count(c->in[0].s), c->p.add.relu, FO(out[0]),
                FO(out[1]));
    return 1;
}

static int ref_concat_bwd_call(const op_call *c, const void *const *in, void *const *out) {
    ref_concat_bwd(F(in[0]), c->out[0].s, c->out[1].s, FO(out[0]), FO(out[1]));
    return 1;
}

static int ref_maxpool_bwd_call(const op_call *c, const void *const *in, void *const *out) {
    ref_maxpool_bwd(F(in[0]), I(in[1]), c->out[0].s, &c->p.pool, FO(out[0]));
    return 1;
}

static int ref_maxunpool_bwd_call(const op_call *c, const void *const *in, void *const *out) {
    ref_maxunpool_bwd(F(in[0]), I(in[1]), c->in[1].s, &c->p.unpool, FO(out[0]));
    return 1;
}

static int ref_upsample_bwd_call(const op_call *c, const void *const *in, void *const *out) {
    ref_upsample_bwd(F(in[0]), c->out[0].s, &c->p.up, FO(out[0]));
    return 1;
}

/* dlogits over the whole tensor; the (loss, count) pairs one per image row, as the op writes
   them: each row gathered into a (1, K, 1, w) tensor of its own. */
static int ref_softmax_xent_call(const op_call *c, const void *const *in, void *const *out) {
    const shape4 s = c->in[0].s;
    const float *logits = F(in[0]);
    float *tmp = malloc(2 * (size_t)s.c * (size_t)s.w * sizeof *tmp);
    if (!tmp) return 0;
    ref_softmax_xent(logits, s, I(in[1]), F(in[2]), FO(out[0]), NULL);
    float *part = FO(out[1]);
    for (int n = 0; part && n < s.n; n++)
        for (int y = 0; y < s.h; y++) {
            for (int k = 0; k < s.c; k++)
                memcpy(tmp + (size_t)k * s.w, logits + (((size_t)n * s.c + k) * s.h + y) * s.w,
                       (size_t)s.w * sizeof *tmp);
            int64_t labelled = 0;
            const int32_t *labels = I(in[1]) + ((size_t)n * s.h + y) * s.w;
            double loss = ref_softmax_xent(tmp, (shape4){1, s.c, 1, s.w}, labels, F(in[2]),
                                           tmp + (size_t)s.c * s.w, &labelled);
            const size_t row = (size_t)n * s.h + y;
            part[2 * row] = (float)loss;
            part[2 * row + 1] = (float)labelled;
        }
    free(tmp);
    return 1;
}

/* ---- tolerances ----------------------------------------------------------------------------- */

/* A sum of `terms` products of values in [-1, 1] in another order than the reference (and with
   mad): its float32 rounding error is about eps * sqrt(terms) * |partial sums| ~ eps * terms / 3,
   1e-5 at 576 terms; 3e-5 * sqrt(terms) leaves a margin above 30x while one missing or extra
   term (|x * w| ~ 0.25 on average) still fails. 1e-4 relative covers the large outputs. */
static op_tolerance sum_of_products(double terms) {
    return (op_tolerance){3e-5f * sqrtf((float)(terms > 1 ? terms : 1)), 1e-4f};
}

/* Copies, maxima, masks and indices. */
static op_tolerance tol_exact(const op_call *c, int out) {
    (void)c, (void)out;
    return (op_tolerance){0, 0};
}

/* One rounding step or a few (averages, interpolation weights, exp): OpenCL's division may be
   off by 2.5 ulp and exp() by 3, compilers may contract a*b+c into fma and reorder short sums;
   1e-6 absolute + 1e-5 relative is a few ulp of values in [-1, 1]. */
static op_tolerance tol_few_ulp(const op_call *c, int out) {
    (void)c, (void)out;
    return (op_tolerance){1e-6f, 1e-5f};
}

static op_tolerance tol_conv2d(const op_call *c, int out) {
    (void)out;
    const conv2d_params *p = &c->p.conv;
    return sum_of_products((double)(p->cin / conv2d_groups(p)) * p->k * p->k);
}

/* A float sum of the plane's values in [-1, 1] in another order than the reference's (double):
   its error grows like eps * sqrt(plane) * plane, divided by the plane for the mean. */
static op_tolerance tol_gap(const op_call *c, int out) {
    (void)out;
    const shape4 x = c->in[0].s;
    return (op_tolerance){1e-6f + 2e-7f * sqrtf((float)x.h * (float)x.w), 1e-5f};
}

/* Nearest copies pixels (the coordinate is the reference's float formula); linear weights
   are a few roundings. */
static op_tolerance tol_resize(const op_call *c, int out) {
    return c->p.resize.linear ? tol_few_ulp(c, out) : tol_exact(c, out);
}

static op_tolerance tol_deconv2d(const op_call *c, int out) {
    (void)out;
    return sum_of_products((double)c->p.deconv.cin * c->p.deconv.k * c->p.deconv.k);
}

static op_tolerance tol_upsample(const op_call *c, int out) {
    return c->p.up.mode == UPSAMPLE_NEAREST ? tol_exact(c, out) : tol_few_ulp(c, out);
}

/* One IEEE addition is correctly rounded on every OpenCL device: only a denormal result flushed
   to zero (allowed without CL_FP_DENORM) may differ. */
static op_tolerance tol_add(const op_call *c, int out) {
    (void)c, (void)out;
    return (op_tolerance){FLT_MIN, 0};
}

/* Each dx sums at most cout * k * k taps (fewer at stride > 1). */
static op_tolerance tol_conv2d_bwd_data(const op_call *c, int out) {
    (void)out;
    return sum_of_products((double)c->p.conv.cout * c->p.conv.k * c->p.conv.k);
}

static op_tolerance tol_deconv2d_bwd_data(const op_call *c, int out) {
    (void)out;
    return sum_of_products((double)c->p.deconv.cout * c->p.deconv.k * c->p.deconv.k);
}

/* Each dw sums one product per pixel of the larger of x and dy over the batch (db one per pixel
   of dy). */
static op_tolerance tol_weight_grad(const op_call *c, int out) {
    (void)out;
    const shape4 x = c->in[0].s, dy = c->in[1].s;
    return sum_of_products((double)x.n * (double)CLSEG_MAX(shape4_plane(x), shape4_plane(dy)));
}

/* The statistics sum M = n*h*w values of magnitude ~2 in float: error ~ eps * sqrt(M) relative,
   so 2e-5 + 2e-4 relative is generous for M <= 3000 and still catches any missed element (1/M
   of the sum). */
static op_tolerance tol_batchnorm_train(const op_call *c, int out) {
    (void)c, (void)out;
    return (op_tolerance){2e-5f, 2e-4f};
}

/* dx ~ scale * (dy - mean dy - xhat * mean(dy xhat)): the means carry the sums' rounding, ~1e-6
   of O(1) values. */
static op_tolerance tol_batchnorm_train_bwd(const op_call *c, int out) {
    (void)c, (void)out;
    return (op_tolerance){1e-4f, 2e-4f};
}

/* The pool gradients add at most k*k values (bilinear: 3f x 3f weighted ones) in another order
   than the reference's scatter: a few ulp of O(1) values. */
static op_tolerance tol_pool_grad(const op_call *c, int out) {
    (void)c, (void)out;
    return (op_tolerance){1e-5f, 1e-5f};
}

/* exp and log are within a few ulp; dlogits are O(f) values, the per-row losses sums of w of
   them (the counts are small integers, exact in float). */
static op_tolerance tol_softmax_xent(const op_call *c, int out) {
    (void)c;
    return out == 0 ? (op_tolerance){1e-6f, 1e-4f} : (op_tolerance){1e-6f, 1e-5f};
}

/* ---- valid inputs --------------------------------------------------------------------------- */

/* splitmix64: deterministic data from the seed, no shared state. */
static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void uniform(float *x, size_t n, uint64_t *s) {
    for (size_t i = 0; i < n; i++) x[i] = (float)((next_u64(s) >> 40) * (2.0 / 16777216.0) - 1);
}

/* Indices an unpool reads for an input of shape xs: one position per element inside its own
   window of the output plane (windows of ceil(out / in) rows and columns never overlap), as a
   max-pool writes them. */
static void unpool_indices(shape4 xs, const unpool_params *p, uint64_t *s, int32_t *idx) {
    int sh = (p->out_h + xs.h - 1) / xs.h, sw = (p->out_w + xs.w - 1) / xs.w;
    size_t i = 0;
    for (int pl = 0; pl < xs.n * xs.c; pl++)
        for (int h = 0; h < xs.h; h++)
            for (int w = 0; w < xs.w; w++, i++) {
                int r = CLSEG_MIN(h * sh + (int)(next_u64(s) % (uint64_t)sh), p->out_h - 1);
                int c = CLSEG_MIN(w * sw + (int)(next_u64(s) % (uint64_t)sw), p->out_w - 1);
                idx[i] = r * p->out_w + c;
            }
}

static void valid_maxunpool(const op_call *c, uint64_t *s, void *const *in) {
    unpool_indices(c->in[1].s, &c->p.unpool, s, in[1]);
}

/* The indices of a max-pool of random data of dx's shape. */
static void valid_maxpool_bwd(const op_call *c, uint64_t *s, void *const *in) {
    const shape4 xs = c->out[0].s;
    float *x = malloc(shape4_count(xs) * sizeof *x), *y = malloc(shape4_count(c->in[0].s) * 4);
    if (x && y) {
        uniform(x, shape4_count(xs), s);
        ref_maxpool(x, xs, &c->p.pool, y, in[1]);
    }
    free(x);
    free(y);
}

/* y is a ReLU's output. */
static void valid_relu_output(const op_call *c, uint64_t *s, void *const *in) {
    (void)s;
    if (in[1]) ref_relu(in[1], shape4_count(c->in[1].s), in[1]);
}

static void valid_batchnorm_train(const op_call *c, uint64_t *s, void *const *in) {
    (void)s;
    float *gamma = in[1];
    for (int k = 0; k < c->in[0].s.c; k++) gamma[k] = 1 + 0.5f * gamma[k];
}

/* saved is what the forward keeps for x. */
static void valid_batchnorm_train_bwd(const op_call *c, uint64_t *s, void *const *in) {
    const shape4 xs = c->in[1].s;
    const size_t C = (size_t)xs.c;
    float *gb = malloc(2 * C * sizeof *gb), *y = malloc(shape4_count(xs) * sizeof *y);
    if (gb && y) {
        uniform(gb, 2 * C, s);
        for (size_t k = 0; k < C; k++) gb[k] = 1 + 0.5f * gb[k];
        ref_batchnorm_train(in[1], xs, gb, gb + C, c->p.bn.relu, y, in[2], NULL, NULL);
    }
    free(gb);
    free(y);
}

/* Labels in [-1, K] (-1 and K are ignored pixels), factors 1 / the number of labelled ones. */
static void valid_softmax_xent(const op_call *c, uint64_t *s, void *const *in) {
    const shape4 ls = c->in[1].s;
    const int K = c->in[0].s.c;
    int32_t *labels = in[1];
    size_t labelled = 0;
    for (size_t i = 0; i < shape4_count(ls); i++) {
        labels[i] = (int32_t)(next_u64(s) % (uint64_t)(K + 2)) - 1;
        labelled += labels[i] >= 0 && labels[i] < K;
    }
    float *factors = in[2];
    for (int k = 0; k < K; k++) factors[k] = labelled ? 1.0f / (float)labelled : 0.0f;
}

/* ---- the table ------------------------------------------------------------------------------ */

#define F32 OP_ELEM_F32
#define I32 OP_ELEM_I32

static const op_desc descs[OP_KIND_COUNT] = {
    [OP_CONV2D] = {.name = "conv2d",
                   .io = "x, weight[cout][cin / groups][k][k], bias[cout]? -> y",
                   .in = {F32, F32, F32},
                   .out = {F32},
                   .optional_in = 1u << 2,
                   .shapes = shapes_conv2d,
                   .signature = sig_conv2d,
                   .cost = cost_conv2d,
                   .reference = ref_conv2d_call,
                   .tolerance = tol_conv2d},
    [OP_DECONV2D] = {.name = "deconv2d",
                     .io = "x, weight[cin][cout][k][k], bias[cout]? -> y",
                     .in = {F32, F32, F32},
                     .out = {F32},
                     .optional_in = 1u << 2,
                     .shapes = shapes_deconv2d,
                     .signature = sig_deconv2d,
                     .cost = cost_deconv2d,
                     .reference = ref_deconv2d_call,
                     .tolerance = tol_deconv2d},
    [OP_MAXPOOL] = {.name = "maxpool",
                    .io = "x -> y, indices (int32; only with p.pool.with_indices)",
                    .in = {F32},
                    .out = {F32, I32},
                    .shapes = shapes_pool,
                    .signature = sig_pool,
                    .cost = cost_maxpool,
                    .reference = ref_maxpool_call,
                    .tolerance = tol_exact},
    [OP_AVGPOOL] = {.name = "avgpool",
                    .io = "x -> y",
                    .in = {F32},
                    .out = {F32},
                    .shapes = shapes_pool,
                    .signature = sig_pool,
                    .cost = cost_stream,
                    .reference = ref_avgpool_call,
                    .tolerance = tol_few_ulp},
    [OP_UPSAMPLE] = {.name = "upsample",
                     .io = "x -> y",
                     .in = {F32},
                     .out = {F32},
                     .shapes = shapes_upsample,
                     .signature = sig_upsample,
                     .cost = cost_stream,
                     .reference = ref_upsample_call,
                     .tolerance = tol_upsample},
    [OP_MAXUNPOOL] = {.name = "maxunpool",
                      .io = "x, indices (int32, x's shape) -> y",
                      .in = {F32, I32},
                      .out = {F32},
                      .shapes = shapes_maxunpool,
                      .signature = sig_maxunpool,
                      .cost = cost_two_inputs,
                      .reference = ref_maxunpool_call,
                      .tolerance = tol_exact,
                      .make_valid = valid_maxunpool},
    [OP_CONCAT] = {.name = "concat",
                   .io = "a, b -> y",
                   .in = {F32, F32},
                   .out = {F32},
                   .shapes = shapes_concat,
                   .signature = sig_concat,
                   .cost = cost_two_inputs,
                   .reference = ref_concat_call,
                   .tolerance = tol_exact},
    [OP_ADD] = {.name = "add",
                .io = "a, b -> y",
                .in = {F32, F32},
                .out = {F32},
                .shapes = shapes_same,
                .signature = sig_add,
                .cost = cost_two_inputs,
                .reference = ref_add_call,
                .tolerance = tol_add},
    [OP_SOFTMAX] = {.name = "softmax",
                    .io = "x -> y",
                    .in = {F32},
                    .out = {F32},
                    .shapes = shapes_same,
                    .cost = cost_stream,
                    .reference = ref_softmax_call,
                    .tolerance = tol_few_ulp},
    [OP_ARGMAX] = {.name = "argmax",
                   .io = "x -> labels (int32, n x 1 x h x w)",
                   .in = {F32},
                   .out = {I32},
                   .shapes = shapes_argmax,
                   .cost = cost_stream,
                   .reference = ref_argmax_call,
                   .tolerance = tol_exact},
    [OP_ACT] = {.name = "act",
                .io = "x -> y (inference only: imported models)",
                .in = {F32},
                .out = {F32},
                .inference_only = 1,
                .shapes = shapes_act,
                .signature = sig_act,
                .cost = cost_stream,
                .reference = ref_act_call,
                .tolerance = tol_few_ulp},
    [OP_GAP] = {.name = "gap",
                .io = "x -> y (n x c x 1 x 1; inference only: imported models)",
                .in = {F32},
                .out = {F32},
                .inference_only = 1,
                .shapes = shapes_gap,
                .cost = cost_stream,
                .reference = ref_gap_call,
                .tolerance = tol_gap},
    [OP_MUL] = {.name = "mul",
                .io = "a, b (a's shape or n x c x 1 x 1) -> y (inference only: imported models)",
                .in = {F32, F32},
                .out = {F32},
                .inference_only = 1,
                .shapes = shapes_mul,
                .signature = sig_mul,
                .cost = cost_two_inputs,
                .reference = ref_mul_call,
                .tolerance = tol_add},
    [OP_RESIZE] = {.name = "resize",
                   .io = "x -> y (inference only: imported models)",
                   .in = {F32},
                   .out = {F32},
                   .inference_only = 1,
                   .shapes = shapes_resize,
                   .signature = sig_resize,
                   .cost = cost_stream,
                   .reference = ref_resize_call,
                   .tolerance = tol_resize},
    [OP_CONV2D_BWD_DATA] = {.name = "conv2d_bwd_data",
                            .io = "dy, weight -> dx",
                            .in = {F32, F32},
                            .out = {F32},
                            .training = 1,
                            .shapes = shapes_conv2d_bwd_data,
                            .signature = sig_hash,
                            .cost = cost_stream,
                            .reference = ref_conv2d_bwd_data_call,
                            .tolerance = tol_conv2d_bwd_data},
    [OP_CONV2D_BWD_WEIGHT] = {.name = "conv2d_bwd_weight",
                              .io = "x, dy -> dw, db?",
                              .in = {F32, F32},
                              .out = {F32, F32},
                              .optional_out = 1u << 1,
                              .training = 1,
                              .shapes = shapes_conv2d_bwd_weight,
                              .signature = sig_hash,
                              .cost = cost_stream,
                              .reference = ref_conv2d_bwd_weight_call,
                              .tolerance = tol_weight_grad},
    [OP_DECONV2D_BWD_DATA] = {.name = "deconv2d_bwd_data",
                              .io = "dy, weight -> dx",
                              .in = {F32, F32},
                              .out = {F32},
                              .training = 1,
                              .shapes = shapes_deconv2d_bwd_data,
                              .signature = sig_hash,
                              .cost = cost_stream,
                              .reference = ref_deconv2d_bwd_data_call,
                              .tolerance = tol_deconv2d_bwd_data},
    [OP_DECONV2D_BWD_WEIGHT] = {.name = "deconv2d_bwd_weight",
                                .io = "x, dy -> dw, db?",
                                .in = {F32, F32},
                                .out = {F32, F32},
                                .optional_out = 1u << 1,
                                .training = 1,
                                .shapes = shapes_deconv2d_bwd_weight,
                                .signature = sig_hash,
                                .cost = cost_stream,
                                .reference = ref_deconv2d_bwd_weight_call,
                                .tolerance = tol_weight_grad},
    [OP_BATCHNORM_TRAIN] =
        {.name = "batchnorm_train",
         .io = "x, gamma[c], beta[c] -> y, saved[4c], running_mean[c]?, running_var[c]?",
         .in = {F32, F32, F32},
         .out = {F32, F32, F32, F32},
         .optional_out = 3u << 2,
         .inout_out = 3u << 2,
         .training = 1,
         .shapes = shapes_batchnorm_train,
         .signature = sig_hash,
         .cost = cost_stream,
         .reference = ref_batchnorm_train_call,
         .tolerance = tol_batchnorm_train,
         .make_valid = valid_batchnorm_train},
    [OP_BATCHNORM_TRAIN_BWD] = {.name = "batchnorm_train_bwd",
                                .io = "dy, x, saved[4c] -> dx, dgamma[c], dbeta[c]",
                                .in = {F32, F32, F32},
                                .out = {F32, F32, F32},
                                .training = 1,
                                .shapes = shapes_batchnorm_train_bwd,
                                .signature = sig_hash,
                                .cost = cost_stream,
                                .reference = ref_batchnorm_train_bwd_call,
                                .tolerance = tol_batchnorm_train_bwd,
                                .make_valid = valid_batchnorm_train_bwd},
    [OP_RELU_BWD] = {.name = "relu_bwd",
                     .io = "dy, y -> dx",
                     .in = {F32, F32},
                     .out = {F32},
                     .training = 1,
                     .shapes = shapes_same,
                     .signature = sig_hash,
                     .cost = cost_stream,
                     .reference = ref_relu_bwd_call,
                     .tolerance = tol_exact,
                     .make_valid = valid_relu_output},
    [OP_ADD_BWD] = {.name = "add_bwd",
                    .io = "dy, y? -> da?, db?",
                    .in = {F32, F32},
                    .out = {F32, F32},
                    .optional_in = 1u << 1,
                    .optional_out = 3u,
                    .training = 1,
                    .shapes = shapes_same,
                    .signature = sig_hash,
                    .cost = cost_stream,
                    .reference = ref_add_bwd_call,
                    .tolerance = tol_exact,
                    .make_valid = valid_relu_output},
    [OP_CONCAT_BWD] = {.name = "concat_bwd",
                       .io = "dy -> da?, db?",
                       .in = {F32},
                       .out = {F32, F32},
                       .optional_out = 3u,
                       .training = 1,
                       .shapes = shapes_concat_bwd,
                       .signature = sig_hash,
                       .cost = cost_stream,
                       .reference = ref_concat_bwd_call,
                       .tolerance = tol_exact},
    [OP_MAXPOOL_BWD] = {.name = "maxpool_bwd",
                        .io = "dy, indices (int32, dy's shape) -> dx",
                        .in = {F32, I32},
                        .out = {F32},
                        .training = 1,
                        .shapes = shapes_maxpool_bwd,
                        .signature = sig_hash,
                        .cost = cost_stream,
                        .reference = ref_maxpool_bwd_call,
                        .tolerance = tol_pool_grad,
                        .make_valid = valid_maxpool_bwd},
    [OP_MAXUNPOOL_BWD] = {.name = "maxunpool_bwd",
                          .io = "dy, indices (int32, dx's shape) -> dx",
                          .in = {F32, I32},
                          .out = {F32},
                          .training = 1,
                          .shapes = shapes_maxunpool_bwd,
                          .signature = sig_hash,
                          .cost = cost_stream,
                          .reference = ref_maxunpool_bwd_call,
                          .tolerance = tol_pool_grad,
                          .make_valid = valid_maxunpool},
    [OP_UPSAMPLE_BWD] = {.name = "upsample_bwd",
                         .io = "dy -> dx",
                         .in = {F32},
                         .out = {F32},
                         .training = 1,
                         .shapes = shapes_upsample_bwd,
                         .signature = sig_hash,
                         .cost = cost_stream,
                         .reference = ref_upsample_bwd_call,
                         .tolerance = tol_pool_grad},
    [OP_SOFTMAX_XENT] =
        {.name = "softmax_xent",
         .io = "logits, labels (int32, n x 1 x h x w), factors[K] -> dlogits, partial[2 rows]",
         .in = {F32, I32, F32},
         .out = {F32, F32},
         .training = 1,
         .shapes = shapes_softmax_xent,
         .signature = sig_hash,
         .cost = cost_stream,
         .reference = ref_softmax_xent_call,
         .tolerance = tol_softmax_xent,
         .make_valid = valid_softmax_xent},
};

const op_desc *op_desc_get(op_kind kind) {
    return (unsigned)kind < OP_KIND_COUNT && descs[kind].name ? &descs[kind] : NULL;
}

const char *op_kind_name(op_kind kind) {
    const op_desc *d = op_desc_get(kind);
    return d ? d->name : "?";
}

int op_shapes(const op_call *c, shape4 in[OP_IO_MAX], shape4 out[OP_IO_MAX]) {
    memset(in, 0, OP_IO_MAX * sizeof *in);
    memset(out, 0, OP_IO_MAX * sizeof *out);
    const op_desc *d = op_desc_get(c->kind);
    return d && d->shapes(c, in, out);
}

clseg_status op_make_inputs(const op_call *c, uint64_t seed, void *in[OP_IO_MAX]) {
    const op_desc *d = op_desc_get(c->kind);
    shape4 ins[OP_IO_MAX], outs[OP_IO_MAX];
    memset(in, 0, OP_IO_MAX * sizeof *in);
    if (!d || !op_shapes(c, ins, outs)) return CLSEG_ERR_INVALID_ARGUMENT;
    /* make_valid reads every slot's shape from its call */
    op_call full = *c;
    for (int i = 0; i < OP_IO_MAX; i++) {
        full.in[i].s = ins[i];
        full.out[i].s = outs[i];
    }
    uint64_t s = seed;
    for (int i = 0; i < OP_IO_MAX; i++) {
        if (!d->in[i]) continue;
        const size_t n = shape4_count(ins[i]);
        in[i] = calloc(n ? n : 1, 4);
        if (!in[i]) {
            for (int k = 0; k < i; k++) free(in[k]), in[k] = NULL;
            return CLSEG_ERR_OUT_OF_MEMORY;
        }
        if (d->in[i] == OP_ELEM_F32) uniform(in[i], n, &s);
    }
    if (d->make_valid) d->make_valid(&full, &s, in);
    return CLSEG_OK;
}
