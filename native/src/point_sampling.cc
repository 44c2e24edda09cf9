#include "point_sampling.h"

#include <algorithm>
#include <cstring>
#include <cmath>
#include <vector>

#include <immintrin.h>
#include <sys/mman.h>
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14, older libc headers lack it
#endif

#include "cpu_features.h"
#include "thread_pool.h"
#include "vector_math.h"

namespace samflow {

namespace {
constexpr std::size_t kBlock = 256;  // points per vectorised stretch of a row

// The neighbours of up to kBlock points, one array per corner, so the loops over them vectorise.
struct TapBlock {
  int32_t index[4][kBlock];
  float weight[4][kBlock];
};

// The neighbours of n <= kBlock points (x, y pairs) on an h x w grid, in float arithmetic (as
// grid_sample's float32 kernel does) so that 8 or 16 points go per vector; the JS version rounds each
// step the same way, so both find the same neighbours and weights.
SAMFLOW_DISPATCHED_AVX512(find_taps, (const float* __restrict points, std::size_t n, int h, int w, bool clamp, TapBlock* __restrict t),
                          (points, n, h, w, clamp, t), {
  const float last_x = float(w - 1);
  const float last_y = float(h - 1);
  // Clamping as bounds that are infinite when off: a branch in the loop would keep it scalar.
  const float low = clamp ? 0.f : -INFINITY;
  const float high_x = clamp ? last_x : INFINITY;
  const float high_y = clamp ? last_y : INFINITY;
  for (std::size_t i = 0; i < n; ++i) {
    // x * w - 0.5 rounded once (a fused multiply-add; exact in doubles, as JS computes it)
    const float sx = std::min(std::max(std::fma(points[2 * i], float(w), -0.5f), low), high_x);
    const float sy = std::min(std::max(std::fma(points[2 * i + 1], float(h), -0.5f), low), high_y);
    const float x0 = std::floor(sx);
    const float y0 = std::floor(sy);
    const float fx = sx - x0;
    const float fy = sy - y0;
    // Outside the map a neighbour weighs 0; its index is clamped only to stay readable (a NaN
    // coordinate too: std::max(0, NaN) is 0).
    const float wx0 = x0 >= 0 && x0 <= last_x ? 1 - fx : 0;
    const float wx1 = x0 + 1 >= 0 && x0 + 1 <= last_x ? fx : 0;
    const float wy0 = y0 >= 0 && y0 <= last_y ? 1 - fy : 0;
    const float wy1 = y0 + 1 >= 0 && y0 + 1 <= last_y ? fy : 0;
    const int32_t cx0 = int32_t(std::min(last_x, std::max(0.f, x0)));
    const int32_t cx1 = int32_t(std::min(last_x, std::max(0.f, x0 + 1)));
    const int32_t cy0 = int32_t(std::min(last_y, std::max(0.f, y0))) * w;
    const int32_t cy1 = int32_t(std::min(last_y, std::max(0.f, y0 + 1))) * w;
    t->index[0][i] = cy0 + cx0;
    t->index[1][i] = cy0 + cx1;
    t->index[2][i] = cy1 + cx0;
    t->index[3][i] = cy1 + cx1;
    t->weight[0][i] = wy0 * wx0;
    t->weight[1][i] = wy0 * wx1;
    t->weight[2][i] = wy1 * wx0;
    t->weight[3][i] = wy1 * wx1;
  }
})

// out[i] = the map at point i.
SAMFLOW_DISPATCHED(gather, (const float* __restrict map, const TapBlock* __restrict t, std::size_t n, float* __restrict out),
                   (map, t, n, out), {
  for (std::size_t i = 0; i < n; ++i)
    out[i] = t->weight[0][i] * map[t->index[0][i]] + t->weight[1][i] * map[t->index[1][i]] + t->weight[2][i] * map[t->index[2][i]] +
             t->weight[3][i] * map[t->index[3][i]];
})

// out[i] = the weight of point i's neighbours labelled `cls`, added in neighbour order as the JS version does.
template <typename Label>
__attribute__((always_inline)) inline void class_mask_body(const Label* __restrict labels, const TapBlock* __restrict t, std::size_t n, int32_t cls,
                                                           float* __restrict out) {
  for (std::size_t i = 0; i < n; ++i) {
    float v = int32_t(labels[t->index[0][i]]) == cls ? t->weight[0][i] : 0.f;
    v += int32_t(labels[t->index[1][i]]) == cls ? t->weight[1][i] : 0.f;
    v += int32_t(labels[t->index[2][i]]) == cls ? t->weight[2][i] : 0.f;
    v += int32_t(labels[t->index[3][i]]) == cls ? t->weight[3][i] : 0.f;
    out[i] = v;
  }
}

SAMFLOW_DISPATCHED(class_mask_i32, (const int32_t* __restrict labels, const TapBlock* __restrict t, std::size_t n, int32_t cls, float* __restrict out),
                   (labels, t, n, cls, out), { class_mask_body(labels, t, n, cls, out); })
SAMFLOW_DISPATCHED(class_mask_u8, (const uint8_t* __restrict labels, const TapBlock* __restrict t, std::size_t n, int32_t cls, float* __restrict out),
                   (labels, t, n, cls, out), { class_mask_body(labels, t, n, cls, out); })
inline void class_mask(const int32_t* labels, const TapBlock* t, std::size_t n, int32_t cls, float* out) { class_mask_i32(labels, t, n, cls, out); }
inline void class_mask(const uint8_t* labels, const TapBlock* t, std::size_t n, int32_t cls, float* out) { class_mask_u8(labels, t, n, cls, out); }

// ids[k][i] = the label of point i's neighbour k: one loop of independent loads, so that the
// cache misses of a large label map overlap.
template <typename Label>
void gather_labels(const Label* __restrict labels, const TapBlock* __restrict t, std::size_t n, int32_t (*__restrict ids)[kBlock]) {
  for (int k = 0; k < 4; ++k)
    for (std::size_t i = 0; i < n; ++i) ids[k][i] = int32_t(labels[t->index[k][i]]);
}

// small[i] = labels[i] where in [0, classes), else kCompactIgnore; whether any label outside
// [0, classes) is not `ignore`.
SAMFLOW_DISPATCHED_AVX512_RETURNING(bool, compact_labels, (const int32_t* __restrict labels, std::size_t n, int32_t classes, int32_t ignore, uint8_t* __restrict small),
                                    (labels, n, classes, ignore, small), {
  int stray = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const int32_t id = labels[i];
    const bool in = uint32_t(id) < uint32_t(classes);
    small[i] = uint8_t(in ? id : kCompactIgnore);
    stray |= !in && id != ignore;
  }
  return stray != 0;
})

// map[neighbours of point i] += weight * g[i] (serial: points may share a neighbour).
void scatter(float* map, const TapBlock& t, std::size_t n, const float* g) {
  for (std::size_t i = 0; i < n; ++i)
    for (int k = 0; k < 4; ++k) map[t.index[k][i]] += t.weight[k][i] * g[i];
}

// Streams a map into cache before it is read at random points: in address order the hardware
// fetches it at memory bandwidth, where random reads would make most of its lines a full memory
// round trip each (a 256^2 map: ~0.35 ms of a 12,544-point row).
void warm(const float* map, std::size_t n) {
  for (std::size_t i = 0; i < n; i += 16) __builtin_prefetch(map + i);
}

// exp(x) for x <= 0: vector_math.h's exp_approx without its overflow and NaN cases, which a
// non-positive argument never needs (below -87.3 it gives exp(-87.3) ~ 1e-38 instead of 0).
inline float exp_nonpositive(float x) {
  const float lo = -87.3365478515625f;
  return exp_in_range(x < lo ? lo : x);
}

// log(u) for u in [1, 2]: Cephes' logf polynomial on [sqrt(1/2), sqrt(2)) after halving u above sqrt(2).
inline float log_1_to_2(float u) {
  const bool high = u > 1.41421356237f;
  const float f = (high ? 0.5f * u : u) - 1.f;
  const float z = f * f;
  const float k = high ? 1.f : 0.f;
  float p = 7.0376836292e-2f;
  p = p * f - 1.1514610310e-1f;
  p = p * f + 1.1676998740e-1f;
  p = p * f - 1.2420140846e-1f;
  p = p * f + 1.4249322787e-1f;
  p = p * f - 1.6668057665e-1f;
  p = p * f + 2.0000714765e-1f;
  p = p * f - 2.4999993993e-1f;
  p = p * f + 3.3333331174e-1f;
  return f + (p * f * z + k * -2.12194440e-4f - 0.5f * z) + k * 0.693359375f;
}

// sigmoid(v), softplus(v) = max(v, 0) + log1p(e) and sigmoid'(v) = e / (1 + e)^2, from
// e = exp(-|v|) (which never overflows) and one division; within a few ulp.
struct Logistic {
  float prob, softplus, slope;
};

inline Logistic logistic(float v) {
  const float e = exp_nonpositive(v < 0.f ? v : -v);
  const float u = 1.f + e;
  const float inv = 1.f / u;
  // log1p(e) = log(u) plus, to first order, what rounding 1 + e lost.
  return {(v >= 0.f ? 1.f : e) * inv, (v > 0.f ? v : 0.f) + log_1_to_2(u) + (e - (u - 1.f)) * inv, e * inv * inv};
}

SAMFLOW_DISPATCHED_AVX512(softplus_sigmoid_span, (const float* __restrict x, float* __restrict softplus, float* __restrict prob, std::size_t n),
                          (x, softplus, prob, n), {
  for (std::size_t i = 0; i < n; ++i) {
    const Logistic l = logistic(x[i]);
    softplus[i] = l.softplus;
    prob[i] = l.prob;
  }
})

// g = a (p - t) + (b t + c) p (1 - p).
SAMFLOW_DISPATCHED_AVX512(loss_grad_span, (const float* __restrict x, const float* __restrict t, float a, float b, float c, float* __restrict g, std::size_t n),
                          (x, t, a, b, c, g, n), {
  for (std::size_t i = 0; i < n; ++i) {
    const Logistic l = logistic(x[i]);
    g[i] = a * (l.prob - t[i]) + (b * t[i] + c) * l.slope;
  }
})

// The next n draws of mulberry32 from state `start`: the state only adds a constant per draw, so
// any stretch can be made on its own.
inline uint32_t mulberry32_bits(uint32_t start, std::size_t i) {
  uint32_t t = start + uint32_t(i + 1) * 0x6d2b79f5u;
  t = (t ^ (t >> 15)) * (t | 1u);
  t ^= t + (t ^ (t >> 7)) * (t | 61u);
  return t ^ (t >> 14);
}

SAMFLOW_DISPATCHED(mulberry32_span_upto_avx2, (uint32_t start, float* __restrict out, std::size_t n), (start, out, n), {
  // t / 2^32 rounded once to float, as JS stores the double quotient; the signed conversion
  // plus 2^31 is exact and vectorises with AVX2 (which has no unsigned one).
  for (std::size_t i = 0; i < n; ++i) out[i] = float((double(int32_t(mulberry32_bits(start, i) ^ 0x80000000u)) + 2147483648.0) * (1.0 / 4294967296.0));
})

// With AVX-512's unsigned conversion, 16 a vector: t rounded to float, then scaled by 2^-32
// (exact), is the same rounding of the same value.
__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma"))) void mulberry32_span_avx512(uint32_t start, float* __restrict out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = float(mulberry32_bits(start, i)) * 0x1p-32f;
}

