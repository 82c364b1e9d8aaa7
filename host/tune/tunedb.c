/* tunedb.c - the tuning database file: strict parser, writer, lookup and op signatures. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../ops/desc.h"
#include "profile.h"
#include "tunedb.h"

void tunedb_free(tunedb *db) {
    free(db->recs);
    db->recs = NULL;
    db->n = db->cap = 0;
}

static int same_key(const tune_record *a, tune_record_kind kind, const char *device,
                    const char *driver, const char *key) {
    return a->kind == kind && !strcmp(a->device, device) && !strcmp(a->driver, driver) &&
           !strcmp(a->key, key);
}

const tune_record *tunedb_find(const tunedb *db, tune_record_kind kind, const char *device,
                               const char *driver, const char *key) {
    for (size_t i = 0; db && i < db->n; i++)
        if (same_key(&db->recs[i], kind, device, driver, key)) return &db->recs[i];
    return NULL;
}

clseg_status tunedb_put(tunedb *db, const tune_record *r) {
    for (size_t i = 0; i < db->n; i++)
        if (same_key(&db->recs[i], r->kind, r->device, r->driver, r->key)) {
            db->recs[i] = *r;
            return CLSEG_OK;
        }
    if (db->n == db->cap) {
        size_t cap = db->cap ? db->cap * 2 : 16;
        tune_record *recs = clseg_realloc(db->recs, cap * sizeof *recs);
        if (!recs) return CLSEG_ERR_OUT_OF_MEMORY;
        db->recs = recs;
        db->cap = cap;
    }
    db->recs[db->n++] = *r;
    return CLSEG_OK;
}

static void sanitize(const char *in, char *out, size_t len) {
    size_t o = 0;
    for (; *in && o + 1 < len; in++)
        out[o++] = (*in == '\t' || *in == '\n' || *in == '\r') ? ' ' : *in;
    out[o] = 0;
}

void tune_device_key(const clseg_device_info *dev, char device[256], char driver[128]) {
    char name[256];
    dev_normalized_name(dev, name, sizeof name);
    sanitize(name, device, 256);
    sanitize(dev->driver_version, driver, 128);
    if (!*device) snprintf(device, 256, "unnamed");
    if (!*driver) snprintf(driver, 128, "unknown");
}

/* ---- op signatures -------------------------------------------------------------------------- */

void op_signature(const op_call *c, char *buf, size_t len) {
    const op_desc *d = op_desc_get(c->kind);
    shape4 x = c->in[0].s;
    int o = snprintf(buf, len, "%s n=%d c=%d h=%d w=%d", op_kind_name(c->kind), x.n, x.c, x.h, x.w);
    if (o < 0 || (size_t)o >= len) return;
    if (d && d->signature) d->signature(c, buf + o, len - (size_t)o);
}

/* ---- parameters ----------------------------------------------------------------------------- */

const op_variant *op_variant_find(op_kind kind, const char *name) {
    for (size_t i = 0; i < op_variant_table_len; i++)
        if (op_variant_table[i]->kind == kind && !strcmp(op_variant_table[i]->name, name))
            return op_variant_table[i];
    return NULL;
}

static int is_ident(const char *s, size_t n) {
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_') return 0;
    return 1;
}

/* Calls fn(name, name_len, value) for each NAME=int token of text; 0 on a malformed token. */
static int each_param(const char *text, int (*fn)(void *, const char *, size_t, long), void *user) {
    const char *p = text;
    while (*p) {
        while (*p == ' ') p++;
        if (!*p) break;
        const char *eq = strchr(p, '='), *end = strchr(p, ' ');
        if (!end) end = p + strlen(p);
        if (!eq || eq > end || !is_ident(p, (size_t)(eq - p))) return 0;
        char num[32];
        size_t nl = (size_t)(end - eq - 1);
        if (nl == 0 || nl >= sizeof num) return 0;
        memcpy(num, eq + 1, nl);
        num[nl] = 0;
        char *e;
        errno = 0;
        long v = strtol(num, &e, 10);
        if (errno || *e || v < -1000000000L || v > 1000000000L) return 0;
        if (fn && !fn(user, p, (size_t)(eq - p), v)) return 0;
        p = end;
    }
    return 1;
}

