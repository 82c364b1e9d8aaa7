/* fuzz_exec.c - libFuzzer target: the input bytes choose a network (every layer type, random
   channels, kernels, strides, pads) and an input size; the network runs on the OpenCL device
   ($CLSEG_DEVICE, default PoCL) and must match the C reference forward within a bound derived
   from the ops' tolerances, or fail with a message when the reference says it cannot run. */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device/runtime.h"
#include "ops/desc.h"
#include "net/calls.h"
#include "net/exec.h"
#include "net/model.h"
#include "net/plan.h"

/* Small enough that one input runs in well under a second on PoCL once its kernels are built. */
#define GEN_MAX_LAYERS 12
#define GEN_MAX_SIDE   96
#define GEN_MAX_CH     16
#define GEN_MAX_INPUT  48

/* ---- the byte stream ------------------------------------------------------------------------ */

typedef struct bytes {
    const uint8_t *data;
    size_t size, pos;
} bytes;

/* 0 .. n-1 from the next byte (n <= 256); 0 once the input is used up. */
static int take(bytes *b, int n) {
    if (n <= 1 || b->pos >= b->size) return 0;
    return b->data[b->pos++] % n;
}

/* ---- the network generator ------------------------------------------------------------------- */

/* Node 0 is the network input ("data"), node j > 0 is layer j - 1 ("lJ-1"). */
typedef struct node {
    int c, h, w;
    int pool_in; /* a [maxpool]: its input node; else -1 */
} node;

typedef struct netgen {
    bytes *b;
    int chaos; /* skip the repairs that keep shapes valid: the spec may fail at this size */
    int classes;
    char text[16384];
    size_t len;
    node nodes[GEN_MAX_LAYERS + 3];
    int n; /* nodes so far: data, the layers, and last the layer being generated */
} netgen;

