/* test_train_step.c - the training graph on the device against a host composition of the C
   reference ops (loss, every parameter gradient, BatchNorm running statistics) on a small net
   that uses every layer type with a backward; determinism; optimiser kernels; gradient check. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/plan.h"
#include "ops/backward.h"
#include "ref/ref.h"
#include "ref/ref_backward.h"
#include "testutil.h"
#include "train/augment.h"
#include "train/optim.h"
#include "train/trainer.h"

/* conv+BN+ReLU, max-pool, conv+ReLU without BN, unpool, add+ReLU (c1 feeds two layers: its
   gradient is a sum), max-pool, deconv+BN, nearest upsample, concat, 1x1 classifier. */
static const char *const spec_text =
    "[net]\nname = gradnet\n"
    "[conv]\nname = c1\nfilters = 4\nsize = 3\npad = 1\nbatchnorm = 1\nactivation = relu\n"
    "[maxpool]\nname = p1\nsize = 2\nstride = 2\n"
    "[conv]\nname = c2\nfilters = 4\nsize = 3\npad = 1\nactivation = relu\n"
    "[unpool]\nname = u1\npool = p1\n"
    "[add]\nname = a1\ninputs = u1, c1\nactivation = relu\n"
    "[maxpool]\nname = p2\nsize = 2\nstride = 2\n"
    "[deconv]\nname = d1\nfilters = 5\nsize = 3\nstride = 2\npad = 1\noutput_size = a1\n"
    "batchnorm = 1\nactivation = relu\n"
    "[upsample]\nname = up\ninput = p2\nfactor = 2\n"
    "[concat]\nname = cat\ninputs = d1, up\n"
    "[conv]\nname = out\nfilters = classes\nsize = 1\n";

enum { K = 5, N = 2, H = 10, W = 14, IGNORE = 3 };

typedef struct ref_result {
    double loss;
    float *grads[MODEL_MAX_TENSORS]; /* by model tensor index (NULL for running statistics) */
    float *stats[MODEL_MAX_TENSORS]; /* running statistics after the step */
} ref_result;

static float *falloc(size_t n) {
    return calloc(n ? n : 1, sizeof(float));
}

static float *tensor(const clseg_model *m, const char *layer, const char *suffix, int *index) {
    char name[128];
    snprintf(name, sizeof name, "%s.%s", layer, suffix);
    const model_tensor *t = model_find_tensor(m, name);
    if (index) *index = t ? (int)(t - m->tensors) : -1;
    return t ? t->data : NULL;
}

