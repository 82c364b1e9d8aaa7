/* program.c - compiles kernel programs on first use, keeps them per (program, defines), and
   stores/reloads device binaries in an on-disk cache that never trusts a damaged entry. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "driver.h"
#include "program.h"

extern const struct {
    const char *name;
    const char *source;
} clseg_embedded_kernels[];
extern const size_t clseg_embedded_kernel_count;

#define BASE_OPTIONS "-cl-std=CL1.2 -cl-mad-enable"
/* kernels/prelude.cl: macros every program starts with, not a program of its own. */
#define PRELUDE     "prelude"
#define CACHE_MAGIC "CLSEGPB1"
/* A cached binary larger than this is treated as damaged. */
#define CACHE_MAX_BYTES ((size_t)256 << 20)

typedef struct kernel_entry {
    char *name;
    cl_kernel kernel;
} kernel_entry;

struct program_entry {
    char *name, *defines, *reason;
    clseg_program_origin origin;
    double ms; /* compile or load, kernel creation for the cache included */
    cl_program program;
    kernel_entry *kernels;
    size_t n_kernels;
};

size_t program_embedded_count(void) {
    return clseg_embedded_kernel_count - 1; /* the prelude */
}

const char *program_embedded_name(size_t i) {
    for (size_t k = 0; k < clseg_embedded_kernel_count; k++) {
        if (strcmp(clseg_embedded_kernels[k].name, PRELUDE) == 0) continue;
        if (i-- == 0) return clseg_embedded_kernels[k].name;
    }
    return NULL;
}

void programs_release(clseg_context *ctx) {
    for (size_t i = 0; i < ctx->n_programs; i++) {
        program_entry *p = &ctx->programs[i];
        for (size_t k = 0; k < p->n_kernels; k++) {
            clReleaseKernel(p->kernels[k].kernel);
            free(p->kernels[k].name);
        }
        free(p->kernels);
        if (p->program) clReleaseProgram(p->program);
        free(p->name);
        free(p->defines);
        free(p->reason);
    }
    free(ctx->programs);
    ctx->programs = NULL;
    ctx->n_programs = ctx->cap_programs = 0;
}

/* Source text of kernels/<name>.cl: from ctx->kernel_dir when set, else embedded at build time.
 *owned is set when the caller must free *source. */
static clseg_status program_source(clseg_context *ctx, const char *name, const char **source,
                                   char **owned) {
    *source = NULL;
    *owned = NULL;
    if (ctx->kernel_dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.cl", ctx->kernel_dir, name);
        uint8_t *data;
        size_t size;
        char err[512];
        clseg_status st = clseg_read_file(path, (size_t)16 << 20, &data, &size, err, sizeof err);
        if (st != CLSEG_OK) return ctx_fail(ctx, st, "kernel source (CLSEG_KERNEL_DIR): %s", err);
        *source = *owned = (char *)data;
        return CLSEG_OK;
    }
    for (size_t i = 0; i < clseg_embedded_kernel_count; i++)
        if (strcmp(clseg_embedded_kernels[i].name, name) == 0) {
            *source = clseg_embedded_kernels[i].source;
            return CLSEG_OK;
        }
    return ctx_fail(ctx, CLSEG_ERR_INTERNAL, "no kernel program named '%s'", name);
}

/* What the compiler gets for program `name`: the prelude, then the program, whose line numbers
   the build log keeps. Freed by the caller. */
