/* fuzz_tune.c - libFuzzer target: the tuning database parser, as read and with a repaired 'end'
   line; what parses must format and parse back to the same text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tune/tunedb.h"

/* Every parameter string of an op record, against every variant of that name. */
static void fz_tune_params(const tune_record *r) {
    for (int k = 0; k < OP_KIND_COUNT; k++) {
        const op_variant *v = op_variant_find((op_kind)k, r->variant);
        if (!v) continue;
        op_config cfg;
        char text[512];
        tune_params_to_config(v, r->params, &cfg);
        tune_config_to_params(v, &cfg, text, sizeof text);
    }
}

static void fz_tune_one(const char *text, size_t len) {
    tunedb db = {0}, back = {0};
    tunedb_state state;
    char err[512];
    clseg_status st = tunedb_parse(text, len, &db, &state, err, sizeof err);
    if (st != CLSEG_OK) {
        if (db.n || !err[0] || state == TUNEDB_LOADED) __builtin_trap();
        return;
    }
    for (size_t i = 0; i < db.n; i++) {
        const tune_record *r = &db.recs[i];
        if (tunedb_find(&db, r->kind, r->device, r->driver, r->key) != r) __builtin_trap();
        if (r->kind == TREC_OP) fz_tune_params(r);
    }
    size_t n1 = 0, n2 = 0;
    char *t1 = tunedb_format(&db, &n1);
    if (!t1) __builtin_trap();
    if (tunedb_parse(t1, n1, &back, &state, err, sizeof err) != CLSEG_OK || back.n != db.n)
        __builtin_trap();
    char *t2 = tunedb_format(&back, &n2);
    if (!t2 || n1 != n2 || memcmp(t1, t2, n1) != 0) __builtin_trap();
    free(t1);
    free(t2);
    tunedb_free(&db);
    tunedb_free(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    fz_tune_one(text, size);
    /* A mutated record almost never keeps the record count and CRC-32 of the last line right:
       parse a copy whose 'end' line is recomputed too. */
    size_t end_at = size;
    while (end_at > 0 && text[end_at - 1] != '\n') end_at--;
    if (end_at > 0 && end_at == size) /* drop a complete last line */
        for (end_at--; end_at > 0 && text[end_at - 1] != '\n'; end_at--) {
        }
    unsigned long records = 0;
    for (size_t i = 0, bol = 1; i < end_at; i++) {
        if (bol && i > 0 && text[i] != '#' && text[i] != '\n') records++;
        bol = text[i] == '\n';
    }
    char *copy = malloc(end_at + 64);
    if (!copy) return 0;
    memcpy(copy, text, end_at);
    int tail = snprintf(copy + end_at, 64, "end\t%lu\t%08x\n", records,
                        (unsigned)clseg_crc32(0, copy, end_at));
    fz_tune_one(copy, end_at + (size_t)tail);
    free(copy);
    return 0;
}
