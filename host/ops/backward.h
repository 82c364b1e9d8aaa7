/* backward.h - the training ops: gradients of every forward op, BatchNorm in training mode and
   the fused softmax cross-entropy loss, as op_call layouts for the selector (tune_select) and
   op_run_choice. */
/* Changed after first publication: the 4th block of BatchNorm's `saved` scratch holds beta
   (was beta - mean*scale); its size and the op_call layouts are unchanged. */
#ifndef CLSEG_BACKWARD_H
#define CLSEG_BACKWARD_H

#include "ops.h"

/* Conventions shared by every op below.
   - Tensors are float32 NCHW, contiguous; "[c]" is a plain float array of c entries (only .mem
     of its dtensor is read). Indices and labels are int32.
   - Every output is OVERWRITTEN, never accumulated into: where a tensor feeds several layers
     the trainer sums the incoming gradients itself (OP_ADD into a scratch buffer).
   - "may alias" means the output may be the same cl_mem as the named input (in-place).
     Anything not marked so must not overlap.
   - Fused ReLUs of the forward are not undone here: conv/deconv backward ops require
     p.*.relu == 0; apply OP_RELU_BWD to dy first (BatchNorm and add take their relu flag).

   OP_CONV2D_BWD_DATA      p.conv (relu 0)
     in[0]  dy      (n, cout, oh, ow)   oh, ow = conv2d_out_shape(out[0].s)
     in[1]  weight  [cout][cin][k][k]   the forward's weight
     out[0] dx      (n, cin, h, w)      h, w are read from out[0].s (stride > 1 maps several
                                        input sizes to one output size); rows/columns that no
                                        window reads get 0.
   OP_CONV2D_BWD_WEIGHT    p.conv (relu 0)
     in[0]  x       (n, cin, h, w)      the forward's input
     in[1]  dy      (n, cout, oh, ow)
     out[0] dw      [cout][cin][k][k]   sum over the batch
     out[1] db      [cout]              sum of dy over n, y, x; .mem NULL = not computed
   OP_DECONV2D_BWD_DATA    p.deconv (relu 0)
     in[0]  dy      (n, cout, oh, ow)   oh, ow = deconv2d_out_shape(out[0].s)
     in[1]  weight  [cin][cout][k][k]   the forward's weight
     out[0] dx      (n, cin, h, w)
   OP_DECONV2D_BWD_WEIGHT  p.deconv (relu 0)
     in[0]  x       (n, cin, h, w)
     in[1]  dy      (n, cout, oh, ow)
     out[0] dw      [cin][cout][k][k]
     out[1] db      [cout]              .mem NULL = not computed

   BatchNorm carries its ReLU (the seed net's conv + BN + ReLU): fused, the forward writes y
   once and the backward masks dy from x and `saved` without reading y or making a pass of its
   own. Its parameters are p.bn (eps and momentum are the constants BN_EPS, BN_MOMENTUM in
   host/core/op_params.h).
   OP_BATCHNORM_TRAIN  (forward in training mode)  p.bn.relu: 1 = y = relu(bn(x))
     in[0]  x       (n, c, h, w)
     in[1]  gamma   [c]
     in[2]  beta    [c]
     out[0] y       (n, c, h, w)        must not alias x (the backward reads x)
     out[1] saved   [BN_SAVED_PER_CHANNEL * c], scratch for the backward, per channel block:
                    [0,c) batch mean, [c,2c) istd = 1/sqrt(biased var + BN_EPS),
                    [2c,3c) scale = gamma*istd, [3c,4c) beta (a copy);
                    y = fma(x - mean, scale, beta) (then relu), so the backward recomputes the
                    ReLU mask from x bit-exactly instead of reading y.
     out[2] running_mean [c]  updated in place: m = (1 - BN_MOMENTUM) m + BN_MOMENTUM mean
     out[3] running_var  [c]  updated in place with the UNBIASED batch variance
                    var * M / (M - 1), M = n*h*w (M == 1: the biased one, 0), as PyTorch.
                    Either .mem NULL = not updated.
   OP_BATCHNORM_TRAIN_BWD  p.bn.relu as in the forward
     in[0]  dy      (n, c, h, w)        gradient of y
     in[1]  x       (n, c, h, w)        the forward's input
     in[2]  saved   [BN_SAVED_PER_CHANNEL * c] from the forward
     out[0] dx      (n, c, h, w)        may alias dy
     out[1] dgamma  [c]
     out[2] dbeta   [c]
     (gamma is not an input: saved holds scale = gamma * istd.)

   OP_RELU_BWD
     in[0]  dy      any shape s
     in[1]  y       shape s, the ReLU's OUTPUT
     out[0] dx      shape s, dx = y > 0 ? dy : 0; may alias dy
   OP_ADD_BWD          p.add.relu: the forward's relu flag
     in[0]  dy      shape s
     in[1]  y       shape s, the forward's output (read only when relu; else .mem may be NULL)
     out[0] da      shape s   }  both = dy (masked by y > 0 when relu); either .mem may be NULL;
     out[1] db      shape s   }  neither may alias dy. Without relu the trainer may simply
                                 pass dy on instead of running this.
   OP_CONCAT_BWD
     in[0]  dy      (n, ca + cb, h, w)
     out[0] da      (n, ca, h, w)       channels [0, ca) of dy
     out[1] db      (n, cb, h, w)       channels [ca, ca + cb); either .mem may be NULL

   OP_MAXPOOL_BWD      p.pool (the forward's)
     in[0]  dy      (n, c, oh, ow)
     in[1]  indices (n, c, oh, ow) int32, the forward's argmax (h * W_in + w in the plane)
     out[0] dx      (n, c, h, w)        h, w from out[0].s; dx[i] = sum of dy over the outputs
                    whose index is i. A gather over input pixels (each checks the windows that
                    contain it), so overlapping windows (k > stride) are correct too, without
                    atomics; with k <= stride (disjoint windows) a cheaper kernel compares each
                    pixel with its one window's index.
   OP_MAXUNPOOL_BWD    p.unpool (the forward's out_h, out_w)
     in[0]  dy      (n, c, out_h, out_w)
     in[1]  indices (n, c, h, w) int32, the forward's indices input
     out[0] dx      (n, c, h, w)        dx[i] = dy[plane][indices[i]] (the indices get no
                    gradient; duplicate indices, impossible after a non-overlapping pool, would
                    each receive the full dy although the forward kept only one of them)
   OP_UPSAMPLE_BWD     p.up (the forward's)
     in[0]  dy      (n, c, h * f, w * f)
     out[0] dx      (n, c, h, w)        nearest: sum over each f x f block; bilinear
                    (align_corners=False): the transpose of the interpolation, as a gather over
                    the output pixels that read each input pixel (no atomics).

   OP_SOFTMAX_XENT     fused softmax + cross-entropy and its gradient; no params
     in[0]  logits  (n, K, h, w)
     in[1]  labels  (n, 1, h, w) int32: a class in [0, K), or anything else (negative or >= K)
                    = ignored. The trainer maps its ignore index to -1 when it uploads labels
                    (CamVid's 11 with K = 11 is out of range anyway) and checks that no other
                    label is out of range.
     in[2]  factors [K]: f[c] = w_c / N_total, the class weight (1 without weighting) over the
                    number of labelled pixels in the whole minibatch. The host knows the labels
                    before upload, so it counts N_total there and passes the scale in; with
                    N_total == 0 it passes all zeros: loss 0, dlogits 0 (no division happens on
                    the device). Write it with a blocking write or from storage that outlives the
                    kernel.
     out[0] dlogits (n, K, h, w)        (softmax - onehot(label)) * f[label]; 0 at ignored
                                        pixels; may alias logits
     out[1] partial [2 * softmax_xent_partials(logits shape)] pairs (loss, count): the sum of
                    f[label] * (logsumexp - logit[label]) over the pixels of one part, and the
                    number of labelled pixels in it. The loss L = sum of the loss entries (sum
                    on the host, in double); the counts sum to N_total (a check). A loss entry is
                    NaN when any logit of its part (ignored pixels included) is NaN or Inf: the
                    trainer's non-finite flag is !isfinite(L).
     Numerically stable: logsumexp subtracts the per-pixel max. */