static clseg_status program_text(clseg_context *ctx, const char *name, char **text) {
    const char *prelude, *body;
    char *owned_prelude, *owned_body;
    *text = NULL;
    clseg_status st = program_source(ctx, PRELUDE, &prelude, &owned_prelude);
    if (st != CLSEG_OK) return st;
    st = program_source(ctx, name, &body, &owned_body);
    if (st == CLSEG_OK) {
        static const char line_reset[] = "\n#line 1\n";
        size_t len = strlen(prelude) + strlen(line_reset) + strlen(body) + 1;
        *text = clseg_malloc(len);
        if (*text)
            snprintf(*text, len, "%s%s%s", prelude, line_reset, body);
        else
            st = ctx_fail(ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    }
    free(owned_prelude);
    free(owned_body);
    return st;
}

/* ---- binary cache ------------------------------------------------------------------------ */

/* Everything that can change the binary: a different value means a different entry. */
static char *cache_key(const clseg_context *ctx, const char *options, const char *source) {
    uint64_t h = clseg_fnv1a64(CLSEG_FNV1A64_INIT, source, strlen(source));
    size_t len = strlen(ctx->info.name) + strlen(ctx->info.driver_version) +
                 strlen(ctx->info.platform_version) + strlen(options) + 128;
    char *key = clseg_malloc(len);
    if (key)
        snprintf(key, len, "clseg-program-cache-1\n%s\n%s\n%s\n%s\n%016llx", ctx->info.name,
                 ctx->info.driver_version, ctx->info.platform_version, options,
                 (unsigned long long)h);
    return key;
}

static void cache_path(const clseg_context *ctx, const char *key, char *out, size_t size) {
    uint64_t h = clseg_fnv1a64(CLSEG_FNV1A64_INIT, key, strlen(key));
    snprintf(out, size, "%s/%016llx.clbin", ctx->cache_dir, (unsigned long long)h);
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_u64(const uint8_t *p) {
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

/* Entry layout: magic[8] | u32 key_len | key | u64 bin_len | binary | u32 crc32(all before). */
int cache_entry_parse(const uint8_t *data, size_t size, const char *key, const uint8_t **bin,
                      size_t *len) {
    size_t klen = strlen(key);
    if (size < 8 + 4 + 8 + 4 || size - (8 + 4 + 8 + 4) < klen || memcmp(data, CACHE_MAGIC, 8) ||
        get_u32(data + 8) != klen || memcmp(data + 12, key, klen))
        return 0;
    uint64_t blen = get_u64(data + 12 + klen);
    if (blen == 0 || blen != size - (12 + klen + 8 + 4) ||
        get_u32(data + size - 4) != clseg_crc32(0, data, size - 4))
        return 0;
    *bin = data + 12 + klen + 8;
    *len = (size_t)blen;
    return 1;
}

static int cache_lookup(const clseg_context *ctx, const char *key, const uint8_t **bin, size_t *len,
                        uint8_t **file) {
    char path[4096];
    cache_path(ctx, key, path, sizeof path);
    uint8_t *data;
    size_t size;
    if (clseg_read_file(path, CACHE_MAX_BYTES, &data, &size, NULL, 0) != CLSEG_OK) return 0;
    if (!cache_entry_parse(data, size, key, bin, len)) {
        free(data);
        return 0;
    }
    *file = data;
    return 1;
}

static void mkdir_p(const char *dir) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0755);
            *p = '/';
        }
    mkdir(tmp, 0755);
}

/* Best effort: a cache that cannot be written only costs start-up time next run. */
static void cache_store(const clseg_context *ctx, const char *key, cl_program program) {
    /* Some drivers (Mali) finish compiling only at kernel creation: create them all first. */
    cl_uint nk = 0;
    if (clCreateKernelsInProgram(program, 0, NULL, &nk) == CL_SUCCESS && nk > 0) {
        cl_kernel *ks = clseg_calloc(nk, sizeof *ks);
        if (ks && clCreateKernelsInProgram(program, nk, ks, NULL) == CL_SUCCESS)
            for (cl_uint i = 0; i < nk; i++) clReleaseKernel(ks[i]);
        free(ks);
    }
    size_t blen = 0;
    if (clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof blen, &blen, NULL) !=
            CL_SUCCESS ||
        blen == 0 || blen > CACHE_MAX_BYTES)
        return;
    size_t klen = strlen(key), total = 8 + 4 + klen + 8 + blen + 4;
    uint8_t *buf = clseg_malloc(total);
    if (!buf) return;
    unsigned char *bin = buf + 12 + klen + 8;
    memcpy(buf, CACHE_MAGIC, 8);
    put_u32(buf + 8, (uint32_t)klen);
    memcpy(buf + 12, key, klen);
    put_u64(buf + 12 + klen, blen);
    if (clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) == CL_SUCCESS) {
        put_u32(buf + total - 4, clseg_crc32(0, buf, total - 4));
        char path[4096];
        mkdir_p(ctx->cache_dir);
        cache_path(ctx, key, path, sizeof path);
        clseg_write_file_atomic(path, buf, total, NULL, 0);
    }
    free(buf);
}

