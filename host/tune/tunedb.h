/* tunedb.h - the tuning database: measured best (variant, parameters) per device + driver + op
   signature, and CLBlast kernel parameters per device; a checksummed text file (docs/tuning.md). */
#ifndef CLSEG_TUNEDB_H
#define CLSEG_TUNEDB_H

#include "../ops/ops.h"

#define TUNEDB_MAGIC   "clseg-tuning-db"
#define TUNEDB_VERSION 1
/* Larger files are refused as absurd (a network has tens of distinct layers). */
#define TUNEDB_MAX_BYTES (16u << 20)

typedef enum tune_record_kind {
    TREC_OP,      /* key = op signature; value = variant + its parameters */
    TREC_CLBLAST, /* key = CLBlast kernel name ("Xgemm"); value = its parameters */
} tune_record_kind;

typedef struct tune_record {
    tune_record_kind kind;
    char device[256]; /* normalised device name (dev_normalized_name) */
    char driver[128];
    char key[256];    /* op signature (op_signature) or CLBlast kernel name */
    char variant[64]; /* TREC_OP only */
    char params[512]; /* "NAME=V NAME=V", "" = none */
    double ms;        /* median time of the winner */
    double gflops;    /* 0 for ops without arithmetic */
} tune_record;

struct tunedb {
    tune_record *recs;
    size_t n, cap;
};
typedef struct tunedb tunedb;

/* How a database file fared when loaded. */
typedef enum tunedb_state {
    TUNEDB_EMPTY,   /* no file (not an error) or an empty database */
    TUNEDB_LOADED,  /* parsed and checksum verified */
    TUNEDB_CORRUPT, /* our format, but truncated / bad checksum / malformed: ignored, may be
                       overwritten */
    TUNEDB_FOREIGN, /* not a clseg tuning database, or another version: ignored, and never
                       overwritten */
} tunedb_state;

void tunedb_free(tunedb *db);

/* Strict parse of a whole file. On failure db is left empty, err says why (with a line number)
   and *state says whether the text was ours (CORRUPT) or not (FOREIGN). */
clseg_status tunedb_parse(const char *text, size_t len, tunedb *db, tunedb_state *state, char *err,
                          size_t errlen);
/* Loads path into db (emptied first). A missing file is TUNEDB_EMPTY and CLSEG_OK. */
clseg_status tunedb_load(const char *path, tunedb *db, tunedb_state *state, char *err,
                         size_t errlen);
/* The file text (malloc'd, NUL-terminated): header, records sorted by key, checksum line. */
char *tunedb_format(const tunedb *db, size_t *len);
/* Writes atomically (temporary file + rename), creating the parent directory. */
clseg_status tunedb_save(const tunedb *db, const char *path, char *err, size_t errlen);

/* The record for (kind, device, driver, key), or NULL. */
const tune_record *tunedb_find(const tunedb *db, tune_record_kind kind, const char *device,
                               const char *driver, const char *key);
/* Inserts r, replacing a record with the same (kind, device, driver, key). */
clseg_status tunedb_put(tunedb *db, const tune_record *r);

/* The database identity of a device: normalised name and driver version, with characters that
   the format reserves (tab, newline) replaced by blanks. */
void tune_device_key(const clseg_device_info *dev, char device[256], char driver[128]);

/* "conv2d n=1 c=64 h=176 w=240 cout=128 k=3 stride=1 pad=1 relu=1": the op kind and every shape
   and parameter that can change which variant is fastest or legal. */
void op_signature(const op_call *call, char *buf, size_t len);

/* "TILE_CO=8 TILE_X=4" -> values of v's parameters, starting from v's generic defaults. 0 if a
   name is not one of v's parameters or a value is malformed. */
int tune_params_to_config(const op_variant *v, const char *text, op_config *cfg);
/* The inverse: "TILE_CO=8 TILE_X=4 WG_X=8 ..." (every parameter of v). */
void tune_config_to_params(const op_variant *v, const op_config *cfg, char *buf, size_t len);

/* The variant of `kind` called `name`, or NULL. */
const op_variant *op_variant_find(op_kind kind, const char *name);

#endif
