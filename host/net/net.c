/* net.c - the network executor: uploads folded weights, plans activations for an input size
   (sharing device buffers by liveness), runs the layers' ops on the device, and times them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ops/desc.h"
#include "../tune/select.h"
#include "../tune/tunedb.h"
#include "exec.h"
#include "fold.h"
#include "net_internal.h"

static void release(cl_mem *m) {
    if (*m) clReleaseMemObject(*m);
    *m = NULL;
}

static void free_activations(clseg_net *net) {
    /* OpenCL defers releasing a buffer that queued commands use; PoCL 3.1 has freed a bad pointer
       doing so (net_free), so asynchronous frames finish first. */
    if (net->frames_in_flight) ctx_finish(net->ctx);
    for (int i = 0; i < net->spec.n_layers; i++) {
        net->bufs[i].out = NULL;
        net->bufs[i].indices = NULL;
    }
    for (int s = 0; s < net->plan.n_slots; s++) release(&net->slots[s]);
    net->plan.n_slots = 0;
    release(&net->input);
    release(&net->labels);
    net->activation_bytes = 0;
    net->scratch_needed = 0;
    net->in_shape = (shape4){0, 0, 0, 0};
}

static void net_free(clseg_net *net) {
    if (!net) return;
    /* After a failed forward, kernels already enqueued may still use these buffers; OpenCL lets
       them be released anyway, but PoCL 3.1 once freed a bad pointer doing so (under fault
       injection, docs/reliability.md). */
    ctx_finish(net->ctx);
    net_frames_free(net);
    free_activations(net);
    for (int i = 0; i < net->spec.n_layers; i++) {
        release(&net->bufs[i].weight);
        release(&net->bufs[i].bias);
    }
    free(net->staging);
    free(net);
}

void clseg_net_free(clseg_net *net) {
    if (!net) return;
    clseg_context *ctx = net->ctx;
    pthread_mutex_lock(&ctx->lock);
    net_free(net);
    pthread_mutex_unlock(&ctx->lock);
}

uint64_t clseg_net_device_bytes(const clseg_net *net) {
    if (!net) return 0;
    pthread_mutex_lock(&net->ctx->lock);
    uint64_t bytes = net->weight_bytes + net->activation_bytes;
    pthread_mutex_unlock(&net->ctx->lock);
    return bytes;
}

static clseg_status create(clseg_net **out, clseg_context *ctx, const clseg_model *model) {
    if (!out || !model)
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "clseg_net_create: %s is NULL",
                        out ? "model" : "out");
    *out = NULL;
    clseg_net *net = clseg_calloc(1, sizeof *net);
    if (!net) return ctx_fail(ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    net->ctx = ctx;
    net->spec = model->spec;
    net->classes = model->classes;
    net->channels = model->channels;
    net->test_flip = model->spec.test_flip;
    memcpy(net->mean, model->mean, sizeof net->mean);
    memcpy(net->std, model->std, sizeof net->std);

    int channels[SPEC_MAX_LAYERS];
    clseg_status st =
        spec_channels(&net->spec, net->classes, channels, ctx->error, sizeof ctx->error);
    for (int i = 0; st == CLSEG_OK && i < net->spec.n_layers; i++) {
        const spec_layer *L = &net->spec.layers[i];
        if (L->type != LAYER_CONV && L->type != LAYER_DECONV) continue;
        int cin = L->inputs[0] == SPEC_INPUT ? net->channels : channels[L->inputs[0]];
        if (L->type == LAYER_CONV) cin /= CLSEG_MAX(L->groups, 1); /* weight [cout][cin/g] */
        float *w = NULL, *b = NULL;
        st = fold_layer(model, i, cin, channels[i], &w, &b, ctx->error, sizeof ctx->error);
        if (st != CLSEG_OK) break;
        size_t wbytes = (size_t)cin * channels[i] * L->size * L->size * sizeof(float);
        size_t bbytes = (size_t)channels[i] * sizeof(float);
        st = ctx_buffer(ctx, wbytes, w, &net->bufs[i].weight);
        if (st == CLSEG_OK) st = ctx_buffer(ctx, bbytes, b, &net->bufs[i].bias);
        net->weight_bytes += wbytes + bbytes;
        free(w);
        free(b);
    }
    /* Compile what the network needs now, at a nominal size it accepts (64x64, or the nearest
       accepted one: a network may take only multiples of its strides), so start-up cost is paid
       here. A network that takes no size up to the probe limit is still created: its sizes are
       checked where it runs. */
    if (st == CLSEG_OK) {
        char sizes[160];
        int side =
            net_accepted_sizes(&net->spec, net->classes, net->channels, 64, sizes, sizeof sizes);
        if (side > 0) st = net_prepare(net, 1, side, side);
    }
    if (st != CLSEG_OK) {
        net_free(net);
        return st;
    }
    *out = net;
    return CLSEG_OK;
}