/* ---- building ------------------------------------------------------------------------------ */

static void keep_build_log(clseg_context *ctx, cl_program program) {
    size_t len = 0;
    free(ctx->build_log);
    ctx->build_log = NULL;
    if (clGetProgramBuildInfo(program, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &len) !=
            CL_SUCCESS ||
        len == 0)
        return;
    ctx->build_log = clseg_calloc(len + 1, 1);
    if (ctx->build_log)
        clGetProgramBuildInfo(program, ctx->device, CL_PROGRAM_BUILD_LOG, len, ctx->build_log,
                              NULL);
}

static clseg_status build_from_source(clseg_context *ctx, const char *name, const char *source,
                                      const char *options, cl_program *out) {
    cl_int e;
    cl_program p = clCreateProgramWithSource(ctx->cl, 1, &source, NULL, &e);
    if (e != CL_SUCCESS) return ctx_cl_fail(ctx, e, "clCreateProgramWithSource");
    e = clBuildProgram(p, 1, &ctx->device, options, NULL, NULL);
    if (e != CL_SUCCESS) {
        keep_build_log(ctx, p);
        clReleaseProgram(p);
        if (e == CL_BUILD_PROGRAM_FAILURE || e == CL_INVALID_BUILD_OPTIONS)
            return ctx_fail(ctx, CLSEG_ERR_BUILD, "kernel program '%s' (%s) failed to build on %s",
                            name, options, ctx->info.name);
        return ctx_cl_fail(ctx, e, "clBuildProgram");
    }
    *out = p;
    return CLSEG_OK;
}

static int build_from_binary(clseg_context *ctx, const uint8_t *bin, size_t len,
                             const char *options, cl_program *out) {
    cl_int e, bin_status;
    cl_program p = clCreateProgramWithBinary(ctx->cl, 1, &ctx->device, &len, &bin, &bin_status, &e);
    if (e != CL_SUCCESS || bin_status != CL_SUCCESS) {
        if (p) clReleaseProgram(p);
        return 0;
    }
    if (clBuildProgram(p, 1, &ctx->device, options, NULL, NULL) != CL_SUCCESS) {
        clReleaseProgram(p);
        return 0;
    }
    *out = p;
    return 1;
}

