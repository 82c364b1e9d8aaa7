/* spec.c - parser and shape propagation of the network spec text (docs/network-spec.md). */
#include "spec.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/op_params.h"

static const char *const type_names[LAYER_TYPE_COUNT] = {
    [LAYER_CONV] = "conv",       [LAYER_DECONV] = "deconv",     [LAYER_MAXPOOL] = "maxpool",
    [LAYER_AVGPOOL] = "avgpool", [LAYER_UPSAMPLE] = "upsample", [LAYER_UNPOOL] = "unpool",
    [LAYER_CONCAT] = "concat",   [LAYER_ADD] = "add",           [LAYER_ACT] = "act",
    [LAYER_GAP] = "gap",         [LAYER_MUL] = "mul",           [LAYER_RESIZE] = "resize",
};
_Static_assert(CLSEG_ARRAY_LEN(type_names) == LAYER_TYPE_COUNT, "layer type name table");

const char *layer_type_name(layer_type t) {
    return (unsigned)t < LAYER_TYPE_COUNT ? type_names[t] : "?";
}

/* Section kinds: the layer types, then [net]. */
enum { SECTION_NONE = -1, SECTION_NET = LAYER_TYPE_COUNT, SECTION_COUNT };

typedef enum spec_key {
    KEY_NAME,
    KEY_CHANNELS,
    KEY_INPUT,
    KEY_INPUTS,
    KEY_FILTERS,
    KEY_SIZE,
    KEY_STRIDE,
    KEY_PAD,
    KEY_BATCHNORM,
    KEY_BN_EPS,
    KEY_BIAS,
    KEY_ACTIVATION,
    KEY_OUTPUT_SIZE,
    KEY_OUTPUT_PADDING,
    KEY_CEIL,
    KEY_FACTOR,
    KEY_MODE,
    KEY_POOL,
    KEY_TEST_FLIP,
    KEY_GROUPS,
    KEY_DILATION,
    KEY_SCALE,
    KEY_COORD,
    KEY_NEAREST_MODE,
    KEY_COUNT
} spec_key;

static const char *const key_names[KEY_COUNT] = {
    [KEY_NAME] = "name",
    [KEY_CHANNELS] = "channels",
    [KEY_TEST_FLIP] = "test_flip",
    [KEY_INPUT] = "input",
    [KEY_INPUTS] = "inputs",
    [KEY_FILTERS] = "filters",
    [KEY_SIZE] = "size",
    [KEY_STRIDE] = "stride",
    [KEY_PAD] = "pad",
    [KEY_BATCHNORM] = "batchnorm",
    [KEY_BN_EPS] = "bn_eps",
    [KEY_BIAS] = "bias",
    [KEY_ACTIVATION] = "activation",
    [KEY_OUTPUT_SIZE] = "output_size",
    [KEY_OUTPUT_PADDING] = "output_padding",
    [KEY_CEIL] = "ceil",
    [KEY_FACTOR] = "factor",
    [KEY_MODE] = "mode",
    [KEY_POOL] = "pool",
    [KEY_GROUPS] = "groups",
    [KEY_DILATION] = "dilation",
    [KEY_SCALE] = "scale",
    [KEY_COORD] = "coord",
    [KEY_NEAREST_MODE] = "nearest_mode",
};
_Static_assert(CLSEG_ARRAY_LEN(key_names) == KEY_COUNT, "spec key name table");

#define K(k) (1u << (k))
#define CONV_KEYS                                                                                  \
    (K(KEY_NAME) | K(KEY_INPUT) | K(KEY_FILTERS) | K(KEY_SIZE) | K(KEY_STRIDE) | K(KEY_PAD) |      \
     K(KEY_BATCHNORM) | K(KEY_BN_EPS) | K(KEY_BIAS) | K(KEY_ACTIVATION))
#define POOL_KEYS (K(KEY_NAME) | K(KEY_INPUT) | K(KEY_SIZE) | K(KEY_STRIDE) | K(KEY_CEIL))

static const uint32_t allowed_keys[SECTION_COUNT] = {
    [SECTION_NET] = K(KEY_NAME) | K(KEY_CHANNELS) | K(KEY_TEST_FLIP),
    [LAYER_CONV] = CONV_KEYS | K(KEY_GROUPS) | K(KEY_DILATION),
    [LAYER_DECONV] = CONV_KEYS | K(KEY_OUTPUT_SIZE) | K(KEY_OUTPUT_PADDING),
    [LAYER_MAXPOOL] = POOL_KEYS,
    [LAYER_AVGPOOL] = POOL_KEYS,
    [LAYER_UPSAMPLE] = K(KEY_NAME) | K(KEY_INPUT) | K(KEY_FACTOR) | K(KEY_MODE),
    [LAYER_UNPOOL] = K(KEY_NAME) | K(KEY_INPUT) | K(KEY_POOL),
    [LAYER_CONCAT] = K(KEY_NAME) | K(KEY_INPUTS),
    [LAYER_ADD] = K(KEY_NAME) | K(KEY_INPUTS) | K(KEY_ACTIVATION),
    [LAYER_ACT] = K(KEY_NAME) | K(KEY_INPUT) | K(KEY_ACTIVATION),
    [LAYER_GAP] = K(KEY_NAME) | K(KEY_INPUT),
    [LAYER_MUL] = K(KEY_NAME) | K(KEY_INPUTS),
    [LAYER_RESIZE] = K(KEY_NAME) | K(KEY_INPUT) | K(KEY_OUTPUT_SIZE) | K(KEY_SIZE) | K(KEY_SCALE) |
                     K(KEY_MODE) | K(KEY_COORD) | K(KEY_NEAREST_MODE),
};

