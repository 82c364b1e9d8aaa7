/* profile.c - device classification and the recorded-device (fixture) parser. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "profile.h"

static const char *const class_names[DEV_CLASS_COUNT] = {
    [DEV_POCL_CPU] = "pocl-cpu",
    [DEV_LLVMPIPE] = "llvmpipe",
    [DEV_INTEL_GPU] = "intel-gpu",
    [DEV_AMD_GPU] = "amd-gpu",
    [DEV_MALI_BIFROST] = "mali-bifrost",
    [DEV_MALI_VALHALL] = "mali-valhall",
    [DEV_ADRENO] = "adreno",
    [DEV_NVIDIA] = "nvidia",
    [DEV_UNKNOWN_GPU] = "unknown-gpu",
    [DEV_UNKNOWN_CPU] = "unknown-cpu",
};
_Static_assert(CLSEG_ARRAY_LEN(class_names) == DEV_CLASS_COUNT, "class name table");

const char *dev_class_name(dev_class c) {
    return (unsigned)c < DEV_CLASS_COUNT ? class_names[c] : "?";
}

int dev_class_parse(const char *name) {
    for (int i = 0; i < DEV_CLASS_COUNT; i++)
        if (!strcmp(name, class_names[i])) return i;
    return -1;
}

static int contains_nocase(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return 1;
    return 0;
}

void dev_normalized_name(const clseg_device_info *dev, char *out, size_t len) {
    static const char *const prefixes[] = {"pthread-", "cpu-", "basic-"};
    const char *s = dev->name;
    while (isspace((unsigned char)*s)) s++;
    for (size_t i = 0; i < CLSEG_ARRAY_LEN(prefixes); i++)
        if (!strncmp(s, prefixes[i], strlen(prefixes[i]))) {
            s += strlen(prefixes[i]);
            break;
        }
    size_t o = 0;
    int blank = 0;
    for (; *s && o + 1 < len; s++) {
        if (isspace((unsigned char)*s)) {
            blank = 1;
            continue;
        }
        if (blank && o) out[o++] = ' ';
        blank = 0;
        if (o + 1 < len) out[o++] = *s;
    }
    if (len) out[o < len ? o : len - 1] = 0;
}

/* Mali-G31/G51/G52/G71/G72/G76 are Bifrost; every other G-series part (G57, G68, G77, G78 and
   the later G310 ... G720, Immortalis included) is Valhall or its successor, which clseg treats
   alike. Midgard (Mali-T) is too old to guess for and stays an unknown GPU. */
static dev_class mali_class(const char *name) {
    const char *g = name;
    while ((g = strchr(g, 'G')) != NULL && !isdigit((unsigned char)g[1])) g++;
    if (!g) return contains_nocase(name, "mali-t") ? DEV_UNKNOWN_GPU : DEV_MALI_VALHALL;
    int model = atoi(g + 1);
    static const int bifrost[] = {31, 51, 52, 71, 72, 76};
    for (size_t i = 0; i < CLSEG_ARRAY_LEN(bifrost); i++)
        if (model == bifrost[i]) return DEV_MALI_BIFROST;
    return DEV_MALI_VALHALL;
}

dev_class dev_classify(const clseg_device_info *dev) {
    char name[256];
    dev_normalized_name(dev, name, sizeof name);
    /* Software devices first: their vendor fields name the host CPU's vendor. */
    if (contains_nocase(name, "llvmpipe")) return DEV_LLVMPIPE;
    int pocl = contains_nocase(dev->platform_vendor, "pocl") ||
               contains_nocase(dev->platform_name, "Portable Computing Language");
    if (dev->type == CLSEG_DEVICE_CPU) return pocl ? DEV_POCL_CPU : DEV_UNKNOWN_CPU;
    /* GPUs (PoCL's CUDA/Level Zero back ends included) by PCI vendor id, else by vendor text. */
    uint32_t id = dev->vendor_id;
    if (id == 0x8086 || contains_nocase(dev->vendor, "intel")) return DEV_INTEL_GPU;
    if (id == 0x1002 || contains_nocase(dev->vendor, "advanced micro devices") ||
        !strncasecmp(dev->vendor, "AMD", 3))
        return DEV_AMD_GPU;
    if (id == 0x10de || contains_nocase(dev->vendor, "nvidia")) return DEV_NVIDIA;
    if (id == 0x13b5 || contains_nocase(name, "mali") || contains_nocase(name, "immortalis"))
        return mali_class(name);
    if (id == 0x5143 || contains_nocase(dev->vendor, "qualcomm") || contains_nocase(name, "adreno"))
        return DEV_ADRENO;
    return DEV_UNKNOWN_GPU;
}