void mulberry32_span(uint32_t start, float* out, std::size_t n) {
  if (has_avx512()) mulberry32_span_avx512(start, out, n);
  else mulberry32_span_upto_avx2(start, out, n);
}

// The k-th smallest (0-based) of n 31-bit keys that share bits 30-20, by radix selection on bits
// 19-9 and then 8-0 (the keys are reordered), and how many keys are below it.
struct Selection {
  uint32_t value;
  std::size_t below;
};

Selection kth_smallest_in_bin(uint32_t* keys, std::size_t n, std::size_t k) {
  uint32_t hist[2048];
  std::size_t below = 0;
  for (const int shift : {9, 0}) {
    const uint32_t mask = shift ? 0x7ff : 0x1ff;
    std::fill(hist, hist + mask + 1, 0);
    for (std::size_t i = 0; i < n; i++) hist[(keys[i] >> shift) & mask]++;
    uint32_t bin = 0;
    for (; k >= hist[bin]; bin++) k -= hist[bin], below += hist[bin];
    std::size_t kept = 0;
    for (std::size_t i = 0; i < n; i++)
      if (((keys[i] >> shift) & mask) == bin) keys[kept++] = keys[i];
    n = kept;
  }
  return {keys[0], below};
}

// in_bin gets the keys whose bits 30-20 are `bin`, in order; returns how many.
std::size_t keys_in_bin_scalar(const uint32_t* keys, std::size_t i, std::size_t n, uint32_t bin, uint32_t* in_bin, std::size_t count) {
  for (; i < n; i++) {
    in_bin[count] = keys[i];
    count += keys[i] >> 20 == bin;
  }
  return count;
}