static const uint32_t required_keys[SECTION_COUNT] = {
    [SECTION_NET] = 0,
    [LAYER_CONV] = K(KEY_FILTERS) | K(KEY_SIZE),
    [LAYER_DECONV] = K(KEY_FILTERS) | K(KEY_SIZE),
    [LAYER_MAXPOOL] = K(KEY_SIZE),
    [LAYER_AVGPOOL] = K(KEY_SIZE),
    [LAYER_UPSAMPLE] = K(KEY_FACTOR),
    [LAYER_UNPOOL] = K(KEY_POOL),
    [LAYER_CONCAT] = K(KEY_INPUTS),
    [LAYER_ADD] = K(KEY_INPUTS),
    [LAYER_ACT] = K(KEY_ACTIVATION),
    [LAYER_MUL] = K(KEY_INPUTS),
};

#define LINE_MAX_CHARS 1024
#define LIST_MAX       8

typedef struct parser {
    net_spec *spec;
    char *err;
    size_t errlen;
    int line;
    int section; /* SECTION_NONE before the first header */
    int section_line;
    int net_seen;
    uint32_t keys_seen;
    int key_line[KEY_COUNT];
    int type_count[LAYER_TYPE_COUNT];
    /* Names referred to by the current section, resolved when it ends (the name key may come
       after them). */
    char input_refs[SPEC_MAX_INPUTS][SPEC_NAME_MAX];
    int n_input_refs;
    char match_ref[SPEC_NAME_MAX];
    char pool_ref[SPEC_NAME_MAX];
    /* A reference that named no earlier layer. Parsing goes on so that the message can say
       whether the name is defined later (a forward reference) or nowhere. */
    int pending_line;
    char pending_name[SPEC_NAME_MAX];
    char pending_what[32];
    int pending_found_line;
} parser;

static clseg_status report_pending(parser *p) {
    if (p->pending_found_line > 0)
        return clseg_fail(
            p->err, p->errlen, CLSEG_ERR_FORMAT,
            "line %d: %s '%s' refers to a later layer (line %d); a layer may only use "
            "layers defined before it",
            p->pending_line, p->pending_what, p->pending_name, p->pending_found_line);
    return clseg_fail(p->err, p->errlen, CLSEG_ERR_FORMAT, "line %d: %s '%s': no such layer",
                      p->pending_line, p->pending_what, p->pending_name);
}

/* Every error goes through here; an earlier unresolved reference wins because it comes first in
   the text. */
__attribute__((format(printf, 3, 4))) static clseg_status fail(parser *p, int line, const char *fmt,
                                                               ...) {
    if (p->pending_line > 0) return report_pending(p);
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return clseg_fail(p->err, p->errlen, CLSEG_ERR_FORMAT, "line %d: %s", line, msg);
}

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static char *trim(char *s) {
    while (is_space(*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && is_space(s[n - 1])) s[--n] = 0;
    return s;
}

static int is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* Layer names become tensor-name prefixes ("enc1.weight"), so no dots or spaces. */
static int valid_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n >= SPEC_NAME_MAX || !is_alpha(s[0])) return 0;
    for (size_t i = 1; i < n; i++)
        if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '-') return 0;
    return 1;
}

static clseg_status parse_int(parser *p, const char *key, const char *s, long lo, long hi,
                              int *out) {
    errno = 0;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || *end != 0 || !(is_digit(s[0]) || s[0] == '-' || s[0] == '+'))
        return fail(p, p->line, "%s: '%s' is not an integer", key, s);
    if (errno == ERANGE || v < lo || v > hi)
        return fail(p, p->line, "%s = %s is out of range %ld..%ld", key, s, lo, hi);
    *out = (int)v;
    return CLSEG_OK;
}

/* Splits a comma-separated value in place into trimmed, non-empty items. */
static clseg_status split_list(parser *p, const char *key, char *s, char **items, int max,
                               int *count) {
    int n = 0;
    for (;;) {
        char *comma = strchr(s, ',');
        if (comma) *comma = 0;
        char *item = trim(s);
        if (!*item) return fail(p, p->line, "%s: empty item in list", key);
        if (n == max) return fail(p, p->line, "%s: more than %d items", key, max);
        items[n++] = item;
        if (!comma) break;
        s = comma + 1;
    }
    *count = n;
    return CLSEG_OK;
}

static clseg_status take_ref(parser *p, const char *key, const char *value, char *dst) {
    if (strcmp(value, "data") != 0 && !valid_name(value))
        return fail(p, p->line, "%s: '%s' is not a layer name", key, value);
    snprintf(dst, SPEC_NAME_MAX, "%s", value);
    return CLSEG_OK;
}

