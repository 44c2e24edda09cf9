// Point sampling for the set loss (src/nodes/losses/point-sampling.ts holds the definitions and
// the JS versions these replace). A point (x, y) in [0, 1]^2 is read bilinearly from an h x w map
// at pixel coordinate (x*w - 0.5, y*h - 0.5), as grid_sample(align_corners=False) places it:
// neighbours outside the map weigh 0, or with clamp the coordinate is clamped (F.interpolate).
#pragma once
#include <cstddef>
#include <cstdint>

namespace samflow {

// out[r, p] = map r (data + offsets[r]) at point p. points holds 2*count (x, y) pairs shared by
// every row, or 2*count per row (per_row).
void sample_points(const float* data, const int64_t* offsets, std::size_t rows, const float* points, std::size_t count,
                   bool per_row, int h, int w, bool clamp, float* out);

// The gradient of sample_points: dx[map r at point p's neighbours] += weight * dy[r, p]. Rows that
// share a map are summed serially.
void scatter_points(float* dx, const int64_t* offsets, std::size_t rows, const float* points, std::size_t count, bool per_row,
                    int h, int w, bool clamp, const float* dy);

// The binary mask of each class of one label map (ids, h x w) at the points: out[slot[id], p]
// += weight for each neighbour whose id has a slot (slot[id] >= 0, ids < slots).
void sample_class_masks(const int32_t* labels, int h, int w, const float* points, std::size_t count, bool clamp,
                        const int32_t* slot, std::size_t slots, float* out);

// Per row of x [rows, cols]: prob = sigmoid(x), and the row sums of softplus(x) and of prob.
void softplus_sigmoid(const float* x, std::size_t rows, std::size_t cols, float* prob, double* softplus_sum, double* prob_sum);

// The k-th smallest |values[i]| (0-based).
float kth_smallest_abs(const float* values, std::size_t n, std::size_t k);

// The next n floats of a mulberry32 stream (state advanced in place), as src/nodes/random.ts makes them.
void mulberry32_fill(uint32_t* state, float* out, std::size_t n);

}  // namespace samflow