__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma"))) std::size_t keys_in_bin_avx512(const uint32_t* keys, std::size_t n, uint32_t bin,
                                                                                                        uint32_t* in_bin) {
  // keys are 31 bits: bits 30-20 are `bin` where key & 0x7ff00000 is bin << 20
  const __m512i wanted = _mm512_set1_epi32(int32_t(bin << 20)), high = _mm512_set1_epi32(0x7ff00000);
  std::size_t i = 0, count = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i k = _mm512_loadu_si512(keys + i);
    const __mmask16 in = _mm512_cmpeq_epu32_mask(_mm512_and_si512(k, high), wanted);
    _mm512_mask_compressstoreu_epi32(in_bin + count, in, k);
    count += __builtin_popcount(in);
  }
  return keys_in_bin_scalar(keys, i, n, bin, in_bin, count);
}

std::size_t keys_in_bin(const uint32_t* keys, std::size_t n, uint32_t bin, uint32_t* in_bin) {
  return has_avx512() ? keys_in_bin_avx512(keys, n, bin, in_bin) : keys_in_bin_scalar(keys, 0, n, bin, in_bin, 0);
}

// Of the candidates [i, end), those whose keys are below `threshold`, and the first `ties` of
// those equal to it, in draw order: their points into chosen and their values into x at o on,
// until `uncertain` are taken. Without a branch on taking (a quarter of the candidates, at
// random); keys equal to the threshold are rare.
void take_below_scalar(const uint32_t* keys, const float* candidates, const float* values, std::size_t i, std::size_t end,
                       uint32_t threshold, std::size_t& ties, std::size_t& o, std::size_t uncertain, float* chosen, float* x) {
  for (; i < end && o < uncertain; i++) {
    bool take = keys[i] < threshold;
    if (keys[i] == threshold && ties > 0) take = true, ties--;
    chosen[2 * o] = candidates[2 * i];
    chosen[2 * o + 1] = candidates[2 * i + 1];
    x[o] = values[i];
    o += take;
  }
}

