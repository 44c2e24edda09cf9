#include "fused.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu_features.h"
#include "thread_pool.h"
#include "vector_math.h"

namespace samflow {
namespace {

constexpr std::size_t kGrain = 1 << 14;

std::size_t row_grain(std::size_t cols) { return std::max<std::size_t>(1, kGrain / std::max<std::size_t>(1, cols)); }

// Mean and 1/sqrt(var + eps) of one row, accumulated in double (rows of thousands of floats).
inline void moments(const float* x, std::size_t cols, float eps, float& mean, float& rstd) {
  double sum = 0, sq = 0;
  for (std::size_t c = 0; c < cols; ++c) sum += x[c];
  const double m = sum / double(cols);
  for (std::size_t c = 0; c < cols; ++c) {
    const double d = x[c] - m;
    sq += d * d;
  }
  mean = float(m);
  rstd = float(1.0 / std::sqrt(sq / double(cols) + eps));
}

SAMFLOW_DISPATCHED(gelu_span, (const float* __restrict x, float* __restrict y, std::size_t n), (x, y, n), {
  for (std::size_t i = 0; i < n; ++i) y[i] = 0.5f * x[i] * (1.f + erf_approx(x[i] * float(M_SQRT1_2)));
})

SAMFLOW_DISPATCHED(gelu_grad_span, (const float* __restrict x, const float* __restrict dy, float* __restrict dx, std::size_t n),
                   (x, dy, dx, n), {
  const float inv_sqrt_2pi = float(0.5 * M_2_SQRTPI * M_SQRT1_2);  // 1 / sqrt(2 pi)
  for (std::size_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float cdf = 0.5f * (1.f + erf_approx(v * float(M_SQRT1_2)));
    dx[i] = dy[i] * (cdf + v * inv_sqrt_2pi * exp_approx(-0.5f * v * v));
  }
})

SAMFLOW_DISPATCHED(softmax_grad_rows, (const float* __restrict y, const float* __restrict dy, float* __restrict dx, std::size_t begin,
                                       std::size_t end, std::size_t cols),
                   (y, dy, dx, begin, end, cols), {
  for (std::size_t r = begin; r < end; ++r) {
    const float* yr = y + r * cols;
    const float* gr = dy + r * cols;
    float* out = dx + r * cols;
    const float dot = dot8(gr, yr, cols);
    for (std::size_t c = 0; c < cols; ++c) out[c] = yr[c] * (gr[c] - dot);
  }
})

}  // namespace

void gelu_forward(const float* x, float* y, std::size_t n) {
  parallel_for(n, kGrain, [&](std::size_t begin, std::size_t end) { gelu_span(x + begin, y + begin, end - begin); });
}

void gelu_backward(const float* x, const float* dy, float* dx, std::size_t n) {
  parallel_for(n, kGrain, [&](std::size_t begin, std::size_t end) { gelu_grad_span(x + begin, dy + begin, dx + begin, end - begin); });
}

void layer_norm_forward(const float* x, const float* gamma, const float* beta, float* y, std::size_t rows, std::size_t cols, float eps) {
  parallel_for(rows, row_grain(cols), [&](std::size_t begin, std::size_t end) {
    for (std::size_t r = begin; r < end; ++r) {
      const float* in = x + r * cols;
      float* out = y + r * cols;
      float mean, rstd;
      moments(in, cols, eps, mean, rstd);
      for (std::size_t c = 0; c < cols; ++c) out[c] = (in[c] - mean) * rstd * gamma[c] + beta[c];
    }
  });
}

void layer_norm_backward(const float* x, const float* gamma, const float* dy, float* dx, float* dgamma, float* dbeta,
                         std::size_t rows, std::size_t cols, float eps) {
  // Each row's statistics once, for both passes.
  std::vector<float> mean(rows), rstd(rows);
  // dx row by row: with g = dy * gamma and xhat = (x - mean) * rstd,
  // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)).
  parallel_for(rows, row_grain(cols), [&](std::size_t begin, std::size_t end) {
    for (std::size_t r = begin; r < end; ++r) {
      const float* in = x + r * cols;
      const float* grad = dy + r * cols;
      float* out = dx + r * cols;
      moments(in, cols, eps, mean[r], rstd[r]);
      const float m = mean[r], s = rstd[r];
      double sum_g = 0, sum_gx = 0;
      for (std::size_t c = 0; c < cols; ++c) {
        const float g = grad[c] * gamma[c];
        sum_g += g;
        sum_gx += double(g) * ((in[c] - m) * s);
      }
      const float mg = float(sum_g / double(cols)), mgx = float(sum_gx / double(cols));
      for (std::size_t c = 0; c < cols; ++c) {
        const float xhat = (in[c] - m) * s;
        out[c] = s * (grad[c] * gamma[c] - mg - xhat * mgx);
      }
    }
  });
  // dgamma = sum over rows of dy * xhat, dbeta = sum of dy: per-thread partial sums, then added.
  const int threads = thread_count();
  std::vector<double> partial(std::size_t(threads) * 2 * cols, 0.0);
  const std::size_t chunk = (rows + threads - 1) / std::max(1, threads);
  parallel_for(threads, 1, [&](std::size_t t0, std::size_t t1) {
    for (std::size_t t = t0; t < t1; ++t) {
      double* pg = partial.data() + t * 2 * cols;
      double* pb = pg + cols;
      for (std::size_t r = t * chunk; r < std::min(rows, (t + 1) * chunk); ++r) {
        const float* in = x + r * cols;
        const float* grad = dy + r * cols;
        for (std::size_t c = 0; c < cols; ++c) {
          pg[c] += double(grad[c]) * ((in[c] - mean[r]) * rstd[r]);
          pb[c] += grad[c];
        }
      }
    }
  });
  for (std::size_t c = 0; c < cols; ++c) {
    double g = 0, b = 0;
    for (int t = 0; t < threads; ++t) {
      g += partial[std::size_t(t) * 2 * cols + c];
      b += partial[std::size_t(t) * 2 * cols + cols + c];
    }
    dgamma[c] = float(g);
    dbeta[c] = float(b);
  }
}

void softmax_backward(const float* y, const float* dy, float* dx, std::size_t rows, std::size_t cols) {
  parallel_for(rows, row_grain(cols), [&](std::size_t begin, std::size_t end) { softmax_grad_rows(y, dy, dx, begin, end, cols); });
}

}  // namespace samflow
