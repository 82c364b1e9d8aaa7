/* fuzz_cache.c - libFuzzer target: the program binary cache entry reader (no device needed),
   against a fixed key, against the key the entry claims, and with a repaired CRC. */
#include <stdlib.h>
#include <string.h>

#include "device/program.h"

/* The key of the seed entries in corpus/cache (make_seeds.py writes them). */
static const char fz_cache_key[] = "clseg-program-cache-1\nfuzz device\n1.0\nOpenCL 1.2 fuzz\n"
                                   "-cl-std=CL1.2 -cl-mad-enable\n0123456789abcdef";

static void fz_cache_one(const uint8_t *data, size_t size, const char *key) {
    const uint8_t *bin = NULL;
    size_t len = 0;
    if (!cache_entry_parse(data, size, key, &bin, &len)) return;
    if (len == 0 || bin < data || bin + len > data + size) __builtin_trap();
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < len; i++) sum ^= bin[i];
    (void)sum;
}

/* Every key the entry could match: the fixed one and the one stored in it. */
static void fz_cache_all(const uint8_t *data, size_t size) {
    fz_cache_one(data, size, fz_cache_key);
    if (size < 12) return;
    size_t klen =
        (size_t)data[8] | (size_t)data[9] << 8 | (size_t)data[10] << 16 | (size_t)data[11] << 24;
    if (klen > size - 12 || memchr(data + 12, 0, klen)) return;
    char *key = malloc(klen + 1);
    if (!key) return;
    memcpy(key, data + 12, klen);
    key[klen] = 0;
    fz_cache_one(data, size, key);
    free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_cache_all(data, size);
    if (size < 8) return 0;
    uint8_t *copy = malloc(size);
    if (!copy) return 0;
    memcpy(copy, data, size);
    uint32_t crc = clseg_crc32(0, copy, size - 4);
    for (int i = 0; i < 4; i++) copy[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    if (memcmp(copy, data, size) != 0) fz_cache_all(copy, size);
    free(copy);
    return 0;
}
