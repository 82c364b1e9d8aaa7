/* test_train_reducer.c - data-parallel training and evaluation through the public clseg_reducer
   alone, without MPI: two threads, each with its own context, sum their buffers through shared
   memory. 2 ranks x batch 2 follow 1 session x batch 4 (synchronised BatchNorm), both ranks
   see the same global losses, only rank 0 writes, per-rank BatchNorm differs, and a sharded
   clseg_eval gives the one-process confusion matrix. ctest-api: public */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <clseg_train.h>
#include "public_check.h"

#define RANKS 2
#define STEPS 4 /* 2 epochs of 8 images, global batch 4 */

static char dir[256];

/* ---- a reducer over threads ---------------------------------------------------------------- */

typedef struct shared {
    pthread_barrier_t barrier;
    void *bufs[RANKS];
} shared;

typedef struct peer {
    shared *sh;
    int rank;
} peer;

/* Every rank publishes its buffer, sums all of them in rank order into a copy, waits until
   everyone has read, then writes the sum into its own. */
static clseg_status thread_allreduce(void *user, void *buf, size_t count, clseg_reduce_type type,
                                     char *err, size_t errlen) {
    peer *p = user;
    size_t size = type == CLSEG_REDUCE_DOUBLE ? sizeof(double) : sizeof(float);
    void *sum = calloc(count ? count : 1, size);
    if (!sum) {
        snprintf(err, errlen, "out of memory");
        return CLSEG_ERR_OUT_OF_MEMORY; /* (a real reducer must still meet the others) */
    }
    p->sh->bufs[p->rank] = buf;
    pthread_barrier_wait(&p->sh->barrier);
    for (int r = 0; r < RANKS; r++)
        for (size_t i = 0; i < count; i++) {
            if (type == CLSEG_REDUCE_DOUBLE)
                ((double *)sum)[i] += ((const double *)p->sh->bufs[r])[i];
            else
                ((float *)sum)[i] += ((const float *)p->sh->bufs[r])[i];
        }
    pthread_barrier_wait(&p->sh->barrier);
    memcpy(buf, sum, count * size);
    free(sum);
    return CLSEG_OK;
}

static clseg_status thread_broadcast(void *user, void *buf, size_t bytes, char *err,
                                     size_t errlen) {
    (void)err;
    (void)errlen;
    peer *p = user;
    p->sh->bufs[p->rank] = buf;
    pthread_barrier_wait(&p->sh->barrier);
    if (p->rank) memcpy(buf, p->sh->bufs[0], bytes);
    pthread_barrier_wait(&p->sh->barrier);
    return CLSEG_OK;
}

/* ---- one rank's run ------------------------------------------------------------------------ */

typedef struct job {
    const char *tag; /* file names */
    int batch, sync_bn;
    const clseg_reducer *reducer; /* NULL = alone */
    /* results, checked by the main thread */
    double loss[STEPS];
    int steps;
    char error[1024];
    clseg_metrics *metrics; /* of the val set, with the final weights' model file (eval) */
    const char *eval_model; /* evaluate this model instead of training (NULL = train) */
} job;

static int on_step(void *user, const clseg_train_progress *p) {
    job *j = user;
    if (p->event == CLSEG_TRAIN_STEP && p->global_step >= 1 && p->global_step <= STEPS) {
        j->loss[p->global_step - 1] = p->loss;
        j->steps++;
    }
    return 0;
}

