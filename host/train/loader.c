/* loader.c - the producer thread and its bounded queue (mutex + two condition variables). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

#define QUEUE_SLOTS 3

typedef struct slot {
    batch b;
    clseg_status status;
    char error[512];
} slot;

struct loader {
    const dataset *ds;
    augment_opts aug;
    int classes, batch_size, epoch, first_step, steps;
    int global_batch, offset; /* this rank's share: order[step * global_batch + offset + k] */
    uint64_t seed;
    int *order;

    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    slot slots[QUEUE_SLOTS];
    int head, filled; /* next slot to consume, slots ready */
    int stop, finished;
    int consumed_one; /* the consumer holds slots[head] until its next call */
};

static clseg_status fill(loader *l, slot *s, int step) {
    s->b.step = step;
    s->status = CLSEG_OK;
    s->error[0] = 0;
    size_t in = (size_t)3 * l->aug.crop_w * l->aug.crop_h,
           px = (size_t)l->aug.crop_w * l->aug.crop_h;
    for (int k = 0; k < l->batch_size; k++) {
        int sample = l->order[step * l->global_batch + l->offset + k];
        s->b.samples[k] = sample;
        image_rgb img;
        uint8_t *labels = NULL;
        clseg_status st = dataset_load(l->ds, sample, l->classes, l->aug.ignore, &img, &labels,
                                       s->error, sizeof s->error);
        if (st != CLSEG_OK) return s->status = st;
        augment_sample(&img, labels, &l->aug,
                       rng_stream(l->seed, (uint64_t)l->epoch, (uint64_t)sample), s->b.x + k * in,
                       s->b.y + k * px);
        image_rgb_free(&img);
        free(labels);
    }
    return CLSEG_OK;
}

static void *producer(void *arg) {
    loader *l = arg;
    for (int step = l->first_step; step < l->steps; step++) {
        pthread_mutex_lock(&l->lock);
        /* One slot stays with the consumer (the batch it is training on). */
        /* The slot the consumer holds counts in `filled`, so it is never overwritten. */
        while (!l->stop && l->filled >= QUEUE_SLOTS) pthread_cond_wait(&l->not_full, &l->lock);
        if (l->stop) {
            pthread_mutex_unlock(&l->lock);
            break;
        }
        slot *s = &l->slots[(l->head + l->filled) % QUEUE_SLOTS];
        pthread_mutex_unlock(&l->lock);

        clseg_status st = fill(l, s, step);

        pthread_mutex_lock(&l->lock);
        l->filled++;
        pthread_cond_signal(&l->not_empty);
        pthread_mutex_unlock(&l->lock);
        if (st != CLSEG_OK) break;
    }
    pthread_mutex_lock(&l->lock);
    l->finished = 1;
    pthread_cond_signal(&l->not_empty);
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

void loader_stop(loader *l) {
    if (!l) return;
    if (l->started) {
        pthread_mutex_lock(&l->lock);
        l->stop = 1;
        pthread_cond_broadcast(&l->not_full);
        pthread_mutex_unlock(&l->lock);
        pthread_join(l->thread, NULL);
        pthread_mutex_destroy(&l->lock);
        pthread_cond_destroy(&l->not_empty);
        pthread_cond_destroy(&l->not_full);
    }
    for (int i = 0; i < QUEUE_SLOTS; i++) {
        free(l->slots[i].b.x);
        free(l->slots[i].b.y);
        free(l->slots[i].b.samples);
    }
    free(l->order);
    free(l);
}

clseg_status loader_start(loader **out, const dataset *ds, int classes, const augment_opts *aug,
                          int batch_size, int ranks, int rank, uint64_t seed, int epoch,
                          int first_step, char *err, size_t errlen) {
    *out = NULL;
    if (batch_size < 1 || ranks < 1 || rank < 0 || rank >= ranks || aug->crop_w < 1 ||
        aug->crop_h < 1 || ds->count / ranks < batch_size)
        return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT,
                          "batch %d x %d rank(s) needs at least that many images (have %d)",
                          batch_size, ranks, ds->count);
    loader *l = clseg_calloc(1, sizeof *l);
    if (!l) return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    l->ds = ds;
    l->aug = *aug;
    l->classes = classes;
    l->batch_size = batch_size;
    l->global_batch = batch_size * ranks;
    l->offset = batch_size * rank;
    l->epoch = epoch;
    l->first_step = first_step;
    l->steps = loader_steps(ds->count, l->global_batch);
    l->seed = seed;
    l->order = clseg_malloc((size_t)ds->count * sizeof *l->order);
    size_t px = (size_t)aug->crop_w * aug->crop_h;
    int ok = l->order != NULL;
    for (int i = 0; ok && i < QUEUE_SLOTS; i++) {
        l->slots[i].b.x = clseg_malloc(px * 3 * batch_size * sizeof(float));
        l->slots[i].b.y = clseg_malloc(px * batch_size * sizeof(int32_t));
        l->slots[i].b.samples = clseg_malloc((size_t)batch_size * sizeof(int));
        ok = l->slots[i].b.x && l->slots[i].b.y && l->slots[i].b.samples;
    }
    if (!ok) {
        loader_stop(l);
        return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory for batches");
    }
    shuffle_epoch(seed, epoch, ds->count, l->order);
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->not_empty, NULL);
    pthread_cond_init(&l->not_full, NULL);
    if (pthread_create(&l->thread, NULL, producer, l) != 0) {
        pthread_mutex_destroy(&l->lock);
        pthread_cond_destroy(&l->not_empty);
        pthread_cond_destroy(&l->not_full);
        loader_stop(l);
        return clseg_fail(err, errlen, CLSEG_ERR_INTERNAL, "cannot start the loader thread");
    }
    l->started = 1;
    *out = l;
    return CLSEG_OK;
}

clseg_status loader_next(loader *l, const batch **b, char *err, size_t errlen) {
    pthread_mutex_lock(&l->lock);
    if (l->consumed_one) { /* hand the previous batch's slot back to the producer */
        l->head = (l->head + 1) % QUEUE_SLOTS;
        l->filled--;
        l->consumed_one = 0;
        pthread_cond_signal(&l->not_full);
    }
    while (l->filled == 0 && !l->finished) pthread_cond_wait(&l->not_empty, &l->lock);
    if (l->filled == 0) {
        pthread_mutex_unlock(&l->lock);
        return clseg_fail(err, errlen, CLSEG_ERR_INTERNAL, "no batch left in this epoch");
    }
    slot *s = &l->slots[l->head];
    l->consumed_one = 1;
    pthread_mutex_unlock(&l->lock);
    if (s->status != CLSEG_OK) return clseg_fail(err, errlen, s->status, "%s", s->error);
    *b = &s->b;
    return CLSEG_OK;
}
