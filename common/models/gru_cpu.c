/* The time loops of a GRU layer for CPU training (common/models/gru_cpu.py), forward and backward.
 *
 * Why C: at the sizes trained here (hidden 64-128, batch 8-32) each time step is a few hundred
 * thousand multiply-adds, less than the cost of the dozen PyTorch calls that torch.gru (forward)
 * or a Python loop (backward) spend on it; nn.LSTM avoids this through oneDNN, which has no GRU
 * path in PyTorch. Here a step is one pass: the recurrent product h W_hh^T (rows of W_hh^T are
 * contiguous, so the inner loop is a vectorised multiply-add over the 3H gate pre-activations)
 * and the gates, with no call in between. All work over every step at once (input projections,
 * weight gradients) stays in PyTorch's matrix products.
 *
 * Gates as nn.GRU (order r, z, n):
 *   r = sigmoid(gi_r + gh_r),  z = sigmoid(gi_z + gh_z),  n = tanh(gi_n + r * gh_n),
 *   h' = (1 - z) n + z h,      gh = h W_hh^T + b_hh.
 * Layouts (row-major, contiguous): gi (T, B, 3H), h0 (B, H), WhhT (H, 3H), W (3H, H), bhh (3H),
 * hs (T, B, H), gates (T, B, 4H): r, z, n and gh_n of every step, written by the forward for the
 * backward.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exp_f32.h"

/* exp_f32 (exp_f32.h) on inputs clamped to its valid range. */
static inline float exp_clamped(float x) { return exp_f32(x < -87.0f ? -87.0f : (x > 87.0f ? 87.0f : x)); }

static inline float sigmoid_f32(float x) { return 1.0f / (1.0f + exp_clamped(-x)); }
/* tanh(x) = 2 sigmoid(2x) - 1: absolute error ~1e-7, which is what the GRU's update adds to. */
static inline float tanh_f32(float x) { return 2.0f / (1.0f + exp_clamped(-2.0f * x)) - 1.0f; }
static inline double sigmoid_f64(double x) { return 1.0 / (1.0 + exp(-x)); }
static inline double tanh_f64(double x) { return tanh(x); }

#define DEFINE_GRU(T_, NAME)                                                                            \
/* hs[t] for every step from h0, for batch rows b0..b1-1 (B is the full batch: the row stride). */                                                \
void gru_fwd_##NAME(int64_t T, int64_t B, int64_t H, int64_t b0, int64_t b1, T_ unused, const T_ *gi, const T_ *h0,            \
                    const T_ *WhhT, const T_ *bhh, T_ *hs, T_ *gates) {                                            \
    (void)unused;                                                                                       \
    const int64_t G = 3 * H;                                                                            \
    T_ *gh = (T_ *)malloc(sizeof(T_) * (size_t)G);                                                      \
    const T_ *hprev = h0;                                                                               \
    for (int64_t t = 0; t < T; t++) {                                                                   \
        T_ *hcur = hs + t * B * H;                                                                      \
        for (int64_t b = b0; b < b1; b++) {                                                               \
            const T_ *hp = hprev + b * H, *g = gi + (t * B + b) * G;                                    \
            memcpy(gh, bhh, sizeof(T_) * (size_t)G);                                                    \
            for (int64_t k = 0; k < H; k++) {                                                           \
                const T_ hk = hp[k], *row = WhhT + k * G;                                               \
                _Pragma("omp simd")                                                                     \
                for (int64_t j = 0; j < G; j++) gh[j] += hk * row[j];                                   \
            }                                                                                           \
            T_ *hc = hcur + b * H, *gs = gates + (t * B + b) * 4 * H;                                   \
            _Pragma("omp simd")                                                                         \
            for (int64_t j = 0; j < H; j++) {                                                           \
                T_ r = sigmoid_##NAME(g[j] + gh[j]);                                                    \
                T_ z = sigmoid_##NAME(g[H + j] + gh[H + j]);                                            \
                T_ n = tanh_##NAME(g[2 * H + j] + r * gh[2 * H + j]);                                   \
                hc[j] = (1 - z) * n + z * hp[j];                                                        \
                gs[j] = r; gs[H + j] = z; gs[2 * H + j] = n; gs[3 * H + j] = gh[2 * H + j];             \
            }                                                                                           \
        }                                                                                               \
        hprev = hcur;                                                                                   \
    }                                                                                                   \
    free(gh);                                                                                           \
}                                                                                                       \
                                                                                                        \
/* Walking back: dh_t = d_out_t + carry; the gates' pre-activation gradients from the saved r, z, n, \
 * gh_n; carry = dh_t z_t + dgh_t W_hh. Writes dgi and dgh (T, B, 3H); carry (B, H) enters as zeros \
 * and leaves as the gradient of h0. */                                                              \