typedef struct cfg_acc {
    const op_variant *v;
    op_config *cfg;
} cfg_acc;

static int set_cfg(void *user, const char *name, size_t n, long value) {
    cfg_acc *a = user;
    for (int i = 0; i < a->v->n_params && i < OP_MAX_PARAMS; i++)
        if (strlen(a->v->params[i].name) == n && !strncmp(a->v->params[i].name, name, n)) {
            a->cfg->v[i] = (int)value;
            return 1;
        }
    return 0;
}

int tune_params_to_config(const op_variant *v, const char *text, op_config *cfg) {
    *cfg = op_default_config(v);
    cfg_acc a = {v, cfg};
    return each_param(text, set_cfg, &a);
}

void tune_config_to_params(const op_variant *v, const op_config *cfg, char *buf, size_t len) {
    size_t o = 0;
    if (len) buf[0] = 0;
    for (int i = 0; i < v->n_params && i < OP_MAX_PARAMS && o < len; i++) {
        int w = snprintf(buf + o, len - o, "%s%s=%d", i ? " " : "", v->params[i].name, cfg->v[i]);
        if (w < 0) break;
        o += (size_t)w;
    }
}

/* ---- parsing -------------------------------------------------------------------------------- */

static int printable(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0;
    return 1;
}

static int parse_double(const char *s, double *out) {
    char *e;
    errno = 0;
    double v = strtod(s, &e);
    if (!*s || errno || *e || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

/* "conv2d n=1 c=3 ...": an op name then NAME=int tokens. */
static int valid_signature(const char *s) {
    const char *sp = strchr(s, ' ');
    size_t n = sp ? (size_t)(sp - s) : strlen(s);
    return is_ident(s, n) && each_param(s + n, NULL, NULL);
}

/* Splits line (modified in place) at tabs into at most max fields; returns the count. */
static int split_tabs(char *line, char **f, int max) {
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p; p++)
        if (*p == '\t') {
            *p = 0;
            if (n == max) return max + 1;
            f[n++] = p + 1;
        }
    return n;
}

static clseg_status parse_record(char *line, int lineno, tune_record *r, char *err, size_t errlen) {
    char *f[9];
    int n = split_tabs(line, f, 8);
    memset(r, 0, sizeof *r);
    int op = !strcmp(f[0], "op");
    if (!op && strcmp(f[0], "clblast"))
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "line %d: unknown record '%s'", lineno,
                          f[0]);
    if (n != (op ? 8 : 6))
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "line %d: %s record needs %d fields",
                          lineno, f[0], op ? 8 : 6);
    r->kind = op ? TREC_OP : TREC_CLBLAST;
    const char *device = f[1], *driver = f[2], *key = f[3], *variant = op ? f[4] : "",
               *params = op ? f[5] : f[4], *ms = op ? f[6] : f[5], *gf = op ? f[7] : "0";
    if (!printable(device) || strlen(device) >= sizeof r->device || !printable(driver) ||
        strlen(driver) >= sizeof r->driver)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "line %d: bad device or driver", lineno);
    if (strlen(key) >= sizeof r->key || (op ? !valid_signature(key) : !is_ident(key, strlen(key))))
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "line %d: bad key '%s'", lineno, key);
    if (op && (strlen(variant) >= sizeof r->variant || !is_ident(variant, strlen(variant))))
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "line %d: bad variant name", lineno);
    if (!strcmp(params, "-")) params = "";
    if (strlen(params) >= sizeof r->params || !each_param(params, NULL, NULL))
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "line %d: bad parameters", lineno);
    /* Bounded so that tunedb_format's line fits its buffer (1e300 overflowed it) and prints
       what was read: "%.4f" of a time under 0.00005 is 0.0000, which would not load again. */
    if (!parse_double(ms, &r->ms) || !(r->ms >= 0.00005 && r->ms <= 1e9) ||
        !parse_double(gf, &r->gflops) || !(r->gflops >= 0 && r->gflops <= 1e9))
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "line %d: bad time or rate", lineno);
    snprintf(r->device, sizeof r->device, "%s", device);
    snprintf(r->driver, sizeof r->driver, "%s", driver);
    snprintf(r->key, sizeof r->key, "%s", key);
    snprintf(r->variant, sizeof r->variant, "%s", variant);
    snprintf(r->params, sizeof r->params, "%s", params);
    return CLSEG_OK;
}

