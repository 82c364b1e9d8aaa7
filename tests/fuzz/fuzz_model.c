/* fuzz_model.c - libFuzzer target: the .clsm model parser, as read and with a repaired CRC. */
#include <stdlib.h>
#include <string.h>

#include "net/model.h"

/* A model that parses must serialise back to bytes that parse to the same bytes again. */
static void fz_model_round_trip(const clseg_model *m) {
    uint8_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    clseg_model *back = NULL;
    char err[256];
    if (model_serialize(m, &a, &na, err, sizeof err) != CLSEG_OK) __builtin_trap();
    if (model_parse(a, na, &back, err, sizeof err) != CLSEG_OK) __builtin_trap();
    if (model_serialize(back, &b, &nb, err, sizeof err) != CLSEG_OK) __builtin_trap();
    if (na != nb || memcmp(a, b, na) != 0) __builtin_trap();
    clseg_model_free(back);
    free(a);
    free(b);
}

static void fz_model_one(const uint8_t *data, size_t size) {
    clseg_model *m = NULL;
    char err[256];
    clseg_status st = model_parse(data, size, &m, err, sizeof err);
    if ((st == CLSEG_OK) != (m != NULL) || (st != CLSEG_OK && !err[0])) __builtin_trap();
    if (m) fz_model_round_trip(m);
    clseg_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_model_one(data, size);
    /* Nearly every mutation breaks the trailing CRC-32, which would stop it before the section
       parsers: parse a copy with the CRC repaired too. */
    if (size < 16) return 0;
    uint8_t *copy = malloc(size);
    if (!copy) return 0;
    memcpy(copy, data, size);
    uint32_t crc = clseg_crc32(0, copy, size - 4);
    for (int i = 0; i < 4; i++) copy[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    if (memcmp(copy, data, size) != 0) fz_model_one(copy, size);
    free(copy);
    return 0;
}