void gru_bwd_##NAME(int64_t T, int64_t B, int64_t H, int64_t b0, int64_t b1, T_ unused,               \
                    const T_ *d_out, const T_ *gates, const T_ *h0, const T_ *hs, const T_ *W,          \
                    T_ *dgi, T_ *dgh, T_ *carry) {                                                      \
    (void)unused;                                                                                       \
    const int64_t G = 3 * H;                                                                            \
    for (int64_t t = T - 1; t >= 0; t--) {                                                              \
        for (int64_t b = b0; b < b1; b++) {                                                             \
            const int64_t row = t * B + b;                                                              \
            const T_ *dout = d_out + row * H, *gs = gates + row * 4 * H;                                \
            const T_ *hp = t > 0 ? hs + (row - B) * H : h0 + b * H;                                     \
            T_ *di = dgi + row * G, *dg = dgh + row * G, *c = carry + b * H;                            \
            _Pragma("omp simd")                                                                         \
            for (int64_t j = 0; j < H; j++) {                                                           \
                T_ r = gs[j], z = gs[H + j], n = gs[2 * H + j], ghn = gs[3 * H + j];                    \
                T_ dh = dout[j] + c[j];                                                                 \
                T_ dn = dh * (1 - z) * (1 - n * n); /* d(pre-activation of n) */                       \
                T_ dr = dn * ghn * r * (1 - r), dz = dh * (hp[j] - n) * z * (1 - z);                    \
                di[j] = dr; di[H + j] = dz; di[2 * H + j] = dn;                                         \
                dg[j] = dr; dg[H + j] = dz; dg[2 * H + j] = dn * r;                                     \
                c[j] = dh * z;                                                                          \
            }                                                                                           \
            for (int64_t jj = 0; jj < G; jj++) {                                                        \
                const T_ gj = dg[jj], *wr = W + jj * H;                                                 \
                _Pragma("omp simd")                                                                     \
                for (int64_t k = 0; k < H; k++) c[k] += gj * wr[k];                                     \
            }                                                                                           \
        }                                                                                               \
    }                                                                                                   \
}

DEFINE_GRU(float, f32)
DEFINE_GRU(double, f64)

/* The batch split into nt slices of rows (each row's result does not depend on the split), run on
 * the OpenMP team of the calling thread: PyTorch's own, whose threads are already awake after the
 * step's matrix products (ckernels.py says why that matters). Built without OpenMP the pragma is
 * ignored and the slices run in turn; the caller then runs the _slice functions on its own threads. */
#define DEFINE_GRU_SLICES(T_, NAME)                                                                     \
void gru_fwd_slice_##NAME(int64_t T, int64_t B, int64_t H, int64_t nt, int64_t i, T_ unused, const T_ *gi,   \
                          const T_ *h0, const T_ *WhhT, const T_ *bhh, T_ *hs, T_ *gates) {               \
    gru_fwd_##NAME(T, B, H, B * i / nt, B * (i + 1) / nt, unused, gi, h0, WhhT, bhh, hs, gates);         \
}                                                                                                       \
void gru_fwd_par_##NAME(int64_t T, int64_t B, int64_t H, int64_t nt, int64_t unused_i, T_ unused,       \
                        const T_ *gi, const T_ *h0, const T_ *WhhT, const T_ *bhh, T_ *hs, T_ *gates) {   \
    (void)unused_i;                                                                                     \
    _Pragma("omp parallel for num_threads(nt) schedule(static, 1)")                                     \
    for (int64_t i = 0; i < nt; i++) gru_fwd_slice_##NAME(T, B, H, nt, i, unused, gi, h0, WhhT, bhh, hs, gates); \
}                                                                                                       \
void gru_bwd_slice_##NAME(int64_t T, int64_t B, int64_t H, int64_t nt, int64_t i, T_ unused,            \
                          const T_ *d_out, const T_ *gates, const T_ *h0, const T_ *hs, const T_ *W,    \
                          T_ *dgi, T_ *dgh, T_ *carry) {                                                \
    gru_bwd_##NAME(T, B, H, B * i / nt, B * (i + 1) / nt, unused, d_out, gates, h0, hs, W, dgi, dgh, carry); \
}                                                                                                       \
void gru_bwd_par_##NAME(int64_t T, int64_t B, int64_t H, int64_t nt, int64_t unused_i, T_ unused,       \
                        const T_ *d_out, const T_ *gates, const T_ *h0, const T_ *hs, const T_ *W,      \
                        T_ *dgi, T_ *dgh, T_ *carry) {                                                  \
    (void)unused_i;                                                                                     \
    _Pragma("omp parallel for num_threads(nt) schedule(static, 1)")                                     \
    for (int64_t i = 0; i < nt; i++)                                                                    \
        gru_bwd_slice_##NAME(T, B, H, nt, i, unused, d_out, gates, h0, hs, W, dgi, dgh, carry);         \
}

DEFINE_GRU_SLICES(float, f32)
DEFINE_GRU_SLICES(double, f64)
