/* Fused selective scan for CPUs: the recurrence of common/models/scan.py, one pass over time.
 *
 * Why C: on a CPU the scan is bound by memory traffic, not arithmetic. Written as PyTorch ops it
 * makes a dozen passes per time step over a (batch, d_state, d_inner) block that does not fit in
 * the first-level caches (each pass a kernel call), and the whole forward + backward read and wrote
 * about 1.7 GB per training step of the Repeat After Me Mamba. Here each batch row's state
 * (d_state x d_inner floats, 8 KB there) stays in cache for all time steps, every per-element
 * quantity (decay, input, output, every gradient) is formed in the one loop that needs it, and
 * no per-step state goes to memory: the backward recomputes each batch row's states into a
 * buffer that is reused for every row.
 *
 * Layouts (row-major, contiguous; channels innermost so the inner loops run over d_inner with unit
 * stride and vectorise):
 *   u, delta, y, gy, gu, gdelta : (batch, L, d)
 *   At, gAt                    : (n, d)        A transposed
 *   B, C, gB, gC               : (batch, L, n)
 *   h0, last, glast, gh0       : (batch, n, d)
 * Recurrence (per batch row b, channel j, state k):
 *   h_t = exp(max(delta_t * A, floor)) * h_{t-1} + delta_t * u_t * B_t,    y_t = sum_k C_t h_t
 * The floor keeps decays out of subnormal numbers (see _decay in scan.py); as there, the backward
 * treats the floor as if it were absent (the decays it affects are ~1e-19 and smaller).
 *
 * Built by common/models/ckernels.py with the system C compiler (no PyTorch headers); called from
 * common/models/scan_kernel.py.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exp_f32.h" /* exp_f32: vectorisable float exp (callers clamp to [floor, 88]) */

static inline double exp_f64(double x) { return exp(x); }

#define CHUNK 16 /* forward steps per state buffer: 17 states of 8 KB fit the L2 cache */

/* A clamp the compiler turns into vector min/max (fminf/fmaxf stay library calls). */
#define CLAMP(v, lo, hi) ((v) < (lo) ? (lo) : ((v) > (hi) ? (hi) : (v)))

#define DEFINE_SCAN(T, NAME, EXP, HI)                                                                  \
/* One batch row: states h_1..h_L into hs[1..L] (hs[0] holds h_0), outputs into y; x is scratch. */ \
static void scan_states_##NAME(int64_t L, int64_t d, int64_t n, T floor_, const T *u, const T *delta,  \
                               const T *At, const T *B, const T *C, T *y, T *hs, T *x) {              \
    for (int64_t t = 0; t < L; t++) {                                                                   \
        const T *dt = delta + t * d, *ut = u + t * d, *Bt = B + t * n, *Ct = C + t * n;                 \
        const T *hprev = hs + t * n * d;                                                                \
        T *hcur = hs + (t + 1) * n * d, *yt = y + t * d;                                                \
        _Pragma("omp simd")                                                                             \
        for (int64_t j = 0; j < d; j++) { x[j] = dt[j] * ut[j]; yt[j] = 0; }                            \
        for (int64_t k = 0; k < n; k++) {                                                               \
            const T bk = Bt[k], ck = Ct[k];                                                             \
            const T *a = At + k * d, *hp = hprev + k * d;                                               \
            T *hc = hcur + k * d;                                                                       \
            _Pragma("omp simd")                                                                         \
            for (int64_t j = 0; j < d; j++) {                                                           \
                T e = EXP(CLAMP(dt[j] * a[j], floor_, HI));                                             \
                T v = e * hp[j] + x[j] * bk;                                                            \
                hc[j] = v;                                                                              \
                yt[j] += ck * v;                                                                        \
            }                                                                                           \
        }                                                                                               \
    }                                                                                                   \
}                                                                                                       \
                                                                                                        \
/* Forward: outputs and the last state; nothing per step is kept (the backward recomputes). The    \
 * states of CHUNK steps at a time go to a small buffer that stays in cache; the last of them      \
 * starts the next chunk. */                                                                        \
