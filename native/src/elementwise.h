// Memory-bound kernels the cpu backend runs slowly in JS: broadcasting binary ops, unary maths,
// softmax, reductions, transposes, slices and constant padding. Shapes are row-major.
#pragma once
#include <cstdint>
#include <vector>

namespace samflow {

enum class BinaryOp { Add, Sub, Mul, Div, Maximum, Minimum, SquaredDifference };
enum class UnaryOp { Exp, Log, Neg, Square, Sqrt, Rsqrt, Erf, Tanh, Sigmoid, Relu, Abs, Reciprocal };
enum class ReduceOp { Sum, Mean, Max, Min };

// out[i] = a[i] op b[i] with NumPy broadcasting: a_strides/b_strides are element strides per
// output dimension, 0 where that input broadcasts.
void binary(BinaryOp op, const std::vector<int64_t>& shape, const float* a, std::vector<int64_t> a_strides, const float* b,
            std::vector<int64_t> b_strides, float* out);

void unary(UnaryOp op, const float* x, float* out, std::size_t n);

// Softmax over the last axis of a [rows, cols] array.
void softmax(const float* x, float* out, std::size_t rows, std::size_t cols);

// x viewed as [outer, reduced, inner] -> out [outer, inner].
void reduce(ReduceOp op, const float* x, float* out, std::size_t outer, std::size_t reduced, std::size_t inner);

// out = x.transpose(perm), x of the given shape.
void transpose(const float* x, float* out, const std::vector<int64_t>& shape, const std::vector<int>& perm);

// out = x[begin : begin + size] (per dimension).
void slice(const float* x, float* out, const std::vector<int64_t>& shape, const std::vector<int64_t>& begin,
           const std::vector<int64_t>& size);

// out = x padded with `before`/`after` elements of `value` per dimension.
void pad(const float* x, float* out, const std::vector<int64_t>& shape, const std::vector<int64_t>& before,
         const std::vector<int64_t>& after, float value);

}  // namespace samflow
