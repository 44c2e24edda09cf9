#include "elementwise.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "cpu_features.h"
#include "thread_pool.h"
#include "vector_math.h"

namespace samflow {
namespace {

constexpr std::size_t kGrain = 1 << 14;  // elements per task: below this threads cost more than they save

// Drops size-1 dimensions and merges neighbours that are contiguous in every operand, so most
// broadcasts become one [rows, cols] loop.
void collapse(std::vector<int64_t>& shape, std::vector<std::vector<int64_t>*> strides) {
  std::vector<int64_t> s;
  std::vector<std::vector<int64_t>> st(strides.size());
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !s.empty();
    for (std::size_t k = 0; merge && k < strides.size(); ++k) merge = st[k].back() == (*strides[k])[d] * shape[d];
    if (merge) {
      s.back() *= shape[d];
      for (std::size_t k = 0; k < strides.size(); ++k) st[k].back() = (*strides[k])[d];
    } else {
      s.push_back(shape[d]);
      for (std::size_t k = 0; k < strides.size(); ++k) st[k].push_back((*strides[k])[d]);
    }
  }
  if (s.empty()) {
    s.push_back(1);
    for (auto& v : st) v.push_back(0);
  }
  shape = s;
  for (std::size_t k = 0; k < strides.size(); ++k) *strides[k] = st[k];
}

template <BinaryOp Op>
inline float apply(float x, float y) {
  if constexpr (Op == BinaryOp::Add) return x + y;
  if constexpr (Op == BinaryOp::Sub) return x - y;
  if constexpr (Op == BinaryOp::Mul) return x * y;
  if constexpr (Op == BinaryOp::Div) return x / y;
  if constexpr (Op == BinaryOp::Maximum) return (std::isnan(x) || x > y) ? x : y;
  if constexpr (Op == BinaryOp::Minimum) return (std::isnan(x) || x < y) ? x : y;
  if constexpr (Op == BinaryOp::SquaredDifference) return (x - y) * (x - y);
}

// One row of the innermost dimension, specialised on the stride pattern so it vectorises.
template <BinaryOp Op>
void row(const float* __restrict a, int64_t sa, const float* __restrict b, int64_t sb, float* __restrict out, int64_t n) {
  if (sa == 1 && sb == 1) for (int64_t i = 0; i < n; ++i) out[i] = apply<Op>(a[i], b[i]);
  else if (sa == 1 && sb == 0) { const float y = *b; for (int64_t i = 0; i < n; ++i) out[i] = apply<Op>(a[i], y); }
  else if (sa == 0 && sb == 1) { const float x = *a; for (int64_t i = 0; i < n; ++i) out[i] = apply<Op>(x, b[i]); }
  else for (int64_t i = 0; i < n; ++i) out[i] = apply<Op>(a[i * sa], b[i * sb]);
}

template <BinaryOp Op>
void binary_impl(const std::vector<int64_t>& shape, const float* a, const std::vector<int64_t>& sa, const float* b,
                 const std::vector<int64_t>& sb, float* out) {
  const int rank = int(shape.size());
  const int64_t cols = shape.back();
  int64_t rows = 1;
  for (int d = 0; d + 1 < rank; ++d) rows *= shape[d];
  if (rows == 1) {
    // One long row: split it.
    parallel_for(cols, kGrain, [&](std::size_t begin, std::size_t end) {
      row<Op>(a + begin * sa[0], sa[0], b + begin * sb[0], sb[0], out + begin, int64_t(end - begin));
    });
    return;
  }
  parallel_for(rows, std::max<std::size_t>(1, kGrain / cols), [&](std::size_t begin, std::size_t end) {
    for (std::size_t r = begin; r < end; ++r) {
      int64_t oa = 0, ob = 0, rest = int64_t(r);
      for (int d = rank - 2; d >= 0; --d) {
        const int64_t i = rest % shape[d];
        rest /= shape[d];
        oa += i * sa[d];
        ob += i * sb[d];
      }
      row<Op>(a + oa, sa[rank - 1], b + ob, sb[rank - 1], out + r * cols, cols);
    }
  });
}

template <UnaryOp Op>
inline float apply_unary(float x) {
  if constexpr (Op == UnaryOp::Exp) return exp_approx(x);
  if constexpr (Op == UnaryOp::Log) return std::log(x);
  if constexpr (Op == UnaryOp::Neg) return -x;
  if constexpr (Op == UnaryOp::Square) return x * x;
  if constexpr (Op == UnaryOp::Sqrt) return std::sqrt(x);
  if constexpr (Op == UnaryOp::Rsqrt) return 1.f / std::sqrt(x);
  if constexpr (Op == UnaryOp::Erf) return erf_approx(x);
  if constexpr (Op == UnaryOp::Tanh) return std::tanh(x);
  if constexpr (Op == UnaryOp::Sigmoid) return 1.f / (1.f + exp_approx(-x));
  if constexpr (Op == UnaryOp::Relu) return x < 0.f ? 0.f : x;  // NaN stays NaN, as in tfjs
  if constexpr (Op == UnaryOp::Abs) return std::fabs(x);
  if constexpr (Op == UnaryOp::Reciprocal) return 1.f / x;
}

// Compiled for AVX2 and the baseline, picked by CPU feature (see cpu_features.h).
template <UnaryOp Op>
__attribute__((target("avx2,fma"))) void unary_span_avx2(const float* __restrict x, float* __restrict out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = apply_unary<Op>(x[i]);
}

template <UnaryOp Op>
void unary_span_baseline(const float* __restrict x, float* __restrict out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = apply_unary<Op>(x[i]);
}

template <UnaryOp Op>
void unary_span(const float* x, float* out, std::size_t n) {
  if (has_avx2_fma()) unary_span_avx2<Op>(x, out, n);
  else unary_span_baseline<Op>(x, out, n);
}

template <UnaryOp Op>
void unary_impl(const float* x, float* out, std::size_t n) {
  parallel_for(n, kGrain, [&](std::size_t begin, std::size_t end) { unary_span<Op>(x + begin, out + begin, end - begin); });
}

template <ReduceOp Op>
void reduce_impl(const float* x, float* out, std::size_t outer, std::size_t reduced, std::size_t inner) {
  const float init = Op == ReduceOp::Max ? -std::numeric_limits<float>::infinity()
                     : Op == ReduceOp::Min ? std::numeric_limits<float>::infinity() : 0.f;
  auto combine = [](float acc, float v) {
    if constexpr (Op == ReduceOp::Max) return (std::isnan(v) || v > acc) ? v : acc;
    else if constexpr (Op == ReduceOp::Min) return (std::isnan(v) || v < acc) ? v : acc;
    else return acc + v;
  };
  const float scale = Op == ReduceOp::Mean ? 1.f / float(reduced) : 1.f;
  if (inner == 1) {
    // Contiguous runs (last-axis reductions): sum in double for sums, so long rows stay accurate.
    parallel_for(outer, std::max<std::size_t>(1, kGrain / std::max<std::size_t>(1, reduced)), [&](std::size_t begin, std::size_t end) {
      for (std::size_t o = begin; o < end; ++o) {
        const float* in = x + o * reduced;
        if constexpr (Op == ReduceOp::Sum || Op == ReduceOp::Mean) {
          double acc = 0;
          for (std::size_t r = 0; r < reduced; ++r) acc += in[r];
          out[o] = float(acc) * scale;
        } else {
          float acc = init;
          for (std::size_t r = 0; r < reduced; ++r) acc = combine(acc, in[r]);
          out[o] = acc;
        }
      }
    });
    return;
  }
  // Strided reductions: accumulate whole inner rows at a time (vectorises over inner).
  const std::size_t work = outer * inner;
  parallel_for(work, std::max<std::size_t>(64, kGrain / std::max<std::size_t>(1, reduced)), [&](std::size_t begin, std::size_t end) {
    std::size_t i = begin;
    while (i < end) {
      const std::size_t o = i / inner, i0 = i % inner, i1 = std::min(inner, i0 + (end - i));
      float* dst = out + o * inner;
      for (std::size_t j = i0; j < i1; ++j) dst[j] = init;
      for (std::size_t r = 0; r < reduced; ++r) {
        const float* src = x + (o * reduced + r) * inner;
        for (std::size_t j = i0; j < i1; ++j) dst[j] = combine(dst[j], src[j]);
      }
      if (scale != 1.f) for (std::size_t j = i0; j < i1; ++j) dst[j] *= scale;
      i += i1 - i0;
    }
  });
}

}  // namespace