// The same over all `drawn`, 16 candidates a step with AVX-512's compress where none of them ties
// (a stretch with a tie goes through the scalar loop, so that ties are taken in order).
__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma"))) void take_below_avx512(
    const uint32_t* keys, const float* candidates, const float* values, std::size_t drawn, uint32_t threshold, std::size_t ties,
    std::size_t uncertain, float* chosen, float* x) {
  const __m512i limit = _mm512_set1_epi32(int32_t(threshold));
  std::size_t i = 0, o = 0;
  // Whole-vector stores past o stay below `uncertain` (o + 16 <= uncertain) and are overwritten.
  for (; i + 16 <= drawn && o + 16 <= uncertain; i += 16) {
    const __m512i k = _mm512_loadu_si512(keys + i);
    if (_mm512_cmpeq_epu32_mask(k, limit)) {
      take_below_scalar(keys, candidates, values, i, i + 16, threshold, ties, o, uncertain, chosen, x);
      continue;
    }
    const __mmask16 take = _mm512_cmplt_epu32_mask(k, limit);
    _mm512_storeu_ps(x + o, _mm512_maskz_compress_ps(take, _mm512_loadu_ps(values + i)));
    const __mmask8 low = __mmask8(take & 0xff), high = __mmask8(take >> 8);
    _mm512_storeu_si512(chosen + 2 * o, _mm512_maskz_compress_epi64(low, _mm512_loadu_si512(candidates + 2 * i)));
    o += __builtin_popcount(low);
    _mm512_storeu_si512(chosen + 2 * o, _mm512_maskz_compress_epi64(high, _mm512_loadu_si512(candidates + 2 * i + 16)));
    o += __builtin_popcount(high);
  }
  take_below_scalar(keys, candidates, values, i, drawn, threshold, ties, o, uncertain, chosen, x);
}

