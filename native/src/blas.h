// OpenBLAS, found at run time with dlopen so the build needs only a C++ compiler: where the
// library is missing, gemm.cc uses the blocked kernel in gemm_blocked.cc instead.
#pragma once
#include <string>

namespace samflow {

using CblasSgemm = void (*)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                            const float* b, int ldb, float beta, float* c, int ldc);

struct Blas {
  CblasSgemm sgemm = nullptr;  // null when no OpenBLAS was found
  std::string description;     // "OpenBLAS 0.3.21 ... (libopenblas.so.0, 2 threads)" or why it is absent
};

// Loads OpenBLAS once (SAMFLOW_BLAS=<path> picks the library; SAMFLOW_BLAS=none disables it).
const Blas& blas();

constexpr int kCblasRowMajor = 101;
constexpr int kCblasNoTrans = 111;
constexpr int kCblasTrans = 112;

}  // namespace samflow
