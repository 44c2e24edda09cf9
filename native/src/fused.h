// Fused forward and backward kernels for the layers a ViT block is made of, each one pass over
// memory where the composite tfjs ops make five to fifteen.
#pragma once
#include <cstddef>

namespace samflow {

// Exact GELU: 0.5 x (1 + erf(x / sqrt 2)), and dx = dy * d/dx GELU(x).
void gelu_forward(const float* x, float* y, std::size_t n);
void gelu_backward(const float* x, const float* dy, float* dx, std::size_t n);

// LayerNorm over the last axis of [rows, cols]: y = (x - mean) / sqrt(var + eps) * gamma + beta.
void layer_norm_forward(const float* x, const float* gamma, const float* beta, float* y, std::size_t rows, std::size_t cols, float eps);
// Gradients for x, gamma and beta given dy (the statistics are recomputed from x).
void layer_norm_backward(const float* x, const float* gamma, const float* dy, float* dx, float* dgamma, float* dbeta,
                         std::size_t rows, std::size_t cols, float eps);

// Softmax over the last axis, backward: dx = y * (dy - sum(dy * y)).
void softmax_backward(const float* y, const float* dy, float* dx, std::size_t rows, std::size_t cols);

}  // namespace samflow