clseg_status clseg_net_create(clseg_net **out, clseg_context *ctx, const clseg_model *model) {
    if (out) *out = NULL;
    if (!ctx) return CLSEG_ERR_INVALID_ARGUMENT;
    return CTX_LOCKED(ctx, create(out, ctx, model));
}

op_call net_step_call(const clseg_net *net, int i) {
    return net_layer_call(net->steps, i, net->in_shape, net->input, net->bufs);
}

static op_call argmax_call(const clseg_net *net) {
    return net_argmax_call(net->steps, net->spec.n_layers, net->bufs, net->labels);
}

/* Plans the activations of the current steps; with the planner off, still works out what it
   would have saved (clseg_net_memory_stats reports both). */
static clseg_status plan_memory(clseg_net *net) {
    memplan_build(net->steps, net->spec.n_layers, !net->no_memplan, &net->plan);
    net->planned_bytes = net->plan.total_bytes;
    if (net->no_memplan) {
        memplan *p = clseg_malloc(sizeof *p);
        if (!p) return ctx_fail(net->ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
        memplan_build(net->steps, net->spec.n_layers, 1, p);
        net->planned_bytes = p->total_bytes;
        free(p);
    }
    return CLSEG_OK;
}

static clseg_status alloc_activations(clseg_net *net) {
    clseg_context *ctx = net->ctx;
    shape4 in = net->in_shape;
    clseg_status st = ctx_buffer(ctx, shape4_count(in) * 4, NULL, &net->input);
    if (st == CLSEG_OK) st = ctx_buffer(ctx, (size_t)in.n * in.h * in.w * 4, NULL, &net->labels);
    for (int s = 0; st == CLSEG_OK && s < net->plan.n_slots; s++)
        st = ctx_buffer(ctx, (size_t)net->plan.slot_bytes[s], NULL, &net->slots[s]);
    if (st != CLSEG_OK) return st;
    for (int i = 0; i < net->spec.n_layers; i++) {
        net->bufs[i].out = net->slots[net->plan.t[net->plan.out_tensor[i]].slot];
        int ix = net->plan.idx_tensor[i];
        net->bufs[i].indices = ix >= 0 ? net->slots[net->plan.t[ix].slot] : NULL;
    }
    return CLSEG_OK;
}

clseg_status net_prepare(clseg_net *net, int n, int height, int width) {
    clseg_context *ctx = net->ctx;
    if (n < 1 || height < 1 || width < 1)
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "input %dx%dx%d: sizes must be >= 1", n,
                        width, height);
    shape4 in = {n, net->channels, height, width};
    if (memcmp(&in, &net->in_shape, sizeof in) == 0) return CLSEG_OK;
    if (height > CLSEG_MAX_DIM || width > CLSEG_MAX_DIM || n > 4096)
        return ctx_fail(ctx, CLSEG_ERR_TOO_LARGE, "input %dx%dx%d is absurdly large", n, width,
                        height);
    free_activations(net);
    clseg_status st =
        net_plan(&net->spec, net->classes, in, net->steps, ctx->error, sizeof ctx->error);
    if (st == CLSEG_OK) st = plan_memory(net);
    if (st != CLSEG_OK) return st;

    /* The choices depend on the shapes only (the buffers are still NULL), and fix how much
       scratch the forward will need. */
    net->in_shape = in;
    uint64_t scratch = 0;
    for (int i = 0; st == CLSEG_OK && i <= net->spec.n_layers; i++) {
        op_call c = i < net->spec.n_layers ? net_step_call(net, i) : argmax_call(net);
        op_choice *ch = i < net->spec.n_layers ? &net->choices[i] : &net->argmax_choice;
        st = tune_select(ctx, &c, ch);
        if (st == CLSEG_OK)
            scratch = CLSEG_MAX(scratch, op_choice_scratch_bytes(&ctx->info, &c, ch));
    }
    net->in_shape = (shape4){0, 0, 0, 0};
    if (st != CLSEG_OK) return st;

    /* Check the whole footprint against the device before allocating anything. */
    uint64_t total = shape4_count(in) * 4 + (uint64_t)n * height * width * 4, largest = 0;
    total += net->plan.total_bytes;
    for (int t = 0; t < net->plan.n_tensors; t++)
        largest = CLSEG_MAX(largest, net->plan.t[t].bytes);
    if (largest > ctx->info.max_alloc_bytes ||
        total + net->weight_bytes + scratch > ctx->info.global_mem_bytes)
        return ctx_fail(ctx, CLSEG_ERR_TOO_LARGE,
                        "a %dx%d input (batch %d) needs %.1f MiB of device memory (%.1f MiB of it "
                        "scratch), largest buffer %.1f MiB; %s has %.1f MiB, at most %.1f MiB per "
                        "buffer",
                        width, height, n, (total + net->weight_bytes + scratch) / 1048576.0,
                        scratch / 1048576.0, largest / 1048576.0, ctx->info.name,
                        ctx->info.global_mem_bytes / 1048576.0,
                        ctx->info.max_alloc_bytes / 1048576.0);
    net->in_shape = in;
    st = alloc_activations(net);
    if (st != CLSEG_OK) {
        free_activations(net);
        return st;
    }
    net->activation_bytes = total;
    net->scratch_needed = scratch;
    for (int i = 0; st == CLSEG_OK && i <= net->spec.n_layers; i++) {
        op_call c = i < net->spec.n_layers ? net_step_call(net, i) : argmax_call(net);
        op_choice *ch = i < net->spec.n_layers ? &net->choices[i] : &net->argmax_choice;
        /* Said with each program built now: start-up reports show what each compile was for. */
        snprintf(ctx->program_reason, sizeof ctx->program_reason, "%s: %s %s",
                 i < net->spec.n_layers ? net->spec.layers[i].name : "output", op_kind_name(c.kind),
                 ch->variant ? ch->variant->name : "?");
        st = op_prepare_choice(ctx, &c, ch);
    }
    ctx->program_reason[0] = 0;
    if (st != CLSEG_OK) free_activations(net);
    return st;
}

