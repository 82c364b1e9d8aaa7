/* test_tunedb.c - the tuning database file: exact round trip, atomic save, and every kind of
   damaged or foreign file rejected as a whole (never half-trusted), with the context keeping a
   warning instead of printing. */
/* ctest-label: host */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "tune/attach.h"
#include "tune/choose.h"
#include "tune/workload.h"

static clseg_device_info fake_device(void) {
    clseg_device_info d;
    memset(&d, 0, sizeof d);
    snprintf(d.name, sizeof d.name, "pthread-Fake  CPU");
    snprintf(d.driver_version, sizeof d.driver_version, "9.9");
    snprintf(d.platform_vendor, sizeof d.platform_vendor, "The pocl project");
    d.type = CLSEG_DEVICE_CPU;
    d.compute_units = 2;
    d.max_work_group_size = 1024;
    d.max_work_item_sizes[0] = d.max_work_item_sizes[1] = d.max_work_item_sizes[2] = 1024;
    d.local_mem_bytes = 65536;
    d.global_mem_bytes = d.max_alloc_bytes = (uint64_t)1 << 30;
    return d;
}

static op_call conv_call(void) {
    op_call c;
    memset(&c, 0, sizeof c);
    c.kind = OP_CONV2D;
    c.p.conv = (conv2d_params){16, 32, 3, 1, 1, 1, 1, 1};
    c.in[0] = (dtensor){NULL, {1, 16, 40, 30}};
    c.out[0] = (dtensor){NULL, {1, 32, 40, 30}};
    return c;
}

/* A database with an op record for the fake device, one for another device, and CLBlast
   parameters. */
static void sample_db(tunedb *db) {
    clseg_device_info d = fake_device();
    op_call c = conv_call();
    tune_record r;
    memset(&r, 0, sizeof r);
    r.kind = TREC_OP;
    tune_device_key(&d, r.device, r.driver);
    op_signature(&c, r.key, sizeof r.key);
    snprintf(r.variant, sizeof r.variant, "direct");
    snprintf(r.params, sizeof r.params, "TILE_CO=4 TILE_X=2 WG_X=8 WG_Y=2 WG_Z=1");
    r.ms = 1.25;
    r.gflops = 12.5;
    CHECK_OK(tunedb_put(db, &r));
    tune_record other = r;
    snprintf(other.device, sizeof other.device, "Mali-G78 r0p1");
    snprintf(other.driver, sizeof other.driver, "3.0");
    CHECK_OK(tunedb_put(db, &other));
    tune_record b;
    memset(&b, 0, sizeof b);
    b.kind = TREC_CLBLAST;
    snprintf(b.device, sizeof b.device, "%s", r.device);
    snprintf(b.driver, sizeof b.driver, "%s", r.driver);
    snprintf(b.key, sizeof b.key, "Xgemm");
    snprintf(b.params, sizeof b.params, "%s", clblast_xgemm_candidates[0]);
    b.ms = 42;
    CHECK_OK(tunedb_put(db, &b));
}

static int same_db(const tunedb *a, const tunedb *b) {
    if (a->n != b->n) return 0;
    for (size_t i = 0; i < a->n; i++) {
        const tune_record *r = &a->recs[i];
        const tune_record *s = tunedb_find(b, r->kind, r->device, r->driver, r->key);
        if (!s || strcmp(r->variant, s->variant) || strcmp(r->params, s->params) ||
            fabs(r->ms - s->ms) > 1e-3 || fabs(r->gflops - s->gflops) > 1e-2)
            return 0;
    }
    return 1;
}

static void round_trip(const char *dir) {
    tunedb db = {0}, back = {0};
    sample_db(&db);
    size_t len;
    char *text = tunedb_format(&db, &len);
    tunedb_state state;
    char err[512];
    CHECK(tunedb_parse(text, len, &back, &state, err, sizeof err) == CLSEG_OK, "parse: %s", err);
    CHECK(state == TUNEDB_LOADED && same_db(&db, &back), "round trip in memory");
    size_t len2;
    char *text2 = tunedb_format(&back, &len2);
    CHECK(len == len2 && !memcmp(text, text2, len), "formatting is deterministic");
    free(text2);

    /* save into a directory that does not exist yet, load back; no temporary left behind */
    char path[600], sub[512];
    snprintf(sub, sizeof sub, "%s/a/b", dir);
    snprintf(path, sizeof path, "%s/tuning.db", sub);
    CHECK(tunedb_save(&db, path, err, sizeof err) == CLSEG_OK, "save: %s", err);
    tunedb loaded = {0};
    CHECK(tunedb_load(path, &loaded, &state, err, sizeof err) == CLSEG_OK, "load: %s", err);
    CHECK(state == TUNEDB_LOADED && same_db(&db, &loaded), "round trip through a file");
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", sub);
    CHECK(system(cmd) == 0, "only tuning.db in %s", sub);

    /* a missing file is an empty database, not an error */
    snprintf(path, sizeof path, "%s/none.db", dir);
    CHECK(tunedb_load(path, &loaded, &state, err, sizeof err) == CLSEG_OK &&
              state == TUNEDB_EMPTY && loaded.n == 0,
          "missing file");
    free(text);
    tunedb_free(&db);
    tunedb_free(&back);
    tunedb_free(&loaded);
}

