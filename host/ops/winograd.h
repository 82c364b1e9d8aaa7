/* winograd.h - what the Winograd variants (conv2d_winograd.c, deconv2d_winograd.c) share: the
   split of a call's tiles into chunks that fit the scratch, and the channel GEMMs
   (kernels/winograd_gemm.cl). */
#ifndef CLSEG_WINOGRAD_H
#define CLSEG_WINOGRAD_H

#include "ops.h"

/* Chunk columns are padded to a multiple of this, so that every TILE_T divides them. */
#define WINO_TILE_ALIGN 32

/* The scratch layout of one call: U (transformed weights), then V (transformed input tiles of a
   chunk) and M (their products); see kernels/winograd_gemm.cl. */
typedef struct wino_plan {
    int alpha, u_side; /* transformed tile side; side of its distinct weight entries */
    int th, tw, rows;  /* tile rows and columns per image, tile rows of the whole batch */
    int chunk_rows;    /* tile rows per chunk */
    int cin, cout_pad; /* input channels; output channels rounded up to a multiple of TILE_CO */
    size_t u, v, mm;   /* float offsets of U, V and M in the scratch buffer */
    size_t bytes;      /* scratch needed */
} wino_plan;

/* Plans a call of n images of th x tw tiles each: 1, or 0 when one tile row does not fit the
   scratch budget of dev or an offset would not fit the kernels' int arguments. */
int wino_plan_make(const clseg_device_info *dev, int n, int th, int tw, int cin, int cout,
                   int tile_co, int alpha, int u_side, wino_plan *pl);

/* The columns (tiles, padded) of a chunk of `rows` tile rows. */
size_t wino_chunk_cols(const wino_plan *pl, int rows);

/* 1 if TILE_CO and TILE_T are values the GEMM kernel takes, else 0 with the reason in why. */
int wino_gemm_supports(int tile_co, int tile_t, char *why, size_t why_len);

/* Compiles (or fetches) the GEMM kernel for this register tile. */
clseg_status wino_gemm_kernel(clseg_context *ctx, int tile_co, int tile_t, cl_kernel *k);

/* A Winograd variant's four kernels in launch order: the weight, input and output transforms
   `names` of `program` with v's defines for cfg, and the GEMM (k[2]) for TILE_CO / TILE_T. */
clseg_status wino_kernels(clseg_context *ctx, const op_variant *v, const op_config *cfg,
                          const char *program, const char *const names[3], int tile_co, int tile_t,
                          cl_kernel k[4]);

/* M = U^T V for the chunk of `cols` columns in scratch s, with (wg_x, wg_y) work-groups (clamped
   to the device's limits). */
clseg_status wino_gemm_run(clseg_context *ctx, cl_kernel k, cl_mem s, const wino_plan *pl,
                           size_t cols, int tile_co, int tile_t, int wg_x, int wg_y);

#endif
