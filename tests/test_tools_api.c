/* test_tools_api.c - the tools' public API alone: a model made from a spec, saved and loaded; its
   plan on a device and on a recorded one; a short tune into a fresh database that the next
   context's plan then reports as tuned. */
/* ctest-api: public (only include/clseg*.h, linked against the library as users link it) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clseg.h"
#include "clseg_tune.h"
#include "public_check.h"

#define SPEC CLSEG_SOURCE_DIR "/tests/fixtures/cli/tiny.cfg"
#define W    64
#define H    48

static int read_all(const char *path, char **data, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *data = malloc(n > 0 ? (size_t)n : 1);
    *size = *data ? fread(*data, 1, (size_t)n, f) : 0;
    fclose(f);
    return *data && *size == (size_t)n;
}

static int same_file(const char *a, const char *b) {
    char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    int same = read_all(a, &x, &nx) && read_all(b, &y, &ny) && nx == ny && !memcmp(x, y, nx);
    free(x);
    free(y);
    return same;
}

static void test_model(const char *dir, clseg_model **out) {
    char err[1024], a[512], b[512];
    clseg_model_init_options o = {CLSEG_MODEL_INIT_OPTIONS_INIT, .classes = 12, .seed = 3};
    clseg_model *m = NULL, *m2 = NULL, *loaded = NULL;
    CHECK(clseg_model_init(&m, SPEC, &o, err, sizeof err) == CLSEG_OK, "%s", err);
    CHECK(clseg_model_init(&m2, SPEC, &o, err, sizeof err) == CLSEG_OK, "%s", err);
    if (!m || !m2) exit(1);
    CHECK(!strcmp(clseg_model_network_name(m), "tiny"), "%s", clseg_model_network_name(m));
    CHECK(clseg_model_layer_count(m) >= 3, "%d", clseg_model_layer_count(m));
    CHECK(clseg_model_input_channels(m) == 3, "%d", clseg_model_input_channels(m));
    CHECK(clseg_model_num_classes(m) == 12, "%d", clseg_model_num_classes(m));
    CHECK(clseg_model_parameter_count(m) > 0, "no parameters");

    snprintf(a, sizeof a, "%s/a.clsm", dir);
    snprintf(b, sizeof b, "%s/b.clsm", dir);
    CHECK(clseg_model_save(m, a, err, sizeof err) == CLSEG_OK, "%s", err);
    CHECK(clseg_model_save(m2, b, err, sizeof err) == CLSEG_OK, "%s", err);
    CHECK(same_file(a, b), "the same seed gave different files");
    CHECK(clseg_model_load(&loaded, a, err, sizeof err) == CLSEG_OK, "%s", err);
    if (loaded) {
        CHECK(clseg_model_parameter_count(loaded) == clseg_model_parameter_count(m), "count");
        CHECK(!strcmp(clseg_model_network_name(loaded), "tiny"), "name after load");
        CHECK(!strcmp(clseg_model_class_name(loaded, 0), clseg_model_class_name(m, 0)), "class");
    }
    clseg_model_free(loaded);
    clseg_model_free(m2);

    /* errors: a missing file, a bad class count, options that were never initialised */
    clseg_model *bad = (clseg_model *)&o;
    CHECK(clseg_model_init(&bad, CLSEG_SOURCE_DIR "/no/such.cfg", &o, err, sizeof err) ==
                  CLSEG_ERR_IO &&
              !bad && *err,
          "missing spec");
    clseg_model_init_options k0 = {CLSEG_MODEL_INIT_OPTIONS_INIT, .classes = 0};
    CHECK(clseg_model_init(&bad, SPEC, &k0, err, sizeof err) == CLSEG_ERR_INVALID_ARGUMENT,
          "0 classes");
    clseg_model_init_options zero;
    memset(&zero, 0, sizeof zero);
    CHECK(clseg_model_init(&bad, SPEC, &zero, err, sizeof err) == CLSEG_ERR_INVALID_ARGUMENT,
          "struct_size 0");
    *out = m;
}

/* Plan layers whose choice came from the tuning database. */
static int tuned_layers(const clseg_plan *plan, int *n_layers) {
    int tuned = 0;
    *n_layers = clseg_plan_layer_count(plan);
    for (int i = 0; i < *n_layers; i++) {
        clseg_plan_layer L;
        CHECK(clseg_plan_layer_get(plan, i, &L) == CLSEG_OK, "layer %d", i);
        CHECK(*L.name && *L.op && *L.variant, "layer %d: empty fields", i);
        tuned += L.source == CLSEG_CHOICE_TUNED;
    }
    return tuned;
}