/* Recomputes the checksum line, so that the strict parser (not the checksum) must catch a
   malformed record. */
static char *with_fixed_checksum(const char *body, size_t records) {
    size_t n = strlen(body);
    char *t = malloc(n + 64);
    memcpy(t, body, n);
    snprintf(t + n, 64, "end\t%zu\t%08x\n", records, (unsigned)clseg_crc32(0, body, n));
    return t;
}

static void expect_rejected(const char *what, const char *text, size_t len, tunedb_state want) {
    tunedb db = {0};
    tunedb_state state = TUNEDB_LOADED;
    char err[512] = "";
    clseg_status st = tunedb_parse(text, len, &db, &state, err, sizeof err);
    CHECK(st == CLSEG_ERR_FORMAT && state == want && db.n == 0 && *err,
          "%s: status %d state %d records %zu (%s)", what, (int)st, (int)state, db.n, err);
    tunedb_free(&db);
}

static void damaged(void) {
    tunedb db = {0};
    sample_db(&db);
    size_t len;
    char *text = tunedb_format(&db, &len);
    char *t = malloc(len + 64);

    memcpy(t, text, len);
    char *rec = strstr(t, "\nop\t") + 1;
    rec[strlen("op\tpthread")] ^= 0x20; /* one byte of a record */
    expect_rejected("flipped byte", t, len, TUNEDB_CORRUPT);
    expect_rejected("truncated", text, len - 5, TUNEDB_CORRUPT);
    char *end = strstr(text, "\nend\t") + 1;
    expect_rejected("no end line", text, (size_t)(end - text), TUNEDB_CORRUPT);
    expect_rejected("empty", "", 0, TUNEDB_CORRUPT);
    memcpy(t, text, len);
    memcpy(t + len, "op\n", 3);
    expect_rejected("data after the end line", t, len + 3, TUNEDB_CORRUPT);

    /* the checksum is right but the content is not */
    char body[4096];
    size_t head = (size_t)(strstr(text, "\nop\t") + 1 - text);
    const char *bad_records[] = {
        "op\tdev\tdrv\tconv2d n=1 c=3\tdirect\tTILE_X=4\tfast\t1.0\n", /* time */
        "op\tdev\tdrv\tconv2d n=1 c=3\tdirect\tTILE_X=4\t1.0\n",       /* 7 fields */
        "op\tdev\tdrv\tconv2d n=x\tdirect\tTILE_X=4\t1.0\t2.0\n",      /* signature */
        "op\tdev\tdrv\tconv2d n=1\tdirect\tTILE_X=4=5\t1.0\t2.0\n",    /* parameters */
        "op\tdev\tdrv\tconv2d n=1\tdir ect\tTILE_X=4\t1.0\t2.0\n",     /* variant name */
        "op\tdev\tdrv\tconv2d n=1\tdirect\tTILE_X=4\t-1.0\t2.0\n",     /* negative time */
        "op\t\tdrv\tconv2d n=1\tdirect\tTILE_X=4\t1.0\t2.0\n",         /* empty device */
        "opx\tdev\tdrv\tconv2d n=1\tdirect\tTILE_X=4\t1.0\t2.0\n",     /* record type */
        "clblast\tdev\tdrv\tXgemm\tMWG=64\t1.0\textra\n",              /* 7 fields */
        "op\tdev\tdrv\tconv2d n=1\tdirect\t-\t1\t2\nop\tdev\tdrv\tconv2d n=1\tdirect\t-\t1\t2\n",
    };
    for (size_t i = 0; i < CLSEG_ARRAY_LEN(bad_records); i++) {
        snprintf(body, sizeof body, "%.*s%s", (int)head, text, bad_records[i]);
        size_t count = i + 1 == CLSEG_ARRAY_LEN(bad_records) ? 2 : 1;
        char *f = with_fixed_checksum(body, count);
        char what[64];
        snprintf(what, sizeof what, "malformed record %zu", i);
        expect_rejected(what, f, strlen(f), TUNEDB_CORRUPT);
        free(f);
    }
    /* the count in the end line must match */
    snprintf(body, sizeof body, "%.*s%s", (int)head, text,
             "op\tdev\tdrv\tconv2d n=1\tdirect\t-\t1\t2\n");
    char *f = with_fixed_checksum(body, 2);
    expect_rejected("record count", f, strlen(f), TUNEDB_CORRUPT);
    free(f);
    f = with_fixed_checksum(body, 1);
    tunedb ok = {0};
    tunedb_state state;
    char err[256];
    CHECK(tunedb_parse(f, strlen(f), &ok, &state, err, sizeof err) == CLSEG_OK && ok.n == 1,
          "a minimal well-formed file parses: %s", err);
    tunedb_free(&ok);
    free(f);

    /* not ours: never trusted and never overwritten */
    expect_rejected("PNG", "\x89PNG\r\n\x1a\n", 8, TUNEDB_FOREIGN);
    expect_rejected("text", "hello world\n", 12, TUNEDB_FOREIGN);
    expect_rejected("version 2", "clseg-tuning-db 2\nend\t0\t00000000\n", 33, TUNEDB_FOREIGN);
    free(t);
    free(text);
    tunedb_free(&db);
}