static clseg_status set_key(parser *p, spec_key key, char *value) {
    const char *kn = key_names[key];
    if (p->section == SECTION_NET) {
        net_spec *s = p->spec;
        if (key == KEY_NAME) {
            if (!valid_name(value))
                return fail(p, p->line, "name: '%s' is not a valid name", value);
            snprintf(s->name, sizeof s->name, "%s", value);
            return CLSEG_OK;
        }
        if (key == KEY_TEST_FLIP) return parse_int(p, kn, value, 0, 1, &s->test_flip);
        return parse_int(p, kn, value, 1, 4, &s->input_channels);
    }
    spec_layer *L = &p->spec->layers[p->spec->n_layers];
    switch (key) {
    case KEY_NAME:
        if (!valid_name(value) || strcmp(value, "data") == 0)
            return fail(p, p->line,
                        "name: '%s' is not a valid layer name (letters, digits, '_', '-'; "
                        "not 'data')",
                        value);
        snprintf(L->name, sizeof L->name, "%s", value);
        return CLSEG_OK;
    case KEY_INPUT:
        if (strchr(value, ','))
            return fail(p, p->line, "input: a %s layer takes one input", layer_type_name(L->type));
        p->n_input_refs = 1;
        return take_ref(p, kn, value, p->input_refs[0]);
    case KEY_INPUTS: {
        char *items[LIST_MAX];
        int n = 0;
        clseg_status st = split_list(p, kn, value, items, LIST_MAX, &n);
        if (st != CLSEG_OK) return st;
        if (n != SPEC_MAX_INPUTS)
            return fail(p, p->line, "inputs: %s takes exactly 2 inputs, got %d",
                        layer_type_name(L->type), n);
        for (int i = 0; i < n; i++) {
            st = take_ref(p, kn, items[i], p->input_refs[i]);
            if (st != CLSEG_OK) return st;
        }
        p->n_input_refs = n;
        return CLSEG_OK;
    }
    case KEY_FILTERS:
        if (strcmp(value, "classes") == 0) {
            L->filters = SPEC_FILTERS_CLASSES;
            return CLSEG_OK;
        }
        return parse_int(p, kn, value, 1, 4096, &L->filters);
    case KEY_SIZE: {
        if (L->type != LAYER_RESIZE) return parse_int(p, kn, value, 1, 15, &L->size);
        char *items[LIST_MAX];
        int n = 0;
        clseg_status st = split_list(p, kn, value, items, LIST_MAX, &n);
        if (st == CLSEG_OK && n != 2)
            return fail(p, p->line, "size: a resize takes 'height, width', got %d values", n);
        if (st == CLSEG_OK) st = parse_int(p, kn, items[0], 1, CLSEG_MAX_DIM, &L->out_h);
        if (st == CLSEG_OK) st = parse_int(p, kn, items[1], 1, CLSEG_MAX_DIM, &L->out_w);
        return st;
    }
    case KEY_GROUPS:
        return parse_int(p, kn, value, 1, 4096, &L->groups);
    case KEY_DILATION:
        return parse_int(p, kn, value, 1, 16, &L->dilation);
    case KEY_SCALE: {
        char *items[LIST_MAX];
        int n = 0;
        clseg_status st = split_list(p, kn, value, items, LIST_MAX, &n);
        if (st != CLSEG_OK) return st;
        if (n > 2) return fail(p, p->line, "scale: 's' or 'sh, sw', got %d values", n);
        float v[2];
        for (int i = 0; i < n; i++) {
            errno = 0;
            char *end = NULL;
            double d = strtod(items[i], &end);
            if (end == items[i] || *end != 0 || errno == ERANGE || !(d >= 1.0 / 1024 && d <= 1024))
                return fail(p, p->line, "scale: '%s' is not a number in [1/1024, 1024]", items[i]);
            v[i] = (float)d;
        }
        L->scale_h = v[0];
        L->scale_w = v[n - 1];
        return CLSEG_OK;
    }
    case KEY_COORD: {
        static const char *const names[RESIZE_COORD_COUNT] = {"half_pixel", "pytorch_half_pixel",
                                                              "align_corners", "asymmetric",
                                                              "tf_half_pixel_for_nn"};
        for (int i = 0; i < RESIZE_COORD_COUNT; i++)
            if (!strcmp(value, names[i])) return L->coord = i, CLSEG_OK;
        return fail(p, p->line,
                    "coord: '%s' is not half_pixel, pytorch_half_pixel, align_corners, "
                    "asymmetric or tf_half_pixel_for_nn",
                    value);
    }
    case KEY_NEAREST_MODE: {
        static const char *const names[RESIZE_ROUND_COUNT] = {"round_prefer_floor",
                                                              "round_prefer_ceil", "floor", "ceil"};
        for (int i = 0; i < RESIZE_ROUND_COUNT; i++)
            if (!strcmp(value, names[i])) return L->round = i, CLSEG_OK;
        return fail(p, p->line,
                    "nearest_mode: '%s' is not round_prefer_floor, round_prefer_ceil, floor or "
                    "ceil",
                    value);
    }
    case KEY_STRIDE:
        return parse_int(p, kn, value, 1, 8, &L->stride);
    case KEY_PAD:
        return parse_int(p, kn, value, 0, 14, &L->pad);
    case KEY_BATCHNORM:
        return parse_int(p, kn, value, 0, 1, &L->batchnorm);
    case KEY_BIAS:
        return parse_int(p, kn, value, 0, 1, &L->bias);
    case KEY_CEIL:
        return parse_int(p, kn, value, 0, 1, &L->ceil_mode);
    case KEY_FACTOR:
        return parse_int(p, kn, value, 1, 16, &L->factor);
    case KEY_BN_EPS: {
        errno = 0;
        char *end = NULL;
        double v = strtod(value, &end);
        if (end == value || *end != 0 || errno == ERANGE || !isfinite(v))
            return fail(p, p->line, "bn_eps: '%s' is not a number", value);
        if (!(v > 0 && v <= 0.1))
            return fail(p, p->line, "bn_eps = %s is out of range (0, 0.1]", value);
        L->bn_eps = (float)v;
        return CLSEG_OK;
    }
    case KEY_ACTIVATION: {
        /* conv and act take every act_kind; deconv and add relu or linear */
        const int any = L->type == LAYER_CONV || L->type == LAYER_ACT;
        const int a = act_kind_parse(value);
        if (a < 0 || (!any && a > ACT_RELU))
            return fail(p, p->line, "activation: '%s' is not %s", value,
                        any ? "linear, relu, relu6, hardswish, hardsigmoid or sigmoid"
                            : "relu or linear");
        L->act = a;
        return CLSEG_OK;
    }
    case KEY_MODE:
        if (strcmp(value, "nearest") == 0)
            L->bilinear = 0;
        else if (strcmp(value, "bilinear") == 0)
            L->bilinear = 1;
        else
            return fail(p, p->line, "mode: '%s' is not nearest or bilinear", value);
        return CLSEG_OK;
    case KEY_OUTPUT_SIZE:
        return take_ref(p, kn, value, p->match_ref);
    case KEY_OUTPUT_PADDING: {
        char *items[LIST_MAX];
        int n = 0;
        clseg_status st = split_list(p, kn, value, items, LIST_MAX, &n);
        if (st != CLSEG_OK) return st;
        if (n > 2) return fail(p, p->line, "output_padding: one value or 'h, w', got %d", n);
        st = parse_int(p, kn, items[0], 0, 7, &L->out_pad_h);
        if (st == CLSEG_OK) st = parse_int(p, kn, items[n - 1], 0, 7, &L->out_pad_w);
        return st;
    }
    case KEY_POOL:
        if (strcmp(value, "data") == 0) return fail(p, p->line, "pool: 'data' is not a maxpool");
        return take_ref(p, kn, value, p->pool_ref);
    case KEY_CHANNELS:
    case KEY_TEST_FLIP:
    case KEY_COUNT:
        break;
    }
    return fail(p, p->line, "internal: key %s unhandled", kn);
}