void binary(BinaryOp op, const std::vector<int64_t>& shape_in, const float* a, std::vector<int64_t> sa, const float* b,
            std::vector<int64_t> sb, float* out) {
  std::vector<int64_t> shape = shape_in;
  for (auto d : shape) if (d == 0) return;
  collapse(shape, {&sa, &sb});
  switch (op) {
    case BinaryOp::Add: return binary_impl<BinaryOp::Add>(shape, a, sa, b, sb, out);
    case BinaryOp::Sub: return binary_impl<BinaryOp::Sub>(shape, a, sa, b, sb, out);
    case BinaryOp::Mul: return binary_impl<BinaryOp::Mul>(shape, a, sa, b, sb, out);
    case BinaryOp::Div: return binary_impl<BinaryOp::Div>(shape, a, sa, b, sb, out);
    case BinaryOp::Maximum: return binary_impl<BinaryOp::Maximum>(shape, a, sa, b, sb, out);
    case BinaryOp::Minimum: return binary_impl<BinaryOp::Minimum>(shape, a, sa, b, sb, out);
    case BinaryOp::SquaredDifference: return binary_impl<BinaryOp::SquaredDifference>(shape, a, sa, b, sb, out);
  }
}

void unary(UnaryOp op, const float* x, float* out, std::size_t n) {
  switch (op) {
    case UnaryOp::Exp: return unary_impl<UnaryOp::Exp>(x, out, n);
    case UnaryOp::Log: return unary_impl<UnaryOp::Log>(x, out, n);
    case UnaryOp::Neg: return unary_impl<UnaryOp::Neg>(x, out, n);
    case UnaryOp::Square: return unary_impl<UnaryOp::Square>(x, out, n);
    case UnaryOp::Sqrt: return unary_impl<UnaryOp::Sqrt>(x, out, n);
    case UnaryOp::Rsqrt: return unary_impl<UnaryOp::Rsqrt>(x, out, n);
    case UnaryOp::Erf: return unary_impl<UnaryOp::Erf>(x, out, n);
    case UnaryOp::Tanh: return unary_impl<UnaryOp::Tanh>(x, out, n);
    case UnaryOp::Sigmoid: return unary_impl<UnaryOp::Sigmoid>(x, out, n);
    case UnaryOp::Relu: return unary_impl<UnaryOp::Relu>(x, out, n);
    case UnaryOp::Abs: return unary_impl<UnaryOp::Abs>(x, out, n);
    case UnaryOp::Reciprocal: return unary_impl<UnaryOp::Reciprocal>(x, out, n);
  }
}