clseg_status ctx_program(clseg_context *ctx, const char *name, const char *defines,
                         program_entry **out) {
    if (!defines) defines = "";
    for (size_t i = 0; i < ctx->n_programs; i++)
        if (strcmp(ctx->programs[i].name, name) == 0 &&
            strcmp(ctx->programs[i].defines, defines) == 0) {
            *out = &ctx->programs[i];
            return CLSEG_OK;
        }
    if (ctx->n_programs == ctx->cap_programs) {
        size_t cap = ctx->cap_programs ? ctx->cap_programs * 2 : 16;
        program_entry *grown = clseg_realloc(ctx->programs, cap * sizeof *grown);
        if (!grown) return ctx_fail(ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
        ctx->programs = grown;
        ctx->cap_programs = cap;
    }
    char *source;
    clseg_status st = program_text(ctx, name, &source);
    if (st != CLSEG_OK) return st;
    size_t olen = strlen(BASE_OPTIONS) + strlen(defines) + 2;
    char *options = clseg_malloc(olen);
    if (!options) {
        free(source);
        return ctx_fail(ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    }
    snprintf(options, olen, "%s%s%s", BASE_OPTIONS, *defines ? " " : "", defines);

    cl_program program = NULL;
    clseg_program_origin origin = CLSEG_PROGRAM_COMPILED;
    /* A driver that caches programs itself gets the source every time: its cache answers, and
       clseg's would only cost the compiles that reading a binary back forces (driver.h). */
    char *key = ctx->cache_dir && !ctx->driver_caches ? cache_key(ctx, options, source) : NULL;
    double t0 = clseg_now_ms();
    const uint8_t *bin;
    uint8_t *file;
    size_t blen;
    if (key && cache_lookup(ctx, key, &bin, &blen, &file)) {
        if (build_from_binary(ctx, bin, blen, options, &program)) {
            ctx->stats.programs_from_cache++;
            ctx->stats.cache_load_ms += clseg_now_ms() - t0;
            origin = CLSEG_PROGRAM_FROM_CACHE;
            free(key); /* nothing to store */
            key = NULL;
        }
        free(file);
    }
    if (!program) {
        t0 = clseg_now_ms();
        st = build_from_source(ctx, name, source, options, &program);
        if (st == CLSEG_OK) {
            ctx->stats.programs_built++;
            ctx->stats.build_ms += clseg_now_ms() - t0;
            if (ctx->driver_caches) origin = CLSEG_PROGRAM_DRIVER;
        }
    }
    free(source);
    free(options);
    if (st != CLSEG_OK) {
        free(key);
        return st;
    }
    program_entry *p = &ctx->programs[ctx->n_programs];
    memset(p, 0, sizeof *p);
    p->name = clseg_strdup(name);
    p->defines = clseg_strdup(defines);
    p->reason = clseg_strdup(ctx->program_reason);
    p->program = program;
    p->origin = origin;
    if (!p->name || !p->defines || !p->reason) {
        free(p->name);
        free(p->defines);
        free(p->reason);
        clReleaseProgram(program);
        free(key);
        return ctx_fail(ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    }
    ctx->n_programs++;
    /* Storing creates every kernel, where some drivers do much of their compiling: counted. */
    if (key) cache_store(ctx, key, program);
    free(key);
    p->ms = clseg_now_ms() - t0;
    *out = p;
    return CLSEG_OK;
}

size_t programs_count(const clseg_context *ctx) {
    return ctx->n_programs;
}

int programs_get(const clseg_context *ctx, size_t i, clseg_program_info *out) {
    if (i >= ctx->n_programs) return 0;
    const program_entry *p = &ctx->programs[i];
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", p->name);
    snprintf(out->defines, sizeof out->defines, "%s", p->defines);
    snprintf(out->reason, sizeof out->reason, "%s", p->reason);
    out->origin = p->origin;
    out->ms = p->ms;
    return 1;
}

clseg_status ctx_kernel(clseg_context *ctx, const char *program, const char *defines,
                        const char *kernel, cl_kernel *out) {
    if (!defines) defines = "";
    program_entry *p = NULL;
    clseg_status st = ctx_program(ctx, program, defines, &p);
    if (st != CLSEG_OK) return st;
    for (size_t i = 0; i < p->n_kernels; i++)
        if (strcmp(p->kernels[i].name, kernel) == 0) {
            *out = p->kernels[i].kernel;
            return CLSEG_OK;
        }
    kernel_entry *grown = clseg_realloc(p->kernels, (p->n_kernels + 1) * sizeof *grown);
    if (!grown) {
        return ctx_fail(ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    }
    p->kernels = grown;
    cl_int e;
    cl_kernel k = clCreateKernel(p->program, kernel, &e);
    if (e != CL_SUCCESS) {
        char what[160];
        snprintf(what, sizeof what, "clCreateKernel(%s.%s)", program, kernel);
        return ctx_cl_fail(ctx, e, what);
    }
    char *kname = clseg_strdup(kernel);
    if (!kname) {
        clReleaseKernel(k);
        return ctx_fail(ctx, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    }
    p->kernels[p->n_kernels++] = (kernel_entry){kname, k};
    *out = k;
    return CLSEG_OK;
}