/* Kernel launches of one profiled forward, tagged with the layer that issued them. */
typedef struct launch_log {
    int layer;
    double *host_ms; /* CLSEG_LAYER_TIMING_HOST: each layer's wall clock, with a finish after it */
    cl_event *events;
    int *layers;
    size_t n, cap;
    int overflow; /* a launch could not be recorded (out of memory) */
} launch_log;

static void record_launch(void *user, const char *kernel, cl_event ev) {
    (void)kernel;
    launch_log *log = user;
    if (log->n == log->cap) {
        size_t cap = log->cap ? 2 * log->cap : 64;
        cl_event *e = clseg_realloc(log->events, cap * sizeof *e);
        if (e) log->events = e;
        int *l = e ? clseg_realloc(log->layers, cap * sizeof *l) : NULL;
        if (l) log->layers = l;
        if (!e || !l) {
            log->overflow = 1;
            return;
        }
        log->cap = cap;
    }
    if (clRetainEvent(ev) != CL_SUCCESS) {
        log->overflow = 1;
        return;
    }
    log->events[log->n] = ev;
    log->layers[log->n++] = log->layer;
}

static clseg_status run_layers(clseg_net *net, launch_log *log) {
    for (int i = 0; i < net->spec.n_layers; i++) {
        if (log) log->layer = i;
        double t0 = clseg_now_ms();
        op_call c = net_step_call(net, i);
        clseg_status st = op_run_choice(net->ctx, &c, &net->choices[i]);
        if (st == CLSEG_OK && log && log->host_ms) {
            st = ctx_finish(net->ctx);
            log->host_ms[i] = clseg_now_ms() - t0;
        }
        if (st != CLSEG_OK) return st;
    }
    return CLSEG_OK;
}

clseg_status clseg_net_prepare(clseg_net *net, int n, int height, int width) {
    if (!net) return CLSEG_ERR_INVALID_ARGUMENT;
    return CTX_LOCKED(net->ctx, net_prepare(net, n, height, width));
}

