/* net_internal.h - the executor's state (struct clseg_net), shared by net.c and the files that
   inspect a net (inspect.c); nothing outside host/net includes it. */
#ifndef CLSEG_NET_INTERNAL_H
#define CLSEG_NET_INTERNAL_H

#include "calls.h"
#include "memplan.h"
#include "plan.h"

/* A frame of clseg_net_segment_async on its way (segment_async.c). */
typedef struct net_frame {
    float *x;        /* its normalised input, until the upload completes */
    int32_t *lab;    /* the labels read back */
    uint8_t *labels; /* the caller's buffer, filled by clseg_net_wait */
    size_t plane;
    cl_event done; /* the read's event; NULL when the frame was finished at submit */
} net_frame;
#define NET_MAX_IN_FLIGHT 2

struct clseg_net {
    clseg_context *ctx;
    net_spec spec;
    int classes;
    int channels;
    float mean[4], std[4];
    /* weight, bias: owned; out, indices: borrowed from slots for the current input shape */
    layer_buffers bufs[SPEC_MAX_LAYERS];
    op_choice choices[SPEC_MAX_LAYERS]; /* variant and parameters for the current input shape */
    uint64_t weight_bytes;
    int no_memplan; /* 1 = one buffer per tensor (for comparison) */

    /* activations for the current input shape */
    shape4 in_shape;
    layer_step steps[SPEC_MAX_LAYERS];
    memplan plan;
    cl_mem slots[MEMPLAN_MAX_TENSORS];
    uint64_t planned_bytes;  /* activations with the planner, whether or not it is on */
    uint64_t scratch_needed; /* the most scratch one layer of the current size asks for */
    cl_mem input, labels;
    op_choice argmax_choice;
    uint64_t activation_bytes; /* input, labels and slots */
    float *staging;            /* host copy of the normalised input for segment() */
    int test_flip;             /* segment() averages the image and its mirror (spec test_flip) */
    net_frame frames[NET_MAX_IN_FLIGHT]; /* ring of frames in flight, oldest at frame_head */
    int frame_head, frames_in_flight;
};

/* The functions below expect the context's lock held (they are what the public calls run under
   CTX_LOCKED). */

/* Plans, checks and allocates the activations and compiles the kernels for an n x height x
   width input; nothing to do when the net is already prepared for it. */
clseg_status net_prepare(clseg_net *net, int n, int height, int width);

/* Layer i's forward call on the net's buffers for the current input size. */
op_call net_step_call(const clseg_net *net, int i);

/* The checks clseg_net_segment makes (named `call` in messages), then prepares the net for a
   width x height image. */
clseg_status net_segment_check(clseg_net *net, const char *call, const uint8_t *rgb, int width,
                               int height, const uint8_t *labels);
/* Enqueues a segmentation of the normalised image x (3 planes of the prepared size): upload,
   layers, argmax and a read of the labels into lab. With done, the read does not wait: *done is
   its event (NULL if it was not enqueued), and x and lab must stay valid until it completes (even
   after an error, if *done is set). Without done, the upload and the read block. */
clseg_status net_segment_enqueue(clseg_net *net, const float *x, int32_t *lab, cl_event *done);
/* The test-time-flip segmentation of the normalised image x (mirrored in place), synchronous. */
clseg_status net_segment_flipped(clseg_net *net, float *x, int width, int height, uint8_t *labels);

/* Waits for every frame in flight and frees their buffers (before the net goes). */
void net_frames_free(clseg_net *net);

/* clseg_net_layer_info without the lock. */
clseg_status net_layer_info(const clseg_net *net, int i, clseg_layer_info *out);

#endif
