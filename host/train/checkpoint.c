/* checkpoint.c - checkpoint files: the .clsm bytes of the model with TRST and OPTM sections
   inserted before the final CRC-32, which then covers them too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"

#define TAG_TRST   "TRST"
#define TAG_OPTM   "OPTM"
#define HEADER     12 /* magic + version */
#define SEC_HEADER 12 /* tag + u64 length */
#define MAX_CKPT   ((size_t)1 << 32)

typedef struct bytes {
    uint8_t *p;
    size_t len, cap;
    int failed;
} bytes;

static void put(bytes *b, const void *data, size_t n) {
    if (b->failed) return;
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2;
        uint8_t *p = clseg_realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_u32(bytes *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}

static void put_u64(bytes *b, uint64_t v) {
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void put_f32s(bytes *b, const float *f, size_t n) {
    for (size_t i = 0; i < n && !b->failed; i++) {
        uint32_t u;
        memcpy(&u, &f[i], 4);
        put_u32(b, u);
    }
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p) {
    return get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static void state_text(const train_state *s, char *buf, size_t len) {
    snprintf(buf, len,
             "format 1\nepoch %d\nstep %d\nglobal_step %ld\nupdates %ld\nbest_miou %.17g\n"
             "best_epoch %d\n%s",
             s->epoch, s->step, s->global_step, s->updates, s->best_miou, s->best_epoch, s->config);
}

clseg_status checkpoint_save(const char *path, trainer *t, const train_state *s, char *err,
                             size_t errlen) {
    const clseg_model *m;
    clseg_status st = trainer_sync_model(t, &m);
    if (st != CLSEG_OK)
        return clseg_fail(err, errlen, st, "%s: reading the weights failed: %s", path,
                          clseg_context_error(trainer_context(t)));
    uint8_t *model_bytes = NULL;
    size_t model_size = 0;
    st = model_serialize(m, &model_bytes, &model_size, err, errlen);
    if (st != CLSEG_OK) return st;
    bytes b = {0};
    put(&b, model_bytes, model_size - 4); /* everything but the model's own CRC */
    free(model_bytes);

    char *text = clseg_malloc(TRAIN_CONFIG_MAX + 512);
    if (!text) b.failed = 1;
    if (text) {
        state_text(s, text, TRAIN_CONFIG_MAX + 512);
        put(&b, TAG_TRST, 4);
        put_u64(&b, strlen(text));
        put(&b, text, strlen(text));
        free(text);
    }

    int slots = trainer_moment_slots(t), n = trainer_param_tensors(t);
    size_t total = trainer_param_total(t);
    float *mom = clseg_malloc(total * sizeof *mom);
    if (!mom) b.failed = 1;
    size_t payload = 8;
    for (int i = 0; i < n; i++)
        payload += 4 + strlen(trainer_param_name(t, i)) + 8 + 4 * slots * trainer_param_count(t, i);
    put(&b, TAG_OPTM, 4);
    put_u64(&b, payload);
    put_u32(&b, (uint32_t)slots);
    put_u32(&b, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        const char *name = trainer_param_name(t, i);
        put_u32(&b, (uint32_t)strlen(name));
        put(&b, name, strlen(name));
        put_u64(&b, trainer_param_count(t, i));
    }
    /* The moment arrays follow the table of names, slot by slot, packed in table order. */
    for (int k = 0; mom && k < slots && !b.failed && st == CLSEG_OK; k++) {
        st = trainer_read_moments(t, k, mom);
        if (st == CLSEG_OK) put_f32s(&b, mom, total);
    }
    free(mom);
    if (st != CLSEG_OK) {
        free(b.p);
        return clseg_fail(err, errlen, st, "%s: reading the optimiser state failed", path);
    }
    if (!b.failed) put_u32(&b, clseg_crc32(0, b.p, b.len));
    if (b.failed) {
        free(b.p);
        return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory writing %s", path);
    }
    st = clseg_write_file_atomic(path, b.p, b.len, err, errlen);
    free(b.p);
    return st;
}

void ckpt_moments_free(ckpt_moments *mo) {
    if (!mo) return;
    free(mo->names);
    free(mo->counts);
    free(mo->data);
    memset(mo, 0, sizeof *mo);
}

/* Reads "key value" into the state; unknown keys are configuration, kept verbatim. */
static clseg_status parse_state(const char *text, size_t len, train_state *s, char *err,
                                size_t errlen) {
    memset(s, 0, sizeof *s);
    s->best_miou = -1;
    int format = 0;
    size_t cfg = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char line[1024];
        if (n >= sizeof line) return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "TRST: long line");
        memcpy(line, p, n);
        line[n] = 0;
        p += n + (nl ? 1 : 0);
        char key[64];
        int used = 0;
        if (sscanf(line, "%63s %n", key, &used) != 1) continue;
        const char *val = line + used;
        char *stop;
        if (!strcmp(key, "format")) {
            format = (int)strtol(val, &stop, 10);
        } else if (!strcmp(key, "epoch")) {
            s->epoch = (int)strtol(val, &stop, 10);
        } else if (!strcmp(key, "step")) {
            s->step = (int)strtol(val, &stop, 10);
        } else if (!strcmp(key, "global_step")) {
            s->global_step = strtol(val, &stop, 10);
        } else if (!strcmp(key, "updates")) {
            s->updates = strtol(val, &stop, 10);
        } else if (!strcmp(key, "best_miou")) {
            s->best_miou = strtod(val, &stop);
        } else if (!strcmp(key, "best_epoch")) {
            s->best_epoch = (int)strtol(val, &stop, 10);
        } else {
            if (cfg + n + 2 > sizeof s->config)
                return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "TRST: configuration too long");
            memcpy(s->config + cfg, line, n);
            cfg += n;
            s->config[cfg++] = '\n';
            s->config[cfg] = 0;
        }
    }
    if (format != 1)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "TRST: unsupported format %d", format);
    if (s->epoch < 0 || s->step < 0 || s->global_step < 0 || s->updates < 0)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "TRST: negative position");
    return CLSEG_OK;
}

