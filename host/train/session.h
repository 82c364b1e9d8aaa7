/* session.h - the training session behind clseg_train.h, shared by session.c (the run) and
   train_bench.c (the step benchmark). */
#ifndef CLSEG_SESSION_H
#define CLSEG_SESSION_H

#include <stdio.h>

#include "augment.h"
#include "checkpoint.h"
#include "clseg_train.h"
#include "dataset.h"

enum { SESSION_CREATED, SESSION_DATA, SESSION_STARTED, SESSION_SPENT };

struct clseg_train_session {
    clseg_train_options o; /* defaults resolved (lr, weight_decay, lr_step) */
    int phase;
    char error[1024];
    clseg_model *model;
    train_state resumed; /* the checkpoint's state (o.resume) */
    ckpt_moments moments;
    dataset train, val;
    int has_val;
    float *weights;
    int steps_per_epoch;
    long total_steps;
    train_state state;
    char *ckpt_path;
    char last_good[600]; /* what a failure message points the user to */
    FILE *loss_log;
    augment_opts aug;
    clseg_context *ctx;
    trainer *t;
    int stopped, diverged, peer_failed, stopped_all;
    int rank, ranks; /* data-parallel position (0, 1 without a reducer) */
};

/* Sets the session's error text and returns status. */
clseg_status session_fail(clseg_train_session *s, clseg_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Rank 0 (or the only process) writes the loss log, checkpoints and models. */
static inline int session_writer(const clseg_train_session *s) {
    return s->rank == 0;
}

/* trainer_config of the session's options for weights (NULL = all 1). */
trainer_config session_trainer_config(const clseg_train_session *s, const float *weights);

#endif
