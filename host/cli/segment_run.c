/* segment_run.c - the per-image stages of `clseg segment` (decode, segment, encode), run one
   after another or as a three-stage pipeline: a decoder thread, the device, an encoder thread. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clseg_image.h"

/* Images decoded ahead of the device, at most (their RGB buffers are what it costs). */
#define DECODE_AHEAD 3

typedef struct seg_shared {
    int k;
    uint8_t *palette;
    const char **names;
    int timing;
} seg_shared;

static void job_free_buffers(seg_job *job) {
    clseg_free(job->rgb);
    free(job->labels);
    job->rgb = job->labels = NULL;
}

/* Decodes job->in; on failure job->error says why. */
static void decode(seg_job *job) {
    char err[1024];
    if (clseg_image_load_png(job->in, 0, &job->rgb, &job->width, &job->height, err, sizeof err) !=
        CLSEG_OK) {
        snprintf(job->error, sizeof job->error, "%s", err);
        return;
    }
    job->labels = malloc((size_t)job->width * (size_t)job->height);
    if (!job->labels)
        snprintf(job->error, sizeof job->error, "%s: out of memory for a %dx%d image", job->in,
                 job->width, job->height);
}

/* Writes the outputs of a segmented job; reports and counts a failure of any stage. */
static int encode(const seg_shared *sh, seg_job *job) {
    char err[1024];
    clseg_status st = CLSEG_OK;
    uint8_t *colour = NULL, *overlay = NULL;
    if (!job->error[0]) {
        const size_t plane = (size_t)job->width * (size_t)job->height;
        colour = malloc(plane * 3);
        overlay = job->overlay ? malloc(plane * 3) : NULL;
        if (!colour || (job->overlay && !overlay))
            snprintf(job->error, sizeof job->error, "%s: out of memory for a %dx%d image", job->in,
                     job->width, job->height);
    }
    if (!job->error[0]) {
        st = clseg_image_colorize(job->labels, job->width, job->height, sh->palette, sh->k, colour,
                                  err, sizeof err);
        if (st == CLSEG_OK && job->seg)
            st = clseg_image_save_png_rgb(job->seg, colour, job->width, job->height, err,
                                          sizeof err);
        if (st == CLSEG_OK && job->labels_png)
            st = clseg_image_save_png_gray(job->labels_png, job->labels, job->width, job->height,
                                           err, sizeof err);
        if (st == CLSEG_OK && job->overlay) {
            st = clseg_image_overlay(job->rgb, job->width, job->height, job->labels, sh->palette,
                                     sh->names, sh->k, 0.5f, overlay, err, sizeof err);
            if (st == CLSEG_OK)
                st = clseg_image_save_png_rgb(job->overlay, overlay, job->width, job->height, err,
                                              sizeof err);
        }
        if (st != CLSEG_OK) snprintf(job->error, sizeof job->error, "%s", err);
    }
    free(colour);
    free(overlay);
    job_free_buffers(job);
    if (job->error[0]) {
        cli_error("%s", job->error);
        return 1;
    }
    return 0;
}

static void segment_now(clseg_net *net, clseg_context *ctx, const seg_shared *sh, seg_job *job) {
    if (job->error[0]) return;
    double t0 = clseg_now_ms();
    if (clseg_net_segment(net, job->rgb, job->width, job->height, job->labels) != CLSEG_OK)
        snprintf(job->error, sizeof job->error, "%s: %s", job->in, clseg_context_error(ctx));
    else if (sh->timing)
        fprintf(stderr, "clseg: %s: %dx%d segmented in %.1f ms\n", job->in, job->width, job->height,
                clseg_now_ms() - t0);
}

/* The stages' progress: jobs [0, decoded) are decoded, [0, segmented) segmented, [0, encoded)
   written. Each stage waits on the one before, the decoder also on the encoder (DECODE_AHEAD). */
typedef struct pipeline {
    pthread_mutex_t lock;
    pthread_cond_t moved;
    seg_job *jobs;
    int n, decoded, segmented, encoded, failures;
    const seg_shared *sh;
} pipeline;

static void advance(pipeline *p, int *counter) {
    pthread_mutex_lock(&p->lock);
    (*counter)++;
    pthread_cond_broadcast(&p->moved);
    pthread_mutex_unlock(&p->lock);
}