clseg_status tunedb_parse(const char *text, size_t len, tunedb *db, tunedb_state *state, char *err,
                          size_t errlen) {
    tunedb_free(db);
    *state = TUNEDB_CORRUPT;
    size_t magic = strlen(TUNEDB_MAGIC);
    if (len < magic || memcmp(text, TUNEDB_MAGIC, magic) != 0) {
        *state = len == 0 ? TUNEDB_CORRUPT : TUNEDB_FOREIGN;
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                          len == 0 ? "empty file" : "not a clseg tuning database");
    }
    if (memchr(text, 0, len))
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "contains NUL bytes");
    const char *nl = memchr(text, '\n', len);
    char head[64];
    size_t hl = nl ? (size_t)(nl - text) : len;
    snprintf(head, sizeof head, "%.*s", (int)CLSEG_MIN(hl, sizeof head - 1), text);
    char expect[64];
    snprintf(expect, sizeof expect, "%s %d", TUNEDB_MAGIC, TUNEDB_VERSION);
    if (strcmp(head, expect) != 0) {
        *state = TUNEDB_FOREIGN;
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "header '%s': this clseg reads '%s' only",
                          head, expect);
    }
    /* The checksum line must be the last line, and complete. */
    if (len < 2 || text[len - 1] != '\n')
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "truncated (no final newline)");
    size_t end_at = len - 1;
    while (end_at > 0 && text[end_at - 1] != '\n') end_at--;
    unsigned long count = 0;
    unsigned crc = 0;
    char tail[64];
    int used = 0;
    snprintf(tail, sizeof tail, "%.*s", (int)CLSEG_MIN(len - 1 - end_at, sizeof tail - 1),
             text + end_at);
    if (sscanf(tail, "end\t%lu\t%8x%n", &count, &crc, &used) != 2 || tail[used] != 0 ||
        strlen(tail) != len - 1 - end_at)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "truncated (no 'end' line)");
    if (clseg_crc32(0, text, end_at) != crc)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "checksum mismatch");

    char *copy = clseg_malloc(end_at + 1);
    if (!copy) return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(copy, text, end_at);
    copy[end_at] = 0;
    clseg_status st = CLSEG_OK;
    int lineno = 1;
    for (char *line = copy + hl + 1; st == CLSEG_OK && line < copy + end_at; lineno++) {
        char *eol = strchr(line, '\n');
        if (eol) *eol = 0;
        if (*line && *line != '#') {
            tune_record r;
            st = parse_record(line, lineno + 1, &r, err, errlen);
            if (st == CLSEG_OK && tunedb_find(db, r.kind, r.device, r.driver, r.key))
                st = clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "line %d: duplicate record",
                                lineno + 1);
            if (st == CLSEG_OK) st = tunedb_put(db, &r);
        }
        if (!eol) break;
        line = eol + 1;
    }
    free(copy);
    if (st == CLSEG_OK && count != db->n)
        st = clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "'end' counts %lu records, found %zu", count,
                        db->n);
    if (st != CLSEG_OK) {
        tunedb_free(db);
        return st;
    }
    *state = db->n ? TUNEDB_LOADED : TUNEDB_EMPTY;
    return CLSEG_OK;
}

