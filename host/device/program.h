/* program.h - kernel program store of a context: sources, compilation and the binary cache. */
#ifndef CLSEG_PROGRAM_H
#define CLSEG_PROGRAM_H

#include "runtime.h"

/* Releases every program and kernel of the context. */
void programs_release(clseg_context *ctx);

/* The program kernels/<name>.cl built with `defines` (compiled, or loaded from the cache). */
clseg_status ctx_program(clseg_context *ctx, const char *name, const char *defines,
                         program_entry **out);

/* The programs in the store, in the order they joined it; programs_get fills out and returns
   1, or 0 when i is out of range. */
size_t programs_count(const clseg_context *ctx);
int programs_get(const clseg_context *ctx, size_t i, clseg_program_info *out);

/* Checks one binary-cache entry (docs/architecture.md): on 1, *bin and *len point at the device
   binary inside data; a truncated, corrupt or foreign (other key) entry is 0. Pure, for the
   fuzzer. */
int cache_entry_parse(const uint8_t *data, size_t size, const char *key, const uint8_t **bin,
                      size_t *len);

/* Names of the embedded kernel programs (for listings and tests). */
size_t program_embedded_count(void);
const char *program_embedded_name(size_t i);

#endif
