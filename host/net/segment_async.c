/* segment_async.c - clseg_net_segment_async / clseg_net_wait: frames in flight on the queue
   while the caller decodes the next image or encodes the last result. */
#include <string.h>

#include "net_internal.h"
#include "exec.h"

static net_frame *frame_at(clseg_net *net, int k) {
    return &net->frames[(net->frame_head + k) % NET_MAX_IN_FLIGHT];
}

static clseg_status submit(clseg_net *net, const uint8_t *rgb, int width, int height,
                           uint8_t *labels) {
    if (net->frames_in_flight == NET_MAX_IN_FLIGHT)
        return ctx_fail(net->ctx, CLSEG_ERR_INVALID_ARGUMENT,
                        "clseg_net_segment_async: %d frames are in flight already; "
                        "clseg_net_wait for one first",
                        NET_MAX_IN_FLIGHT);
    if (net->frames_in_flight && (net->in_shape.w != width || net->in_shape.h != height))
        return ctx_fail(net->ctx, CLSEG_ERR_INVALID_ARGUMENT,
                        "clseg_net_segment_async: %dx%d while frames of %dx%d are in flight; "
                        "clseg_net_wait for them first",
                        width, height, net->in_shape.w, net->in_shape.h);
    clseg_status st = net_segment_check(net, "clseg_net_segment_async", rgb, width, height, labels);
    if (st != CLSEG_OK) return st;
    net_frame *f = frame_at(net, net->frames_in_flight);
    const size_t plane = (size_t)width * (size_t)height;
    if (f->plane < plane) {
        float *x = clseg_realloc(f->x, plane * 3 * sizeof *x);
        if (x) f->x = x;
        int32_t *lab = x ? clseg_realloc(f->lab, plane * sizeof *lab) : NULL;
        if (lab) f->lab = lab;
        if (!x || !lab) return ctx_fail(net->ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
        f->plane = plane;
    }
    f->labels = labels;
    f->done = NULL;
    net_normalize_rgb(rgb, width, height, net->mean, net->std, f->x);
    if (net->test_flip)
        st = net_segment_flipped(net, f->x, width, height, labels);
    else
        st = net_segment_enqueue(net, f->x, f->lab, &f->done);
    if (st != CLSEG_OK) {
        ctx_finish(net->ctx); /* the upload from f->x may still be queued */
        if (f->done) clReleaseEvent(f->done);
        f->done = NULL;
        return st;
    }
    net->frames_in_flight++;
    return CLSEG_OK;
}

/* Finishes the oldest frame: its labels into the caller's buffer. */
static clseg_status wait_oldest(clseg_net *net, uint8_t **labels_out) {
    net_frame *f = frame_at(net, 0);
    clseg_status st = CLSEG_OK;
    if (f->done) {
        cl_int e = clWaitForEvents(1, &f->done);
        clReleaseEvent(f->done);
        f->done = NULL;
        if (e != CL_SUCCESS) st = ctx_cl_fail(net->ctx, e, "clWaitForEvents");
        const size_t plane = (size_t)net->in_shape.w * (size_t)net->in_shape.h;
        for (size_t i = 0; st == CLSEG_OK && i < plane; i++) f->labels[i] = (uint8_t)f->lab[i];
    }
    if (labels_out) *labels_out = f->labels;
    net->frame_head = (net->frame_head + 1) % NET_MAX_IN_FLIGHT;
    net->frames_in_flight--;
    return st;
}

static clseg_status wait_frame(clseg_net *net, uint8_t **labels_out) {
    if (labels_out) *labels_out = NULL;
    return net->frames_in_flight ? wait_oldest(net, labels_out) : CLSEG_OK;
}

/* The callers' label buffers may be gone by now: wait, but write nothing into them. A frame
   whose read could not be waited for keeps its buffers (leaked) rather than have the driver write
   into freed memory. */
void net_frames_free(clseg_net *net) {
    int pending[NET_MAX_IN_FLIGHT] = {0};
    for (int k = 0; k < net->frames_in_flight; k++) {
        net_frame *f = frame_at(net, k);
        if (f->done) {
            pending[(net->frame_head + k) % NET_MAX_IN_FLIGHT] =
                clWaitForEvents(1, &f->done) != CL_SUCCESS;
            clReleaseEvent(f->done);
        }
    }
    net->frames_in_flight = 0;
    for (int k = 0; k < NET_MAX_IN_FLIGHT; k++) {
        if (!pending[k]) {
            free(net->frames[k].x);
            free(net->frames[k].lab);
        }
        memset(&net->frames[k], 0, sizeof net->frames[k]);
    }
}

clseg_status clseg_net_segment_async(clseg_net *net, const uint8_t *rgb, int width, int height,
                                     uint8_t *labels) {
    if (!net) return CLSEG_ERR_INVALID_ARGUMENT;
    return CTX_LOCKED(net->ctx, submit(net, rgb, width, height, labels));
}

clseg_status clseg_net_wait(clseg_net *net, uint8_t **labels_out) {
    if (!net) return CLSEG_ERR_INVALID_ARGUMENT;
    return CTX_LOCKED(net->ctx, wait_frame(net, labels_out));
}

int clseg_net_frames_in_flight(const clseg_net *net) {
    return net ? net->frames_in_flight : 0;
}