/* Finds an earlier layer (or `data`); a miss becomes the pending error. */
static clseg_status resolve(parser *p, const char *name, int line, const char *what, int *index) {
    const net_spec *s = p->spec;
    if (strcmp(name, "data") == 0) {
        *index = SPEC_INPUT;
        return CLSEG_OK;
    }
    for (int i = 0; i < s->n_layers; i++) {
        if (strcmp(s->layers[i].name, name) == 0) {
            *index = i;
            return CLSEG_OK;
        }
    }
    if (strcmp(s->layers[s->n_layers].name, name) == 0)
        return fail(p, line, "%s '%s' refers to the layer itself", what, name);
    if (p->pending_line == 0) {
        p->pending_line = line;
        snprintf(p->pending_name, sizeof p->pending_name, "%s", name);
        snprintf(p->pending_what, sizeof p->pending_what, "%s", what);
    }
    *index = 0; /* placeholder; the parse fails at the end */
    return CLSEG_OK;
}

static int key_or_section_line(const parser *p, spec_key key) {
    return (p->keys_seen & K(key)) ? p->key_line[key] : p->section_line;
}

static clseg_status finish_layer(parser *p) {
    net_spec *s = p->spec;
    spec_layer *L = &s->layers[s->n_layers];
    int ordinal = ++p->type_count[L->type];
    if (!(p->keys_seen & K(KEY_NAME)))
        snprintf(L->name, sizeof L->name, "%s%d", layer_type_name(L->type), ordinal);
    for (int i = 0; i < s->n_layers; i++)
        if (strcmp(s->layers[i].name, L->name) == 0)
            return fail(p, key_or_section_line(p, KEY_NAME),
                        "duplicate layer name '%s' (first used at line %d)", L->name,
                        s->layers[i].line);
    if (p->pending_line > 0 && strcmp(p->pending_name, L->name) == 0 && !p->pending_found_line)
        p->pending_found_line = L->line;

    clseg_status st;
    if (p->n_input_refs == 0) {
        L->n_inputs = 1;
        L->inputs[0] = s->n_layers == 0 ? SPEC_INPUT : s->n_layers - 1;
    } else {
        int line = p->keys_seen & K(KEY_INPUTS) ? p->key_line[KEY_INPUTS] : p->key_line[KEY_INPUT];
        L->n_inputs = p->n_input_refs;
        for (int i = 0; i < p->n_input_refs; i++) {
            st = resolve(p, p->input_refs[i], line, "input", &L->inputs[i]);
            if (st != CLSEG_OK) return st;
        }
    }

    if (L->type == LAYER_CONV || L->type == LAYER_DECONV) {
        /* the dilated window's extent, (size - 1) * dilation + 1 */
        const int extent = (L->size - 1) * L->dilation + 1;
        if (L->pad > extent - 1)
            return fail(p, p->key_line[KEY_PAD], "pad = %d must be less than %s = %d", L->pad,
                        L->dilation > 1 ? "the dilated kernel's extent" : "size", extent);
        if ((p->keys_seen & K(KEY_BN_EPS)) && !L->batchnorm)
            return fail(p, p->key_line[KEY_BN_EPS], "bn_eps given but batchnorm is off");
    }
    if (L->type == LAYER_DECONV) {
        if ((p->keys_seen & K(KEY_OUTPUT_SIZE)) && (p->keys_seen & K(KEY_OUTPUT_PADDING)))
            return fail(p, CLSEG_MAX(p->key_line[KEY_OUTPUT_SIZE], p->key_line[KEY_OUTPUT_PADDING]),
                        "output_size and output_padding exclude each other");
        if (L->out_pad_h >= L->stride || L->out_pad_w >= L->stride)
            return fail(p, p->key_line[KEY_OUTPUT_PADDING],
                        "output_padding must be less than stride = %d", L->stride);
        if (p->keys_seen & K(KEY_OUTPUT_SIZE)) {
            st = resolve(p, p->match_ref, p->key_line[KEY_OUTPUT_SIZE], "output_size", &L->match);
            if (st != CLSEG_OK) return st;
        }
    }
    if (L->type == LAYER_MAXPOOL || L->type == LAYER_AVGPOOL) {
        if (!(p->keys_seen & K(KEY_STRIDE))) L->stride = L->size;
    }
    if (L->type == LAYER_RESIZE) {
        const uint32_t how = p->keys_seen & (K(KEY_OUTPUT_SIZE) | K(KEY_SIZE) | K(KEY_SCALE));
        if (!how || (how & (how - 1)))
            return fail(p, p->section_line,
                        "[resize] needs exactly one of output_size, size and scale");
        if (how & K(KEY_OUTPUT_SIZE)) {
            st = resolve(p, p->match_ref, p->key_line[KEY_OUTPUT_SIZE], "output_size", &L->match);
            if (st != CLSEG_OK) return st;
        }
        if ((p->keys_seen & K(KEY_NEAREST_MODE)) && L->bilinear)
            return fail(p, p->key_line[KEY_NEAREST_MODE],
                        "nearest_mode given for a bilinear resize");
    }
    if (L->type == LAYER_UNPOOL) {
        int line = p->key_line[KEY_POOL];
        st = resolve(p, p->pool_ref, line, "pool", &L->pool_layer);
        if (st != CLSEG_OK) return st;
        if (p->pending_line == 0 && s->layers[L->pool_layer].type != LAYER_MAXPOOL)
            return fail(p, line, "pool: '%s' is a %s layer, not a maxpool", p->pool_ref,
                        layer_type_name(s->layers[L->pool_layer].type));
    }
    s->n_layers++;
    return CLSEG_OK;
}

