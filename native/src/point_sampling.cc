#include "point_sampling.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "thread_pool.h"

namespace samflow {

namespace {
constexpr std::size_t kGrain = 1 << 12;  // points per task

// The four neighbours of a point and their weights, computed in doubles as the JS version does.
struct Neighbours {
  int index[4];
  float weight[4];
};

inline Neighbours neighbours(float px, float py, int h, int w, bool clamp) {
  double sx = double(px) * w - 0.5, sy = double(py) * h - 0.5;
  if (clamp) {
    sx = std::min(std::max(sx, 0.0), double(w - 1));
    sy = std::min(std::max(sy, 0.0), double(h - 1));
  }
  const int x0 = int(std::floor(sx)), y0 = int(std::floor(sy));
  const double fx = sx - x0, fy = sy - y0;
  const double wx0 = x0 >= 0 && x0 < w ? 1 - fx : 0, wx1 = x0 + 1 >= 0 && x0 + 1 < w ? fx : 0;
  const double wy0 = y0 >= 0 && y0 < h ? 1 - fy : 0, wy1 = y0 + 1 >= 0 && y0 + 1 < h ? fy : 0;
  const int cx0 = std::min(std::max(x0, 0), w - 1), cx1 = std::min(std::max(x0 + 1, 0), w - 1);
  const int cy0 = std::min(std::max(y0, 0), h - 1) * w, cy1 = std::min(std::max(y0 + 1, 0), h - 1) * w;
  return {{cy0 + cx0, cy0 + cx1, cy1 + cx0, cy1 + cx1}, {float(wy0 * wx0), float(wy0 * wx1), float(wy1 * wx0), float(wy1 * wx1)}};
}
}  // namespace

void sample_points(const float* data, const int64_t* offsets, std::size_t rows, const float* points, std::size_t count,
                   bool per_row, int h, int w, bool clamp, float* out) {
  if (!per_row) {
    // Shared points (the matching's: Q tokens at the same points): neighbours once, read Q times.
    std::vector<Neighbours> taps(count);
    parallel_for(count, kGrain, [&](std::size_t begin, std::size_t end) {
      for (std::size_t p = begin; p < end; p++) taps[p] = neighbours(points[2 * p], points[2 * p + 1], h, w, clamp);
    });
    parallel_for(rows * count, kGrain, [&](std::size_t begin, std::size_t end) {
      for (std::size_t j = begin; j < end; j++) {
        const Neighbours& n = taps[j % count];
        const float* base = data + offsets[j / count];
        out[j] = n.weight[0] * base[n.index[0]] + n.weight[1] * base[n.index[1]] + n.weight[2] * base[n.index[2]] + n.weight[3] * base[n.index[3]];
      }
    });
    return;
  }
  parallel_for(rows * count, kGrain, [&](std::size_t begin, std::size_t end) {
    for (std::size_t j = begin; j < end; j++) {
      const Neighbours n = neighbours(points[2 * j], points[2 * j + 1], h, w, clamp);
      const float* base = data + offsets[j / count];
      out[j] = n.weight[0] * base[n.index[0]] + n.weight[1] * base[n.index[1]] + n.weight[2] * base[n.index[2]] + n.weight[3] * base[n.index[3]];
    }
  });
}

void scatter_points(float* dx, const int64_t* offsets, std::size_t rows, const float* points, std::size_t count, bool per_row,
                    int h, int w, bool clamp, const float* dy) {
  std::vector<int64_t> sorted(offsets, offsets + rows);
  std::sort(sorted.begin(), sorted.end());
  const bool distinct = std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end();
  parallel_for(rows, distinct ? 1 : rows, [&](std::size_t begin, std::size_t end) {
    for (std::size_t r = begin; r < end; r++) {
      float* base = dx + offsets[r];
      for (std::size_t p = 0; p < count; p++) {
        const float* pt = points + 2 * (per_row ? r * count + p : p);
        const Neighbours n = neighbours(pt[0], pt[1], h, w, clamp);
        const float d = dy[r * count + p];
        for (int k = 0; k < 4; k++) base[n.index[k]] += n.weight[k] * d;
      }
    }
  });
}

void sample_class_masks(const int32_t* labels, int h, int w, const float* points, std::size_t count, bool clamp,
                        const int32_t* slot, std::size_t slots, float* out) {
  parallel_for(count, kGrain, [&](std::size_t begin, std::size_t end) {
    for (std::size_t p = begin; p < end; p++) {
      const Neighbours n = neighbours(points[2 * p], points[2 * p + 1], h, w, clamp);
      for (int k = 0; k < 4; k++) {
        if (n.weight[k] == 0) continue;
        const int32_t id = labels[n.index[k]];
        const int32_t s = id >= 0 && std::size_t(id) < slots ? slot[id] : -1;
        if (s >= 0) out[std::size_t(s) * count + p] += n.weight[k];
      }
    }
  });
}

void softplus_sigmoid(const float* x, std::size_t rows, std::size_t cols, float* prob, double* softplus_sum, double* prob_sum) {
  parallel_for(rows, 1, [&](std::size_t begin, std::size_t end) {
    for (std::size_t r = begin; r < end; r++) {
      double sp = 0, ps = 0;
      for (std::size_t i = r * cols; i < (r + 1) * cols; i++) {
        const double v = x[i];
        const double e = std::exp(-std::fabs(v));
        sp += std::max(v, 0.0) + std::log1p(e);
        const double p = v >= 0 ? 1 / (1 + e) : e / (1 + e);
        prob[i] = float(p);
        ps += p;
      }
      softplus_sum[r] = sp;
      prob_sum[r] = ps;
    }
  });
}

float kth_smallest_abs(const float* values, std::size_t n, std::size_t k) {
  std::vector<float> a(n);
  for (std::size_t i = 0; i < n; i++) a[i] = std::fabs(values[i]);
  std::nth_element(a.begin(), a.begin() + k, a.end());
  return a[k];
}

void mulberry32_fill(uint32_t* state, float* out, std::size_t n) {
  uint32_t a = *state;
  for (std::size_t i = 0; i < n; i++) {
    a += 0x6d2b79f5u;
    uint32_t t = a;
    t = (t ^ (t >> 15)) * (t | 1u);
    t ^= t + (t ^ (t >> 7)) * (t | 61u);
    // as a double, as JS divides; stored as float like the JS version's Float32Array
    out[i] = float(double(t ^ (t >> 14)) / 4294967296.0);
  }
  *state = a;
}

}  // namespace samflow