clseg_status tunedb_load(const char *path, tunedb *db, tunedb_state *state, char *err,
                         size_t errlen) {
    tunedb_free(db);
    *state = TUNEDB_EMPTY;
    struct stat sb;
    if (stat(path, &sb) != 0 && errno == ENOENT) return CLSEG_OK;
    uint8_t *data;
    size_t size;
    clseg_status st = clseg_read_file(path, TUNEDB_MAX_BYTES, &data, &size, err, errlen);
    if (st != CLSEG_OK) {
        *state = TUNEDB_FOREIGN; /* unreadable or absurd: leave it alone */
        return st;
    }
    char msg[512];
    st = tunedb_parse((const char *)data, size, db, state, msg, sizeof msg);
    free(data);
    if (st != CLSEG_OK) clseg_fail(err, errlen, st, "%s: %s", path, msg);
    return st;
}

/* ---- writing -------------------------------------------------------------------------------- */

static int cmp_rec(const void *a, const void *b) {
    const tune_record *x = *(const tune_record *const *)a, *y = *(const tune_record *const *)b;
    int c;
    if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
    if ((c = strcmp(x->device, y->device)) != 0) return c;
    if ((c = strcmp(x->driver, y->driver)) != 0) return c;
    return strcmp(x->key, y->key);
}

char *tunedb_format(const tunedb *db, size_t *len) {
    size_t cap = 512 + db->n * (sizeof(tune_record) + 64);
    char *buf = clseg_malloc(cap);
    const tune_record **order = clseg_malloc((db->n ? db->n : 1) * sizeof *order);
    if (!buf || !order) {
        free(buf);
        free(order);
        return NULL;
    }
    for (size_t i = 0; i < db->n; i++) order[i] = &db->recs[i];
    qsort(order, db->n, sizeof *order, cmp_rec);
    size_t o = (size_t)snprintf(buf, cap,
                                "%s %d\n"
                                "# Written by 'clseg tune'; format in docs/tuning.md. Fields are "
                                "separated by tabs.\n"
                                "# op\tDEVICE\tDRIVER\tSIGNATURE\tVARIANT\tPARAMS\tMS\tGFLOPS\n"
                                "# clblast\tDEVICE\tDRIVER\tKERNEL\tPARAMS\tMS\n",
                                TUNEDB_MAGIC, TUNEDB_VERSION);
    for (size_t i = 0; i < db->n; i++) {
        const tune_record *r = order[i];
        const char *params = *r->params ? r->params : "-";
        if (r->kind == TREC_OP)
            o += (size_t)snprintf(buf + o, cap - o, "op\t%s\t%s\t%s\t%s\t%s\t%.4f\t%.2f\n",
                                  r->device, r->driver, r->key, r->variant, params, r->ms,
                                  r->gflops);
        else
            o += (size_t)snprintf(buf + o, cap - o, "clblast\t%s\t%s\t%s\t%s\t%.4f\n", r->device,
                                  r->driver, r->key, params, r->ms);
    }
    uint32_t crc = clseg_crc32(0, buf, o);
    o += (size_t)snprintf(buf + o, cap - o, "end\t%zu\t%08x\n", db->n, (unsigned)crc);
    free(order);
    *len = o;
    return buf;
}

static void mkdir_parent(const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    char *slash = strrchr(tmp, '/');
    if (!slash || slash == tmp) return;
    *slash = 0;
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0755);
            *p = '/';
        }
    mkdir(tmp, 0755);
}

clseg_status tunedb_save(const tunedb *db, const char *path, char *err, size_t errlen) {
    size_t len;
    char *text = tunedb_format(db, &len);
    if (!text) return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    mkdir_parent(path);
    clseg_status st = clseg_write_file_atomic(path, text, len, err, errlen);
    free(text);
    return st;
}