namespace {

SAMFLOW_DISPATCHED(softmax_rows, (const float* __restrict x, float* __restrict out, std::size_t begin, std::size_t end, std::size_t cols),
                   (x, out, begin, end, cols), {
  for (std::size_t r = begin; r < end; ++r) {
    const float* in = x + r * cols;
    float* o = out + r * cols;
    const float m = max8(in, cols);
    for (std::size_t c = 0; c < cols; ++c) o[c] = exp_approx(in[c] - m);
    const float inv = 1.f / sum8(o, cols);
    for (std::size_t c = 0; c < cols; ++c) o[c] *= inv;
  }
})

}  // namespace

void softmax(const float* x, float* out, std::size_t rows, std::size_t cols) {
  parallel_for(rows, std::max<std::size_t>(1, kGrain / std::max<std::size_t>(1, cols)),
               [&](std::size_t begin, std::size_t end) { softmax_rows(x, out, begin, end, cols); });
}

void reduce(ReduceOp op, const float* x, float* out, std::size_t outer, std::size_t reduced, std::size_t inner) {
  switch (op) {
    case ReduceOp::Sum: return reduce_impl<ReduceOp::Sum>(x, out, outer, reduced, inner);
    case ReduceOp::Mean: return reduce_impl<ReduceOp::Mean>(x, out, outer, reduced, inner);
    case ReduceOp::Max: return reduce_impl<ReduceOp::Max>(x, out, outer, reduced, inner);
    case ReduceOp::Min: return reduce_impl<ReduceOp::Min>(x, out, outer, reduced, inner);
  }
}