static void train(job *j, clseg_context *ctx) {
    char paths[7][300];
    snprintf(paths[0], sizeof paths[0], "%s/train/images", dir);
    snprintf(paths[1], sizeof paths[1], "%s/train/labels", dir);
    snprintf(paths[2], sizeof paths[2], "%s/%s.clsm", dir, j->tag);
    snprintf(paths[3], sizeof paths[3], "%s/%s.ckpt", dir, j->tag);
    snprintf(paths[4], sizeof paths[4], "%s/%s.log", dir, j->tag);
    clseg_train_options o;
    clseg_train_options_init(&o);
    o.spec_path = CLSEG_SOURCE_DIR "/tests/fixtures/train/tiny_train.cfg";
    o.classes = 4;
    o.ignore_index = 255;
    o.train_images = paths[0];
    o.train_labels = paths[1];
    o.epochs = 2;
    o.batch = j->batch;
    o.optimizer = CLSEG_OPTIMIZER_SGD; /* linear in the gradient: equal to rounding */
    o.lr = 0.02;
    o.seed = 5;
    o.out_model = paths[2];
    o.checkpoint = paths[3];
    o.loss_log = paths[4];
    o.reducer = j->reducer;
    o.sync_bn = j->sync_bn;
    clseg_train_session *s = NULL;
    clseg_status st = clseg_train_session_create(&s, &o, j->error, sizeof j->error);
    if (st == CLSEG_OK) st = clseg_train_session_load_data(s);
    if (st == CLSEG_OK) st = clseg_train_session_start(s, ctx);
    if (st == CLSEG_OK) st = clseg_train_session_run(s, on_step, j);
    if (st != CLSEG_OK && s)
        snprintf(j->error, sizeof j->error, "%s", clseg_train_session_error(s));
    clseg_train_session_free(s);
}

static void evaluate(job *j, clseg_context *ctx) {
    char images[300], labels[300];
    snprintf(images, sizeof images, "%s/val/images", dir);
    snprintf(labels, sizeof labels, "%s/val/labels", dir);
    clseg_model *model = NULL;
    clseg_net *net = NULL;
    clseg_status st = clseg_model_load(&model, j->eval_model, j->error, sizeof j->error);
    if (st == CLSEG_OK && (st = clseg_net_create(&net, ctx, model)) != CLSEG_OK)
        snprintf(j->error, sizeof j->error, "%s", clseg_context_error(ctx));
    clseg_eval_options eo;
    clseg_eval_options_init(&eo);
    eo.image_dir = images;
    eo.label_dir = labels;
    eo.ignore_index = 255;
    eo.reducer = j->reducer;
    if (st == CLSEG_OK) clseg_eval(&j->metrics, ctx, net, model, &eo, j->error, sizeof j->error);
    clseg_net_free(net);
    clseg_model_free(model);
}

typedef struct worker {
    job *j;
    const char *device;
} worker;

static void *run_job(void *arg) {
    worker *w = arg;
    clseg_context_options co;
    clseg_context_options_init(&co);
    co.device = w->device;
    clseg_context *ctx = NULL;
    if (clseg_context_create(&ctx, &co, w->j->error, sizeof w->j->error) == CLSEG_OK) {
        if (w->j->eval_model)
            evaluate(w->j, ctx);
        else
            train(w->j, ctx);
    }
    clseg_context_free(ctx);
    return NULL;
}

/* Runs jobs[0..n) in n threads (n = 1: alone, else ranks sharing a reducer). */
static void run_ranks(job *jobs, int n, const char *device) {
    shared sh;
    peer peers[RANKS];
    clseg_reducer red[RANKS];
    pthread_t th[RANKS];
    worker w[RANKS];
    pthread_barrier_init(&sh.barrier, NULL, (unsigned)n);
    for (int r = 0; r < n; r++) {
        peers[r] = (peer){&sh, r};
        red[r] =
            (clseg_reducer){sizeof red[r], r, n, thread_allreduce, thread_broadcast, &peers[r]};
        jobs[r].reducer = n > 1 ? &red[r] : NULL;
        w[r] = (worker){&jobs[r], device};
        pthread_create(&th[r], NULL, run_job, &w[r]);
    }
    for (int r = 0; r < n; r++) pthread_join(th[r], NULL);
    pthread_barrier_destroy(&sh.barrier);
}

static int exists(const char *tag, const char *ext) {
    char p[300];
    snprintf(p, sizeof p, "%s/%s.%s", dir, tag, ext);
    return access(p, F_OK) == 0;
}

static double rel(double a, double b) {
    return fabs(a - b) / fabs(b);
}