void take_below(const uint32_t* keys, const float* candidates, const float* values, std::size_t drawn, uint32_t threshold, std::size_t ties,
                std::size_t uncertain, float* chosen, float* x) {
  if (has_avx512()) return take_below_avx512(keys, candidates, values, drawn, threshold, ties, uncertain, chosen, x);
  std::size_t o = 0;
  take_below_scalar(keys, candidates, values, 0, drawn, threshold, ties, o, uncertain, chosen, x);
}

// Faults in the pages of [p, p + bytes) in one call (MADV_POPULATE_WRITE, Linux 5.14; contents
// unchanged), not one page fault at a time: the pages of a fresh output (the gradient above all)
// cost several times less so. Where the kernel lacks it, they fault in when written, as before.
void populate(void* p, std::size_t bytes) {
  const std::uintptr_t page = 4096;
  const std::uintptr_t begin = (reinterpret_cast<std::uintptr_t>(p) + page - 1) & ~(page - 1);
  const std::uintptr_t end = (reinterpret_cast<std::uintptr_t>(p) + bytes) & ~(page - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
}

// sum a[i] b[i]: in float lanes over stretches of kBlock, in double across them.
double dot(const float* a, const float* b, std::size_t n) {
  double sum = 0;
  for (std::size_t i = 0; i < n; i += kBlock) sum += dot8(a + i, b + i, std::min(kBlock, n - i));
  return sum;
}

bool distinct(const int64_t* offsets, std::size_t rows) {
  std::vector<int64_t> sorted(rows);
  std::copy(offsets, offsets + rows, sorted.begin());
  std::sort(sorted.begin(), sorted.end());
  return std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end();
}
}  // namespace

int64_t present_classes(const int32_t* labels, std::size_t images, std::size_t pixels, int32_t classes, int32_t ignore,
                        uint8_t* present, uint8_t* compact) {
  std::vector<int64_t> stray(images, -1);
  parallel_for(images, 1, [&](std::size_t begin, std::size_t end) {
    for (std::size_t b = begin; b < end; b++) {
      const int32_t* image = labels + b * pixels;
      uint8_t* seen = present + b * std::size_t(classes);
      if (compact) {
        // One vectorised pass to bytes, then the classes seen from the bytes (in cache).
        uint8_t* small = compact + b * pixels;
        if (!compact_labels(image, pixels, classes, ignore, small)) {
          uint8_t mark[256] = {};
          for (std::size_t i = 0; i < pixels; i++) mark[small[i]] = 1;
          std::copy(mark, mark + classes, seen);
          continue;
        }
      }
      for (std::size_t i = 0; i < pixels; i++) {
        const int32_t id = image[i];
        if (uint32_t(id) < uint32_t(classes)) {
          seen[id] = 1;
        } else if (id != ignore) {
          stray[b] = int64_t(b * pixels + i);
          break;
        }
      }
    }
  });
  for (int64_t at : stray)
    if (at >= 0) return at;
  return -1;
}

