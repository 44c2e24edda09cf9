#include "gemm.h"

#include <algorithm>
#include <atomic>

#include "blas.h"
#include "gemm_blocked.h"
#include "thread_pool.h"

namespace samflow {
namespace {

std::atomic<bool> blocked_forced{false};

CblasSgemm openblas() { return blocked_forced ? nullptr : blas().sgemm; }

// Below this many multiply-adds a product is not worth splitting over threads.
constexpr double kParallelWork = 1 << 18;

void blocked_parallel(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
                      int ldb, float beta, float* c, int ldc) {
  const double work = double(m) * n * k;
  const std::size_t grain = std::max<std::size_t>(1, std::size_t(kParallelWork / std::max(1.0, double(n) * k)));
  if (work < kParallelWork || m >= n || m >= 64) {
    // Split rows of C: each thread packs the B blocks it needs (a small cost next to the product).
    parallel_for(m, std::max<std::size_t>(grain, 6), [&](std::size_t begin, std::size_t end) {
      const float* a_rows = ta ? a + begin : a + begin * lda;
      sgemm_blocked(ta, tb, int(end - begin), n, k, alpha, a_rows, lda, b, ldb, beta, c + begin * ldc, ldc);
    });
  } else {
    parallel_for(n, 16, [&](std::size_t begin, std::size_t end) {
      const float* b_cols = tb ? b + begin * ldb : b + begin;
      sgemm_blocked(ta, tb, m, int(end - begin), k, alpha, a, lda, b_cols, ldb, beta, c + begin, ldc);
    });
  }
}

}  // namespace

void sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
           float beta, float* c, int ldc) {
  if (m <= 0 || n <= 0) return;
  if (const auto gemm = openblas(); gemm && k > 0) {
    gemm(kCblasRowMajor, ta ? kCblasTrans : kCblasNoTrans, tb ? kCblasTrans : kCblasNoTrans, m, n, k, alpha, a, lda, b,
         ldb, beta, c, ldc);
    return;
  }
  blocked_parallel(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void sgemm_batched(bool ta, bool tb, int m, int n, int k, const float* a, const int64_t* a_offsets, const float* b,
                   const int64_t* b_offsets, float* c, int batch) {
  const int lda = ta ? m : k, ldb = tb ? k : n;
  const double work = double(m) * n * k;
  if (batch == 1 || work >= 4 * kParallelWork) {
    // Large products: each one uses every thread.
    for (int i = 0; i < batch; ++i) sgemm(ta, tb, m, n, k, 1.f, a + a_offsets[i], lda, b + b_offsets[i], ldb, 0.f, c + std::size_t(i) * m * n, n);
    return;
  }
  // Many small products (attention per window and head): one thread per product.
  parallel_for(batch, 1, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i)
      sgemm_blocked(ta, tb, m, n, k, 1.f, a + a_offsets[i], lda, b + b_offsets[i], ldb, 0.f, c + i * m * n, n);
  });
}

void force_blocked_gemm(bool blocked) { blocked_forced = blocked; }

std::string gemm_name() { return openblas() ? "openblas" : "blocked"; }

std::string gemm_description() {
  if (openblas()) return blas().description;
  return "blocked fallback SGEMM (6x16 vector tiles, " + std::to_string(thread_count()) + " threads; " +
         (blas().sgemm ? std::string("OpenBLAS loaded but not used") : blas().description) + ")";
}

}  // namespace samflow