/* The output shape of the last layer for an n x height x width input (the net prepared for it). */
static clseg_status output_shape(clseg_net *net, int n, int height, int width, shape4 *out) {
    clseg_status st = net_prepare(net, n, height, width);
    if (st == CLSEG_OK) *out = net->steps[net->spec.n_layers - 1].out;
    return st;
}

/* For the calls whose output is laid out like the input (logits n x K x H x W, a label map). */
static clseg_status require_input_sized(clseg_net *net, const char *call, int n, int height,
                                        int width) {
    shape4 y;
    clseg_status st = output_shape(net, n, height, width, &y);
    if (st != CLSEG_OK) return st;
    if (y.n == n && y.h == height && y.w == width && y.c == net->classes) return CLSEG_OK;
    return ctx_fail(net->ctx, CLSEG_ERR_UNSUPPORTED,
                    "%s: this network's output for a %dx%d input is %dx%dx%d, not %dx%dx%d "
                    "(classes x height x width); use clseg_net_output_shape and "
                    "clseg_net_forward_into",
                    call, width, height, y.c, y.w, y.h, net->classes, width, height);
}

static clseg_status forward(clseg_net *net, const float *input, int n, int height, int width,
                            float *logits, launch_log *log) {
    clseg_context *ctx = net->ctx;
    clseg_status st = net_prepare(net, n, height, width);
    if (st == CLSEG_OK) st = ctx_write(ctx, net->input, 0, shape4_count(net->in_shape) * 4, input);
    if (st == CLSEG_OK) {
        void (*hook)(void *, const char *, cl_event) = ctx->on_launch;
        void *hook_user = ctx->on_launch_user;
        if (log && !log->host_ms) {
            ctx->on_launch = record_launch;
            ctx->on_launch_user = log;
        }
        st = run_layers(net, log);
        ctx->on_launch = hook;
        ctx->on_launch_user = hook_user;
    }
    if (st == CLSEG_OK) {
        int last = net->spec.n_layers - 1;
        st = ctx_read(ctx, net->bufs[last].out, 0, shape4_count(net->steps[last].out) * 4, logits);
    }
    return st;
}

static clseg_status forward_checked(clseg_net *net, const float *input, int n, int height,
                                    int width, float *logits) {
    if (!input || !logits)
        return ctx_fail(net->ctx, CLSEG_ERR_INVALID_ARGUMENT, "clseg_net_forward: %s is NULL",
                        input ? "logits" : "input");
    clseg_status st = require_input_sized(net, "clseg_net_forward", n, height, width);
    return st == CLSEG_OK ? forward(net, input, n, height, width, logits, NULL) : st;
}

clseg_status clseg_net_forward(clseg_net *net, const float *input, int n, int height, int width,
                               float *logits) {
    if (!net) return CLSEG_ERR_INVALID_ARGUMENT;
    return CTX_LOCKED(net->ctx, forward_checked(net, input, n, height, width, logits));
}

static clseg_status shape_of(clseg_net *net, int n, int height, int width, int out[4]) {
    if (!out)
        return ctx_fail(net->ctx, CLSEG_ERR_INVALID_ARGUMENT,
                        "clseg_net_output_shape: out is NULL");
    shape4 y;
    clseg_status st = output_shape(net, n, height, width, &y);
    if (st != CLSEG_OK) return st;
    out[0] = y.n;
    out[1] = y.c;
    out[2] = y.h;
    out[3] = y.w;
    return CLSEG_OK;
}

clseg_status clseg_net_output_shape(clseg_net *net, int n, int height, int width, int out[4]) {
    if (!net) return CLSEG_ERR_INVALID_ARGUMENT;
    return CTX_LOCKED(net->ctx, shape_of(net, n, height, width, out));
}

static clseg_status forward_into(clseg_net *net, const float *input, int n, int height, int width,
                                 float *out, size_t capacity) {
    if (!input || !out)
        return ctx_fail(net->ctx, CLSEG_ERR_INVALID_ARGUMENT, "clseg_net_forward_into: %s is NULL",
                        input ? "out" : "input");
    shape4 y;
    clseg_status st = output_shape(net, n, height, width, &y);
    if (st != CLSEG_OK) return st;
    if (shape4_count(y) > capacity)
        return ctx_fail(net->ctx, CLSEG_ERR_INVALID_ARGUMENT,
                        "clseg_net_forward_into: the output is %dx%dx%dx%d = %zu floats, the "
                        "buffer holds %zu",
                        y.n, y.c, y.h, y.w, shape4_count(y), capacity);
    return forward(net, input, n, height, width, out, NULL);
}