static void wait_until(pipeline *p, const int *counter, int value) {
    pthread_mutex_lock(&p->lock);
    while (*counter < value) pthread_cond_wait(&p->moved, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

static void *decoder(void *arg) {
    pipeline *p = arg;
    for (int i = 0; i < p->n; i++) {
        wait_until(p, &p->encoded, i - DECODE_AHEAD);
        decode(&p->jobs[i]);
        advance(p, &p->decoded);
    }
    return NULL;
}

static void *encoder(void *arg) {
    pipeline *p = arg;
    for (int i = 0; i < p->n; i++) {
        wait_until(p, &p->segmented, i + 1);
        if (p->n > 1) fprintf(stderr, "[%d/%d] %s\n", i + 1, p->n, p->jobs[i].in);
        int failed = encode(p->sh, &p->jobs[i]);
        pthread_mutex_lock(&p->lock);
        p->failures += failed;
        pthread_mutex_unlock(&p->lock);
        advance(p, &p->encoded);
    }
    return NULL;
}

/* The device stage, on the calling thread: up to two frames in flight; a frame of another size
   than those in flight waits for them first. */
static void device_stage(pipeline *p, clseg_net *net, clseg_context *ctx) {
    int submitted = 0, finished = 0, size_w = 0, size_h = 0;
    while (finished < p->n) {
        int can_submit = submitted < p->n && clseg_net_frames_in_flight(net) < 2;
        if (can_submit) {
            wait_until(p, &p->decoded, submitted + 1);
            seg_job *job = &p->jobs[submitted];
            int other_size =
                clseg_net_frames_in_flight(net) && (job->width != size_w || job->height != size_h);
            if (!job->error[0] && !other_size) {
                if (clseg_net_segment_async(net, job->rgb, job->width, job->height, job->labels) !=
                    CLSEG_OK)
                    snprintf(job->error, sizeof job->error, "%s: %s", job->in,
                             clseg_context_error(ctx));
                size_w = job->width, size_h = job->height;
            }
            if (!other_size) {
                job->submitted = !job->error[0];
                submitted++;
                /* a failed job goes on once every job before it has */
                continue;
            }
        }
        /* finish the oldest job: in flight, or failed before it got there */
        seg_job *job = &p->jobs[finished];
        if (job->submitted) {
            uint8_t *labels = NULL;
            if (clseg_net_wait(net, &labels) != CLSEG_OK)
                snprintf(job->error, sizeof job->error, "%s: %s", job->in,
                         clseg_context_error(ctx));
        }
        finished++;
        advance(p, &p->segmented);
    }
}

int segment_run(clseg_net *net, clseg_context *ctx, const clseg_model *model, seg_job *jobs, int n,
                int pipelined, int timing) {
    seg_shared sh = {.k = clseg_model_num_classes(model), .timing = timing};
    sh.palette = malloc((size_t)sh.k * 3);
    sh.names = malloc((size_t)sh.k * sizeof *sh.names);
    if (!sh.palette || !sh.names) {
        free(sh.palette);
        free(sh.names);
        return n;
    }
    for (int i = 0; i < sh.k; i++) {
        memcpy(sh.palette + 3 * i, clseg_model_class_color(model, i), 3);
        sh.names[i] = clseg_model_class_name(model, i);
    }
    int failures = 0;
    const double t0 = clseg_now_ms();
    pthread_t dec, enc;
    pipeline p = {.jobs = jobs, .n = n, .sh = &sh};
    if (pipelined && n > 1 && pthread_mutex_init(&p.lock, NULL) == 0) {
        pthread_cond_init(&p.moved, NULL);
        int have_dec = pthread_create(&dec, NULL, decoder, &p) == 0;
        int have_enc = have_dec && pthread_create(&enc, NULL, encoder, &p) == 0;
        if (have_enc) {
            device_stage(&p, net, ctx);
        } else if (have_dec) { /* let the decoder run out, then start again one by one */
            pthread_mutex_lock(&p.lock);
            p.encoded = n + DECODE_AHEAD;
            pthread_cond_broadcast(&p.moved);
            pthread_mutex_unlock(&p.lock);
        }
        if (have_dec) pthread_join(dec, NULL);
        if (!have_enc)
            for (int i = 0; i < n; i++) {
                job_free_buffers(&jobs[i]);
                jobs[i].error[0] = 0;
            }
        if (have_enc) pthread_join(enc, NULL);
        pthread_cond_destroy(&p.moved);
        pthread_mutex_destroy(&p.lock);
        failures = have_enc ? p.failures : -1;
    } else {
        pipelined = 0;
    }
    if (!pipelined || failures < 0) {
        failures = 0;
        for (int i = 0; i < n; i++) {
            if (n > 1) fprintf(stderr, "[%d/%d] %s\n", i + 1, n, jobs[i].in);
            decode(&jobs[i]);
            segment_now(net, ctx, &sh, &jobs[i]);
            failures += encode(&sh, &jobs[i]);
        }
    }
    if (timing && n > 1) {
        const double ms = clseg_now_ms() - t0;
        fprintf(stderr, "clseg: %d images in %.0f ms (%s): %.2f images/s, %.1f ms per image\n", n,
                ms, pipelined ? "decode, device and encode pipelined" : "one after another",
                1000.0 * n / ms, ms / n);
    }
    free(sh.palette);
    free(sh.names);
    return failures;
}