namespace {
template <typename Label>
void matching_costs_of(const float* data, const int64_t* offsets, std::size_t rows, const float* points, std::size_t count,
                       int h, int w, const Label* labels, int label_h, int label_w, bool clamp, const int32_t* slot,
                       std::size_t slots, std::size_t columns, double* bce, double* dice) {
  // Per point: its taps on the maps, and its class masks as at most 4 (column, weight) entries.
  std::vector<TapBlock> taps((count + kBlock - 1) / kBlock);
  std::vector<uint8_t> entries(count);
  std::vector<int32_t> entry_column(4 * count);
  std::vector<float> entry_weight(4 * count);
  parallel_for(taps.size(), 1, [&](std::size_t begin, std::size_t end) {
    TapBlock on_labels;
    int32_t ids[4][kBlock];
    for (std::size_t block = begin; block < end; block++) {
      const std::size_t start = block * kBlock, n = std::min(kBlock, count - start);
      find_taps(points + 2 * start, n, h, w, clamp, &taps[block]);
      find_taps(points + 2 * start, n, label_h, label_w, clamp, &on_labels);
      gather_labels(labels, &on_labels, n, ids);
      for (std::size_t i = 0; i < n; i++) {
        int32_t* column = &entry_column[4 * (start + i)];
        float* weight = &entry_weight[4 * (start + i)];
        int used = 0;
        for (int k = 0; k < 4; k++) {
          const float share = on_labels.weight[k][i];
          if (share == 0) continue;
          const int32_t id = ids[k][i];
          const int32_t s = id >= 0 && std::size_t(id) < slots ? slot[id] : -1;
          if (s < 0) continue;
          int e = 0;
          while (e < used && column[e] != s) e++;
          if (e == used) column[used++] = s, weight[e] = 0;
          weight[e] += share;
        }
        entries[start + i] = uint8_t(used);
      }
    }
  });
  // Items: one per (point, entry), or one per point without any, grouped by column (those without
  // first), so that a column's sums are dot products over one stretch of a row's values. `once`
  // marks each point's first item, for the sums over all points.
  std::vector<std::size_t> first(columns + 2);  // group g's items: [first[g], first[g + 1]); group 0 has no column, j + 1 is column j
  for (std::size_t p = 0; p < count; p++) {
    if (entries[p] == 0) first[1]++;
    for (int e = 0; e < entries[p]; e++) first[entry_column[4 * p + e] + 2]++;
  }
  for (std::size_t g = 1; g < first.size(); g++) first[g] += first[g - 1];
  const std::size_t items = first[columns + 1];
  std::vector<TapBlock> item_taps((items + kBlock - 1) / kBlock);
  std::vector<float> item_weight(items), item_once(items);
  std::vector<std::size_t> next(first.begin(), first.end() - 1);
  const auto place = [&](std::size_t group, std::size_t p, float weight, bool once) {
    const std::size_t at = next[group]++;
    const TapBlock& from = taps[p / kBlock];
    TapBlock& to = item_taps[at / kBlock];
    for (int k = 0; k < 4; k++) {
      to.index[k][at % kBlock] = from.index[k][p % kBlock];
      to.weight[k][at % kBlock] = from.weight[k][p % kBlock];
    }
    item_weight[at] = weight;
    item_once[at] = once ? 1.f : 0.f;
  };
  for (std::size_t p = 0; p < count; p++) {
    if (entries[p] == 0) place(0, p, 0.f, true);
    for (int e = 0; e < entries[p]; e++) place(entry_column[4 * p + e] + 1, p, entry_weight[4 * p + e], e == 0);
  }
  std::vector<double> target_sum(columns);
  for (std::size_t j = 0; j < columns; j++)
    for (std::size_t i = first[j + 1]; i < first[j + 2]; i++) target_sum[j] += item_weight[i];

  parallel_for(rows, 1, [&](std::size_t begin, std::size_t end) {
    std::vector<float> x(items), softplus(items), prob(items);
    for (std::size_t r = begin; r < end; r++) {
      const float* map = data + offsets[r];
      warm(map, std::size_t(h) * w);
      for (std::size_t start = 0; start < items; start += kBlock) {
        const std::size_t n = std::min(kBlock, items - start);
        gather(map, &item_taps[start / kBlock], n, &x[start]);
        softplus_sigmoid_span(&x[start], &softplus[start], &prob[start], n);
      }
      const double softplus_sum = dot(item_once.data(), softplus.data(), items);
      const double prob_sum = dot(item_once.data(), prob.data(), items);
      for (std::size_t j = 0; j < columns; j++) {
        const std::size_t at = first[j + 1], n = first[j + 2] - at;
        const double xt = dot(&item_weight[at], &x[at], n), pt = dot(&item_weight[at], &prob[at], n);
        bce[r * columns + j] = (softplus_sum - xt) / double(count);
        dice[r * columns + j] = 1 - (2 * pt + 1) / (prob_sum + target_sum[j] + 1);
      }
    }
  });
}

}  // namespace

void matching_costs(const float* data, const int64_t* offsets, std::size_t rows, const float* points, std::size_t count,
                    int h, int w, const int32_t* labels, int label_h, int label_w, bool clamp, const int32_t* slot,
                    std::size_t slots, std::size_t columns, double* bce, double* dice) {
  matching_costs_of(data, offsets, rows, points, count, h, w, labels, label_h, label_w, clamp, slot, slots, columns, bce, dice);
}

void matching_costs(const float* data, const int64_t* offsets, std::size_t rows, const float* points, std::size_t count,
                    int h, int w, const uint8_t* labels, int label_h, int label_w, bool clamp, const int32_t* slot,
                    std::size_t slots, std::size_t columns, double* bce, double* dice) {
  matching_costs_of(data, offsets, rows, points, count, h, w, labels, label_h, label_w, clamp, slot, slots, columns, bce, dice);
}