/* Fixed as in PyTorch's nn.BatchNorm2d defaults (the spec format has no fields for them). */

/* Number of (loss, count) pairs OP_SOFTMAX_XENT writes for logits of shape s: one per image
   row. Use this function, not the formula. */
static inline size_t softmax_xent_partials(shape4 s) {
    return (size_t)s.n * (size_t)s.h;
}

/* The forward call that computes an OP_CONV2D_BWD_DATA / OP_DECONV2D_BWD_DATA call: a
   transposed conv with the same weights for a conv, a conv for a transposed conv (dy in, dx
   out, no bias, no ReLU). The variants run it through the selector, so it is chosen and tuned
   like a forward layer of that shape (`clseg tune --train`). 0 if the call is malformed.
   (host/ops/conv2d_bwd.c) */
int op_data_grad_adjoint(const op_call *call, op_call *inner);

/* Synchronised BatchNorm (data-parallel training, docs/distributed.md): an OP_BATCHNORM_TRAIN
   or OP_BATCHNORM_TRAIN_BWD call whose batch is one rank's share of a global batch made of
   `ranks` equal shares, run as the direct variant does but with the per-channel sums taken
   over every rank: the mean, the variance around it (two passes, as the one-device kernel) and
   the backward's dgamma / dbeta for dx. out[1], out[2] of the backward keep this rank's own
   dgamma / dbeta (the trainer sums the whole gradient across ranks afterwards). The forward
   needs the running statistics (out[2], out[3]). */
typedef clseg_status (*bn_reduce_fn)(void *user, double *buf, size_t count); /* sum in place */
typedef struct bn_sync {
    int ranks;
    bn_reduce_fn reduce;
    void *user;
    cl_mem a, b;  /* device scratch, at least C floats each */
    double *host; /* host scratch, at least 2C each */
    float *hostf;
} bn_sync;
clseg_status batchnorm_train_sync(clseg_context *ctx, const op_call *call, const bn_sync *sync);
clseg_status batchnorm_train_bwd_sync(clseg_context *ctx, const op_call *call, const bn_sync *sync);

#endif
