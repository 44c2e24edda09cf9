// SGEMM entry points used by every kernel: OpenBLAS when it loaded, the blocked kernel otherwise.
#pragma once
#include <cstdint>
#include <string>

namespace samflow {

// Row-major C[m, n] = alpha * op(A) op(B) + beta * C, on all threads.
void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
           float beta, float* c, int ldc);

// C[i] = op(A + a_offsets[i]) op(B + b_offsets[i]) for i < batch; C is [batch, m, n], packed.
void sgemm_batched(bool trans_a, bool trans_b, int m, int n, int k, const float* a, const int64_t* a_offsets,
                   const float* b, const int64_t* b_offsets, float* c, int batch);

// Chooses the blocked kernel even where OpenBLAS loaded (for comparisons); false restores it.
void force_blocked_gemm(bool blocked);

// Which GEMM runs: "openblas" or "blocked", and a line saying what it is.
std::string gemm_name();
std::string gemm_description();

}  // namespace samflow