static clseg_status finish_section(parser *p) {
    if (p->section == SECTION_NONE) return CLSEG_OK;
    uint32_t missing = required_keys[p->section] & ~p->keys_seen;
    if (missing) {
        for (int k = 0; k < KEY_COUNT; k++)
            if (missing & K(k))
                return fail(p, p->section_line, "[%s] is missing required key '%s'",
                            p->section == SECTION_NET ? "net" : layer_type_name(p->section),
                            key_names[k]);
    }
    if (p->section == SECTION_NET) return CLSEG_OK;
    return finish_layer(p);
}

static clseg_status start_section(parser *p, const char *name) {
    int section = SECTION_NONE;
    if (strcmp(name, "net") == 0) section = SECTION_NET;
    for (int t = 0; t < LAYER_TYPE_COUNT; t++)
        if (strcmp(name, type_names[t]) == 0) section = t;
    if (section == SECTION_NONE) return fail(p, p->line, "unknown section [%s]", name);
    if (section == SECTION_NET && p->net_seen) return fail(p, p->line, "a second [net] section");
    if (section != SECTION_NET && !p->net_seen)
        return fail(p, p->line, "[net] must be the first section");
    if (section != SECTION_NET) {
        if (p->spec->n_layers >= SPEC_MAX_LAYERS)
            return fail(p, p->line, "more than %d layers", SPEC_MAX_LAYERS);
        spec_layer *L = &p->spec->layers[p->spec->n_layers];
        memset(L, 0, sizeof *L);
        L->type = (layer_type)section;
        L->line = p->line;
        L->stride = 1;
        L->bias = 1;
        L->bn_eps = 1e-5f;
        L->act = ACT_NONE;
        L->match = SPEC_MATCH_NONE;
        L->pool_layer = -1;
        L->ceil_mode = 1;
        L->factor = 1;
        L->groups = 1;
        L->dilation = 1;
    }
    p->net_seen = 1;
    p->section = section;
    p->section_line = p->line;
    p->keys_seen = 0;
    p->n_input_refs = 0;
    p->match_ref[0] = p->pool_ref[0] = 0;
    return CLSEG_OK;
}