static const char *const isa_names[ISA_COUNT] = {
    [ISA_ANY] = "any", [ISA_SSE] = "sse", [ISA_AVX2] = "avx2", [ISA_AVX512] = "avx512"};

const char *cpu_isa_name(cpu_isa isa) {
    return (unsigned)isa < ISA_COUNT ? isa_names[isa] : "?";
}

/* LLVM x86 target CPUs by the widest vector ISA they have; tried in order, so "skylake-avx512"
   is matched before "skylake". */
static const struct {
    const char *target;
    cpu_isa isa;
} llvm_targets[] = {
    {"avx512", ISA_AVX512},        {"cannonlake", ISA_AVX512},
    {"icelake", ISA_AVX512},       {"cascadelake", ISA_AVX512},
    {"cooperlake", ISA_AVX512},    {"tigerlake", ISA_AVX512},
    {"rocketlake", ISA_AVX512},    {"sapphirerapids", ISA_AVX512},
    {"emeraldrapids", ISA_AVX512}, {"graniterapids", ISA_AVX512},
    {"znver4", ISA_AVX512},        {"znver5", ISA_AVX512},
    {"x86-64-v4", ISA_AVX512},     {"knl", ISA_AVX512},
    {"knm", ISA_AVX512},           {"haswell", ISA_AVX2},
    {"broadwell", ISA_AVX2},       {"skylake", ISA_AVX2},
    {"alderlake", ISA_AVX2},       {"raptorlake", ISA_AVX2},
    {"meteorlake", ISA_AVX2},      {"arrowlake", ISA_AVX2},
    {"lunarlake", ISA_AVX2},       {"gracemont", ISA_AVX2},
    {"znver1", ISA_AVX2},          {"znver2", ISA_AVX2},
    {"znver3", ISA_AVX2},          {"bdver", ISA_AVX2},
    {"x86-64-v3", ISA_AVX2},       {"sandybridge", ISA_AVX2},
    {"ivybridge", ISA_AVX2},       {"btver2", ISA_AVX2},
    {"nehalem", ISA_SSE},          {"westmere", ISA_SSE},
    {"silvermont", ISA_SSE},       {"goldmont", ISA_SSE},
    {"x86-64-v2", ISA_SSE},        {"core2", ISA_SSE},
    {"penryn", ISA_SSE},
};

cpu_isa dev_cpu_isa(const clseg_device_info *dev) {
    if (dev->type != CLSEG_DEVICE_CPU) return ISA_ANY;
    char name[256];
    dev_normalized_name(dev, name, sizeof name);
    for (size_t i = 0; i < CLSEG_ARRAY_LEN(llvm_targets); i++)
        if (contains_nocase(name, llvm_targets[i].target)) return llvm_targets[i].isa;
    uint32_t w = dev->native_vector_width_float;
    return w >= 16 ? ISA_AVX512 : w >= 8 ? ISA_AVX2 : w >= 4 ? ISA_SSE : ISA_ANY;
}

/* ---- fixtures ------------------------------------------------------------------------------- */

static int parse_u64(const char *s, uint64_t *out) {
    if (!*s || *s == '-') return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end) return 0;
    *out = v;
    return 1;
}

static int has_word(const char *list, const char *word) {
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0)) return 1;
    return 0;
}

typedef enum field_kind { F_STR, F_U32, F_U64, F_SIZE } field_kind;
typedef struct field {
    const char *key;
    field_kind kind;
    size_t offset, size;
    int required;
} field;

