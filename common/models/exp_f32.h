/* exp for float, written so the compiler vectorises it inside the kernels' loops (glibc's expf is a
 * scalar call); shared by scan_cpu.c and gru_cpu.c. Cody-Waite reduction x = k ln2 + r,
 * |r| <= ln2/2, then a degree-7 Taylor polynomial (truncation error < 3e-9 relative) and 2^k by
 * building the exponent bits. Valid for -87 < x < 88; callers clamp. Accuracy about 1 ulp of expf. */
#ifndef LIMITS_EXP_F32_H
#define LIMITS_EXP_F32_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float exp_f32(float x) {
    const float log2e = 1.44269504088896341f, ln2_hi = 0.693145751953125f, ln2_lo = 1.42860682030941723e-6f;
    float k = floorf(x * log2e + 0.5f);
    float r = fmaf(k, -ln2_hi, x);
    r = fmaf(k, -ln2_lo, r);
    float p = 1.0f / 5040.0f;
    p = fmaf(p, r, 1.0f / 720.0f);
    p = fmaf(p, r, 1.0f / 120.0f);
    p = fmaf(p, r, 1.0f / 24.0f);
    p = fmaf(p, r, 1.0f / 6.0f);
    p = fmaf(p, r, 0.5f);
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    int32_t i = ((int32_t)k + 127) << 23;
    float s;
    memcpy(&s, &i, sizeof s);
    return p * s;
}

#endif
