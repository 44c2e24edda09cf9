#include "conv2d.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "gemm.h"
#include "thread_pool.h"

namespace samflow {
namespace {

// im2col buffers are cut into tiles of output rows no larger than this (floats).
constexpr std::size_t kTileFloats = std::size_t(8) << 20;

bool is_pointwise(const ConvGeometry& g) {
  return g.f_h == 1 && g.f_w == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0 && g.pad_left == 0 &&
         g.out_h == g.in_h && g.out_w == g.in_w;
}

int patch_size(const ConvGeometry& g) { return g.f_h * g.f_w * g.in_c; }

int tile_rows(const ConvGeometry& g) {
  const std::size_t per_row = std::size_t(g.out_w) * patch_size(g);
  return int(std::max<std::size_t>(1, std::min<std::size_t>(g.out_h, kTileFloats / std::max<std::size_t>(1, per_row))));
}

// cols[(oh - row0) * out_w + ow][(kh * f_w + kw) * in_c + c] = x[ih, iw, c], zero outside the image.
void im2col(const ConvGeometry& g, const float* image, int row0, int rows, float* cols) {
  const int patch = patch_size(g);
  parallel_for(std::size_t(rows) * g.out_w, 64, [&](std::size_t begin, std::size_t end) {
    for (std::size_t p = begin; p < end; ++p) {
      const int oh = row0 + int(p / g.out_w), ow = int(p % g.out_w);
      float* out = cols + p * patch;
      for (int kh = 0; kh < g.f_h; ++kh) {
        const int ih = oh * g.stride_h - g.pad_top + kh * g.dil_h;
        for (int kw = 0; kw < g.f_w; ++kw, out += g.in_c) {
          const int iw = ow * g.stride_w - g.pad_left + kw * g.dil_w;
          if (ih < 0 || ih >= g.in_h || iw < 0 || iw >= g.in_w) std::memset(out, 0, sizeof(float) * g.in_c);
          else std::memcpy(out, image + (std::size_t(ih) * g.in_w + iw) * g.in_c, sizeof(float) * g.in_c);
        }
      }
    }
  });
}

// The adjoint of im2col: image[ih, iw, c] += cols[...]. Threads own disjoint channel ranges.
void col2im_add(const ConvGeometry& g, const float* cols, int row0, int rows, float* image) {
  const int patch = patch_size(g);
  parallel_for(g.in_c, 8, [&](std::size_t c0, std::size_t c1) {
    for (int r = 0; r < rows; ++r) {
      const int oh = row0 + r;
      for (int ow = 0; ow < g.out_w; ++ow) {
        const float* in = cols + (std::size_t(r) * g.out_w + ow) * patch;
        for (int kh = 0; kh < g.f_h; ++kh) {
          const int ih = oh * g.stride_h - g.pad_top + kh * g.dil_h;
          if (ih < 0 || ih >= g.in_h) continue;
          for (int kw = 0; kw < g.f_w; ++kw) {
            const int iw = ow * g.stride_w - g.pad_left + kw * g.dil_w;
            if (iw < 0 || iw >= g.in_w) continue;
            const float* src = in + (kh * g.f_w + kw) * g.in_c;
            float* dst = image + (std::size_t(ih) * g.in_w + iw) * g.in_c;
            for (std::size_t c = c0; c < c1; ++c) dst[c] += src[c];
          }
        }
      }
    }
  });
}

}  // namespace

void conv2d_forward(const ConvGeometry& g, const float* x, const float* filter, float* y) {
  const int patch = patch_size(g);
  if (is_pointwise(g)) {
    sgemm(false, false, g.batch * g.in_h * g.in_w, g.out_c, g.in_c, 1.f, x, g.in_c, filter, g.out_c, 0.f, y, g.out_c);
    return;
  }
  const int tile = tile_rows(g);
  std::vector<float> cols(std::size_t(tile) * g.out_w * patch);
  for (int b = 0; b < g.batch; ++b) {
    const float* image = x + std::size_t(b) * g.in_h * g.in_w * g.in_c;
    for (int row0 = 0; row0 < g.out_h; row0 += tile) {
      const int rows = std::min(tile, g.out_h - row0);
      im2col(g, image, row0, rows, cols.data());
      float* out = y + (std::size_t(b) * g.out_h + row0) * g.out_w * g.out_c;
      sgemm(false, false, rows * g.out_w, g.out_c, patch, 1.f, cols.data(), patch, filter, g.out_c, 0.f, out, g.out_c);
    }
  }
}

void conv2d_backprop_input(const ConvGeometry& g, const float* dy, const float* filter, float* dx) {
  const int patch = patch_size(g);
  if (is_pointwise(g)) {
    sgemm(false, true, g.batch * g.in_h * g.in_w, g.in_c, g.out_c, 1.f, dy, g.out_c, filter, g.out_c, 0.f, dx, g.in_c);
    return;
  }
  std::memset(dx, 0, sizeof(float) * std::size_t(g.batch) * g.in_h * g.in_w * g.in_c);
  const int tile = tile_rows(g);
  std::vector<float> cols(std::size_t(tile) * g.out_w * patch);
  for (int b = 0; b < g.batch; ++b) {
    float* image = dx + std::size_t(b) * g.in_h * g.in_w * g.in_c;
    for (int row0 = 0; row0 < g.out_h; row0 += tile) {
      const int rows = std::min(tile, g.out_h - row0);
      const float* grad = dy + (std::size_t(b) * g.out_h + row0) * g.out_w * g.out_c;
      // cols = dy_tile [rows*out_w, out_c] . filter^T [out_c, patch]
      sgemm(false, true, rows * g.out_w, patch, g.out_c, 1.f, grad, g.out_c, filter, g.out_c, 0.f, cols.data(), patch);
      col2im_add(g, cols.data(), row0, rows, image);
    }
  }
}

void conv2d_backprop_filter(const ConvGeometry& g, const float* x, const float* dy, float* dfilter) {
  const int patch = patch_size(g);
  if (is_pointwise(g)) {
    const int n = g.batch * g.in_h * g.in_w;
    sgemm(true, false, g.in_c, g.out_c, n, 1.f, x, g.in_c, dy, g.out_c, 0.f, dfilter, g.out_c);
    return;
  }
  const int tile = tile_rows(g);
  std::vector<float> cols(std::size_t(tile) * g.out_w * patch);
  bool first = true;
  for (int b = 0; b < g.batch; ++b) {
    const float* image = x + std::size_t(b) * g.in_h * g.in_w * g.in_c;
    for (int row0 = 0; row0 < g.out_h; row0 += tile) {
      const int rows = std::min(tile, g.out_h - row0);
      im2col(g, image, row0, rows, cols.data());
      const float* grad = dy + (std::size_t(b) * g.out_h + row0) * g.out_w * g.out_c;
      // dfilter [patch, out_c] (+)= cols^T . dy_tile
      sgemm(true, false, patch, g.out_c, rows * g.out_w, 1.f, cols.data(), patch, grad, g.out_c, first ? 0.f : 1.f,
            dfilter, g.out_c);
      first = false;
    }
  }
  if (first) std::memset(dfilter, 0, sizeof(float) * std::size_t(patch) * g.out_c);
}

}  // namespace samflow