void scan_fwd_##NAME(int64_t nb, int64_t L, int64_t d, int64_t n, T floor_,                        \
                     const T *u, const T *delta, const T *At, const T *B, const T *C, const T *h0,     \
                     T *y, T *last) {                                                                   \
    T *hs = (T *)malloc(sizeof(T) * (size_t)((CHUNK + 1) * n * d));                                     \
    T *x = (T *)malloc(sizeof(T) * (size_t)d);                                                          \
    for (int64_t b = 0; b < nb; b++) {                                                                  \
        memcpy(hs, h0 + b * n * d, sizeof(T) * (size_t)(n * d));                                        \
        for (int64_t t0 = 0; t0 < L; t0 += CHUNK) {                                                     \
            const int64_t q = L - t0 < CHUNK ? L - t0 : CHUNK, row = b * L + t0;                       \
            scan_states_##NAME(q, d, n, floor_, u + row * d, delta + row * d, At, B + row * n,         \
                               C + row * n, y + row * d, hs, x);                                        \
            memcpy(hs, hs + q * n * d, sizeof(T) * (size_t)(n * d));                                    \
        }                                                                                               \
        memcpy(last + b * n * d, hs, sizeof(T) * (size_t)(n * d));                                      \
    }                                                                                                   \
    free(hs);                                                                                           \
    free(x);                                                                                            \
}                                                                                                       \
                                                                                                        \
/* Reverse-time adjoint. For each batch row the states are first recomputed, in order, into a     \
 * row buffer of (L + 1) x n x d that is reused for every row and stays in cache (cheaper than     \
 * writing every state of the batch to memory in the forward and reading it back). Then, walking   \
 * back, lam = dLoss/dh_t (through y_t and every later state): each step adds C_t gy_t, forms every  \
 * gradient of step t from lam, then carries lam * decay_t to step t - 1.                          \
 * gAt is accumulated (the caller zeroes it); everything else is written. */                          \
void scan_bwd_##NAME(int64_t nb, int64_t L, int64_t d, int64_t n, T floor_,                        \
                       const T *u, const T *delta, const T *At, const T *B, const T *C, const T *h0,   \
                       const T *gy, const T *glast,                                                     \
                       T *gu, T *gdelta, T *gAt, T *gB, T *gC, T *gh0) {                                \
    T *lam = (T *)malloc(sizeof(T) * (size_t)(n * d));                                                  \
    T *x = (T *)malloc(sizeof(T) * (size_t)d);                                                          \
    T *lamB = (T *)malloc(sizeof(T) * (size_t)d);                                                       \
    T *gdA = (T *)malloc(sizeof(T) * (size_t)d);                                                        \
    T *ytmp = (T *)malloc(sizeof(T) * (size_t)(L * d));                                                 \
    T *hs = (T *)malloc(sizeof(T) * (size_t)((L + 1) * n * d));                                         \
    for (int64_t b = 0; b < nb; b++) {                                                                  \
        memcpy(hs, h0 + b * n * d, sizeof(T) * (size_t)(n * d));                                       \
        scan_states_##NAME(L, d, n, floor_, u + b * L * d, delta + b * L * d, At, B + b * L * n,       \
                           C + b * L * n, ytmp, hs, x);                                                 \
        if (glast) memcpy(lam, glast + b * n * d, sizeof(T) * (size_t)(n * d));                         \
        else memset(lam, 0, sizeof(T) * (size_t)(n * d));                                               \
        for (int64_t t = L - 1; t >= 0; t--) {                                                          \
            const int64_t row = b * L + t;                                                              \
            const T *dt = delta + row * d, *ut = u + row * d, *gyt = gy + row * d;                      \
            const T *Bt = B + row * n, *Ct = C + row * n;                                               \
            const T *hcur = hs + (t + 1) * n * d, *hprev = hs + t * n * d;                              \
            _Pragma("omp simd")                                                                         \
            for (int64_t j = 0; j < d; j++) { x[j] = dt[j] * ut[j]; lamB[j] = 0; gdA[j] = 0; }          \
            for (int64_t k = 0; k < n; k++) {                                                           \
                const T bk = Bt[k], ck = Ct[k];                                                         \
                const T *a = At + k * d, *hp = hprev + k * d, *hc = hcur + k * d;                       \
                T *lk = lam + k * d, *ga = gAt + k * d;                                                 \
                T sB = 0, sC = 0;                                                                       \
                _Pragma("omp simd reduction(+:sB,sC)")                                                  \
                for (int64_t j = 0; j < d; j++) {                                                       \
                    T l = lk[j] + ck * gyt[j];                                                          \
                    T e = EXP(CLAMP(dt[j] * a[j], floor_, HI));                    \
                    T g = l * e * hp[j]; /* dLoss/d(delta_t A) */                                       \
                    ga[j] += g * dt[j];                                                                 \
                    gdA[j] += g * a[j];                                                                 \
                    lamB[j] += bk * l;                                                                  \
                    sB += l * x[j];                                                                     \
                    sC += hc[j] * gyt[j];                                                               \
                    lk[j] = l * e;                                                                      \
                }                                                                                       \
                gB[row * n + k] = sB;                                                                   \
                gC[row * n + k] = sC;                                                                   \
            }                                                                                           \
            T *gut = gu + row * d, *gdt = gdelta + row * d;                                             \
            _Pragma("omp simd")                                                                         \
            for (int64_t j = 0; j < d; j++) { gut[j] = dt[j] * lamB[j]; gdt[j] = gdA[j] + ut[j] * lamB[j]; } \
        }                                                                                               \
        memcpy(gh0 + b * n * d, lam, sizeof(T) * (size_t)(n * d));                                      \
    }                                                                                                   \
    free(lam); free(x); free(lamB); free(gdA); free(ytmp); free(hs);                                                        \
}