static void test_on(const char *device) {
    printf("device %s\n", device);
    job one = {.tag = "one", .batch = 4, .sync_bn = 1};
    run_ranks(&one, 1, device);
    CHECK(!one.error[0] && one.steps == STEPS, "one session: %s (%d steps)", one.error, one.steps);

    job two[RANKS] = {{.tag = "r0", .batch = 2, .sync_bn = 1},
                      {.tag = "r1", .batch = 2, .sync_bn = 1}};
    run_ranks(two, RANKS, device);
    double worst = 0;
    for (int r = 0; r < RANKS; r++) {
        CHECK(!two[r].error[0] && two[r].steps == STEPS, "rank %d: %s (%d steps)", r, two[r].error,
              two[r].steps);
        for (int i = 0; i < STEPS; i++) worst = fmax(worst, rel(two[r].loss[i], one.loss[i]));
    }
    CHECK(!memcmp(two[0].loss, two[1].loss, sizeof two[0].loss), "the ranks report other losses");
    CHECK(worst <= 1e-4, "2 ranks x 2 differ from 1 x 4 by %.2e", worst);
    printf("2 ranks x 2 vs 1 x 4: %d steps, worst relative difference %.2e\n", STEPS, worst);
    CHECK(exists("r0", "log") && exists("r0", "ckpt") && exists("r0", "clsm"),
          "rank 0 wrote no log, checkpoint or model");
    CHECK(!exists("r1", "log") && !exists("r1", "ckpt") && !exists("r1", "clsm"),
          "rank 1 wrote a file");

    job per[RANKS] = {{.tag = "p0", .batch = 2, .sync_bn = 0},
                      {.tag = "p1", .batch = 2, .sync_bn = 0}};
    run_ranks(per, RANKS, device);
    CHECK(!per[0].error[0] && !per[1].error[0], "per-rank BatchNorm: %s %s", per[0].error,
          per[1].error);
    CHECK(rel(per[0].loss[0], one.loss[0]) > 1e-5, "per-rank BatchNorm gave %.9g, as synced %.9g",
          per[0].loss[0], one.loss[0]);

    /* Evaluation of rank 0's model: 1 process, then 2 ranks sharing the 5 images. */
    char model[300];
    snprintf(model, sizeof model, "%s/r0.clsm", dir);
    job e1 = {.tag = "e", .eval_model = model};
    run_ranks(&e1, 1, device);
    job e2[RANKS] = {{.tag = "e", .eval_model = model}, {.tag = "e", .eval_model = model}};
    run_ranks(e2, RANKS, device);
    for (int r = 0; r < RANKS; r++) {
        const clseg_metrics *a = e1.metrics, *b = e2[r].metrics;
        CHECK(a && b && a->images == 5 && b->images == 5 &&
                  !memcmp(a->confusion, b->confusion,
                          sizeof(uint64_t) * (size_t)a->classes * (size_t)a->classes) &&
                  a->miou == b->miou,
              "rank %d's sharded eval differs: %s %s", r, e1.error, e2[r].error);
        clseg_metrics_free(e2[r].metrics);
    }
    clseg_metrics_free(e1.metrics);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/clseg_train_reducer_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "python3 %s/tests/fixtures/train/make_dataset.py regions %s/train 8 32 24 1 4 255 && "
             "python3 %s/tests/fixtures/train/make_dataset.py regions %s/val 5 32 24 2 4 255",
             CLSEG_SOURCE_DIR, dir, CLSEG_SOURCE_DIR, dir);
    CHECK(system(cmd) == 0, "generating the data");

    /* $CLSEG_DEVICE when set, else the first device. */
    const char *env = getenv("CLSEG_DEVICE");
    clseg_device_info *devs = NULL;
    size_t n = 0;
    if (clseg_devices_list(&devs, &n) != CLSEG_OK) n = 0;
    char sel[32] = "";
    if (env && *env)
        snprintf(sel, sizeof sel, "%s", env);
    else if (n)
        snprintf(sel, sizeof sel, "%d:%d", devs[0].platform_index, devs[0].device_index);
    clseg_free(devs);
    const char *allow = getenv("CLSEG_ALLOW_NO_DEVICE");
    if (sel[0])
        test_on(sel);
    else
        CHECK(allow && !strcmp(allow, "1"), "no device");

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
    return check_finish("test_train_reducer");
}