static clseg_status parse_moments(const uint8_t *p, size_t len, ckpt_moments *mo, char *err,
                                  size_t errlen) {
    memset(mo, 0, sizeof *mo);
    if (len < 8) return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "OPTM: truncated");
    uint32_t slots = get_u32(p), n = get_u32(p + 4);
    if (slots < 1 || slots > 2 || n > MODEL_MAX_TENSORS)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "OPTM: %u slots, %u tensors", slots, n);
    mo->slots = (int)slots;
    mo->n = (int)n;
    mo->names = clseg_calloc(n ? n : 1, sizeof *mo->names);
    mo->counts = clseg_calloc(n ? n : 1, sizeof *mo->counts);
    if (!mo->names || !mo->counts)
        return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    size_t at = 8;
    for (uint32_t i = 0; i < n; i++) {
        if (len - at < 4) return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "OPTM: truncated");
        uint32_t nl = get_u32(p + at);
        at += 4;
        if (nl < 1 || nl >= MODEL_TENSOR_NAME_MAX || len - at < nl + 8)
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "OPTM: bad tensor record %u", i);
        memcpy(mo->names[i], p + at, nl);
        at += nl;
        uint64_t count = get_u64(p + at);
        at += 8;
        if (count == 0 || count > CLSEG_MAX_ELEMENTS)
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "OPTM: absurd size of %s",
                              mo->names[i]);
        mo->counts[i] = (size_t)count;
        mo->total += (size_t)count;
    }
    if (mo->total > CLSEG_MAX_ELEMENTS || (len - at) / 4 / slots != mo->total ||
        (len - at) % (4 * (size_t)slots))
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "OPTM: %zu data bytes for %zu values",
                          len - at, mo->total * slots);
    mo->data = clseg_malloc(mo->total * slots * sizeof(float) + 1);
    if (!mo->data) return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    for (size_t i = 0; i < mo->total * slots; i++) {
        uint32_t u = get_u32(p + at + 4 * i);
        memcpy(&mo->data[i], &u, 4);
    }
    return CLSEG_OK;
}