static void accumulate(float *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

/* The training step composed from the C references, in the trainer's order. */
static void reference_step(const clseg_model *m, const float *x, shape4 in, const int32_t *labels,
                           const float *weights, ref_result *r) {
    layer_step steps[16];
    char err[256];
    CHECK_OK(net_plan(&m->spec, m->classes, in, steps, err, sizeof err));
    const int L = m->spec.n_layers;
    float *out[16] = {0}, *z[16] = {0}, *saved[16] = {0}, *grad[16] = {0};
    int32_t *idx[16] = {0};
    for (int i = 0; i < m->n_tensors; i++) {
        const char *nm = m->tensors[i].name;
        if (strstr(nm, "running_")) {
            r->stats[i] = falloc(m->tensors[i].count);
            memcpy(r->stats[i], m->tensors[i].data, m->tensors[i].count * 4);
        } else {
            r->grads[i] = falloc(m->tensors[i].count);
        }
    }
#define SRC(k)   (steps[i].in[k] == SPEC_INPUT ? x : out[steps[i].in[k]])
#define SHAPE(k) (steps[i].in[k] == SPEC_INPUT ? in : steps[steps[i].in[k]].out)
    for (int i = 0; i < L; i++) {
        const layer_step *s = &steps[i];
        const spec_layer *sl = &m->spec.layers[i];
        size_t n = shape4_count(s->out);
        out[i] = falloc(n);
        grad[i] = falloc(n);
        if (s->op == OP_CONV2D || s->op == OP_DECONV2D) {
            const float *w = tensor(m, sl->name, "weight", NULL);
            const float *b = sl->bias ? tensor(m, sl->name, "bias", NULL) : NULL;
            float *dst = out[i];
            if (sl->batchnorm) dst = z[i] = falloc(n);
            if (s->op == OP_CONV2D) {
                conv2d_params p = s->p.conv;
                if (sl->batchnorm) p.act = 0;
                ref_conv2d(SRC(0), SHAPE(0), w, b, &p, dst);
            } else {
                deconv2d_params p = s->p.deconv;
                if (sl->batchnorm) p.relu = 0;
                ref_deconv2d(SRC(0), SHAPE(0), w, b, &p, dst);
            }
            if (sl->batchnorm) {
                int im, iv;
                tensor(m, sl->name, "bn.running_mean", &im);
                tensor(m, sl->name, "bn.running_var", &iv);
                saved[i] = falloc((size_t)BN_SAVED_PER_CHANNEL * s->out.c);
                ref_batchnorm_train(z[i], s->out, tensor(m, sl->name, "bn.weight", NULL),
                                    tensor(m, sl->name, "bn.bias", NULL), sl->act == ACT_RELU,
                                    out[i], saved[i], r->stats[im], r->stats[iv]);
            }
        } else if (s->op == OP_MAXPOOL) {
            idx[i] = calloc(n, sizeof(int32_t));
            ref_maxpool(SRC(0), SHAPE(0), &s->p.pool, out[i], idx[i]);
        } else if (s->op == OP_MAXUNPOOL) {
            ref_maxunpool(SRC(0), idx[s->pool_layer], SHAPE(0), &s->p.unpool, out[i]);
        } else if (s->op == OP_UPSAMPLE) {
            ref_upsample(SRC(0), SHAPE(0), &s->p.up, out[i]);
        } else if (s->op == OP_CONCAT) {
            ref_concat(SRC(0), SHAPE(0), SRC(1), SHAPE(1), out[i]);
        } else if (s->op == OP_ADD) {
            ref_add(SRC(0), SRC(1), SHAPE(0), &s->p.add, out[i]);
        }
    }
    shape4 ls = steps[L - 1].out;
    size_t px = (size_t)ls.n * ls.h * ls.w;
    int32_t *lab = calloc(px, sizeof *lab);
    int64_t labelled = 0;
    for (size_t i = 0; i < px; i++) {
        lab[i] = labels[i] >= 0 && labels[i] < K && labels[i] != IGNORE ? labels[i] : -1;
        labelled += lab[i] >= 0;
    }
    float factors[K];
    for (int c = 0; c < K; c++) factors[c] = (float)(weights[c] / (double)labelled);
    r->loss = ref_softmax_xent(out[L - 1], ls, lab, factors, grad[L - 1], NULL);
    free(lab);

    for (int i = L - 1; i >= 0; i--) {
        const layer_step *s = &steps[i];
        const spec_layer *sl = &m->spec.layers[i];
        size_t n = shape4_count(s->out);
        shape4 xs = SHAPE(0);
        size_t xn = shape4_count(xs);
        float *ta = falloc(xn), *tb = s->n_in > 1 ? falloc(shape4_count(SHAPE(1))) : NULL;
        int src = s->in[0];
        if (s->op == OP_CONV2D || s->op == OP_DECONV2D) {
            float *dz = falloc(n);
            if (sl->batchnorm) {
                int ig, ib;
                tensor(m, sl->name, "bn.weight", &ig);
                tensor(m, sl->name, "bn.bias", &ib);
                ref_batchnorm_train_bwd(grad[i], z[i], s->out, saved[i], sl->act == ACT_RELU, dz,
                                        r->grads[ig], r->grads[ib]);
            } else if (sl->act == ACT_RELU) {
                ref_relu_bwd(grad[i], out[i], n, dz);
            } else {
                memcpy(dz, grad[i], n * 4);
            }
            int iw, ib = -1;
            const float *w = tensor(m, sl->name, "weight", &iw);
            if (sl->bias) tensor(m, sl->name, "bias", &ib);
            if (s->op == OP_CONV2D) {
                conv2d_params p = s->p.conv;
                p.act = 0;
                ref_conv2d_bwd_weight(SRC(0), xs, dz, &p, r->grads[iw],
                                      ib >= 0 ? r->grads[ib] : NULL);
                if (src != SPEC_INPUT) ref_conv2d_bwd_data(dz, w, &p, xs, ta);
            } else {
                deconv2d_params p = s->p.deconv;
                p.relu = 0;
                ref_deconv2d_bwd_weight(SRC(0), xs, dz, &p, r->grads[iw],
                                        ib >= 0 ? r->grads[ib] : NULL);
                if (src != SPEC_INPUT) ref_deconv2d_bwd_data(dz, w, &p, xs, ta);
            }
            free(dz);
        } else if (s->op == OP_MAXPOOL) {
            ref_maxpool_bwd(grad[i], idx[i], xs, &s->p.pool, ta);
        } else if (s->op == OP_MAXUNPOOL) {
            ref_maxunpool_bwd(grad[i], idx[s->pool_layer], xs, &s->p.unpool, ta);
        } else if (s->op == OP_UPSAMPLE) {
            ref_upsample_bwd(grad[i], xs, &s->p.up, ta);
        } else if (s->op == OP_CONCAT) {
            ref_concat_bwd(grad[i], xs, SHAPE(1), ta, tb);
        } else if (s->op == OP_ADD) {
            ref_add_bwd(grad[i], out[i], n, s->p.add.relu, ta, tb);
        }
        if (src != SPEC_INPUT) accumulate(grad[src], ta, xn);
        if (tb && s->in[1] != SPEC_INPUT) accumulate(grad[s->in[1]], tb, shape4_count(SHAPE(1)));
        free(ta);
        free(tb);
    }
#undef SRC
#undef SHAPE
    for (int i = 0; i < L; i++) {
        free(out[i]);
        free(z[i]);
        free(saved[i]);
        free(grad[i]);
        free(idx[i]);
    }
}

static clseg_model *make_model(void) {
    clseg_model *m = NULL;
    char err[256];
    CHECK_OK(model_init(spec_text, K, 3, NULL, NULL, &m, err, sizeof err));
    if (!m) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    /* Non-trivial BatchNorm parameters and statistics, so every term of the gradient counts. */
    for (int i = 0; i < m->n_tensors; i++) {
        model_tensor *t = &m->tensors[i];
        if (strstr(t->name, ".bn.weight")) tu_fill_uniform(t->data, t->count, 10 + i, 0.5f, 1.5f);
        if (strstr(t->name, ".bn.bias")) tu_fill_uniform(t->data, t->count, 20 + i, -0.3f, 0.3f);
        if (strstr(t->name, "running_mean"))
            tu_fill_uniform(t->data, t->count, 30 + i, -0.2f, 0.2f);
        if (strstr(t->name, "running_var")) tu_fill_uniform(t->data, t->count, 40 + i, 0.5f, 2.f);
        if (!strcmp(t->name, "c2.bias") || !strcmp(t->name, "out.bias"))
            tu_fill_uniform(t->data, t->count, 50 + i, -0.1f, 0.1f);
    }
    return m;
}

static void make_batch(float *x, int32_t *labels, uint64_t seed) {
    tu_fill_uniform(x, (size_t)N * 3 * H * W, seed, -2, 2);
    uint64_t s = seed;
    for (int i = 0; i < N * H * W; i++) {
        labels[i] = (int32_t)(rng_uniform(&s) * (K + 1)); /* K = out of range: not scored */
    }
}

static void test_gradients(clseg_context *ctx) {
    clseg_model *m = make_model();
    static float x[N * 3 * H * W];
    static int32_t labels[N * H * W];
    make_batch(x, labels, 77);
    const float weights[K] = {1.0f, 0.5f, 2.0f, 1.0f, 3.0f};
    trainer_config cfg = {N, H, W, IGNORE, weights, {OPTIM_SGD, 0.1, 0.9, 1e-4, 0, 0, 0}};
    trainer *t = NULL;
    clseg_status st = trainer_create(&t, ctx, m, &cfg);
    CHECK(st == CLSEG_OK, "trainer_create: %s", clseg_context_error(ctx));
    if (!t) {
        clseg_model_free(m);
        return;
    }
    step_stats ss;
    CHECK_OK(trainer_step(t, x, labels, 0.1, 0, &ss));
    ref_result r;
    memset(&r, 0, sizeof r);
    reference_step(m, x, (shape4){N, 3, H, W}, labels, weights, &r);
    CHECK(ss.finite && fabs(ss.loss - r.loss) <= 1e-4 * fabs(r.loss), "loss %.7f, reference %.7f",
          ss.loss, r.loss);
    float *g = calloc(trainer_param_total(t), sizeof *g);
    CHECK_OK(trainer_read_grads(t, g));
    size_t at = 0;
    double sumsq = 0;
    for (int i = 0; i < trainer_param_tensors(t); i++) {
        const char *name = trainer_param_name(t, i);
        size_t n = trainer_param_count(t, i);
        const model_tensor *mt = model_find_tensor(m, name);
        int mi = (int)(mt - m->tensors);
        float scale = 0;
        for (size_t k = 0; k < n; k++) scale = fmaxf(scale, fabsf(r.grads[mi][k]));
        /* 1e-6 absolute: a conv bias right before BatchNorm has a true gradient of 0, so the
           device and the reference only agree on it being rounding noise. */
        char what[160];
        snprintf(what, sizeof what, "%s gradient on %.60s", name, ctx->info.name);
        CHECK(tu_allclose(what, g + at, r.grads[mi], n, 2e-4f * scale + 1e-6f, 2e-3f), "%s", what);
        for (size_t k = 0; k < n; k++) sumsq += (double)g[at + k] * g[at + k];
        at += n;
    }
    CHECK(fabs(ss.grad_sumsq - sumsq) <= 1e-5 * sumsq, "gradient sum of squares %g vs %g",
          ss.grad_sumsq, sumsq);
    /* The forward updated the running statistics as the reference did. */
    const clseg_model *after;
    CHECK_OK(trainer_sync_model(t, &after));
    for (int i = 0; i < m->n_tensors; i++)
        if (r.stats[i])
            CHECK(tu_allclose(m->tensors[i].name, after->tensors[i].data, r.stats[i],
                              m->tensors[i].count, 1e-5f, 1e-4f),
                  "running statistics %s", m->tensors[i].name);
    free(g);
    for (int i = 0; i < MODEL_MAX_TENSORS; i++) {
        free(r.grads[i]);
        free(r.stats[i]);
    }
    trainer_free(t);
    clseg_model_free(m);
}

/* Same model, same batches: bit-identical losses and weights, step after step. */
static void test_determinism(clseg_context *ctx) {
    clseg_model *m = make_model();
    static float x[N * 3 * H * W];
    static int32_t labels[N * H * W];
    trainer_config cfg = {N, H, W, -1, NULL, {OPTIM_ADAM, 1e-2, 0, 1e-4, 0.9, 0.999, 1e-8}};
    double loss[2][4];
    float *w[2];
    for (int run = 0; run < 2; run++) {
        trainer *t = NULL;
        CHECK_OK(trainer_create(&t, ctx, m, &cfg));
        if (!t) break;
        for (int s = 0; s < 4; s++) {
            step_stats ss;
            make_batch(x, labels, 100 + s);
            CHECK_OK(trainer_step(t, x, labels, 1e-2, 1, &ss));
            loss[run][s] = ss.loss;
        }
        CHECK(loss[run][3] < loss[run][0], "loss did not fall: %g -> %g", loss[run][0],
              loss[run][3]);
        const clseg_model *after;
        CHECK_OK(trainer_sync_model(t, &after));
        w[run] = malloc(after->tensors[0].count * 4);
        memcpy(w[run], after->tensors[0].data, after->tensors[0].count * 4);
        trainer_free(t);
    }
    CHECK(!memcmp(loss[0], loss[1], sizeof loss[0]), "losses differ between identical runs");
    CHECK(!memcmp(w[0], w[1], m->tensors[0].count * 4), "weights differ between identical runs");
    free(w[0]);
    free(w[1]);
    clseg_model_free(m);
}

static void test_optimizers(clseg_context *ctx) {
    enum { n = 1000, decay = 600 };
    static float p[n], g[n], m1[n], v[n], out[n], mo[n], vo[n];
    tu_fill_uniform(p, n, 1, -1, 1);
    tu_fill_uniform(g, n, 2, -0.1f, 0.1f);
    tu_fill_uniform(m1, n, 3, -0.05f, 0.05f);
    tu_fill_uniform(v, n, 4, 0, 0.01f);
    cl_mem bp, bg, bm, bv, part;
    CHECK_OK(ctx_buffer(ctx, sizeof p, p, &bp));
    CHECK_OK(ctx_buffer(ctx, sizeof g, g, &bg));
    CHECK_OK(ctx_buffer(ctx, sizeof m1, m1, &bm));
    CHECK_OK(ctx_buffer(ctx, sizeof v, v, &bv));
    CHECK_OK(ctx_buffer(ctx, OPTIM_SUMSQ_GROUPS * 4, NULL, &part));
    optim_config sgd = {OPTIM_SGD, 0, 0.9, 0.01, 0, 0, 0};
    CHECK_OK(optim_update(ctx, &sgd, bp, bg, bm, NULL, n, decay, 1, 0.05));
    CHECK_OK(ctx_read(ctx, bp, 0, sizeof out, out));
    CHECK_OK(ctx_read(ctx, bm, 0, sizeof mo, mo));
    int ok = 1;
    for (int i = 0; i < n; i++) {
        float gi = g[i] + (i < decay ? 0.01f * p[i] : 0);
        float vi = 0.9f * m1[i] + gi, pi = p[i] - 0.05f * vi;
        ok &= fabsf(mo[i] - vi) <= 1e-6f && fabsf(out[i] - pi) <= 1e-6f;
    }
    CHECK(ok, "SGD with momentum and weight decay");

    CHECK_OK(ctx_write(ctx, bp, 0, sizeof p, p));
    CHECK_OK(ctx_write(ctx, bm, 0, sizeof m1, m1));
    optim_config adam = {OPTIM_ADAM, 0, 0, 0.02, 0.9, 0.999, 1e-8};
    CHECK_OK(optim_update(ctx, &adam, bp, bg, bm, bv, n, decay, 3, 0.01));
    CHECK_OK(ctx_read(ctx, bp, 0, sizeof out, out));
    CHECK_OK(ctx_read(ctx, bm, 0, sizeof mo, mo));
    CHECK_OK(ctx_read(ctx, bv, 0, sizeof vo, vo));
    ok = 1;
    double bc1 = 1 - pow(0.9, 3), bc2 = 1 - pow(0.999, 3);
    for (int i = 0; i < n; i++) {
        double mi = 0.9 * m1[i] + 0.1 * g[i], vi = 0.999 * v[i] + 0.001 * (double)g[i] * g[i];
        double upd = (mi / bc1) / (sqrt(vi / bc2) + 1e-8) + (i < decay ? 0.02 * p[i] : 0);
        double pi = p[i] - 0.01 * upd;
        ok &= fabs(mo[i] - mi) <= 1e-6 && fabs(vo[i] - vi) <= 1e-7 && fabs(out[i] - pi) <= 1e-5;
    }
    CHECK(ok, "Adam (decoupled weight decay)");

    double s = 0, want = 0;
    for (int i = 0; i < n; i++) want += (double)g[i] * g[i];
    CHECK_OK(optim_sum_squares(ctx, bg, n, part, &s));
    CHECK(fabs(s - want) <= 1e-5 * want, "sum of squares %g vs %g", s, want);
    g[517] = NAN;
    CHECK_OK(ctx_write(ctx, bg, 0, sizeof g, g));
    CHECK_OK(optim_sum_squares(ctx, bg, n, part, &s));
    CHECK(isnan(s), "a NaN gradient gives %g", s);
    g[517] = INFINITY;
    CHECK_OK(ctx_write(ctx, bg, 0, sizeof g, g));
    CHECK_OK(optim_sum_squares(ctx, bg, n, part, &s));
    CHECK(!isfinite(s), "an Inf gradient gives %g", s);
    clReleaseMemObject(bp);
    clReleaseMemObject(bg);
    clReleaseMemObject(bm);
    clReleaseMemObject(bv);
    clReleaseMemObject(part);
}

/* The layers of imported models have no backward: the trainer refuses each with
   CLSEG_ERR_UNSUPPORTED naming the layer, instead of training it wrongly. */
static void test_inference_only(clseg_context *ctx) {
    static const char *const specs[] = {
        "[net]\n[conv]\nname = dw\nfilters = 6\nsize = 3\npad = 1\ngroups = 3\n"
        "[conv]\nfilters = classes\nsize = 1\n",
        "[net]\n[conv]\nname = hs\nfilters = 5\nsize = 3\npad = 1\nactivation = hardswish\n",
        "[net]\n[conv]\nfilters = 5\nsize = 1\n[gap]\nname = g\n[mul]\ninputs = conv1, g\n",
        "[net]\n[conv]\nfilters = 5\nsize = 3\nstride = 2\n[resize]\nname = r\n"
        "output_size = data\nmode = bilinear\n",
    };
    static const char *const names[] = {"dw", "hs", "g", "r"};
    const trainer_config cfg = {N, H, W, IGNORE, NULL, {OPTIM_SGD, 0.1, 0.9, 0, 0, 0, 0}};
    for (size_t i = 0; i < CLSEG_ARRAY_LEN(specs); i++) {
        char err[256];
        clseg_model *m = NULL;
        CHECK_OK(model_init(specs[i], K, 3, NULL, NULL, &m, err, sizeof err));
        trainer *t = NULL;
        clseg_status st = m ? trainer_create(&t, ctx, m, &cfg) : CLSEG_ERR_INTERNAL;
        CHECK(st == CLSEG_ERR_UNSUPPORTED && !t && strstr(clseg_context_error(ctx), names[i]) &&
                  strstr(clseg_context_error(ctx), "inference only"),
              "spec %zu: %s: %s", i, clseg_status_str(st), clseg_context_error(ctx));
        trainer_free(t);
        clseg_model_free(m);
    }
}

int main(void) {
    clseg_context **ctxs;
    int n = tu_contexts(&ctxs);
    for (int i = 0; i < n; i++) {
        printf("device %s\n", ctxs[i]->info.name);
        test_optimizers(ctxs[i]);
        test_gradients(ctxs[i]);
        test_determinism(ctxs[i]);
        test_inference_only(ctxs[i]);
    }
    tu_contexts_free(ctxs, n);
    return tu_finish("test_train_step");
}