static clseg_status parse_line(parser *p, char *text) {
    char *hash = strchr(text, '#');
    if (hash) *hash = 0;
    char *s = trim(text);
    if (!*s) return CLSEG_OK;
    if (*s == '[') {
        size_t n = strlen(s);
        if (s[n - 1] != ']') return fail(p, p->line, "malformed section header");
        s[n - 1] = 0;
        clseg_status st = finish_section(p);
        if (st != CLSEG_OK) return st;
        return start_section(p, trim(s + 1));
    }
    char *eq = strchr(s, '=');
    if (!eq) return fail(p, p->line, "expected 'key = value' or '[section]'");
    *eq = 0;
    char *key = trim(s), *value = trim(eq + 1);
    if (p->section == SECTION_NONE) return fail(p, p->line, "key '%s' outside a section", key);
    const char *section_name = p->section == SECTION_NET ? "net" : layer_type_name(p->section);
    int k = 0;
    while (k < KEY_COUNT && strcmp(key, key_names[k]) != 0) k++;
    if (k == KEY_COUNT || !(allowed_keys[p->section] & K(k)))
        return fail(p, p->line, "unknown key '%s' in [%s]", key, section_name);
    if (p->keys_seen & K(k))
        return fail(p, p->line, "duplicate key '%s' (first at line %d)", key, p->key_line[k]);
    if (!*value) return fail(p, p->line, "key '%s' has no value", key);
    p->keys_seen |= K(k);
    p->key_line[k] = p->line;
    return set_key(p, (spec_key)k, value);
}

clseg_status spec_parse(const char *text, net_spec *out, char *err, size_t errlen) {
    if (!text || !out) return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, "NULL argument");
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "net");
    out->input_channels = 3;
    parser p = {.spec = out, .err = err, .errlen = errlen, .section = SECTION_NONE};
    clseg_status st = CLSEG_OK;
    const char *cur = text;
    while (*cur) {
        p.line++;
        const char *nl = strchr(cur, '\n');
        size_t n = nl ? (size_t)(nl - cur) : strlen(cur);
        if (n >= LINE_MAX_CHARS) {
            st = fail(&p, p.line, "line longer than %d characters", LINE_MAX_CHARS - 1);
            break;
        }
        char buf[LINE_MAX_CHARS];
        memcpy(buf, cur, n);
        buf[n] = 0;
        st = parse_line(&p, buf);
        if (st != CLSEG_OK) break;
        cur = nl ? nl + 1 : cur + n;
    }
    if (st == CLSEG_OK) st = finish_section(&p);
    if (st == CLSEG_OK && p.pending_line > 0) st = report_pending(&p);
    if (st == CLSEG_OK && !p.net_seen) st = fail(&p, 1, "no [net] section (empty spec?)");
    if (st == CLSEG_OK && out->n_layers == 0)
        st = fail(&p, p.section_line, "the network has no layers");
    if (st != CLSEG_OK) memset(out, 0, sizeof *out);
    return st;
}

int spec_find_layer(const net_spec *spec, const char *name) {
    if (strcmp(name, "data") == 0) return SPEC_INPUT;
    for (int i = 0; i < spec->n_layers; i++)
        if (strcmp(spec->layers[i].name, name) == 0) return i;
    return SPEC_NOT_FOUND;
}

__attribute__((format(printf, 5, 6))) static clseg_status layer_fail(char *err, size_t errlen,
                                                                     clseg_status status,
                                                                     const spec_layer *L,
                                                                     const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return clseg_fail(err, errlen, status, "line %d: %s '%s': %s", L->line,
                      layer_type_name(L->type), L->name, msg);
}

/* Guards against a spec that the parser would not produce (a hand-built net_spec). */
static int references_ok(const net_spec *spec, int i) {
    const spec_layer *L = &spec->layers[i];
    if ((unsigned)L->type >= LAYER_TYPE_COUNT) return 0;
    if (L->n_inputs < 1 || L->n_inputs > SPEC_MAX_INPUTS) return 0;
    int need = (L->type == LAYER_CONCAT || L->type == LAYER_ADD || L->type == LAYER_MUL) ? 2 : 1;
    if (L->n_inputs != need) return 0;
    for (int k = 0; k < L->n_inputs; k++)
        if (L->inputs[k] < SPEC_INPUT || L->inputs[k] >= i) return 0;
    if (L->type == LAYER_UNPOOL && (L->pool_layer < 0 || L->pool_layer >= i ||
                                    spec->layers[L->pool_layer].type != LAYER_MAXPOOL))
        return 0;
    if ((L->type == LAYER_DECONV || L->type == LAYER_RESIZE) && L->match != SPEC_MATCH_NONE &&
        (L->match < SPEC_INPUT || L->match >= i))
        return 0;
    return 1;
}