clseg_status checkpoint_load(const char *path, clseg_model **model, train_state *s,
                             ckpt_moments *mo, char *err, size_t errlen) {
    *model = NULL;
    memset(mo, 0, sizeof *mo);
    uint8_t *data = NULL;
    size_t size = 0;
    char e2[768];
    clseg_status st = clseg_read_file(path, MAX_CKPT, &data, &size, err, errlen);
    if (st != CLSEG_OK) return st;
    /* The model reader checks magic, version, CRC and every model section, and skips ours. */
    st = model_parse(data, size, model, e2, sizeof e2);
    if (st != CLSEG_OK) {
        free(data);
        return clseg_fail(err, errlen, st, "%s: %s", path, e2);
    }
    int have_state = 0, have_moments = 0;
    size_t pos = HEADER, end = size - 4;
    while (st == CLSEG_OK && pos + SEC_HEADER <= end) {
        uint64_t len = get_u64(data + pos + 4);
        const uint8_t *payload = data + pos + SEC_HEADER;
        if (!memcmp(data + pos, TAG_TRST, 4)) {
            st = parse_state((const char *)payload, (size_t)len, s, e2, sizeof e2);
            have_state = 1;
        } else if (!memcmp(data + pos, TAG_OPTM, 4)) {
            ckpt_moments_free(mo);
            st = parse_moments(payload, (size_t)len, mo, e2, sizeof e2);
            have_moments = 1;
        }
        pos += SEC_HEADER + (size_t)len;
    }
    free(data);
    if (st == CLSEG_OK && (!have_state || !have_moments))
        st = clseg_fail(e2, sizeof e2, CLSEG_ERR_FORMAT,
                        "a model file, not a checkpoint (no %s section); use --init to start "
                        "from its weights",
                        have_state ? TAG_OPTM : TAG_TRST);
    if (st != CLSEG_OK) {
        clseg_model_free(*model);
        *model = NULL;
        ckpt_moments_free(mo);
        return clseg_fail(err, errlen, st, "%s: %s", path, e2);
    }
    return CLSEG_OK;
}

clseg_status checkpoint_apply(trainer *t, const ckpt_moments *mo, char *err, size_t errlen) {
    int n = trainer_param_tensors(t);
    if (mo->slots != trainer_moment_slots(t))
        return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT,
                          "the checkpoint's optimiser keeps %d moment(s), this one %d", mo->slots,
                          trainer_moment_slots(t));
    if (mo->n != n)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                          "the checkpoint has moments of %d "
                          "tensors, the model %d",
                          mo->n, n);
    for (int i = 0; i < n; i++)
        if (strcmp(mo->names[i], trainer_param_name(t, i)) ||
            mo->counts[i] != trainer_param_count(t, i))
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                              "the checkpoint's moments of '%s' do not match the model",
                              mo->names[i]);
    for (int k = 0; k < mo->slots; k++) {
        clseg_status st = trainer_write_moments(t, k, mo->data + (size_t)k * mo->total);
        if (st != CLSEG_OK) return clseg_fail(err, errlen, st, "cannot upload the optimiser state");
    }
    return CLSEG_OK;
}

const char *train_config_value(const char *text, const char *key, size_t *vlen) {
    size_t kl = strlen(key);
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n > kl && !strncmp(p, key, kl) && p[kl] == ' ') {
            *vlen = n - kl - 1;
            return p + kl + 1;
        }
        p = nl ? nl + 1 : NULL;
    }
    return NULL;
}

int train_config_compare(const char *a, const char *b, const char *const *skip, char *msg,
                         size_t msglen) {
    for (int pass = 0; pass < 2; pass++) {
        const char *x = pass ? b : a, *y = pass ? a : b;
        for (const char *p = x; p && *p;) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            char key[64];
            size_t kl = strcspn(p, " \n");
            if (kl > 0 && kl < sizeof key) {
                memcpy(key, p, kl);
                key[kl] = 0;
                int skipped = 0;
                for (int i = 0; skip && skip[i]; i++) skipped |= !strcmp(skip[i], key);
                size_t vx = n > kl ? n - kl - 1 : 0, vy = 0;
                const char *px = p + (n > kl ? kl + 1 : kl), *py = train_config_value(y, key, &vy);
                if (!skipped && (!py || vx != vy || strncmp(px, py, vx))) {
                    const char *va = pass ? (py ? py : "(none)") : px;
                    const char *vb = pass ? px : (py ? py : "(none)");
                    int la = pass ? (py ? (int)vy : 6) : (int)vx;
                    int lb = pass ? (int)vx : (py ? (int)vy : 6);
                    snprintf(msg, msglen, "%s: %.*s vs %.*s", key, la, va, lb, vb);
                    return 0;
                }
            }
            p = nl ? nl + 1 : NULL;
        }
    }
    return 1;
}
