/* prelude.cl - the macros every kernel program starts with (the host prepends this file): MAD,
   and float vectors of a compile-time width. */

/* PoCL does not fuse mad(); the host defines USE_FMA where fma() is done in hardware. */
#ifdef USE_FMA
#define MAD(a, b, c) fma(a, b, c)
#else
#define MAD(a, b, c) mad(a, b, c)
#endif

#define CAT_(a, b) a##b
#define CAT(a, b)  CAT_(a, b)

/* n = 1, 2, 4, 8 or 16 lanes (1: a plain float), n a macro that expands to the number.
   FLOATN(n): the type. VLOADN(n, p), VSTOREN(n, v, p): at p, no alignment needed.
   HSUMN(n, v): the sum of the lanes, pairwise (a fixed order, so results are reproducible).
   Another n fails to compile, naming FLOATN_<n>. */
#define FLOATN(n)        CAT(FLOATN_, n)
#define VLOADN(n, p)     CAT(VLOADN_, n)(p)
#define VSTOREN(n, v, p) CAT(VSTOREN_, n)(v, p)
#define HSUMN(n, v)      CAT(HSUMN_, n)(v)

#define FLOATN_1  float
#define FLOATN_2  float2
#define FLOATN_4  float4
#define FLOATN_8  float8
#define FLOATN_16 float16

#define VLOADN_1(p)  (*(p))
#define VLOADN_2(p)  vload2(0, p)
#define VLOADN_4(p)  vload4(0, p)
#define VLOADN_8(p)  vload8(0, p)
#define VLOADN_16(p) vload16(0, p)

#define VSTOREN_1(v, p)  (*(p) = (v))
#define VSTOREN_2(v, p)  vstore2(v, 0, p)
#define VSTOREN_4(v, p)  vstore4(v, 0, p)
#define VSTOREN_8(v, p)  vstore8(v, 0, p)
#define VSTOREN_16(v, p) vstore16(v, 0, p)

#define HSUMN_1(v)  (v)
#define HSUMN_2(v)  ((v).s0 + (v).s1)
#define HSUMN_4(v)  (((v).s0 + (v).s1) + ((v).s2 + (v).s3))
#define HSUMN_8(v)  HSUMN_4((v).lo + (v).hi)
#define HSUMN_16(v) HSUMN_8((v).lo + (v).hi)

/* ACT(v, a): the activation a (host/core/op_params.h act_kind: 0 none, 1 relu, 2 relu6,
   3 hardswish, 4 hardsigmoid, 5 sigmoid) of v, a float or float vector. a is uniform across
   a launch, so the branches cost one compare each. */
#define HSIG_(v) clamp((v) * (1.0f / 6.0f) + 0.5f, 0.0f, 1.0f)
#define ACT(v, a)                                                                                  \
    ((a) == 0   ? (v)                                                                              \
     : (a) == 1 ? fmax((v), 0.0f)                                                                  \
     : (a) == 2 ? clamp((v), 0.0f, 6.0f)                                                           \
     : (a) == 3 ? (v)*HSIG_(v)                                                                     \
     : (a) == 4 ? HSIG_(v)                                                                         \
                : 1.0f / (1.0f + exp(-(v))))