clseg_status clseg_net_forward_into(clseg_net *net, const float *input, int n, int height,
                                    int width, float *out, size_t capacity) {
    if (!net) return CLSEG_ERR_INVALID_ARGUMENT;
    return CTX_LOCKED(net->ctx, forward_into(net, input, n, height, width, out, capacity));
}

static clseg_status forward_profiled(clseg_net *net, const float *input, int n, int height,
                                     int width, float *logits, double *layer_ms,
                                     clseg_layer_timing timing) {
    clseg_context *ctx = net->ctx;
    if (!input || !logits || !layer_ms)
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "clseg_net_forward_profiled: %s is NULL",
                        !input    ? "input"
                        : !logits ? "logits"
                                  : "layer_ms");
    clseg_status st0 = require_input_sized(net, "clseg_net_forward_profiled", n, height, width);
    if (st0 != CLSEG_OK) return st0;
    launch_log log = {0};
    if (timing == CLSEG_LAYER_TIMING_HOST) {
        for (int i = 0; i < net->spec.n_layers; i++) layer_ms[i] = 0;
        log.host_ms = layer_ms;
        return forward(net, input, n, height, width, logits, &log);
    }
    if (timing != CLSEG_LAYER_TIMING_EVENTS)
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT, "unknown layer timing %d", (int)timing);
    if (!ctx->profiling)
        return ctx_fail(ctx, CLSEG_ERR_INVALID_ARGUMENT,
                        "per-layer timing needs a context created with enable_profiling");
    clseg_status st = forward(net, input, n, height, width, logits, &log);
    if (st == CLSEG_OK) st = ctx_finish(ctx);
    if (st == CLSEG_OK && log.overflow)
        st = ctx_fail(ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory recording kernel events");
    for (int i = 0; i < net->spec.n_layers; i++) layer_ms[i] = 0;
    for (size_t k = 0; k < log.n; k++) {
        cl_ulong t0 = 0, t1 = 0;
        cl_int e = CL_SUCCESS;
        if (st == CLSEG_OK)
            e = clGetEventProfilingInfo(log.events[k], CL_PROFILING_COMMAND_START, sizeof t0, &t0,
                                        NULL);
        if (st == CLSEG_OK && e == CL_SUCCESS)
            e = clGetEventProfilingInfo(log.events[k], CL_PROFILING_COMMAND_END, sizeof t1, &t1,
                                        NULL);
        if (st == CLSEG_OK && e != CL_SUCCESS) st = ctx_cl_fail(ctx, e, "clGetEventProfilingInfo");
        if (st == CLSEG_OK && t1 > t0) layer_ms[log.layers[k]] += (double)(t1 - t0) / 1e6;
        clReleaseEvent(log.events[k]);
    }
    free(log.events);
    free(log.layers);
    return st;
}

clseg_status clseg_net_forward_profiled(clseg_net *net, const float *input, int n, int height,
                                        int width, float *logits, double *layer_ms,
                                        clseg_layer_timing timing) {
    if (!net) return CLSEG_ERR_INVALID_ARGUMENT;
    return CTX_LOCKED(net->ctx,
                      forward_profiled(net, input, n, height, width, logits, layer_ms, timing));
}

/* Test-time flip: the class scores of x and of its horizontal mirror, mirrored back and summed,
   then the argmax on the host (ties: the lowest class, as the argmax kernel). */
