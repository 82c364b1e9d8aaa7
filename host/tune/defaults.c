/* defaults.c - the device-class defaults table: data, not #ifdefs. Rules are tried in order;
   the first one that matches the call and is legal on the device wins (choose.c). A rule naming
   a variant or parameter this build lacks is skipped (test_selection reports it). */
#include "choose.h"

#define ANY 0
/* conv / deconv shape predicates: kernel size, stride, input channels, output channels, output
   pixels per image; ANY = no constraint on that field. */
#define ANY_SHAPE  ANY, ANY, ANY, ANY, ANY, ANY, ANY, ANY
#define K3S1_CIN16 3, 1, 16, ANY, ANY, ANY, ANY, ANY /* Winograd's case, past the RGB input */
#define K1         1, ANY, ANY, ANY, ANY, ANY, ANY, ANY
#define K3S2       3, 2, ANY, ANY, ANY, ANY, ANY, ANY /* the Winograd deconv's case */

/* Where the numbers come from. pocl-cpu: the winners of `clseg tune --budget 300` on the
   quiet 2-core AVX-512 machine of docs/tuning.md (Winograd F(4x4,3x3) wins the 3x3 layers past
   the first, with a wider transform tile where there are few input channels; the Winograd
   transposed conv (F(2,2) phases) wins the decoder's 3x3 stride-2 layers from 256 input channels,
   1.1-1.5x over the stride-decomposed one alone and 0-30 % in the network, which keeps the
   shallower ones (issue 12, a loaded machine, docs/bench.md), with whole groups of channel blocks
   for small output planes; 8 floats per vector for the memory-bound ops; the "flat" weight
   gradient, 2.3x the lane-parallel "tiled" one, which GPUs keep as the generic choice). llvmpipe:
   measured the same way on rusticl at 120x88 (Winograd ~10 GFLOP/s where the direct kernel with 8x8
   tiles ran at 0.2; the decoder 0.4-1 GFLOP/s with 2x4 tiles, and 3.0-3.7x faster as the Winograd
   deconv with F(2,2) phases in the seed net at 480x352, docs/bench.md). The GPU rows are reasoned
   starting points, not measurements (no such GPU here): desktop GPUs get the local-memory tiled
   kernel with 32- to 64-item groups shaped for their SIMD width (Intel 8-16 lanes, AMD RDNA 32,
   NVIDIA 32) and CLBlast (which carries tuned GEMM parameters for many GPUs) for 1x1 convolutions;
   Mali, whose local memory is ordinary cache, gets Winograd and the register-tiled direct kernel
   with small tiles and groups, as Arm's Compute Library does; Adreno likewise with wider groups.
   `clseg tune` replaces any of them for the exact device. */
