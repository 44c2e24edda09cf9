// exp and erf written with plain float arithmetic and selects, so loops over them vectorise
// (std::exp / std::erf are scalar library calls). exp: Cephes' range reduction and degree-6
// polynomial, within 2 ulp on [-87, 88]; erf: Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7),
// the formula tfjs's own cpu kernel uses.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace samflow {

// e^x for x already inside [-87.34, 88.38]: the range reduction and polynomial, no special cases.
inline float exp_in_range(float x) {
  const float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.f;
  const int32_t bits = (int32_t(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

inline float exp_approx(float x) {
  const float hi = 88.3762626647949f, lo = -87.3365478515625f;
  const float result = exp_in_range(x > hi ? hi : (x < lo ? lo : x));
  // Exact 0 below the range (softmax masks with -inf), infinity above it, NaN stays NaN.
  return x != x ? x : (x < lo ? 0.f : (x > hi ? __builtin_inff() : result));
}

inline float erf_approx(float x) {
  const float a = x < 0.f ? -x : x;
  const float t = 1.f / (1.f + 0.3275911f * a);
  const float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
  const float y = 1.f - poly * exp_approx(-a * a);
  return x < 0.f ? -y : y;
}

// Sum and dot product with 8 independent accumulators: the compiler keeps them in one vector
// register (a single running float would be a serial dependency it may not reorder).
inline float sum8(const float* x, std::size_t n) {
  float acc[8] = {};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += x[i + j];
  float total = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) total += x[i];
  return total;
}

inline float dot8(const float* x, const float* y, std::size_t n) {
  float acc[8] = {};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += x[i + j] * y[i + j];
  float total = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) total += x[i] * y[i];
  return total;
}

inline float max8(const float* x, std::size_t n) {
  float acc[8];
  for (int j = 0; j < 8; ++j) acc[j] = -__builtin_inff();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] = x[i + j] > acc[j] ? x[i + j] : acc[j];
  float m = acc[0];
  for (int j = 1; j < 8; ++j) m = acc[j] > m ? acc[j] : m;
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

}  // namespace samflow