/* What a context does with a database file, without a device: tuning_attach on a bare
   context (it touches OpenCL only for CLBlast records, which these files do not carry). */
static void attach(const char *dir) {
    clseg_device_info d = fake_device();
    op_call c = conv_call();
    tunedb db = {0};
    sample_db(&db);
    for (size_t i = 0; i < db.n; i++)
        if (db.recs[i].kind == TREC_CLBLAST) db.recs[i] = db.recs[--db.n];
    char good[512], corrupt[512], foreign[512], missing[512], err[512];
    snprintf(good, sizeof good, "%s/good.db", dir);
    snprintf(corrupt, sizeof corrupt, "%s/corrupt.db", dir);
    snprintf(foreign, sizeof foreign, "%s/foreign.db", dir);
    snprintf(missing, sizeof missing, "%s/missing.db", dir);
    CHECK(tunedb_save(&db, good, err, sizeof err) == CLSEG_OK, "%s", err);
    size_t len;
    char *text = tunedb_format(&db, &len);
    char *comment = strstr(text, "# Written");
    comment[2] = 'w'; /* damage outside the records: the whole file still goes */
    CHECK(clseg_write_file_atomic(corrupt, text, len, err, sizeof err) == CLSEG_OK, "%s", err);
    CHECK(clseg_write_file_atomic(foreign, "P6\n1 1\n255\n\0\0\0", 14, err, sizeof err) == CLSEG_OK,
          "%s", err);

    const struct {
        const char *path;
        tunedb_state state;
        int tuned, warns;
    } cases[] = {{good, TUNEDB_LOADED, 1, 0},
                 {corrupt, TUNEDB_CORRUPT, 0, 1},
                 {foreign, TUNEDB_FOREIGN, 0, 1},
                 {missing, TUNEDB_EMPTY, 0, 0},
                 {"", TUNEDB_EMPTY, 0, 0}};
    for (size_t i = 0; i < CLSEG_ARRAY_LEN(cases); i++) {
        clseg_context *ctx = calloc(1, sizeof *ctx);
        ctx->info = d;
        clseg_context_options o = {CLSEG_CONTEXT_OPTIONS_INIT, .tuning_db = cases[i].path};
        CHECK_OK(tuning_attach(ctx, &o));
        op_choice ch;
        int chosen = tune_select_on(&ctx->info, ctx->tuning, 0, &c, &ch);
        CHECK(ctx->tuning_state == (int)cases[i].state, "%s: state %d", cases[i].path,
              ctx->tuning_state);
        CHECK(chosen && (ch.source == CHOICE_TUNED) == cases[i].tuned, "%s: tuned %d",
              cases[i].path, chosen ? ch.source == CHOICE_TUNED : -1);
        CHECK((*clseg_context_warning(ctx) != 0) == cases[i].warns &&
                  (!cases[i].warns || strstr(clseg_context_warning(ctx), cases[i].path)),
              "%s: warning '%s'", cases[i].path, clseg_context_warning(ctx));
        if (cases[i].tuned) CHECK(ch.cfg.v[0] == 4 && ch.cfg.v[1] == 2, "tuned parameters");
        tuning_detach(ctx);
        free(ctx);
    }
    free(text);
    tunedb_free(&db);
}

int main(void) {
    char dir[] = "/tmp/clseg-tunedb-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "temporary directory");
    round_trip(dir);
    damaged();
    attach(dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return tu_finish("test_tunedb");
}