clseg_status net_segment_flipped(clseg_net *net, float *x, int width, int height, uint8_t *labels) {
    const size_t plane = (size_t)width * height, k = (size_t)net->classes;
    const int last = net->spec.n_layers - 1;
    float *scores = clseg_malloc(2 * k * plane * sizeof *scores);
    if (!scores) return ctx_fail(net->ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    clseg_status st = CLSEG_OK;
    for (int pass = 0; pass < 2 && st == CLSEG_OK; pass++) {
        if (pass == 1)
            for (size_t row = 0; row < 3 * (size_t)height; row++)
                for (int a = 0, b = width - 1; a < b; a++, b--) {
                    float t = x[row * width + a];
                    x[row * width + a] = x[row * width + b];
                    x[row * width + b] = t;
                }
        st = ctx_write(net->ctx, net->input, 0, plane * 3 * sizeof *x, x);
        if (st == CLSEG_OK) st = run_layers(net, NULL);
        if (st == CLSEG_OK)
            st = ctx_read(net->ctx, net->bufs[last].out, 0, k * plane * sizeof *scores,
                          scores + (size_t)pass * k * plane);
    }
    const float *a = scores, *m = scores + k * plane;
    for (int y = 0; st == CLSEG_OK && y < height; y++)
        for (int xx = 0; xx < width; xx++) {
            size_t i = (size_t)y * width + xx, j = (size_t)y * width + (width - 1 - xx);
            int best = 0;
            float best_v = a[i] + m[j];
            for (size_t c = 1; c < k; c++) {
                float v = a[c * plane + i] + m[c * plane + j];
                if (v > best_v) best_v = v, best = (int)c;
            }
            labels[i] = (uint8_t)best;
        }
    free(scores);
    return st;
}

clseg_status net_segment_check(clseg_net *net, const char *call, const uint8_t *rgb, int width,
                               int height, const uint8_t *labels) {
    if (!rgb || !labels)
        return ctx_fail(net->ctx, CLSEG_ERR_INVALID_ARGUMENT, "%s: %s is NULL", call,
                        rgb ? "labels" : "rgb");
    if (net->channels != 3)
        return ctx_fail(net->ctx, CLSEG_ERR_UNSUPPORTED,
                        "model expects %d input channels, segment() feeds RGB", net->channels);
    return require_input_sized(net, call, 1, height, width);
}

clseg_status net_segment_enqueue(clseg_net *net, const float *x, int32_t *lab, cl_event *done) {
    const size_t plane = (size_t)net->in_shape.h * (size_t)net->in_shape.w;
    if (done) *done = NULL;
    cl_int e = clEnqueueWriteBuffer(net->ctx->queue, net->input, done ? CL_FALSE : CL_TRUE, 0,
                                    plane * 3 * sizeof *x, x, 0, NULL, NULL);
    if (e != CL_SUCCESS) return ctx_cl_fail(net->ctx, e, "clEnqueueWriteBuffer");
    clseg_status st = run_layers(net, NULL);
    if (st == CLSEG_OK) {
        op_call c = argmax_call(net);
        st = op_run_choice(net->ctx, &c, &net->argmax_choice);
    }
    if (st != CLSEG_OK) return st;
    e = clEnqueueReadBuffer(net->ctx->queue, net->labels, done ? CL_FALSE : CL_TRUE, 0,
                            plane * sizeof *lab, lab, 0, NULL, done);
    if (e == CL_SUCCESS && done) e = clFlush(net->ctx->queue);
    return e == CL_SUCCESS ? CLSEG_OK : ctx_cl_fail(net->ctx, e, "clEnqueueReadBuffer");
}

static clseg_status segment(clseg_net *net, const uint8_t *rgb, int width, int height,
                            uint8_t *labels) {
    clseg_status st = net_segment_check(net, "clseg_net_segment", rgb, width, height, labels);
    if (st != CLSEG_OK) return st;
    size_t plane = (size_t)width * height;
    float *x = clseg_realloc(net->staging, plane * 3 * sizeof *x);
    if (!x) return ctx_fail(net->ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    net->staging = x;
    net_normalize_rgb(rgb, width, height, net->mean, net->std, x);
    if (net->test_flip) return net_segment_flipped(net, x, width, height, labels);
    int32_t *lab = clseg_malloc(plane * sizeof *lab);
    if (!lab) return ctx_fail(net->ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    /* A blocking read: once it fails or returns, nothing is left to write into lab. */
    st = net_segment_enqueue(net, x, lab, NULL);
    if (st == CLSEG_OK)
        for (size_t i = 0; i < plane; i++) labels[i] = (uint8_t)lab[i];
    free(lab);
    return st;
}

clseg_status clseg_net_segment(clseg_net *net, const uint8_t *rgb, int width, int height,
                               uint8_t *labels) {
    if (!net) return CLSEG_ERR_INVALID_ARGUMENT;
    return CTX_LOCKED(net->ctx, segment(net, rgb, width, height, labels));
}

clseg_status clseg_net_set_test_flip(clseg_net *net, int enabled) {
    if (!net) return CLSEG_ERR_INVALID_ARGUMENT;
    pthread_mutex_lock(&net->ctx->lock);
    net->test_flip = enabled != 0;
    pthread_mutex_unlock(&net->ctx->lock);
    return CLSEG_OK;
}

int clseg_net_test_flip(const clseg_net *net) {
    return net ? net->test_flip : 0;
}

static clseg_status set_memory_planning(clseg_net *net, int enabled) {
    if (net->no_memplan == !enabled) return CLSEG_OK;
    net->no_memplan = !enabled;
    shape4 s = net->in_shape;
    free_activations(net);
    return s.n ? net_prepare(net, s.n, s.h, s.w) : CLSEG_OK;
}

clseg_status clseg_net_set_memory_planning(clseg_net *net, int enabled) {
    if (!net) return CLSEG_ERR_INVALID_ARGUMENT;
    return CTX_LOCKED(net->ctx, set_memory_planning(net, enabled));
}

static void memory_stats(const clseg_net *net, clseg_memory_stats *out) {
    out->weight_bytes = net->weight_bytes;
    out->memory_planning = !net->no_memplan;
    out->scratch_bytes = net->ctx->scratch_bytes;
    if (!net->in_shape.n) return;
    out->activation_bytes = net->plan.total_bytes;
    out->io_bytes = net->activation_bytes - net->plan.total_bytes;
    out->activation_bytes_planned = net->planned_bytes;
    out->activation_bytes_unplanned = net->plan.unplanned_bytes;
    out->activation_bytes_live_peak = net->plan.live_peak_bytes;
    out->activation_buffers = net->plan.n_slots;
    out->scratch_bytes_needed = net->scratch_needed;
}

void clseg_net_memory_stats(const clseg_net *net, clseg_memory_stats *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!net) return;
    pthread_mutex_lock(&net->ctx->lock);
    memory_stats(net, out);
    pthread_mutex_unlock(&net->ctx->lock);
}

int clseg_net_layer_count(const clseg_net *net) {
    return net ? net->spec.n_layers : 0;
}

static const char *source_name(choice_source s) {
    return s == CHOICE_TUNED ? "tuned" : s == CHOICE_CLASS_DEFAULT ? "default" : "generic";
}

clseg_status net_layer_info(const clseg_net *net, int i, clseg_layer_info *out) {
    if (!out || i < 0 || i >= net->spec.n_layers)
        return ctx_fail(net->ctx, CLSEG_ERR_INVALID_ARGUMENT,
                        "clseg_net_layer_info: %s (the net has %d layers)",
                        out ? "no such layer" : "out is NULL", net->spec.n_layers);
    memset(out, 0, sizeof *out);
    const layer_step *s = &net->steps[i];
    const op_choice *ch = &net->choices[i];
    snprintf(out->name, sizeof out->name, "%s", net->spec.layers[i].name);
    snprintf(out->op, sizeof out->op, "%s", op_kind_name(s->op));
    if (!net->in_shape.n || !ch->variant) return CLSEG_OK;
    snprintf(out->variant, sizeof out->variant, "%s", ch->variant->name);
    snprintf(out->source, sizeof out->source, "%s", source_name(ch->source));
    size_t off = 0;
    for (int k = 0; k < ch->variant->n_params && off < sizeof out->params; k++) {
        int w = snprintf(out->params + off, sizeof out->params - off, "%s%s=%d", off ? " " : "",
                         ch->variant->params[k].name, ch->cfg.v[k]);
        if (w < 0) break;
        off += (size_t)w;
    }
    out->out_shape[0] = s->out.n;
    out->out_shape[1] = s->out.c;
    out->out_shape[2] = s->out.h;
    out->out_shape[3] = s->out.w;

    op_call c = net_step_call(net, i);
    op_desc_get(c.kind)->cost(&c, &out->flop, &out->bytes);
    return CLSEG_OK;
}

clseg_status clseg_net_layer_info(const clseg_net *net, int i, clseg_layer_info *out) {
    if (!net) return CLSEG_ERR_INVALID_ARGUMENT;
    return CTX_LOCKED(net->ctx, net_layer_info(net, i, out));
}

clseg_status net_layer_signature(const clseg_net *net, int i, char *buf, size_t len) {
    if (!net || !buf || i < 0 || i >= net->spec.n_layers || !net->in_shape.n)
        return CLSEG_ERR_INVALID_ARGUMENT;
    op_call c = net_step_call(net, i);
    op_signature(&c, buf, len);
    return CLSEG_OK;
}
