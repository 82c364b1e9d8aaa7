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
    return CLSEG_VERSION_STRING;
}

clseg_status clseg_vfail(char *buf, size_t len, clseg_status status, const char *fmt, va_list ap) {
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

#ifdef CLSEG_FAULT_INJECTION
static _Thread_local long alloc_calls, alloc_fail_at;
static _Thread_local size_t alloc_largest;

void fault_alloc_arm(long nth) {
    alloc_calls = 0;
    alloc_fail_at = nth;
    alloc_largest = 0;
}

long fault_alloc_count(void) {
    return alloc_calls;
}

size_t fault_alloc_largest(void) {
    return alloc_largest;
}

static int alloc_fails(size_t count, size_t size) {
    size_t bytes = size && count > SIZE_MAX / size ? SIZE_MAX : count * size;
    if (bytes > alloc_largest) alloc_largest = bytes;
    return ++alloc_calls == alloc_fail_at;
}
#else
#define alloc_fails(count, size) 0
#endif

void *clseg_malloc(size_t size) {
    if (alloc_fails(1, size)) return NULL;
    return malloc(size ? size : 1);
}

void *clseg_calloc(size_t count, size_t size) {
    if (alloc_fails(count, size)) return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *clseg_realloc(void *ptr, size_t size) {
    if (alloc_fails(1, size)) return NULL;
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

/* CRC-32 table for the reflected polynomial 0xedb88320 (generated once, constant data). */
static const uint32_t crc32_table[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu, 0xe963a535u,
    0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u, 0x09b64c2bu, 0x7eb17cbdu,
    0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u, 0xf3b97148u, 0x84be41deu, 0x1adad47du,
    0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u, 0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu,
    0x14015c4fu, 0x63066cd9u, 0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u,
    0xa2677172u, 0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
    0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u, 0x26d930acu,
    0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u, 0xcfba9599u, 0xb8bda50fu,
    0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u, 0x2f6f7c87u, 0x58684c11u, 0xc1611dabu,
    0xb6662d3du, 0x76dc4190u, 0x01db7106u, 0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu,
    0x9fbfe4a5u, 0xe8b8d433u, 0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu,
    0x086d3d2du, 0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
    0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u, 0x8bbeb8eau,
    0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u, 0x4db26158u, 0x3ab551ceu,
    0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u, 0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au,
    0x346ed9fcu, 0xad678846u, 0xda60b8d0u, 0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u,
    0x5005713cu, 0x270241aau, 0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u,
    0xce61e49fu, 0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au, 0xead54739u,
    0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u, 0x0d6d6a3eu, 0x7a6a5aa8u,
    0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u, 0xf00f9344u, 0x8708a3d2u, 0x1e01f268u,
    0x6906c2feu, 0xf762575du, 0x806567cbu, 0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u,
    0x10da7a5au, 0x67dd4accu, 0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u,
    0xa1d1937eu, 0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
    0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u, 0x316e8eefu,
    0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u, 0xcc0c7795u, 0xbb0b4703u,
    0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u, 0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u,
    0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du, 0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au,
    0x9c0906a9u, 0xeb0e363fu, 0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu,
    0x0cb61b38u, 0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
    0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u, 0x88085ae6u,
    0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u, 0x616bffd3u, 0x166ccf45u,
    0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u, 0xa7672661u, 0xd06016f7u, 0x4969474du,
    0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu, 0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u,
    0x47b2cf7fu, 0x30b5ffe9u, 0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u,
    0xcdd70693u, 0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

uint32_t clseg_crc32(uint32_t crc, const void *data, size_t len) {
    const uint8_t *p = data;
    crc = ~crc;
    while (len--) crc = crc32_table[(crc ^ *p++) & 0xffu] ^ (crc >> 8);
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
        return clseg_fail(err, errlen, CLSEG_ERR_TOO_LARGE, "%s: file too large (%lld bytes)", path,
                          (long long)st.st_size);
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
    if (!path || (!data && size))
        return clseg_fail(err, errlen, CLSEG_ERR_INVALID_ARGUMENT,
                          "clseg_write_file_atomic: NULL %s", path ? "data" : "path");
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
        return clseg_fail(err, errlen, CLSEG_ERR_IO, "%s: write failed: %s", path, strerror(saved));
    }
    /* A killed process cannot undo the rename; a power cut can unless the directory entry is on
       disk too. Best effort: the file is complete either way. */
    const char *slash = strrchr(path, '/');
    snprintf(tmp, plen + 32, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1,
             slash ? path : ".");
    int dir = open(tmp, O_RDONLY | O_DIRECTORY);
    if (dir >= 0) {
        fsync(dir);
        close(dir);
    }
    free(tmp);
    return CLSEG_OK;
}

double clseg_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}