static void emit(netgen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(netgen *g, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(g->text + g->len, sizeof g->text - g->len, fmt, ap);
    va_end(ap);
    if (w > 0) g->len = CLSEG_MIN(g->len + (size_t)w, sizeof g->text - 1);
}

static const char *node_name(int j, char buf[16]) {
    if (j == 0) return "data";
    snprintf(buf, 16, "l%d", j - 1);
    return buf;
}

/* The section header, name and (when it is not the previous layer) input of a new layer, whose
   node is the last one. */
static void begin_layer(netgen *g, const char *type, int in) {
    char nm[16];
    emit(g, "\n[%s]\nname = l%d\n", type, g->n - 2);
    if (in != g->n - 2) emit(g, "input = %s\n", node_name(in, nm));
}

/* Sizes stay small even in chaos mode (a run must fit the fuzzer's memory and time limits). */
static int too_big(int h, int w) {
    return h > GEN_MAX_SIDE || w > GEN_MAX_SIDE;
}

static int pick_filters(netgen *g, int *classes_key) {
    *classes_key = take(g->b, 8) == 0;
    return *classes_key ? g->classes : 1 + take(g->b, 8);
}

static void conv_common(netgen *g, int filters, int classes_key, int k, int s, int p) {
    if (classes_key)
        emit(g, "filters = classes\n");
    else
        emit(g, "filters = %d\n", filters);
    emit(g, "size = %d\n", k);
    if (s != 1 || take(g->b, 2)) emit(g, "stride = %d\n", s);
    if (p || take(g->b, 2)) emit(g, "pad = %d\n", p);
    if (take(g->b, 4) == 0) emit(g, "bias = 0\n");
    if (take(g->b, 2)) {
        emit(g, "batchnorm = 1\n");
        if (take(g->b, 4) == 0) emit(g, "bn_eps = 0.001\n");
    }
    int act = take(g->b, 3);
    if (act) emit(g, "activation = %s\n", act == 1 ? "relu" : "linear");
}

static node gen_conv(netgen *g, int in, int force_classes) {
    const node x = g->nodes[in];
    int classes_key = force_classes, f = g->classes;
    if (!force_classes) f = pick_filters(g, &classes_key);
    int k = 1 + take(g->b, 5), s = 1 + take(g->b, 3), p = take(g->b, k);
    if (!g->chaos && (x.h + 2 * p < k || x.w + 2 * p < k)) p = k - 1;
    int h = (x.h + 2 * p - k) / s + 1, w = (x.w + 2 * p - k) / s + 1;
    if (too_big(h, w)) k = 1, s = 1, p = 0, h = x.h, w = x.w;
    begin_layer(g, "conv", in);
    conv_common(g, f, classes_key, k, s, p);
    return (node){f, h, w, -1};
}

static node gen_deconv(netgen *g, int in, int force_classes) {
    const node x = g->nodes[in];
    int classes_key = force_classes, f = g->classes;
    if (!force_classes) f = pick_filters(g, &classes_key);
    int k = 1 + take(g->b, 5), s = 1 + take(g->b, 3), p = take(g->b, k);
    int bh = (x.h - 1) * s - 2 * p + k, bw = (x.w - 1) * s - 2 * p + k;
    if (!g->chaos && (bh < 1 || bw < 1)) p = 0, bh = (x.h - 1) * s + k, bw = (x.w - 1) * s + k;
    if (too_big(bh + s - 1, bw + s - 1)) k = 1, s = 1, p = 0, bh = x.h, bw = x.w;
    /* output_size = an earlier layer whose size some output_padding reaches, else
       output_padding (one value, or one per axis), else neither. */
    int mode = take(g->b, 4), match = -1, oph = 0, opw = 0;
    if (mode == 0) {
        int cand[GEN_MAX_LAYERS + 3], nc = 0;
        for (int j = 0; j < g->n - 1; j++) {
            int dh = g->nodes[j].h - bh, dw = g->nodes[j].w - bw;
            if (g->chaos || (dh >= 0 && dh < s && dw >= 0 && dw < s)) cand[nc++] = j;
        }
        if (nc) match = cand[take(g->b, nc)];
        if (match < 0) mode = 1;
    }
    if (mode == 1) oph = opw = take(g->b, s);
    if (mode == 2) oph = take(g->b, s), opw = take(g->b, s);
    begin_layer(g, "deconv", in);
    conv_common(g, f, classes_key, k, s, p);
    char nm[16];
    if (match >= 0)
        emit(g, "output_size = %s\n", node_name(match, nm));
    else if (mode == 1 && (oph || take(g->b, 2)))
        emit(g, "output_padding = %d\n", oph);
    else if (mode == 2)
        emit(g, "output_padding = %d, %d\n", oph, opw);
    if (match >= 0) return (node){f, g->nodes[match].h, g->nodes[match].w, -1};
    return (node){f, bh + oph, bw + opw, -1};
}

static node gen_pool(netgen *g, int in, int max) {
    const node x = g->nodes[in];
    int k = 1 + take(g->b, 5), s = take(g->b, 4) ? 1 + take(g->b, 3) : 0, ceil_key = take(g->b, 3);
    int ceil_mode = ceil_key != 1;
    if (!g->chaos && !ceil_mode && (x.h < k || x.w < k)) ceil_key = 2, ceil_mode = 1;
    begin_layer(g, max ? "maxpool" : "avgpool", in);
    emit(g, "size = %d\n", k);
    if (s) emit(g, "stride = %d\n", s);
    if (ceil_key) emit(g, "ceil = %d\n", ceil_mode);
    pool_params pp = {k, s ? s : k, ceil_mode, 0};
    shape4 y = {1, x.c, 1, 1};
    pool_out_shape((shape4){1, x.c, x.h, x.w}, &pp, &y);
    return (node){x.c, y.h, y.w, max ? in : -1};
}

static node gen_upsample(netgen *g, int in) {
    const node x = g->nodes[in];
    int f = 1 + take(g->b, 3), mode = take(g->b, 3);
    if (too_big(x.h * f, x.w * f)) f = 1;
    begin_layer(g, "upsample", in);
    emit(g, "factor = %d\n", f);
    if (mode) emit(g, "mode = %s\n", mode == 1 ? "nearest" : "bilinear");
    return (node){x.c, x.h * f, x.w * f, -1};
}

static int same_shape(const node *a, const node *b) {
    return a->c == b->c && a->h == b->h && a->w == b->w;
}

/* An unpool needs a max-pool whose output has the shape of the unpool's input: the previous
   layer's if one fits, else any node that fits. 0 when there is no max-pool to unpool. */
static int gen_unpool(netgen *g, int in, node *out) {
    int pools[GEN_MAX_LAYERS + 3], np = 0, inputs[GEN_MAX_LAYERS + 3], ni = 0;
    for (int j = 1; j < g->n - 1; j++)
        if (g->nodes[j].pool_in >= 0 && (g->chaos || same_shape(&g->nodes[j], &g->nodes[in])))
            pools[np++] = j;
    if (!np) {
        for (int j = 0; j < g->n - 1; j++)
            for (int p = 1; p < g->n - 1; p++)
                if (g->nodes[p].pool_in >= 0 && same_shape(&g->nodes[j], &g->nodes[p])) {
                    inputs[ni++] = j;
                    break;
                }
        if (!ni) return 0;
        in = inputs[take(g->b, ni)];
        for (int j = 1; j < g->n - 1; j++)
            if (g->nodes[j].pool_in >= 0 && same_shape(&g->nodes[j], &g->nodes[in]))
                pools[np++] = j;
    }
    int pool = pools[take(g->b, np)];
    char nm[16];
    begin_layer(g, "unpool", in);
    emit(g, "pool = %s\n", node_name(pool, nm));
    const node *before = &g->nodes[g->nodes[pool].pool_in];
    *out = (node){g->nodes[in].c, before->h, before->w, -1};
    return 1;
}

/* concat (channels add up) or add (shapes equal) of the input and a second node that fits. */
static int gen_join(netgen *g, int in, int add, node *out) {
    const node x = g->nodes[in];
    int cand[GEN_MAX_LAYERS + 3], nc = 0;
    for (int j = 0; j < g->n - 1; j++) {
        const node *y = &g->nodes[j];
        int fits = add ? same_shape(&x, y) : y->h == x.h && y->w == x.w && x.c + y->c <= GEN_MAX_CH;
        if (fits || g->chaos) cand[nc++] = j;
    }
    if (!nc) return 0;
    int second = cand[take(g->b, nc)];
    char a[16], b[16];
    emit(g, "\n[%s]\nname = l%d\ninputs = %s, %s\n", add ? "add" : "concat", g->n - 2,
         node_name(in, a), node_name(second, b));
    if (add && take(g->b, 2)) emit(g, "activation = relu\n");
    *out = (node){add ? x.c : x.c + g->nodes[second].c, x.h, x.w, -1};
    return 1;
}

/* Writes the spec text into g->text; returns the input shape to run it at. */
static shape4 generate(netgen *g) {
    bytes *b = g->b;
    g->chaos = take(b, 16) == 0;
    g->classes = 1 + take(b, 8);
    int channels = 1 + take(b, 4);
    shape4 in = {1 + take(b, 2), channels, 1 + take(b, GEN_MAX_INPUT), 1 + take(b, GEN_MAX_INPUT)};
    emit(g, "[net]\nname = fuzz\n");
    if (channels != 3 || take(b, 2)) emit(g, "channels = %d\n", channels);
    g->nodes[0] = (node){channels, in.h, in.w, -1};
    g->n = 1;
    int layers = 1 + take(b, GEN_MAX_LAYERS);
    for (int i = 0; i < layers; i++) {
        int in_node = g->n - 1;
        if (take(b, 4) == 0) in_node = take(b, g->n);
        node y;
        g->n++; /* the new layer's node, filled below */
        int ok = 1;
        switch (take(b, 10)) {
        case 0:
        case 1:
            y = gen_conv(g, in_node, 0);
            break;
        case 2:
            y = gen_deconv(g, in_node, 0);
            break;
        case 3:
            y = gen_pool(g, in_node, 1);
            break;
        case 4:
            y = gen_pool(g, in_node, 0);
            break;
        case 5:
            y = gen_upsample(g, in_node);
            break;
        case 6:
        case 7:
            ok = gen_unpool(g, in_node, &y);
            break;
        case 8:
            ok = gen_join(g, in_node, 0, &y);
            break;
        default:
            ok = gen_join(g, in_node, 1, &y);
            break;
        }
        if (!ok) y = gen_conv(g, in_node, 0);
        g->nodes[g->n - 1] = y;
    }
    /* The output has one channel per class. */
    if (g->nodes[g->n - 1].c != g->classes || take(b, 4) == 0) {
        g->n++;
        g->nodes[g->n - 1] = take(b, 4) ? gen_conv(g, g->n - 2, 1) : gen_deconv(g, g->n - 2, 1);
    }
    return in;
}

/* ---- the oracle's error bound -----------------------------------------------------------------
 */

/* Per layer, how far the device's output may be from the reference's, element by element: what
   the layer's inputs may already be off by, passed through the layer (a conv's error grows with
   the L2 norm of an output channel's weights: the inputs' rounding errors are independent), plus
   the layer's own rounding, at the tolerances the op tests use (tests/test_*.c: a conv sums
   cin*k*k products, 3e-5 * sqrt(terms) for unit-sized values plus 1e-4 relative; averaging ops a
   few ulp; max-pool, nearest upsample, unpool and concat exact) scaled by the values' size. A
   max-pool whose argmax an unpool reads is the one discontinuity: two values of a window closer
   than their error may swap places, which moves a whole value, so such windows are counted and
   a mismatch they can explain is not a finding. */
typedef struct oracle {
    const layer_step *steps; /* the plan the reference runs */
    shape4 in;
    double err[SPEC_MAX_LAYERS];
    int near_ties; /* windows of an unpooled max-pool whose top two are within the error */
} oracle;

static double max_abs(const float *x, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}

static double in_err(const oracle *o, int node) {
    return node == SPEC_INPUT ? 0 : o->err[node];
}

/* Largest L2 norm over output channels of the weights that feed one output value. */
static double weight_gain(const net_ref_layer *l, double *wmax) {
    const layer_step *s = l->step;
    int conv = s->op == OP_CONV2D;
    int cin = conv ? s->p.conv.cin : s->p.deconv.cin, cout = s->out.c;
    int kk = conv ? s->p.conv.k * s->p.conv.k : s->p.deconv.k * s->p.deconv.k;
    double gain = 0;
    *wmax = 0;
    for (int o = 0; o < cout; o++) {
        double sq = 0;
        for (int c = 0; c < cin; c++)
            for (int t = 0; t < kk; t++) {
                float w = conv ? l->weight[((size_t)o * cin + c) * kk + t]
                               : l->weight[((size_t)c * cout + o) * kk + t];
                sq += (double)w * w;
                *wmax = fmax(*wmax, fabs(w));
            }
        gain = fmax(gain, sqrt(sq));
    }
    return gain;
}

static void count_near_ties(oracle *o, const net_ref_layer *l, double e) {
    const layer_step *s = l->step;
    shape4 xs = l->in_shape[0];
    const pool_params *p = &s->p.pool;
    for (int nc = 0; nc < xs.n * xs.c; nc++)
        for (int oy = 0; oy < s->out.h; oy++)
            for (int ox = 0; ox < s->out.w; ox++) {
                const float *x = l->in[0] + (size_t)nc * xs.h * xs.w;
                double best = -INFINITY, second = -INFINITY;
                for (int y = oy * p->stride; y < CLSEG_MIN(oy * p->stride + p->k, xs.h); y++)
                    for (int xx = ox * p->stride; xx < CLSEG_MIN(ox * p->stride + p->k, xs.w);
                         xx++) {
                        double v = x[(size_t)y * xs.w + xx];
                        if (v > best)
                            second = best, best = v;
                        else if (v > second)
                            second = v;
                    }
                if (best - second <= 2 * e) o->near_ties++;
            }
}

static void observe(void *user, const net_ref_layer *l) {
    oracle *o = user;
    const layer_step *s = l->step;
    op_call c = net_layer_call(o->steps, l->index, o->in, NULL, NULL);
    op_tolerance t = op_desc_get(c.kind)->tolerance(&c, 0);
    size_t nx = shape4_count(l->in_shape[0]), ny = shape4_count(s->out);
    double e = in_err(o, s->in[0]), mx = max_abs(l->in[0], nx), my = max_abs(l->out, ny);
    double gain = 1, scale = mx; /* the op's tolerance is for values of size 1 */
    switch (s->op) {
    case OP_CONV2D:
    case OP_DECONV2D: {
        double wmax;
        gain = weight_gain(l, &wmax);
        scale = mx * wmax;
        break;
    }
    case OP_MAXPOOL:
        if (l->indices) count_near_ties(o, l, e);
        break;
    case OP_CONCAT:
    case OP_ADD:
        e = s->op == OP_ADD ? e + in_err(o, s->in[1]) : fmax(e, in_err(o, s->in[1]));
        scale = fmax(mx, max_abs(l->in[1], shape4_count(l->in_shape[1])));
        break;
    default:
        break;
    }
    /* What the inputs carry, the op's own rounding, and one rounding of values that differ. */
    o->err[l->index] = gain * e + t.atol * scale + t.rtol * my + (e > 0 ? FLT_EPSILON * my : 0);
}

/* ---- the target --------------------------------------------------------------------------- */

static clseg_context *ctx;

/* A context keeps every program it compiled, one per kernel source and set of build defines,
   and the networks here ask for ever new ones (pool windows, strides, tiles): a fresh context
   every so many keeps the process within the fuzzer's memory limit (the on-disk binary cache
   makes the rebuilds cheap). */
#define CONTEXT_MAX_PROGRAMS 128

static void new_context(void) {
    clseg_context_free(ctx);
    const char *dev = getenv("CLSEG_DEVICE");
    clseg_context_options o = {CLSEG_CONTEXT_OPTIONS_INIT, .device = dev && *dev ? dev : "pocl",
                               .tuning_db = ""};
    char err[1024];
    if (clseg_context_create(&ctx, &o, err, sizeof err) != CLSEG_OK) {
        fprintf(stderr, "fuzz_exec: no device: %s\n", err);
        exit(1);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    new_context();
    return 0;
}

static const char *spec_text; /* printed with a finding */

/* With $FUZZ_EXEC_VERBOSE: what each input became and how it fared. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
    if (!getenv("FUZZ_EXEC_VERBOSE")) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

#define FINDING(...)                                                                               \
    do {                                                                                           \
        fprintf(stderr, "fuzz_exec: finding: " __VA_ARGS__);                                       \
        fprintf(stderr, "\nspec:\n%s\n", spec_text);                                               \
        __builtin_trap();                                                                          \
    } while (0)

/* A failed call must leave a message of its own, not an older one. */
static void mark_error(void) {
    ctx_fail(ctx, CLSEG_ERR_INTERNAL, "(fuzz_exec: stale message)");
}
static void check_message(clseg_status st, const char *call) {
    const char *msg = clseg_context_error(ctx);
    if (!msg[0] || strstr(msg, "(fuzz_exec: stale message)"))
        FINDING("%s failed (%s) without a message", call, clseg_status_str(st));
}

/* Random biases and inference BatchNorm statistics, so that the bias and the folding count. */
static void randomize_affine(clseg_model *m, uint64_t seed) {
    for (int t = 0; t < m->n_tensors; t++) {
        model_tensor *T = &m->tensors[t];
        const char *dot = strrchr(T->name, '.');
        if (!dot || (strcmp(dot, ".weight") == 0 && !strstr(T->name, ".bn."))) continue;
        int var = strstr(T->name, "running_var") != NULL,
            gamma = strstr(T->name, "bn.weight") != NULL;
        for (size_t i = 0; i < T->count; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            float u = (float)(seed >> 40) / (float)(1 << 24); /* [0, 1) */
            T->data[i] = var ? 0.5f + 1.5f * u : gamma ? 0.5f + u : u - 0.5f;
        }
    }
}

static void fill_input(float *x, size_t n, uint64_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = 4.0f * (float)(seed >> 40) / (float)(1 << 24) - 2.0f;
    }
}

/* Every value within the bound, or a mismatch that a near-tie explains. With
   $FUZZ_EXEC_VERBOSE, says how close to the bound the largest difference came. */
static void compare(const float *got, const float *want, size_t n, double tol, int near_ties) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        worst = fmax(worst, d);
        if (d <= tol) continue;
        if (near_ties && isfinite(got[i])) {
            say("outcome: a mismatch near %d tied max-pool windows (the layer check decides)",
                near_ties);
            return;
        }
        FINDING("output %zu of %zu is %.9g, the reference %.9g (bound %.3g)", i, n, got[i], want[i],
                tol);
    }
    say("outcome: %zu values match, largest difference %.3g = %.3g of the bound, which is %.3g "
        "of the largest value",
        n, worst, worst / tol, tol / fmax(max_abs(want, n), FLT_MIN));
}