static clseg_context *open_ctx(const char *db) {
    char err[2048];
    clseg_context *ctx = NULL;
    clseg_context_options o = {CLSEG_CONTEXT_OPTIONS_INIT, .tuning_db = db};
    if (clseg_context_create(&ctx, &o, err, sizeof err) != CLSEG_OK) {
        fprintf(stderr, "no context: %s\n", err);
        exit(getenv("CLSEG_ALLOW_NO_DEVICE") ? 0 : 1);
    }
    return ctx;
}

static void progress(void *user, const clseg_tune_progress *p) {
    int *calls = user;
    (*calls)++;
    CHECK(p->phase && p->n_layers > 0 && p->budget_s > 0, "progress fields");
}

int main(void) {
    char dir[] = "/tmp/clseg-test-tools-api-XXXXXX", db[600], err[1024];
    if (!mkdtemp(dir)) return 1;
    snprintf(db, sizeof db, "%s/tuning.db", dir);
    clseg_model *m;
    test_model(dir, &m);

    /* A fresh database: nothing tuned yet. */
    clseg_context *ctx = open_ctx(db);
    const clseg_device_info *dev = clseg_context_device(ctx);
    CHECK(clseg_context_tuning_path(ctx) && !strcmp(clseg_context_tuning_path(ctx), db), "path");
    CHECK(clseg_context_tuning_state(ctx) == CLSEG_TUNING_DB_EMPTY, "state");
    CHECK(clseg_context_tuning_record_count(ctx, 0) == 0, "records");
    CHECK(*clseg_device_class_name(dev), "class name");
    clseg_plan *plan = NULL;
    CHECK(clseg_plan_create(&plan, ctx, m, 1, H, W) == CLSEG_OK, "%s", clseg_context_error(ctx));
    int n_layers = 0;
    CHECK(tuned_layers(plan, &n_layers) == 0, "tuned before tuning");
    CHECK(n_layers == clseg_model_layer_count(m) + 1, "%d calls", n_layers);
    clseg_plan_layer last;
    CHECK(clseg_plan_layer_get(plan, n_layers - 1, &last) == CLSEG_OK &&
              !strcmp(last.name, "(argmax)"),
          "the last call is the argmax");
    double ms = 0;
    CHECK(clseg_plan_time_layer(plan, ctx, 0, 1, &ms) == CLSEG_OK && ms > 0, "%s",
          clseg_context_error(ctx));
    clseg_plan_free(plan);
    plan = NULL;
    CHECK(clseg_plan_create(&plan, ctx, m, 0, H, W) == CLSEG_ERR_INVALID_ARGUMENT && !plan &&
              *clseg_context_error(ctx),
          "batch 0");

    /* A short tune, saved. */
    int calls = 0;
    clseg_tune_options to = {CLSEG_TUNE_OPTIONS_INIT, .height = H,          .width = W,
                             .budget_s = 2,           .progress = progress, .user = &calls};
    clseg_tuner *tuner = NULL;
    CHECK(clseg_tuner_create(&tuner, m, &to, err, sizeof err) == CLSEG_OK, "%s", err);
    if (!tuner) return 1;
    int distinct = clseg_tuner_layer_count(tuner);
    CHECK(distinct > 0 && distinct <= n_layers, "%d distinct layers", distinct);
    CHECK(clseg_tuner_run(tuner, ctx) == CLSEG_OK, "%s", clseg_context_error(ctx));
    CHECK(calls > 0, "no progress reported");
    int measured = 0, prev = -1;
    for (int i = 0; i < distinct; i++) {
        clseg_tune_layer L;
        CHECK(clseg_tuner_layer_get(tuner, i, &L) == CLSEG_OK, "tuned layer %d", i);
        CHECK(L.first > prev && L.count >= 1, "network order");
        prev = L.first;
        measured += L.best_ms > 0 && *L.best_variant;
    }
    CHECK(measured > 0, "no layer measured");
    clseg_tune_gemm gemm;
    CHECK(clseg_tuner_gemm_get(tuner, &gemm) == CLSEG_OK, "gemm");
    CHECK(clseg_tuner_run(tuner, ctx) == CLSEG_ERR_INVALID_ARGUMENT, "a tuner runs once");
    clseg_tuner_free(tuner);
    CHECK(clseg_context_tuning_record_count(ctx, 1) > 0, "no records for this device");
    CHECK(clseg_context_save_tuning(ctx) == CLSEG_OK, "%s", clseg_context_error(ctx));
    CHECK(access(db, R_OK) == 0, "database not written");
    clseg_context_free(ctx);

    /* The next context reads it, and its plan says so. */
    ctx = open_ctx(db);
    dev = clseg_context_device(ctx);
    CHECK(clseg_context_tuning_state(ctx) == CLSEG_TUNING_DB_LOADED, "state after save");
    CHECK(clseg_plan_create(&plan, ctx, m, 1, H, W) == CLSEG_OK, "%s", clseg_context_error(ctx));
    CHECK(tuned_layers(plan, &n_layers) > 0, "no tuned layer after tuning");
    clseg_plan_free(plan);

    /* The same database read directly, for the same device's properties. */
    clseg_tuning_db *tdb = NULL;
    clseg_tuning_db_state state;
    CHECK(clseg_tuning_db_load(&tdb, db, &state, err, sizeof err) == CLSEG_OK &&
              state == CLSEG_TUNING_DB_LOADED,
          "%s", err);
    CHECK(clseg_tuning_db_record_count(tdb, dev) == clseg_context_tuning_record_count(ctx, 1),
          "record counts differ");
    CHECK(clseg_plan_create_for_device(&plan, dev, tdb, 0, m, 1, H, W, err, sizeof err) == CLSEG_OK,
          "%s", err);
    CHECK(tuned_layers(plan, &n_layers) > 0, "no tuned layer for the device's properties");
    clseg_plan_free(plan);
    clseg_context_free(ctx);

    /* A recorded device: its class, and plain kernels everywhere when asked for. */
    clseg_device_info mali;
    CHECK(clseg_device_info_load(CLSEG_SOURCE_DIR "/tests/fixtures/devices/mali-g78.dev", &mali,
                                 err, sizeof err) == CLSEG_OK,
          "%s", err);
    CHECK(!strcmp(clseg_device_class_name(&mali), "mali-valhall"), "%s",
          clseg_device_class_name(&mali));
    CHECK(clseg_plan_create_for_device(&plan, &mali, tdb, 1, m, 1, H, W, err, sizeof err) ==
              CLSEG_OK,
          "%s", err);
    for (int i = 0; plan && i < clseg_plan_layer_count(plan); i++) {
        clseg_plan_layer L;
        clseg_plan_layer_get(plan, i, &L);
        CHECK(L.source == CLSEG_CHOICE_PLAIN, "layer %s: %s", L.name,
              clseg_choice_source_name(L.source));
    }
    ctx = open_ctx("");
    CHECK(clseg_context_tuning_path(ctx) == NULL, "tuning_db \"\" has no file");
    CHECK(clseg_plan_time_layer(plan, ctx, 0, 1, &ms) == CLSEG_ERR_INVALID_ARGUMENT,
          "timed a recorded device's plan");
    clseg_context_free(ctx);
    clseg_plan_free(plan);
    clseg_tuning_db_free(tdb);

    /* A foreign file is reported, not trusted. */
    char foreign[600];
    snprintf(foreign, sizeof foreign, "%s/foreign.db", dir);
    FILE *f = fopen(foreign, "w");
    if (f) {
        fputs("not a database\n", f);
        fclose(f);
    }
    tdb = (clseg_tuning_db *)&state;
    CHECK(clseg_tuning_db_load(&tdb, foreign, &state, err, sizeof err) != CLSEG_OK && !tdb &&
              state == CLSEG_TUNING_DB_FOREIGN,
          "foreign file");
    ctx = open_ctx(foreign);
    CHECK(clseg_context_tuning_state(ctx) == CLSEG_TUNING_DB_FOREIGN, "foreign state");
    CHECK(*clseg_context_warning(ctx), "no warning for a foreign file");
    CHECK(clseg_context_save_tuning(ctx) == CLSEG_ERR_INVALID_ARGUMENT, "overwrote a foreign file");
    clseg_context_free(ctx);
    char *text = NULL;
    size_t len = 0;
    CHECK(read_all(foreign, &text, &len) && len == 15 && !memcmp(text, "not a database\n", 15),
          "foreign file changed");
    free(text);

    CHECK(clseg_variant_count() > 0, "no variants");
    clseg_variant_info v;
    CHECK(clseg_variant_get(0, &v) == CLSEG_OK && *v.op && *v.name, "variant 0");
    CHECK(clseg_variant_get(clseg_variant_count(), &v) == CLSEG_ERR_INVALID_ARGUMENT, "past end");

    clseg_model_free(m);
    char path[700];
    const char *files[] = {"a.clsm", "b.clsm", "tuning.db", "foreign.db"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    return check_finish("test_tools_api");
}
