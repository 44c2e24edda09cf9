#include "depthwise.h"

#include <cstring>

#include "thread_pool.h"

namespace samflow {

void depthwise_forward(const ConvGeometry& g, const float* x, const float* filter, float* y) {
  const int mult = g.out_c / g.in_c;
  parallel_for(std::size_t(g.batch) * g.out_h, 1, [&](std::size_t begin, std::size_t end) {
    for (std::size_t row = begin; row < end; ++row) {
      const int b = int(row / g.out_h), oh = int(row % g.out_h);
      float* out_row = y + row * g.out_w * g.out_c;
      std::memset(out_row, 0, sizeof(float) * g.out_w * g.out_c);
      for (int kh = 0; kh < g.f_h; ++kh) {
        const int ih = oh * g.stride_h - g.pad_top + kh * g.dil_h;
        if (ih < 0 || ih >= g.in_h) continue;
        for (int ow = 0; ow < g.out_w; ++ow) {
          float* out = out_row + ow * g.out_c;
          for (int kw = 0; kw < g.f_w; ++kw) {
            const int iw = ow * g.stride_w - g.pad_left + kw * g.dil_w;
            if (iw < 0 || iw >= g.in_w) continue;
            const float* in = x + ((std::size_t(b) * g.in_h + ih) * g.in_w + iw) * g.in_c;
            const float* f = filter + (kh * g.f_w + kw) * g.out_c;
            for (int c = 0; c < g.in_c; ++c)
              for (int m = 0; m < mult; ++m) out[c * mult + m] += in[c] * f[c * mult + m];
          }
        }
      }
    }
  });
}

// Gather form: each input pixel sums the outputs whose window covers it, so rows are independent.
void depthwise_backprop_input(const ConvGeometry& g, const float* dy, const float* filter, float* dx) {
  const int mult = g.out_c / g.in_c;
  parallel_for(std::size_t(g.batch) * g.in_h, 1, [&](std::size_t begin, std::size_t end) {
    for (std::size_t row = begin; row < end; ++row) {
      const int b = int(row / g.in_h), ih = int(row % g.in_h);
      float* dx_row = dx + row * g.in_w * g.in_c;
      std::memset(dx_row, 0, sizeof(float) * g.in_w * g.in_c);
      for (int kh = 0; kh < g.f_h; ++kh) {
        const int t = ih + g.pad_top - kh * g.dil_h;
        if (t < 0 || t % g.stride_h != 0) continue;
        const int oh = t / g.stride_h;
        if (oh >= g.out_h) continue;
        for (int iw = 0; iw < g.in_w; ++iw) {
          float* out = dx_row + iw * g.in_c;
          for (int kw = 0; kw < g.f_w; ++kw) {
            const int u = iw + g.pad_left - kw * g.dil_w;
            if (u < 0 || u % g.stride_w != 0) continue;
            const int ow = u / g.stride_w;
            if (ow >= g.out_w) continue;
            const float* grad = dy + ((std::size_t(b) * g.out_h + oh) * g.out_w + ow) * g.out_c;
            const float* f = filter + (kh * g.f_w + kw) * g.out_c;
            for (int c = 0; c < g.in_c; ++c) {
              float sum = 0.f;
              for (int m = 0; m < mult; ++m) sum += grad[c * mult + m] * f[c * mult + m];
              out[c] += sum;
            }
          }
        }
      }
    }
  });
}

// Each thread owns whole filter taps (kh, kw), so no two threads write the same weight.
void depthwise_backprop_filter(const ConvGeometry& g, const float* x, const float* dy, float* dfilter) {
  const int mult = g.out_c / g.in_c;
  parallel_for(std::size_t(g.f_h) * g.f_w, 1, [&](std::size_t begin, std::size_t end) {
    for (std::size_t tap = begin; tap < end; ++tap) {
      const int kh = int(tap / g.f_w), kw = int(tap % g.f_w);
      float* df = dfilter + tap * g.out_c;
      std::memset(df, 0, sizeof(float) * g.out_c);
      for (int b = 0; b < g.batch; ++b) {
        for (int oh = 0; oh < g.out_h; ++oh) {
          const int ih = oh * g.stride_h - g.pad_top + kh * g.dil_h;
          if (ih < 0 || ih >= g.in_h) continue;
          for (int ow = 0; ow < g.out_w; ++ow) {
            const int iw = ow * g.stride_w - g.pad_left + kw * g.dil_w;
            if (iw < 0 || iw >= g.in_w) continue;
            const float* in = x + ((std::size_t(b) * g.in_h + ih) * g.in_w + iw) * g.in_c;
            const float* grad = dy + ((std::size_t(b) * g.out_h + oh) * g.out_w + ow) * g.out_c;
            for (int c = 0; c < g.in_c; ++c)
              for (int m = 0; m < mult; ++m) df[c * mult + m] += in[c] * grad[c * mult + m];
          }
        }
      }
    }
  });
}

}  // namespace samflow