/* Every layer against its op's reference on the device's own inputs (clseg_net_check_layers), at
   the op's tolerance: small errors that later layers hide, and what an end-to-end mismatch near a
   tied max-pool window was (a swap is not a layer failure). */
static void check_layers(clseg_net *net, const float *x, shape4 in) {
    int n = clseg_net_layer_count(net);
    clseg_layer_check *r = calloc((size_t)n, sizeof *r);
    if (!r) return;
    clseg_status st = clseg_net_check_layers(net, x, in.n, in.h, in.w, r, n);
    if (st != CLSEG_OK) FINDING("clseg_net_check_layers: %s", clseg_context_error(ctx));
    for (int i = 0; i < n; i++)
        if (!r[i].pass)
            FINDING("layer %d (%s, %s %s): %llu of %llu values beyond atol %g rtol %g, worst %.9g "
                    "for %.9g at %d,%d,%d,%d",
                    i, r[i].info.name, r[i].info.op, r[i].info.variant,
                    (unsigned long long)r[i].failures, (unsigned long long)r[i].elements, r[i].atol,
                    r[i].rtol, r[i].worst_got, r[i].worst_want, r[i].worst_index[0],
                    r[i].worst_index[1], r[i].worst_index[2], r[i].worst_index[3]);
    free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bytes b = {data, size, 0};
    netgen *g = calloc(1, sizeof *g);
    layer_step *steps = calloc(SPEC_MAX_LAYERS, sizeof *steps);
    oracle *o = calloc(1, sizeof *o);
    float *x = NULL, *want = NULL, *got = NULL;
    clseg_model *m = NULL;
    clseg_net *net = NULL;
    if (!g || !steps || !o) goto done;
    if (ctx->n_programs > CONTEXT_MAX_PROGRAMS) new_context();
    g->b = &b;
    shape4 in = generate(g);
    int memory_planning = take(&b, 4) != 0; /* off: every tensor in its own buffer */
    spec_text = g->text;
    say("input %dx%dx%dx%d%s\n%s", in.n, in.c, in.h, in.w,
        memory_planning ? "" : ", memory planning off", g->text);
    uint64_t seed = 1;
    for (size_t i = 0; i < size; i++) seed = seed * 131 + data[i];

    char err[1024] = "";
    clseg_status st = model_init(g->text, g->classes, seed, NULL, NULL, &m, err, sizeof err);
    if (st != CLSEG_OK) {
        if (!err[0]) FINDING("model_init failed without a message");
        if (!g->chaos) FINDING("model_init rejected a generated spec: %s", err);
        say("outcome: model_init refused: %s", err);
        goto done;
    }
    randomize_affine(m, seed);

    int K = g->classes, last = m->spec.n_layers - 1;
    int ref_ok = net_plan(&m->spec, K, in, steps, err, sizeof err) == CLSEG_OK;
    if (!ref_ok && !g->chaos) FINDING("a generated spec does not run at its size: %s", err);
    for (int i = 0; ref_ok && i <= last; i++)
        if (shape4_count(steps[i].out) > ((size_t)1 << 22)) goto done; /* chaos grew too large */
    size_t plane_out = (size_t)in.n * K * in.h * in.w;
    size_t count = ref_ok ? shape4_count(steps[last].out) : plane_out;
    x = malloc(shape4_count(in) * sizeof *x);
    want = malloc(count * sizeof *want);
    if (!x || !want) goto done;
    fill_input(x, shape4_count(in), seed);
    o->steps = steps;
    o->in = in;
    if (ref_ok) {
        st = net_reference_forward_observed(m, x, in, want, observe, o, err, sizeof err);
        if (st != CLSEG_OK) FINDING("reference forward: %s", err);
    }

    mark_error();
    st = clseg_net_create(&net, ctx, m);
    if (st != CLSEG_OK) {
        check_message(st, "clseg_net_create");
        /* A net is checked at the sizes it runs at, not when it is created. */
        if (ref_ok && st != CLSEG_ERR_OUT_OF_MEMORY)
            FINDING("clseg_net_create: %s", clseg_context_error(ctx));
        say("outcome: clseg_net_create refused: %s", clseg_context_error(ctx));
        goto done;
    }

    if (!memory_planning && clseg_net_set_memory_planning(net, 0) != CLSEG_OK)
        FINDING("clseg_net_set_memory_planning: %s", clseg_context_error(ctx));
    shape4 out = ref_ok ? steps[last].out : (shape4){in.n, K, in.h, in.w};
    int same_size = out.h == in.h && out.w == in.w;
    /* Exactly the values the call may write: ASan sees one more. */
    got = malloc(count * sizeof *got);
    if (!got) goto done;
    mark_error();
    if (!ref_ok) {
        int shape[4];
        st = clseg_net_output_shape(net, in.n, in.h, in.w, shape);
        if (st == CLSEG_OK) FINDING("an output shape for a size the reference cannot run");
        check_message(st, "clseg_net_output_shape");
        mark_error();
        st = clseg_net_forward(net, x, in.n, in.h, in.w, got);
        if (st == CLSEG_OK) FINDING("forward ran a spec the reference cannot run at this size");
        check_message(st, "clseg_net_forward");
        say("outcome: clseg_net_forward refused: %s", clseg_context_error(ctx));
        goto done;
    }
    double tol = 4 * o->err[last] + FLT_MIN;
    if (same_size) {
        st = clseg_net_forward(net, x, in.n, in.h, in.w, got);
        if (st != CLSEG_OK) FINDING("clseg_net_forward: %s", clseg_context_error(ctx));
        compare(got, want, count, tol, o->near_ties);
    } else {
        int shape[4];
        st = clseg_net_output_shape(net, in.n, in.h, in.w, shape);
        if (st != CLSEG_OK) FINDING("clseg_net_output_shape: %s", clseg_context_error(ctx));
        if (shape[0] != out.n || shape[1] != out.c || shape[2] != out.h || shape[3] != out.w)
            FINDING("clseg_net_output_shape says %dx%dx%dx%d, the plan %dx%dx%dx%d", shape[0],
                    shape[1], shape[2], shape[3], out.n, out.c, out.h, out.w);
        /* clseg_net_forward writes n x K x H x W values or refuses; here it must refuse. */
        float *small = malloc(plane_out * sizeof *small);
        mark_error();
        st = small ? clseg_net_forward(net, x, in.n, in.h, in.w, small) : CLSEG_ERR_OUT_OF_MEMORY;
        free(small);
        if (st == CLSEG_OK) FINDING("clseg_net_forward accepted a net whose output size differs");
        check_message(st, "clseg_net_forward");
        mark_error();
        st = clseg_net_forward_into(net, x, in.n, in.h, in.w, got, count - 1);
        if (st == CLSEG_OK)
            FINDING("clseg_net_forward_into wrote %zu values into %zu", count, count - 1);
        check_message(st, "clseg_net_forward_into");
        st = clseg_net_forward_into(net, x, in.n, in.h, in.w, got, count);
        if (st != CLSEG_OK) FINDING("clseg_net_forward_into: %s", clseg_context_error(ctx));
        compare(got, want, count, tol, o->near_ties);
        /* Segmentation needs one score per input pixel: refused, the labels untouched. */
        if (in.c == 3 && in.n == 1) {
            size_t plane = (size_t)in.h * in.w;
            uint8_t *rgb = calloc(plane * 3, 1), *labels = malloc(plane);
            if (rgb && labels) {
                memset(labels, 0xa5, plane);
                mark_error();
                st = clseg_net_segment(net, rgb, in.w, in.h, labels);
                if (st == CLSEG_OK) FINDING("segment ran a net whose output size differs");
                check_message(st, "clseg_net_segment");
                for (size_t i = 0; i < plane; i++)
                    if (labels[i] != 0xa5) FINDING("a refused segment wrote label %zu", i);
            }
            free(rgb);
            free(labels);
        }
    }
    check_layers(net, x, in);

    /* Segmentation's argmax, where the reference's best class leads by more than the bound. */
    if (same_size && in.c == 3 && in.n == 1 && K > 1) {
        size_t plane = (size_t)in.h * in.w;
        uint8_t *rgb = malloc(plane * 3), *labels = malloc(plane);
        float *xn = malloc(plane * 3 * sizeof *xn);
        if (rgb && labels && xn) {
            for (size_t i = 0; i < plane * 3; i++) rgb[i] = (uint8_t)(seed >> (i % 57));
            net_normalize_rgb(rgb, in.w, in.h, m->mean, m->std, xn);
            o->near_ties = 0;
            st = net_reference_forward_observed(m, xn, in, want, observe, o, err, sizeof err);
            if (st != CLSEG_OK) FINDING("reference forward: %s", err);
            tol = 4 * o->err[last] + FLT_MIN;
            st = clseg_net_segment(net, rgb, in.w, in.h, labels);
            if (st != CLSEG_OK) FINDING("clseg_net_segment: %s", clseg_context_error(ctx));
            for (size_t i = 0; i < plane && !o->near_ties; i++) {
                int best = 0;
                double second = -INFINITY;
                for (int c = 1; c < K; c++) {
                    double v = want[c * plane + i];
                    if (v > want[best * plane + i])
                        second = want[best * plane + i], best = c;
                    else
                        second = fmax(second, v);
                }
                if (want[best * plane + i] - second > 2 * tol && labels[i] != best)
                    FINDING("pixel %zu labelled %d, the reference's best class is %d", i, labels[i],
                            best);
            }
        }
        free(rgb);
        free(labels);
        free(xn);
    }

done:
    clseg_net_free(net);
    clseg_model_free(m);
    free(x);
    free(want);
    free(got);
    free(g);
    free(steps);
    free(o);
    return 0;
}