#define FS(k, m, r)                                                                                \
    { k, F_STR, offsetof(clseg_device_info, m), sizeof(((clseg_device_info *)0)->m), r }
#define FN(k, t, m, r)                                                                             \
    { k, t, offsetof(clseg_device_info, m), 0, r }
static const field fields[] = {
    FS("name", name, 1),
    FS("vendor", vendor, 0),
    FS("platform", platform_name, 0),
    FS("platform_vendor", platform_vendor, 0),
    FS("platform_version", platform_version, 0),
    FS("driver_version", driver_version, 1),
    FS("opencl_c_version", opencl_c_version, 0),
    FN("vendor_id", F_U32, vendor_id, 0),
    FN("compute_units", F_U32, compute_units, 1),
    FN("clock_mhz", F_U32, clock_mhz, 0),
    FN("global_mem_bytes", F_U64, global_mem_bytes, 1),
    FN("local_mem_bytes", F_U64, local_mem_bytes, 1),
    FN("max_alloc_bytes", F_U64, max_alloc_bytes, 1),
    FN("max_work_group_size", F_SIZE, max_work_group_size, 1),
    FN("preferred_vector_width_float", F_U32, preferred_vector_width_float, 1),
    FN("preferred_vector_width_half", F_U32, preferred_vector_width_half, 0),
    FN("native_vector_width_float", F_U32, native_vector_width_float, 0),
};
/* Keys handled by hand, in the order of `seen` after the table's. */
enum { K_TYPE, K_LMEM_TYPE, K_ITEMS, K_EXT, K_CLASS, K_SOURCE, K_EXTRA };
static const char *const extra_keys[K_EXTRA] = {
    "type", "local_mem_type", "max_work_item_sizes", "extensions", "class", "source"};
static const int extra_required[K_EXTRA] = {1, 1, 1, 1, 0, 0};

static clseg_status set_field(const field *f, const char *v, clseg_device_info *o, char *err,
                              size_t errlen, int line) {
    char *base = (char *)o + f->offset;
    if (f->kind == F_STR) {
        if (strlen(v) >= f->size)
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "line %d: %s is too long", line,
                              f->key);
        memcpy(base, v, strlen(v) + 1);
        return CLSEG_OK;
    }
    uint64_t n;
    if (!parse_u64(v, &n) || (f->kind == F_U32 && n > UINT32_MAX))
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "line %d: %s: '%s' is not a number", line,
                          f->key, v);
    if (f->kind == F_U32) {
        uint32_t u = (uint32_t)n;
        memcpy(base, &u, sizeof u);
    } else if (f->kind == F_U64) {
        memcpy(base, &n, sizeof n);
    } else {
        size_t s = (size_t)n;
        memcpy(base, &s, sizeof s);
    }
    return CLSEG_OK;
}

