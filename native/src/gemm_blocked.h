// A cache-blocked, vectorised SGEMM used when OpenBLAS is not installed.
#pragma once

namespace samflow {

// Row-major C[m, n] = alpha * op(A) op(B) + beta * C, op(X) = X or its transpose. beta == 0
// never reads C (so NaN or garbage there is overwritten, as BLAS does). Runs on the calling thread.
void sgemm_blocked(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
                   int ldb, float beta, float* c, int ldc);

}  // namespace samflow
