/* common.h - internal helpers shared by every layer: shapes, errors, checked sizes, files. */
#ifndef CLSEG_COMMON_H
#define CLSEG_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "clseg.h"

#define CLSEG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define CLSEG_MIN(a, b)    ((a) < (b) ? (a) : (b))
#define CLSEG_MAX(a, b)    ((a) > (b) ? (a) : (b))

/* Largest tensor element count clseg accepts anywhere (the largest side, CLSEG_MAX_DIM, is in
   clseg.h); larger is rejected as absurd before any allocation. */
#define CLSEG_MAX_ELEMENTS ((size_t)1 << 31)

/* An NCHW float32 tensor shape. */
typedef struct shape4 {
    int n, c, h, w;
} shape4;

static inline size_t shape4_count(shape4 s) {
    return (size_t)s.n * (size_t)s.c * (size_t)s.h * (size_t)s.w;
}
static inline size_t shape4_plane(shape4 s) {
    return (size_t)s.h * (size_t)s.w;
}

/* Writes a formatted one-line message into buf (may be NULL) and returns status, so that error
   paths read `return clseg_fail(buf, len, CLSEG_ERR_IO, "cannot open %s", path);`. */
clseg_status clseg_fail(char *buf, size_t len, clseg_status status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
clseg_status clseg_vfail(char *buf, size_t len, clseg_status status, const char *fmt, va_list ap);

/* Host allocation goes through one place, so fault injection can hook it. */
void *clseg_malloc(size_t size);
void *clseg_calloc(size_t count, size_t size);
void *clseg_realloc(void *ptr, size_t size);
char *clseg_strdup(const char *s);

#ifdef CLSEG_FAULT_INJECTION
/* Test builds only (cmake -DCLSEG_FAULT_INJECTION=ON; docs/reliability.md): the calling thread's
   nth clseg_malloc/calloc/realloc/strdup from now returns NULL (1 = the next one, 0 = none);
   fault_alloc_count() is how many this thread attempted since, fault_alloc_largest() the largest
   size asked for. The counters are thread-local and do not exist in normal builds, which keep no
   mutable global state. */
void fault_alloc_arm(long nth);
long fault_alloc_count(void);
size_t fault_alloc_largest(void);
#endif

/* size = a * b * ..., returning 0 on overflow. */
int clseg_mul_size(size_t *out, size_t a, size_t b);

/* CRC-32 (zlib/PNG polynomial, as Python's zlib.crc32); chain with crc = clseg_crc32(crc, ...)
   starting from 0. */
uint32_t clseg_crc32(uint32_t crc, const void *data, size_t len);
/* 64-bit FNV-1a, for cache keys. */
uint64_t clseg_fnv1a64(uint64_t h, const void *data, size_t len);
#define CLSEG_FNV1A64_INIT 0xcbf29ce484222325ull

/* Reads a whole file (at most max_size bytes; larger is CLSEG_ERR_TOO_LARGE). */
clseg_status clseg_read_file(const char *path, size_t max_size, uint8_t **data, size_t *size,
                             char *err, size_t errlen);
/* clseg_write_file_atomic and clseg_now_ms are public (clseg.h). */

#endif