void sample_points(const float* data, const int64_t* offsets, std::size_t rows, const float* points, std::size_t count, int h,
                   int w, bool clamp, float* out) {
  parallel_for(rows, 1, [&](std::size_t begin, std::size_t end) {
    TapBlock taps;
    for (std::size_t r = begin; r < end; r++) {
      const float* map = data + offsets[r];
      warm(map, std::size_t(h) * w);
      for (std::size_t start = 0; start < count; start += kBlock) {
        const std::size_t n = std::min(kBlock, count - start);
        find_taps(points + 2 * start, n, h, w, clamp, &taps);
        gather(map, &taps, n, out + r * count + start);
      }
    }
  });
}

void importance_points(const float* data, const int64_t* offsets, std::size_t rows, const float* draws, uint32_t* state, int h,
                       int w, std::size_t drawn, std::size_t uncertain, std::size_t points, float* out, float* logits) {
  const std::size_t block = 2 * drawn + 2 * (points - uncertain);
  parallel_for(rows, 1, [&](std::size_t begin, std::size_t end) {
    TapBlock taps;
    std::vector<float> values(drawn);
    // Each row's draws made where they are used, from the stream's state: 300 KB that stay in
    // cache, where a batch's 26 MB written up front made two trips through memory.
    std::vector<float> made(draws ? 0 : block);
    // |logit| as its float bits: for non-negative floats the bits order as the values do. The
    // `uncertain` smallest are found by radix selection: a histogram of bits 30-20 names the bin
    // of the threshold, and only that bin's keys are looked at further.
    std::vector<uint32_t> keys(drawn), in_bin(drawn);
    // four histograms, filled in turn: one would make each count wait on the previous one's store
    std::vector<uint32_t> hist(4 * 2048);
    // the outputs may be fresh arrays: their pages in one go
    populate(out + begin * 2 * points, (end - begin) * 2 * points * sizeof(float));
    populate(logits + begin * points, (end - begin) * points * sizeof(float));
    for (std::size_t r = begin; r < end; r++) {
      if (!draws) mulberry32_span(*state + uint32_t(r * block) * 0x6d2b79f5u, made.data(), block);
      const float* candidates = draws ? draws + r * block : made.data();
      const float* map = data + offsets[r];
      float* chosen = out + r * 2 * points;
      float* x = logits + r * points;
      warm(map, std::size_t(h) * w);
      std::fill(hist.begin(), hist.end(), 0);
      for (std::size_t start = 0; start < drawn; start += kBlock) {
        const std::size_t n = std::min(kBlock, drawn - start);
        find_taps(candidates + 2 * start, n, h, w, false, &taps);
        gather(map, &taps, n, &values[start]);
        // keys and their histogram while the block is in L1
        for (std::size_t i = start; i < start + n; i++) {
          uint32_t bits;
          std::memcpy(&bits, &values[i], sizeof bits);
          keys[i] = bits & 0x7fffffffu;
          hist[(i & 3) * 2048 + (keys[i] >> 20)]++;
        }
      }
      if (uncertain > 0) {
        std::size_t k = uncertain - 1, below = 0;
        uint32_t bin = 0;
        for (;; bin++) {
          const std::size_t count = hist[bin] + hist[2048 + bin] + hist[4096 + bin] + hist[6144 + bin];
          if (k < count) break;
          k -= count, below += count;
        }
        const std::size_t n = keys_in_bin(keys.data(), drawn, bin, in_bin.data());
        const Selection threshold = kth_smallest_in_bin(in_bin.data(), n, k);
        take_below(keys.data(), candidates, values.data(), drawn, threshold.value, uncertain - below - threshold.below, uncertain, chosen, x);
      }
      // The uniform rest, read while the map is in cache.
      std::memcpy(chosen + 2 * uncertain, candidates + 2 * drawn, 2 * (points - uncertain) * sizeof(float));
      for (std::size_t start = uncertain; start < points; start += kBlock) {
        const std::size_t n = std::min(kBlock, points - start);
        find_taps(chosen + 2 * start, n, h, w, false, &taps);
        gather(map, &taps, n, x + start);
      }
    }
  });
  if (!draws) *state += uint32_t(rows * block) * 0x6d2b79f5u;
}