static clseg_status set_extra(int k, char *v, clseg_device_info *o, int *cls, char *err,
                              size_t errlen, int line) {
    switch (k) {
    case K_TYPE:
        if (!strcasecmp(v, "GPU"))
            o->type = CLSEG_DEVICE_GPU;
        else if (!strcasecmp(v, "CPU"))
            o->type = CLSEG_DEVICE_CPU;
        else if (!strcasecmp(v, "accelerator"))
            o->type = CLSEG_DEVICE_ACCELERATOR;
        else if (!strcasecmp(v, "other"))
            o->type = CLSEG_DEVICE_OTHER;
        else
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                              "line %d: type must be GPU, CPU, accelerator or other", line);
        return CLSEG_OK;
    case K_LMEM_TYPE:
        if (strcmp(v, "local") && strcmp(v, "global"))
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                              "line %d: local_mem_type must be local or global", line);
        o->local_mem_is_dedicated = !strcmp(v, "local");
        return CLSEG_OK;
    case K_ITEMS: {
        /* "1024 1024 64", commas and brackets allowed as in the JSON output */
        for (char *p = v; *p; p++)
            if (*p == ',' || *p == '[' || *p == ']') *p = ' ';
        char *save = NULL, *tok = strtok_r(v, " ", &save);
        for (int d = 0; d < 3; d++, tok = strtok_r(NULL, " ", &save)) {
            uint64_t n;
            if (!tok || !parse_u64(tok, &n) || n == 0)
                return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                                  "line %d: max_work_item_sizes needs three positive numbers",
                                  line);
            o->max_work_item_sizes[d] = (size_t)n;
        }
        if (tok)
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                              "line %d: max_work_item_sizes has more than three numbers", line);
        return CLSEG_OK;
    }
    case K_EXT:
        o->has_fp16 = has_word(v, "cl_khr_fp16");
        o->has_fp64 = has_word(v, "cl_khr_fp64");
        o->has_subgroups = has_word(v, "cl_khr_subgroups") || has_word(v, "cl_intel_subgroups");
        return CLSEG_OK;
    case K_CLASS:
        if ((*cls = dev_class_parse(v)) < 0)
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "line %d: unknown class '%s'", line,
                              v);
        return CLSEG_OK;
    default: /* source: free text for the reader */
        return CLSEG_OK;
    }
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

clseg_status dev_fixture_parse(const char *text, clseg_device_info *out, int *expect_class,
                               char *err, size_t errlen) {
    enum { NF = CLSEG_ARRAY_LEN(fields) };
    int seen[NF + K_EXTRA] = {0}, cls = -1, line = 0;
    clseg_device_info o;
    memset(&o, 0, sizeof o);
    o.platform_index = o.device_index = -1;
    const char *p = text;
    while (*p) {
        line++;
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char buf[8192];
        if (n >= sizeof buf)
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "line %d: too long", line);
        memcpy(buf, p, n);
        buf[n] = 0;
        p += n + (nl ? 1 : 0);
        char *s = trim(buf);
        if (!*s || *s == '#') continue;
        char *eq = strchr(s, '=');
        if (!eq)
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "line %d: expected 'key = value'",
                              line);
        *eq = 0;
        char *key = trim(s), *val = trim(eq + 1);
        int idx = -1;
        for (int i = 0; i < NF && idx < 0; i++)
            if (!strcmp(key, fields[i].key)) idx = i;
        for (int i = 0; i < K_EXTRA && idx < 0; i++)
            if (!strcmp(key, extra_keys[i])) idx = NF + i;
        if (idx < 0)
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "line %d: unknown key '%s'", line,
                              key);
        if (seen[idx]++)
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "line %d: '%s' given twice", line,
                              key);
        clseg_status st = idx < NF ? set_field(&fields[idx], val, &o, err, errlen, line)
                                   : set_extra(idx - NF, val, &o, &cls, err, errlen, line);
        if (st != CLSEG_OK) return st;
    }
    for (int i = 0; i < NF + K_EXTRA; i++) {
        int required = i < NF ? fields[i].required : extra_required[i - NF];
        if (required && !seen[i])
            return clseg_fail(err, errlen, CLSEG_ERR_FORMAT, "missing key '%s'",
                              i < NF ? fields[i].key : extra_keys[i - NF]);
    }
    if (o.max_work_group_size == 0 || o.compute_units == 0)
        return clseg_fail(err, errlen, CLSEG_ERR_FORMAT,
                          "max_work_group_size and compute_units must be positive");
    *out = o;
    if (expect_class) *expect_class = cls;
    return CLSEG_OK;
}

clseg_status dev_fixture_load(const char *path, clseg_device_info *out, int *expect_class,
                              char *err, size_t errlen) {
    uint8_t *data;
    size_t size;
    clseg_status st = clseg_read_file(path, 1 << 20, &data, &size, err, errlen);
    if (st != CLSEG_OK) return st;
    char msg[512];
    st = dev_fixture_parse((const char *)data, out, expect_class, msg, sizeof msg);
    if (st != CLSEG_OK) clseg_fail(err, errlen, st, "%s: %s", path, msg);
    free(data);
    return st;
}