DEFINE_SCAN(float, f32, exp_f32, 88.0f)
DEFINE_SCAN(double, f64, exp_f64, 700.0)

/* The batch split into nt slices of rows (a row's result does not depend on the split; gAt gets one
 * (n, d) accumulator per slice, summed by the caller), run on the OpenMP team of the calling
 * thread: PyTorch's own (ckernels.py says why). Built without OpenMP the pragma is ignored and the
 * slices run in turn; the caller then runs the _slice functions on its own threads. */
#define DEFINE_SCAN_SLICES(T, NAME)                                                                    \
void scan_fwd_slice_##NAME(int64_t nb, int64_t L, int64_t d, int64_t n, int64_t nt, int64_t i, T floor_, \
                           const T *u, const T *delta, const T *At, const T *B, const T *C, const T *h0, \
                           T *y, T *last) {                                                             \
    const int64_t s = nb * i / nt, e = nb * (i + 1) / nt;                                               \
    scan_fwd_##NAME(e - s, L, d, n, floor_, u + s * L * d, delta + s * L * d, At, B + s * L * n,        \
                    C + s * L * n, h0 + s * n * d, y + s * L * d, last + s * n * d);                     \
}                                                                                                       \
void scan_fwd_par_##NAME(int64_t nb, int64_t L, int64_t d, int64_t n, int64_t nt, int64_t unused_i, T floor_, \
                         const T *u, const T *delta, const T *At, const T *B, const T *C, const T *h0,  \
                         T *y, T *last) {                                                               \
    (void)unused_i;                                                                                     \
    _Pragma("omp parallel for num_threads(nt) schedule(static, 1)")                                     \
    for (int64_t i = 0; i < nt; i++)                                                                    \
        scan_fwd_slice_##NAME(nb, L, d, n, nt, i, floor_, u, delta, At, B, C, h0, y, last);             \
}                                                                                                       \
void scan_bwd_slice_##NAME(int64_t nb, int64_t L, int64_t d, int64_t n, int64_t nt, int64_t i, T floor_, \
                           const T *u, const T *delta, const T *At, const T *B, const T *C, const T *h0, \
                           const T *gy, const T *glast, T *gu, T *gdelta, T *gAt, T *gB, T *gC, T *gh0) { \
    const int64_t s = nb * i / nt, e = nb * (i + 1) / nt;                                               \
    scan_bwd_##NAME(e - s, L, d, n, floor_, u + s * L * d, delta + s * L * d, At, B + s * L * n,        \
                    C + s * L * n, h0 + s * n * d, gy + s * L * d, glast ? glast + s * n * d : NULL,    \
                    gu + s * L * d, gdelta + s * L * d, gAt + i * n * d, gB + s * L * n, gC + s * L * n, \
                    gh0 + s * n * d);                                                                   \
}                                                                                                       \
void scan_bwd_par_##NAME(int64_t nb, int64_t L, int64_t d, int64_t n, int64_t nt, int64_t unused_i, T floor_, \
                         const T *u, const T *delta, const T *At, const T *B, const T *C, const T *h0,  \
                         const T *gy, const T *glast, T *gu, T *gdelta, T *gAt, T *gB, T *gC, T *gh0) { \
    (void)unused_i;                                                                                     \
    _Pragma("omp parallel for num_threads(nt) schedule(static, 1)")                                     \
    for (int64_t i = 0; i < nt; i++)                                                                    \
        scan_bwd_slice_##NAME(nb, L, d, n, nt, i, floor_, u, delta, At, B, C, h0, gy, glast, gu, gdelta, \
                              gAt, gB, gC, gh0);                                                        \
}

DEFINE_SCAN_SLICES(float, f32)
DEFINE_SCAN_SLICES(double, f64)
