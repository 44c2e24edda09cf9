#include "gemm_blocked.h"

#include "cpu_features.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace samflow {
namespace {

// Register tile 6 x 16 (12 accumulators of 8 floats: fits AVX2's 16 registers), panels sized
// for L1 (B panel 256 x 16) and L2 (A block 144 x 256, B block 256 x 512).
constexpr int MR = 6, NR = 16, MC = 144, KC = 256, NC = 512;

typedef float v8 __attribute__((vector_size(32)));

struct Aligned {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float[], Aligned>;
Buffer allocate(std::size_t floats) { return Buffer(static_cast<float*>(std::aligned_alloc(64, ((floats * 4 + 63) / 64) * 64))); }

inline float at(const float* x, int ld, bool trans, int row, int col) { return trans ? x[col * ld + row] : x[row * ld + col]; }

// A[ic.., pc..] into MR-row panels, k-major inside a panel; rows past m are zero.
void pack_a(bool trans, const float* a, int lda, int ic, int mc, int pc, int kc, float* out) {
  for (int p = 0; p < mc; p += MR) {
    for (int kk = 0; kk < kc; ++kk) {
      for (int r = 0; r < MR; ++r) *out++ = p + r < mc ? at(a, lda, trans, ic + p + r, pc + kk) : 0.f;
    }
  }
}

// B[pc.., jc..] into NR-column panels, k-major inside a panel; columns past n are zero.
void pack_b(bool trans, const float* b, int ldb, int pc, int kc, int jc, int nc, float* out) {
  for (int p = 0; p < nc; p += NR) {
    const int cols = std::min(NR, nc - p);
    for (int kk = 0; kk < kc; ++kk) {
      if (!trans && cols == NR) {
        std::memcpy(out, b + (pc + kk) * ldb + jc + p, NR * sizeof(float));
        out += NR;
      } else {
        for (int c = 0; c < NR; ++c) *out++ = c < cols ? at(b, ldb, trans, pc + kk, jc + p + c) : 0.f;
      }
    }
  }
}

// acc[MR][NR] = sum over k of a_panel[k][r] * b_panel[k][c]. The body is compiled twice, for
// AVX2 + FMA and for the baseline, and the first is used where the CPU has those features.
#define SAMFLOW_MICRO_KERNEL_BODY                                                                         \
  v8 c00 = {}, c01 = {}, c10 = {}, c11 = {}, c20 = {}, c21 = {}, c30 = {}, c31 = {}, c40 = {}, c41 = {}, \
     c50 = {}, c51 = {};                                                                                  \
  for (int kk = 0; kk < kc; ++kk) {                                                                       \
    const v8 b0 = *reinterpret_cast<const v8*>(b);                                                        \
    const v8 b1 = *reinterpret_cast<const v8*>(b + 8);                                                    \
    v8 x;                                                                                                 \
    x = broadcast(a[0]); c00 += x * b0; c01 += x * b1;                                                    \
    x = broadcast(a[1]); c10 += x * b0; c11 += x * b1;                                                    \
    x = broadcast(a[2]); c20 += x * b0; c21 += x * b1;                                                    \
    x = broadcast(a[3]); c30 += x * b0; c31 += x * b1;                                                    \
    x = broadcast(a[4]); c40 += x * b0; c41 += x * b1;                                                    \
    x = broadcast(a[5]); c50 += x * b0; c51 += x * b1;                                                    \
    a += MR;                                                                                              \
    b += NR;                                                                                              \
  }                                                                                                       \
  v8* out = reinterpret_cast<v8*>(acc);                                                                   \
  out[0] = c00; out[1] = c01; out[2] = c10; out[3] = c11; out[4] = c20; out[5] = c21;                     \
  out[6] = c30; out[7] = c31; out[8] = c40; out[9] = c41; out[10] = c50; out[11] = c51;

#define broadcast(v) (v8{} + (v))

__attribute__((target("avx2,fma"))) void micro_kernel_avx2(int kc, const float* __restrict a, const float* __restrict b, float* __restrict acc) {
  SAMFLOW_MICRO_KERNEL_BODY
}

void micro_kernel_baseline(int kc, const float* __restrict a, const float* __restrict b, float* __restrict acc) {
  SAMFLOW_MICRO_KERNEL_BODY
}

using MicroKernel = void (*)(int, const float*, const float*, float*);

const MicroKernel micro_kernel = has_avx2_fma() ? micro_kernel_avx2 : micro_kernel_baseline;

void macro_kernel(int mc, int nc, int kc, float alpha, float beta, bool first, const float* ap, const float* bp, float* c,
                  int ldc) {
  alignas(64) float acc[MR * NR];
  for (int jr = 0; jr < nc; jr += NR) {
    const int cols = std::min(NR, nc - jr);
    for (int ir = 0; ir < mc; ir += MR) {
      const int rows = std::min(MR, mc - ir);
      micro_kernel(kc, ap + ir * kc, bp + jr * kc, acc);
      for (int r = 0; r < rows; ++r) {
        float* row = c + (ir + r) * ldc + jr;
        const float* v = acc + r * NR;
        if (!first) for (int j = 0; j < cols; ++j) row[j] += alpha * v[j];
        else if (beta == 0.f) for (int j = 0; j < cols; ++j) row[j] = alpha * v[j];
        else for (int j = 0; j < cols; ++j) row[j] = alpha * v[j] + beta * row[j];
      }
    }
  }
}

}  // namespace

void sgemm_blocked(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
                   int ldb, float beta, float* c, int ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.f ? 0.f : beta * c[i * ldc + j];
    return;
  }
  const int kc_max = std::min(KC, k);
  Buffer ap = allocate(static_cast<std::size_t>((MC + MR) * kc_max));
  Buffer bp = allocate(static_cast<std::size_t>((NC + NR) * kc_max));
  for (int jc = 0; jc < n; jc += NC) {
    const int nc = std::min(NC, n - jc);
    for (int pc = 0; pc < k; pc += KC) {
      const int kc = std::min(KC, k - pc);
      pack_b(trans_b, b, ldb, pc, kc, jc, nc, bp.get());
      for (int ic = 0; ic < m; ic += MC) {
        const int mc = std::min(MC, m - ic);
        pack_a(trans_a, a, lda, ic, mc, pc, kc, ap.get());
        macro_kernel(mc, nc, kc, alpha, beta, pc == 0, ap.get(), bp.get(), c + ic * ldc + jc, ldc);
      }
    }
  }
}

}  // namespace samflow