clseg_status spec_channels(const net_spec *spec, int classes, int *out_channels, char *err,
                           size_t errlen) {
    if (!spec || !out_channels)
        return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, "NULL argument");
    if (classes < 1 || classes > 4096)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "class count %d is out of range", classes);
    if (spec->n_layers < 1 || spec->n_layers > SPEC_MAX_LAYERS || spec->input_channels < 1)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "empty or invalid spec");
    for (int i = 0; i < spec->n_layers; i++) {
        const spec_layer *L = &spec->layers[i];
        if (!references_ok(spec, i))
            return layer_fail(err, errlen, CLSEG_ERR_FORMAT, L, "invalid layer references");
        int a = L->inputs[0] == SPEC_INPUT ? spec->input_channels : out_channels[L->inputs[0]];
        int b = 0;
        if (L->n_inputs > 1)
            b = L->inputs[1] == SPEC_INPUT ? spec->input_channels : out_channels[L->inputs[1]];
        int c = a;
        switch (L->type) {
        case LAYER_CONV:
        case LAYER_DECONV:
            c = L->filters == SPEC_FILTERS_CLASSES ? classes : L->filters;
            if (c < 1) return layer_fail(err, errlen, CLSEG_ERR_FORMAT, L, "no filters");
            if (L->type == LAYER_CONV && L->groups > 1 && (a % L->groups || c % L->groups))
                return layer_fail(err, errlen, CLSEG_ERR_FORMAT, L,
                                  "groups = %d divides neither %d input nor %d output channels",
                                  L->groups, a, c);
            break;
        case LAYER_MUL:
            if (a != b)
                return layer_fail(err, errlen, CLSEG_ERR_FORMAT, L,
                                  "inputs have %d and %d channels", a, b);
            break;
        case LAYER_UNPOOL: {
            int pc = out_channels[L->pool_layer];
            if (a != pc)
                return layer_fail(err, errlen, CLSEG_ERR_FORMAT, L,
                                  "input has %d channels but pool '%s' has %d", a,
                                  spec->layers[L->pool_layer].name, pc);
            break;
        }
        case LAYER_CONCAT:
            c = a + b;
            if (c > 65536) return layer_fail(err, errlen, CLSEG_ERR_TOO_LARGE, L, "%d channels", c);
            break;
        case LAYER_ADD:
            if (a != b)
                return layer_fail(err, errlen, CLSEG_ERR_FORMAT, L,
                                  "inputs have %d and %d channels", a, b);
            break;
        default:
            break;
        }
        out_channels[i] = c;
    }
    return CLSEG_OK;
}

void spec_resize_params(const net_spec *spec, const spec_layer *L, shape4 in,
                        const shape4 *out_shapes, shape4 x, resize_params *p) {
    (void)spec;
    memset(p, 0, sizeof *p);
    p->linear = L->bilinear;
    p->coord = L->coord;
    p->round = L->round;
    if (L->match != SPEC_MATCH_NONE) {
        const shape4 t = L->match == SPEC_INPUT ? in : out_shapes[L->match];
        p->out_h = t.h, p->out_w = t.w;
    } else if (L->out_h > 0) {
        p->out_h = L->out_h, p->out_w = L->out_w;
    } else {
        /* ONNX: floor(in * scale), and the coordinates divide by the scale given */
        p->out_h = (int)floor((double)x.h * L->scale_h);
        p->out_w = (int)floor((double)x.w * L->scale_w);
        p->scale_h = L->scale_h, p->scale_w = L->scale_w;
    }
}