void transpose(const float* x, float* out, const std::vector<int64_t>& shape, const std::vector<int>& perm) {
  const int rank = int(shape.size());
  std::vector<int64_t> in_strides(rank, 1);
  for (int d = rank - 2; d >= 0; --d) in_strides[d] = in_strides[d + 1] * shape[d + 1];
  std::vector<int64_t> dims(rank), strides(rank);
  for (int d = 0; d < rank; ++d) {
    dims[d] = shape[perm[d]];
    strides[d] = in_strides[perm[d]];
  }
  int64_t total = 1;
  for (auto d : dims) total *= d;
  if (total == 0) return;
  // Output strides are contiguous by construction; collapse against the input strides only.
  std::vector<int64_t> out_strides(rank, 1);
  for (int d = rank - 2; d >= 0; --d) out_strides[d] = out_strides[d + 1] * dims[d + 1];
  collapse(dims, {&strides, &out_strides});
  const int r = int(dims.size());
  const int64_t cols = dims.back();
  const int64_t inner_stride = strides.back();
  // If the input is contiguous along an output dimension other than the last, walk tiles of
  // (that dimension x last) so both reads and writes stay in cache lines.
  int tile_dim = -1;
  for (int d = 0; d + 1 < r; ++d) if (strides[d] == 1) tile_dim = d;
  const int64_t rows = total / cols;
  if (tile_dim < 0 || inner_stride == 1) {
    parallel_for(rows, std::max<std::size_t>(1, kGrain / cols), [&](std::size_t begin, std::size_t end) {
      for (std::size_t row = begin; row < end; ++row) {
        int64_t off = 0, rest = int64_t(row);
        for (int d = r - 2; d >= 0; --d) {
          off += (rest % dims[d]) * strides[d];
          rest /= dims[d];
        }
        const float* in = x + off;
        float* o = out + row * cols;
        if (inner_stride == 1) std::memcpy(o, in, sizeof(float) * cols);
        else for (int64_t c = 0; c < cols; ++c) o[c] = in[c * inner_stride];
      }
    });
    return;
  }
  // Tiled: iterate over every output dimension except tile_dim and the last, then a T x T tile.
  constexpr int64_t T = 32;
  const int64_t tile_n = dims[tile_dim];
  const int64_t out_tile_stride = out_strides[tile_dim];
  const int64_t groups = rows / tile_n;
  const int64_t bands = (tile_n + T - 1) / T;  // tasks: (group, band of T rows of tile_dim)
  parallel_for(groups * bands, 1, [&](std::size_t begin, std::size_t end) {
    for (std::size_t task = begin; task < end; ++task) {
      const int64_t g = int64_t(task) / bands, t0 = (int64_t(task) % bands) * T;
      int64_t in_off = 0, out_off = 0, rest = g;
      for (int d = r - 2; d >= 0; --d) {
        if (d == tile_dim) continue;
        const int64_t i = rest % dims[d];
        rest /= dims[d];
        in_off += i * strides[d];
        out_off += i * out_strides[d];
      }
      const int64_t t1 = std::min(tile_n, t0 + T);
      for (int64_t c0 = 0; c0 < cols; c0 += T)
        for (int64_t t = t0; t < t1; ++t)
          for (int64_t c = c0; c < std::min(cols, c0 + T); ++c)
            out[out_off + t * out_tile_stride + c] = x[in_off + t + c * inner_stride];
    }
  });
}

void slice(const float* x, float* out, const std::vector<int64_t>& shape, const std::vector<int64_t>& begin,
           const std::vector<int64_t>& size) {
  const int rank = int(shape.size());
  std::vector<int64_t> in_strides(rank, 1);
  for (int d = rank - 2; d >= 0; --d) in_strides[d] = in_strides[d + 1] * shape[d + 1];
  int64_t total = 1;
  for (auto d : size) total *= d;
  if (total == 0) return;
  const int64_t cols = size[rank - 1];
  const int64_t rows = total / cols;
  parallel_for(rows, std::max<std::size_t>(1, kGrain / cols), [&](std::size_t begin_row, std::size_t end_row) {
    for (std::size_t row = begin_row; row < end_row; ++row) {
      int64_t off = begin[rank - 1], rest = int64_t(row);
      for (int d = rank - 2; d >= 0; --d) {
        off += (rest % size[d] + begin[d]) * in_strides[d];
        rest /= size[d];
      }
      std::memcpy(out + row * cols, x + off, sizeof(float) * cols);
    }
  });
}

void pad(const float* x, float* out, const std::vector<int64_t>& shape, const std::vector<int64_t>& before,
         const std::vector<int64_t>& after, float value) {
  const int rank = int(shape.size());
  std::vector<int64_t> out_dims(rank), out_strides(rank, 1);
  for (int d = 0; d < rank; ++d) out_dims[d] = shape[d] + before[d] + after[d];
  for (int d = rank - 2; d >= 0; --d) out_strides[d] = out_strides[d + 1] * out_dims[d + 1];
  int64_t total = 1;
  for (auto d : out_dims) total *= d;
  std::fill(out, out + total, value);
  int64_t in_total = 1;
  for (auto d : shape) in_total *= d;
  if (in_total == 0) return;
  const int64_t cols = shape[rank - 1];
  const int64_t rows = in_total / cols;
  parallel_for(rows, std::max<std::size_t>(1, kGrain / cols), [&](std::size_t begin, std::size_t end) {
    for (std::size_t row = begin; row < end; ++row) {
      int64_t off = before[rank - 1], rest = int64_t(row);
      for (int d = rank - 2; d >= 0; --d) {
        off += (rest % shape[d] + before[d]) * out_strides[d];
        rest /= shape[d];
      }
      std::memcpy(out + off, x + row * cols, sizeof(float) * cols);
    }
  });
}

}  // namespace samflow