namespace {
template <typename Label>
void point_loss_of(const float* logits, std::size_t rows, const float* points, std::size_t count, bool per_row,
                   const Label* labels, const int64_t* label_offsets, const int32_t* classes, int label_h, int label_w,
                   bool clamp, float* truth, double* stats) {
  parallel_for(rows, 1, [&](std::size_t begin, std::size_t end) {
    TapBlock taps;
    float softplus[kBlock], prob[kBlock];
    populate(truth + begin * count, (end - begin) * count * sizeof(float));
    for (std::size_t r = begin; r < end; r++) {
      const Label* label = labels + label_offsets[r];
      const float* at = points + (per_row ? 2 * r * count : 0);
      const float* x = logits + r * count;
      float* t = truth + r * count;
      double bce = 0, prob_sum = 0, overlap = 0, target_sum = 0;
      for (std::size_t start = 0; start < count; start += kBlock) {
        const std::size_t n = std::min(kBlock, count - start);
        find_taps(at + 2 * start, n, label_h, label_w, clamp, &taps);
        class_mask(label, &taps, n, classes[r], t + start);
        softplus_sigmoid_span(x + start, softplus, prob, n);
        bce += double(sum8(softplus, n)) - dot8(x + start, t + start, n);
        prob_sum += sum8(prob, n);
        overlap += dot8(prob, t + start, n);
        target_sum += sum8(t + start, n);
      }
      double* s = stats + 4 * r;
      s[0] = bce, s[1] = prob_sum, s[2] = overlap, s[3] = target_sum;
    }
  });
}

}  // namespace

void point_loss(const float* logits, std::size_t rows, const float* points, std::size_t count, bool per_row,
                const int32_t* labels, const int64_t* label_offsets, const int32_t* classes, int label_h, int label_w,
                bool clamp, float* truth, double* stats) {
  point_loss_of(logits, rows, points, count, per_row, labels, label_offsets, classes, label_h, label_w, clamp, truth, stats);
}

void point_loss(const float* logits, std::size_t rows, const float* points, std::size_t count, bool per_row,
                const uint8_t* labels, const int64_t* label_offsets, const int32_t* classes, int label_h, int label_w,
                bool clamp, float* truth, double* stats) {
  point_loss_of(logits, rows, points, count, per_row, labels, label_offsets, classes, label_h, label_w, clamp, truth, stats);
}

void point_loss_grad(float* dx, const int64_t* offsets, std::size_t rows, const float* points, std::size_t count,
                     bool per_row, int h, int w, bool clamp, const float* logits, const float* truth,
                     const double* coefficients) {
  const bool shared = !distinct(offsets, rows);
  const std::size_t size = std::size_t(h) * w;
  parallel_for(rows, shared ? rows : 1, [&](std::size_t begin, std::size_t end) {
    TapBlock taps;
    float g[kBlock];
    // Maps shared by rows are cleared before any is added to; a row's own map just before its
    // points are, while it is in cache.
    if (shared)
      for (std::size_t r = begin; r < end; r++) populate(dx + offsets[r], size * sizeof(float)), std::fill(dx + offsets[r], dx + offsets[r] + size, 0.f);
    for (std::size_t r = begin; r < end; r++) {
      float* map = dx + offsets[r];
      if (!shared) populate(map, size * sizeof(float)), std::fill(map, map + size, 0.f);
      const float* at = points + (per_row ? 2 * r * count : 0);
      const double* k = coefficients + 3 * r;
      for (std::size_t start = 0; start < count; start += kBlock) {
        const std::size_t n = std::min(kBlock, count - start);
        loss_grad_span(logits + r * count + start, truth + r * count + start, float(k[0]), float(k[1]), float(k[2]), g, n);
        find_taps(at + 2 * start, n, h, w, clamp, &taps);
        scatter(map, taps, n, g);
      }
    }
  });
}

void mulberry32_fill(uint32_t* state, float* out, std::size_t n) {
  const uint32_t start = *state;
  parallel_for(n, 1 << 16, [&](std::size_t begin, std::size_t end) {
    mulberry32_span(start + uint32_t(begin) * 0x6d2b79f5u, out + begin, end - begin);
  });
  *state = start + uint32_t(n) * 0x6d2b79f5u;
}

}  // namespace samflow
