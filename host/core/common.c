/* common.c - status strings, error formatting, checked allocation, CRC/FNV hashes, file I/O. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const status_names[CLSEG_STATUS_COUNT] = {
    [CLSEG_OK] = "ok",
    [CLSEG_ERR_INVALID_ARGUMENT] = "invalid argument",
    [CLSEG_ERR_OUT_OF_MEMORY] = "out of host memory",
    [CLSEG_ERR_IO] = "input/output error",
    [CLSEG_ERR_FORMAT] = "malformed input",
    [CLSEG_ERR_TOO_LARGE] = "too large",
    [CLSEG_ERR_NO_DEVICE] = "no such OpenCL device",
    [CLSEG_ERR_OPENCL] = "OpenCL error",
    [CLSEG_ERR_BUILD] = "kernel build failed",
    [CLSEG_ERR_UNSUPPORTED] = "unsupported",
    [CLSEG_ERR_INTERNAL] = "internal error",
};
_Static_assert(CLSEG_ARRAY_LEN(status_names) == CLSEG_STATUS_COUNT, "status name table");

const char *clseg_status_str(clseg_status status) {
    if ((int)status < 0 || status >= CLSEG_STATUS_COUNT || !status_names[status])
        return "unknown status";
    return status_names[status];
}

const char *clseg_version(void) {
    return "0.1.0";
}

clseg_status clseg_vfail(char *buf, size_t len, clseg_status status, const char *fmt,
                         va_list ap) {
    if (buf && len > 0) vsnprintf(buf, len, fmt, ap);
    return status;
}

clseg_status clseg_fail(char *buf, size_t len, clseg_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    clseg_vfail(buf, len, status, fmt, ap);
    va_end(ap);
    return status;
}

void *clseg_malloc(size_t size) {
    return malloc(size ? size : 1);
}

void *clseg_calloc(size_t count, size_t size) {
    return calloc(count ? count : 1, size ? size : 1);
}

void *clseg_realloc(void *ptr, size_t size) {
    return realloc(ptr, size ? size : 1);
}

char *clseg_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = clseg_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void clseg_free(void *ptr) {
    free(ptr);
}

int clseg_mul_size(size_t *out, size_t a, size_t b) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

uint32_t clseg_crc32(uint32_t crc, const void *data, size_t len) {
    const uint8_t *p = data;
    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

uint64_t clseg_fnv1a64(uint64_t h, const void *data, size_t len) {
    const uint8_t *p = data;
    while (len--) {
        h ^= *p++;
        h *= 0x100000001b3ull;
    }
    return h;
}

clseg_status clseg_read_file(const char *path, size_t max_size, uint8_t **data, size_t *size,
                             char *err, size_t errlen) {
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return clseg_fail(err, errlen, CLSEG_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return clseg_fail(err, errlen, CLSEG_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_size) {
        fclose(f);
        return clseg_fail(err, errlen, CLSEG_ERR_TOO_LARGE, "%s: file too large (%lld bytes)",
                          path, (long long)st.st_size);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = clseg_malloc(n + 1);
    if (!buf) {
        fclose(f);
        return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    size_t got = fread(buf, 1, n, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != n) {
        free(buf);
        return clseg_fail(err, errlen, CLSEG_ERR_IO, "%s: read error", path);
    }
    buf[n] = 0;
    *data = buf;
    *size = n;
    return CLSEG_OK;
}

clseg_status clseg_write_file_atomic(const char *path, const void *data, size_t size, char *err,
                                     size_t errlen) {
    size_t plen = strlen(path);
    char *tmp = clseg_malloc(plen + 32);
    if (!tmp) return clseg_fail(err, errlen, CLSEG_ERR_OUT_OF_MEMORY, "out of memory");
    snprintf(tmp, plen + 32, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        clseg_status st =
            clseg_fail(err, errlen, CLSEG_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        free(tmp);
        return st;
    }
    const uint8_t *p = data;
    size_t left = size;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        p += w;
        left -= (size_t)w;
    }
    int ok = left == 0 && fchmod(fd, 0644) == 0 && fsync(fd) == 0;
    int saved = errno;
    ok = (close(fd) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        if (ok) saved = errno;
        unlink(tmp);
        free(tmp);
        return clseg_fail(err, errlen, CLSEG_ERR_IO, "%s: write failed: %s", path,
                          strerror(saved));
    }
    free(tmp);
    return CLSEG_OK;
}

double clseg_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}