clseg_status spec_shapes(const net_spec *spec, int classes, shape4 in, shape4 *out_shapes,
                         char *err, size_t errlen) {
    int channels[SPEC_MAX_LAYERS];
    clseg_status st = spec_channels(spec, classes, channels, err, errlen);
    if (st != CLSEG_OK) return st;
    if (!out_shapes) return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, "NULL argument");
    if (in.c != spec->input_channels)
        return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT,
                          "input has %d channels, the network takes %d", in.c,
                          spec->input_channels);
    if (in.n < 1 || in.h < 1 || in.w < 1 || in.h > CLSEG_MAX_DIM || in.w > CLSEG_MAX_DIM)
        return clseg_fail(err, errlen, CLSEG_ERR_TOO_LARGE, "input shape %dx%dx%dx%d is invalid",
                          in.n, in.c, in.h, in.w);
    for (int i = 0; i < spec->n_layers; i++) {
        const spec_layer *L = &spec->layers[i];
        shape4 x = L->inputs[0] == SPEC_INPUT ? in : out_shapes[L->inputs[0]];
        shape4 y = x;
        int ok = 1;
        switch (L->type) {
        case LAYER_CONV: {
            conv2d_params cp = {x.c,    channels[i], L->size,   L->stride,
                                L->pad, 0,           L->groups, L->dilation};
            ok = conv2d_out_shape(x, &cp, &y);
            if (!ok)
                return layer_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, L,
                                  "input %dx%d is smaller than the %dx%d kernel", x.h, x.w, L->size,
                                  L->size);
            break;
        }
        case LAYER_DECONV: {
            deconv2d_params dp = {x.c,    channels[i],  L->size,      L->stride,
                                  L->pad, L->out_pad_h, L->out_pad_w, 0};
            if (L->match != SPEC_MATCH_NONE) {
                shape4 want = L->match == SPEC_INPUT ? in : out_shapes[L->match];
                dp.out_pad_h = deconv2d_out_pad_for(x.h, L->size, L->stride, L->pad, want.h);
                dp.out_pad_w = deconv2d_out_pad_for(x.w, L->size, L->stride, L->pad, want.w);
                if (dp.out_pad_h < 0 || dp.out_pad_w < 0)
                    return layer_fail(
                        err, errlen, CLSEG_ERR_INVALID_ARGUMENT, L,
                        "no output_padding turns %dx%d into the %dx%d of '%s'", x.h, x.w, want.h,
                        want.w, L->match == SPEC_INPUT ? "data" : spec->layers[L->match].name);
            }
            ok = deconv2d_out_shape(x, &dp, &y);
            if (!ok)
                return layer_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, L,
                                  "input %dx%d gives no valid output", x.h, x.w);
            break;
        }
        case LAYER_MAXPOOL:
        case LAYER_AVGPOOL: {
            pool_params pp = {L->size, L->stride, L->ceil_mode, 0};
            if (!pool_out_shape(x, &pp, &y))
                return layer_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, L,
                                  "input %dx%d is smaller than the %dx%d window", x.h, x.w, L->size,
                                  L->size);
            break;
        }
        case LAYER_UPSAMPLE: {
            upsample_params up = {L->factor, L->bilinear ? UPSAMPLE_BILINEAR : UPSAMPLE_NEAREST};
            if ((long long)x.h * L->factor > CLSEG_MAX_DIM ||
                (long long)x.w * L->factor > CLSEG_MAX_DIM)
                return layer_fail(err, errlen, CLSEG_ERR_TOO_LARGE, L, "output too large");
            upsample_out_shape(x, &up, &y);
            break;
        }
        case LAYER_UNPOOL: {
            const spec_layer *P = &spec->layers[L->pool_layer];
            shape4 pooled = out_shapes[L->pool_layer];
            shape4 before = P->inputs[0] == SPEC_INPUT ? in : out_shapes[P->inputs[0]];
            if (x.n != pooled.n || x.c != pooled.c || x.h != pooled.h || x.w != pooled.w)
                return layer_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, L,
                                  "input %dx%dx%d does not match the %dx%dx%d output of pool "
                                  "'%s'",
                                  x.c, x.h, x.w, pooled.c, pooled.h, pooled.w, P->name);
            y = (shape4){x.n, x.c, before.h, before.w};
            break;
        }
        case LAYER_ACT:
            break;
        case LAYER_GAP:
            y.h = y.w = 1;
            break;
        case LAYER_RESIZE: {
            resize_params rp;
            spec_resize_params(spec, L, in, out_shapes, x, &rp);
            if (!resize_out_shape(x, &rp, &y))
                return layer_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, L,
                                  "input %dx%d gives no output", x.h, x.w);
            break;
        }
        case LAYER_MUL: {
            shape4 b = L->inputs[1] == SPEC_INPUT ? in : out_shapes[L->inputs[1]];
            if (x.n != b.n || x.c != b.c || !((b.h == 1 && b.w == 1) || (b.h == x.h && b.w == x.w)))
                return layer_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, L,
                                  "inputs %dx%dx%d and %dx%dx%d do not fit together (the second "
                                  "has the first's shape or is c x 1 x 1)",
                                  x.c, x.h, x.w, b.c, b.h, b.w);
            break;
        }
        case LAYER_CONCAT:
        case LAYER_ADD: {
            shape4 b = L->inputs[1] == SPEC_INPUT ? in : out_shapes[L->inputs[1]];
            if (x.n != b.n || x.h != b.h || x.w != b.w || (L->type == LAYER_ADD && x.c != b.c))
                return layer_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT, L,
                                  "inputs %dx%dx%d and %dx%dx%d do not fit together", x.c, x.h, x.w,
                                  b.c, b.h, b.w);
            if (L->type == LAYER_CONCAT) y.c = x.c + b.c;
            break;
        }
        case LAYER_TYPE_COUNT:
            break;
        }
        if (y.h > CLSEG_MAX_DIM || y.w > CLSEG_MAX_DIM || shape4_count(y) > CLSEG_MAX_ELEMENTS)
            return layer_fail(err, errlen, CLSEG_ERR_TOO_LARGE, L,
                              "output %dx%dx%dx%d is too large", y.n, y.c, y.h, y.w);
        out_shapes[i] = y;
    }
    return CLSEG_OK;
}