const default_rule default_rules[] = {
    /* PoCL on a CPU */
    {DEV_POCL_CPU, OP_CONV2D, 3, 1, 16, 127, ANY, ANY, ANY, ANY, "winograd",
     "WINO_M=4 TRANS_T=8 TILE_CO=8 TILE_T=16 WG_X=8 WG_Y=8"},
    {DEV_POCL_CPU, OP_CONV2D, 3, 1, 128, ANY, ANY, ANY, ANY, ANY, "winograd",
     "WINO_M=4 TRANS_T=4 TILE_CO=8 TILE_T=16 WG_X=1 WG_Y=4"},
    {DEV_POCL_CPU, OP_CONV2D, K1, "direct", "TILE_CO=8 TILE_X=16 WG_X=8 WG_Y=4 WG_Z=4"},
    {DEV_POCL_CPU, OP_CONV2D, ANY_SHAPE, "direct", "TILE_CO=16 TILE_X=16 WG_X=8 WG_Y=4 WG_Z=4"},
    {DEV_POCL_CPU, OP_DECONV2D, 3, 2, 256, ANY, ANY, ANY, ANY, ANY, "winograd",
     "WINO_M=2 TRANS_T=8 TILE_CO=8 TILE_T=32 WG_X=1 WG_Y=4"},
    {DEV_POCL_CPU, OP_DECONV2D, ANY, ANY, ANY, ANY, ANY, ANY, ANY, 4096, "stride_decomposed",
     "TILE_CO=8 TILE_X=16 WG_X=1 WG_Y=16"},
    {DEV_POCL_CPU, OP_DECONV2D, ANY_SHAPE, "stride_decomposed",
     "TILE_CO=4 TILE_X=16 WG_X=4 WG_Y=1"},
    {DEV_POCL_CPU, OP_MAXPOOL, ANY_SHAPE, "vec", "VEC=8"},
    {DEV_POCL_CPU, OP_AVGPOOL, ANY_SHAPE, "vec", "VEC=8"},
    {DEV_POCL_CPU, OP_UPSAMPLE, ANY_SHAPE, "vec", "VEC=8"},
    {DEV_POCL_CPU, OP_CONV2D_BWD_WEIGHT, ANY_SHAPE, "flat", "TILE_CO=4 TILE_CI=4 VW=16"},
    {DEV_POCL_CPU, OP_DECONV2D_BWD_WEIGHT, ANY_SHAPE, "flat", "TILE_CO=4 TILE_CI=4 VW=16"},

    /* Mesa llvmpipe (vectorises across work-items: small tiles per work-item) */
    {DEV_LLVMPIPE, OP_CONV2D, K3S1_CIN16, "winograd",
     "WINO_M=4 TRANS_T=1 TILE_CO=8 TILE_T=8 WG_X=8 WG_Y=8"},
    {DEV_LLVMPIPE, OP_CONV2D, ANY_SHAPE, "direct", "TILE_CO=4 TILE_X=4 WG_X=8 WG_Y=4 WG_Z=1"},
    {DEV_LLVMPIPE, OP_DECONV2D, K3S2, "winograd",
     "WINO_M=2 TRANS_T=1 TILE_CO=8 TILE_T=8 WG_X=8 WG_Y=8"},
    {DEV_LLVMPIPE, OP_DECONV2D, ANY_SHAPE, "stride_decomposed", "TILE_CO=2 TILE_X=4 WG_X=8 WG_Y=4"},
    {DEV_LLVMPIPE, OP_MAXPOOL, ANY_SHAPE, "vec", "VEC=8"},
    {DEV_LLVMPIPE, OP_AVGPOOL, ANY_SHAPE, "vec", "VEC=8"},
    {DEV_LLVMPIPE, OP_UPSAMPLE, ANY_SHAPE, "vec", "VEC=8"},
    {DEV_LLVMPIPE, OP_CONV2D_BWD_WEIGHT, ANY_SHAPE, "flat", "TILE_CO=4 TILE_CI=4 VW=8"},
    {DEV_LLVMPIPE, OP_DECONV2D_BWD_WEIGHT, ANY_SHAPE, "flat", "TILE_CO=4 TILE_CI=4 VW=8"},

    /* Intel GPUs (SIMD8/16 EUs, 64 KiB shared local memory) */
    {DEV_INTEL_GPU, OP_CONV2D, K1, "im2col_gemm", ""},
    {DEV_INTEL_GPU, OP_CONV2D, ANY_SHAPE, "tiled",
     "TILE_CO=8 TILE_X=4 TILE_Y=2 CI_BLOCK=4 WG_X=8 WG_Y=4"},
    {DEV_INTEL_GPU, OP_DECONV2D, ANY_SHAPE, "stride_decomposed",
     "TILE_CO=4 TILE_X=4 WG_X=16 WG_Y=4"},
    {DEV_INTEL_GPU, OP_MAXPOOL, ANY_SHAPE, "vec", "VEC=4"},
    {DEV_INTEL_GPU, OP_AVGPOOL, ANY_SHAPE, "vec", "VEC=4"},
    {DEV_INTEL_GPU, OP_UPSAMPLE, ANY_SHAPE, "vec", "VEC=4"},

    /* AMD GPUs (RDNA wave32 / GCN wave64, 64 KiB LDS) */
    {DEV_AMD_GPU, OP_CONV2D, K1, "im2col_gemm", ""},
    {DEV_AMD_GPU, OP_CONV2D, ANY_SHAPE, "tiled",
     "TILE_CO=8 TILE_X=4 TILE_Y=2 CI_BLOCK=4 WG_X=16 WG_Y=4"},
    {DEV_AMD_GPU, OP_DECONV2D, ANY_SHAPE, "stride_decomposed", "TILE_CO=4 TILE_X=4 WG_X=16 WG_Y=4"},
    {DEV_AMD_GPU, OP_MAXPOOL, ANY_SHAPE, "vec", "VEC=4"},
    {DEV_AMD_GPU, OP_AVGPOOL, ANY_SHAPE, "vec", "VEC=4"},
    {DEV_AMD_GPU, OP_UPSAMPLE, ANY_SHAPE, "vec", "VEC=4"},

    /* NVIDIA (warps of 32, 48 KiB shared memory per block by default) */
    {DEV_NVIDIA, OP_CONV2D, K1, "im2col_gemm", ""},
    {DEV_NVIDIA, OP_CONV2D, ANY_SHAPE, "tiled",
     "TILE_CO=16 TILE_X=4 TILE_Y=2 CI_BLOCK=4 WG_X=16 WG_Y=4"},
    {DEV_NVIDIA, OP_DECONV2D, ANY_SHAPE, "stride_decomposed", "TILE_CO=4 TILE_X=4 WG_X=16 WG_Y=8"},
    {DEV_NVIDIA, OP_MAXPOOL, ANY_SHAPE, "vec", "VEC=4"},
    {DEV_NVIDIA, OP_AVGPOOL, ANY_SHAPE, "vec", "VEC=4"},
    {DEV_NVIDIA, OP_UPSAMPLE, ANY_SHAPE, "vec", "VEC=4"},

    /* Mali Valhall and Bifrost (local memory is global memory; 128-bit vector loads) */
    {DEV_MALI_VALHALL, OP_CONV2D, K3S1_CIN16, "winograd",
     "WINO_M=2 TILE_CO=4 TILE_T=8 WG_X=4 WG_Y=4"},
    {DEV_MALI_VALHALL, OP_CONV2D, ANY_SHAPE, "direct", "TILE_CO=4 TILE_X=4 WG_X=8 WG_Y=4 WG_Z=1"},
    {DEV_MALI_VALHALL, OP_DECONV2D, ANY_SHAPE, "stride_decomposed",
     "TILE_CO=4 TILE_X=4 WG_X=8 WG_Y=4"},
    {DEV_MALI_BIFROST, OP_CONV2D, K3S1_CIN16, "winograd",
     "WINO_M=2 TILE_CO=4 TILE_T=8 WG_X=4 WG_Y=4"},
    {DEV_MALI_BIFROST, OP_CONV2D, ANY_SHAPE, "direct", "TILE_CO=4 TILE_X=4 WG_X=4 WG_Y=4 WG_Z=1"},
    {DEV_MALI_BIFROST, OP_DECONV2D, ANY_SHAPE, "stride_decomposed",
     "TILE_CO=4 TILE_X=4 WG_X=4 WG_Y=4"},
    {DEV_MALI_VALHALL, OP_MAXPOOL, ANY_SHAPE, "vec", "VEC=4"},
    {DEV_MALI_VALHALL, OP_AVGPOOL, ANY_SHAPE, "vec", "VEC=4"},
    {DEV_MALI_VALHALL, OP_UPSAMPLE, ANY_SHAPE, "vec", "VEC=4"},
    {DEV_MALI_BIFROST, OP_MAXPOOL, ANY_SHAPE, "vec", "VEC=4"},
    {DEV_MALI_BIFROST, OP_AVGPOOL, ANY_SHAPE, "vec", "VEC=4"},
    {DEV_MALI_BIFROST, OP_UPSAMPLE, ANY_SHAPE, "vec", "VEC=4"},

    /* Adreno (waves of 64-128 fibers, 32 KiB local memory) */
    {DEV_ADRENO, OP_CONV2D, K3S1_CIN16, "winograd", "WINO_M=2 TILE_CO=4 TILE_T=8 WG_X=8 WG_Y=8"},
    {DEV_ADRENO, OP_CONV2D, ANY_SHAPE, "direct", "TILE_CO=4 TILE_X=4 WG_X=16 WG_Y=4 WG_Z=1"},
    {DEV_ADRENO, OP_DECONV2D, ANY_SHAPE, "stride_decomposed", "TILE_CO=4 TILE_X=4 WG_X=16 WG_Y=4"},
    {DEV_ADRENO, OP_MAXPOOL, ANY_SHAPE, "vec", "VEC=4"},
    {DEV_ADRENO, OP_AVGPOOL, ANY_SHAPE, "vec", "VEC=4"},
    {DEV_ADRENO, OP_UPSAMPLE, ANY_SHAPE, "vec", "VEC=4"},

    /* Anything else: modest tiles and 64-item groups every device of the last decade takes. */
    {DEV_UNKNOWN_GPU, OP_CONV2D, ANY_SHAPE, "direct", "TILE_CO=4 TILE_X=4 WG_X=8 WG_Y=8 WG_Z=1"},
    {DEV_UNKNOWN_GPU, OP_DECONV2D, ANY_SHAPE, "stride_decomposed",
     "TILE_CO=4 TILE_X=4 WG_X=8 WG_Y=8"},
    /* Other CPU runtimes vectorise across work-items as llvmpipe does: its choices. */
    {DEV_UNKNOWN_CPU, OP_CONV2D, K3S1_CIN16, "winograd",
     "WINO_M=4 TRANS_T=1 TILE_CO=8 TILE_T=8 WG_X=8 WG_Y=8"},
    {DEV_UNKNOWN_CPU, OP_CONV2D, ANY_SHAPE, "direct", "TILE_CO=4 TILE_X=4 WG_X=8 WG_Y=4 WG_Z=1"},
    {DEV_UNKNOWN_CPU, OP_DECONV2D, K3S2, "winograd",
     "WINO_M=2 TRANS_T=1 TILE_CO=8 TILE_T=8 WG_X=8 WG_Y=8"},
    {DEV_UNKNOWN_CPU, OP_DECONV2D, ANY_SHAPE, "stride_decomposed",
     "TILE_CO=2 TILE_X=4 WG_X=8 WG_Y=4"},
    {DEV_UNKNOWN_CPU, OP_CONV2D_BWD_WEIGHT, ANY_SHAPE, "flat", "TILE_CO=4 TILE_CI=4 VW=8"},
    {DEV_UNKNOWN_CPU, OP_DECONV2D_BWD_WEIGHT, ANY_SHAPE, "flat", "TILE_CO=4 TILE_CI=4 VW=8"},
};
const size_t default_rules_len = CLSEG_ARRAY_LEN(default_rules);
