// N-API bindings: the kernels read and write the tfjs cpu backend's Float32Arrays in place.
#include <napi.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "conv2d.h"
#include "depthwise.h"
#include "elementwise.h"
#include "point_sampling.h"
#include "fused.h"
#include "gemm.h"
#include "thread_pool.h"

namespace {

using samflow::ConvGeometry;

Napi::Float32Array floats(const Napi::CallbackInfo& info, std::size_t index, const char* name) {
  if (!info[index].IsTypedArray() || info[index].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(info.Env(), std::string(name) + ": expected a Float32Array");
  return info[index].As<Napi::Float32Array>();
}

Napi::Float32Array floats(const Napi::CallbackInfo& info, std::size_t index, const char* name, std::size_t length) {
  auto array = floats(info, index, name);
  if (array.ElementLength() != length)
    throw Napi::RangeError::New(info.Env(), std::string(name) + ": expected " + std::to_string(length) + " floats, got " +
                                                std::to_string(array.ElementLength()));
  return array;
}

int integer(const Napi::CallbackInfo& info, std::size_t index, const char* name) {
  if (!info[index].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + ": expected a number");
  const int64_t value = info[index].As<Napi::Number>().Int64Value();
  if (value < 0 || value > INT32_MAX) throw Napi::RangeError::New(info.Env(), std::string(name) + ": out of range");
  return int(value);
}

std::vector<int64_t> offsets(const Napi::CallbackInfo& info, std::size_t index, const char* name, int batch) {
  if (!info[index].IsTypedArray() || info[index].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw Napi::TypeError::New(info.Env(), std::string(name) + ": expected a Float64Array of element offsets");
  auto array = info[index].As<Napi::Float64Array>();
  if (array.ElementLength() != std::size_t(batch)) throw Napi::RangeError::New(info.Env(), std::string(name) + ": expected one offset per batch entry");
  std::vector<int64_t> out(batch);
  for (int i = 0; i < batch; ++i) out[i] = int64_t(array[i]);
  return out;
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  auto result = Napi::Object::New(info.Env());
  result.Set("gemm", samflow::gemm_name());
  result.Set("description", samflow::gemm_description());
  result.Set("threads", samflow::thread_count());
  return result;
}

// setGemm('blocked' | 'auto'): the blocked kernel even where OpenBLAS loaded, or the best one.
Napi::Value SetGemm(const Napi::CallbackInfo& info) {
  const std::string name = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (name != "blocked" && name != "auto") throw Napi::TypeError::New(info.Env(), "setGemm: expected 'blocked' or 'auto'");
  samflow::force_blocked_gemm(name == "blocked");
  return Info(info);
}

// batchMatMul(a, aOffsets, b, bOffsets, out, m, n, k, transposeA, transposeB)
Napi::Value BatchMatMul(const Napi::CallbackInfo& info) {
  const int m = integer(info, 5, "m"), n = integer(info, 6, "n"), k = integer(info, 7, "k");
  const bool ta = info[8].ToBoolean(), tb = info[9].ToBoolean();
  auto a_all = floats(info, 0, "a");
  auto b_all = floats(info, 2, "b");
  auto out = floats(info, 4, "out");
  const int batch = int(out.ElementLength() / std::max<std::size_t>(1, std::size_t(m) * n));
  floats(info, 4, "out", std::size_t(batch) * m * n);
  const auto a_off = offsets(info, 1, "aOffsets", batch);
  const auto b_off = offsets(info, 3, "bOffsets", batch);
  for (int i = 0; i < batch; ++i) {
    if (a_off[i] < 0 || std::size_t(a_off[i]) + std::size_t(m) * k > a_all.ElementLength()) throw Napi::RangeError::New(info.Env(), "a: an offset reads past the end");
    if (b_off[i] < 0 || std::size_t(b_off[i]) + std::size_t(k) * n > b_all.ElementLength()) throw Napi::RangeError::New(info.Env(), "b: an offset reads past the end");
  }
  samflow::sgemm_batched(ta, tb, m, n, k, a_all.Data(), a_off.data(), b_all.Data(), b_off.data(), out.Data(), batch);
  return info.Env().Undefined();
}

ConvGeometry geometry(const Napi::CallbackInfo& info, std::size_t index) {
  if (!info[index].IsTypedArray() || info[index].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(info.Env(), "geometry: expected an Int32Array");
  auto a = info[index].As<Napi::Int32Array>();
  if (a.ElementLength() != 15) throw Napi::RangeError::New(info.Env(), "geometry: expected 15 integers");
  ConvGeometry g{a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14]};
  for (std::size_t i = 0; i < 13; ++i)
    if (a[i] <= 0) throw Napi::RangeError::New(info.Env(), "geometry: sizes, strides and dilations must be positive");
  return g;
}

std::size_t input_size(const ConvGeometry& g) { return std::size_t(g.batch) * g.in_h * g.in_w * g.in_c; }
std::size_t output_size(const ConvGeometry& g) { return std::size_t(g.batch) * g.out_h * g.out_w * g.out_c; }

// conv2d(op, geometry, first, second, out) with op 0 = forward(x, filter) -> y,
// 1 = backprop input(dy, filter) -> dx, 2 = backprop filter(x, dy) -> dfilter.
template <bool Depthwise>
Napi::Value Conv(const Napi::CallbackInfo& info) {
  const int op = integer(info, 0, "op");
  const ConvGeometry g = geometry(info, 1);
  if (Depthwise && g.out_c % g.in_c != 0) throw Napi::RangeError::New(info.Env(), "geometry: depthwise output channels must be a multiple of the input channels");
  const std::size_t filter_size = Depthwise ? std::size_t(g.f_h) * g.f_w * g.out_c : std::size_t(g.f_h) * g.f_w * g.in_c * g.out_c;
  switch (op) {
    case 0: {
      auto x = floats(info, 2, "x", input_size(g));
      auto f = floats(info, 3, "filter", filter_size);
      auto y = floats(info, 4, "y", output_size(g));
      (Depthwise ? samflow::depthwise_forward : samflow::conv2d_forward)(g, x.Data(), f.Data(), y.Data());
      break;
    }
    case 1: {
      auto dy = floats(info, 2, "dy", output_size(g));
      auto f = floats(info, 3, "filter", filter_size);
      auto dx = floats(info, 4, "dx", input_size(g));
      (Depthwise ? samflow::depthwise_backprop_input : samflow::conv2d_backprop_input)(g, dy.Data(), f.Data(), dx.Data());
      break;
    }
    case 2: {
      auto x = floats(info, 2, "x", input_size(g));
      auto dy = floats(info, 3, "dy", output_size(g));
      auto df = floats(info, 4, "dfilter", filter_size);
      (Depthwise ? samflow::depthwise_backprop_filter : samflow::conv2d_backprop_filter)(g, x.Data(), dy.Data(), df.Data());
      break;
    }
    default:
      throw Napi::RangeError::New(info.Env(), "op: expected 0 (forward), 1 (backprop input) or 2 (backprop filter)");
  }
  return info.Env().Undefined();
}

std::vector<int64_t> ints(const Napi::CallbackInfo& info, std::size_t index, const char* name) {
  if (!info[index].IsTypedArray() || info[index].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(info.Env(), std::string(name) + ": expected an Int32Array");
  auto a = info[index].As<Napi::Int32Array>();
  return std::vector<int64_t>(a.Data(), a.Data() + a.ElementLength());
}

std::size_t product(const std::vector<int64_t>& shape) {
  std::size_t n = 1;
  for (auto d : shape) n *= std::size_t(d);
  return n;
}

// The furthest element a strided view of `shape` reads, plus one (0 for an empty view).
std::size_t extent(const std::vector<int64_t>& shape, const std::vector<int64_t>& strides) {
  std::size_t last = 0;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) return 0;
    last += std::size_t(shape[d] - 1) * std::size_t(strides[d]);
  }
  return last + 1;
}

void check_shape(const Napi::CallbackInfo& info, const std::vector<int64_t>& shape, const char* name) {
  for (auto d : shape)
    if (d < 0) throw Napi::RangeError::New(info.Env(), std::string(name) + ": negative dimension");
}

// binary(op, shape, a, aStrides, b, bStrides, out)
Napi::Value Binary(const Napi::CallbackInfo& info) {
  const int op = integer(info, 0, "op");
  if (op > int(samflow::BinaryOp::SquaredDifference)) throw Napi::RangeError::New(info.Env(), "op: unknown binary op");
  const auto shape = ints(info, 1, "shape");
  check_shape(info, shape, "shape");
  const auto sa = ints(info, 3, "aStrides");
  const auto sb = ints(info, 5, "bStrides");
  if (sa.size() != shape.size() || sb.size() != shape.size()) throw Napi::RangeError::New(info.Env(), "strides: expected one per dimension");
  for (std::size_t d = 0; d < shape.size(); ++d)
    if (sa[d] < 0 || sb[d] < 0) throw Napi::RangeError::New(info.Env(), "strides: must not be negative");
  auto a = floats(info, 2, "a");
  auto b = floats(info, 4, "b");
  auto out = floats(info, 6, "out", product(shape));
  if (extent(shape, sa) > a.ElementLength()) throw Napi::RangeError::New(info.Env(), "a: the strides read past the end");
  if (extent(shape, sb) > b.ElementLength()) throw Napi::RangeError::New(info.Env(), "b: the strides read past the end");
  samflow::binary(samflow::BinaryOp(op), shape, a.Data(), sa, b.Data(), sb, out.Data());
  return info.Env().Undefined();
}

// unary(op, x, out)
Napi::Value Unary(const Napi::CallbackInfo& info) {
  const int op = integer(info, 0, "op");
  if (op > int(samflow::UnaryOp::Reciprocal)) throw Napi::RangeError::New(info.Env(), "op: unknown unary op");
  auto x = floats(info, 1, "x");
  auto out = floats(info, 2, "out", x.ElementLength());
  samflow::unary(samflow::UnaryOp(op), x.Data(), out.Data(), x.ElementLength());
  return info.Env().Undefined();
}

// softmax(x, out, rows, cols)
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  const std::size_t rows = integer(info, 2, "rows"), cols = integer(info, 3, "cols");
  auto x = floats(info, 0, "x", rows * cols);
  auto out = floats(info, 1, "out", rows * cols);
  samflow::softmax(x.Data(), out.Data(), rows, cols);
  return info.Env().Undefined();
}

// reduce(op, x, out, outer, reduced, inner)
Napi::Value Reduce(const Napi::CallbackInfo& info) {
  const int op = integer(info, 0, "op");
  if (op > int(samflow::ReduceOp::Min)) throw Napi::RangeError::New(info.Env(), "op: unknown reduction");
  const std::size_t outer = integer(info, 3, "outer"), reduced = integer(info, 4, "reduced"), inner = integer(info, 5, "inner");
  auto x = floats(info, 1, "x", outer * reduced * inner);
  auto out = floats(info, 2, "out", outer * inner);
  samflow::reduce(samflow::ReduceOp(op), x.Data(), out.Data(), outer, reduced, inner);
  return info.Env().Undefined();
}

// transpose(x, out, shape, perm)
Napi::Value Transpose(const Napi::CallbackInfo& info) {
  const auto shape = ints(info, 2, "shape");
  check_shape(info, shape, "shape");
  const auto perm64 = ints(info, 3, "perm");
  std::vector<int> perm(perm64.begin(), perm64.end());
  std::vector<bool> seen(shape.size(), false);
  if (perm.size() != shape.size()) throw Napi::RangeError::New(info.Env(), "perm: expected one entry per dimension");
  for (int p : perm) {
    if (p < 0 || p >= int(shape.size()) || seen[p]) throw Napi::RangeError::New(info.Env(), "perm: not a permutation");
    seen[p] = true;
  }
  auto x = floats(info, 0, "x", product(shape));
  auto out = floats(info, 1, "out", product(shape));
  samflow::transpose(x.Data(), out.Data(), shape, perm);
  return info.Env().Undefined();
}

// slice(x, out, shape, begin, size)
Napi::Value Slice(const Napi::CallbackInfo& info) {
  const auto shape = ints(info, 2, "shape");
  const auto begin = ints(info, 3, "begin");
  const auto size = ints(info, 4, "size");
  check_shape(info, shape, "shape");
  if (shape.empty() || begin.size() != shape.size() || size.size() != shape.size()) throw Napi::RangeError::New(info.Env(), "slice: expected one begin and size per dimension");
  for (std::size_t d = 0; d < shape.size(); ++d)
    if (begin[d] < 0 || size[d] < 0 || begin[d] + size[d] > shape[d]) throw Napi::RangeError::New(info.Env(), "slice: the region is outside the input");
  auto x = floats(info, 0, "x", product(shape));
  auto out = floats(info, 1, "out", product(size));
  samflow::slice(x.Data(), out.Data(), shape, begin, size);
  return info.Env().Undefined();
}

// pad(x, out, shape, before, after, value)
Napi::Value Pad(const Napi::CallbackInfo& info) {
  const auto shape = ints(info, 2, "shape");
  const auto before = ints(info, 3, "before");
  const auto after = ints(info, 4, "after");
  check_shape(info, shape, "shape");
  if (shape.empty() || before.size() != shape.size() || after.size() != shape.size()) throw Napi::RangeError::New(info.Env(), "pad: expected one (before, after) pair per dimension");
  std::vector<int64_t> out_shape(shape.size());
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (before[d] < 0 || after[d] < 0) throw Napi::RangeError::New(info.Env(), "pad: negative padding");
    out_shape[d] = shape[d] + before[d] + after[d];
  }
  auto x = floats(info, 0, "x", product(shape));
  auto out = floats(info, 1, "out", product(out_shape));
  samflow::pad(x.Data(), out.Data(), shape, before, after, info[5].As<Napi::Number>().FloatValue());
  return info.Env().Undefined();
}

// gelu(x, out) / geluGrad(x, dy, dx)
Napi::Value Gelu(const Napi::CallbackInfo& info) {
  auto x = floats(info, 0, "x");
  auto out = floats(info, 1, "out", x.ElementLength());
  samflow::gelu_forward(x.Data(), out.Data(), x.ElementLength());
  return info.Env().Undefined();
}

Napi::Value GeluGrad(const Napi::CallbackInfo& info) {
  auto x = floats(info, 0, "x");
  auto dy = floats(info, 1, "dy", x.ElementLength());
  auto dx = floats(info, 2, "dx", x.ElementLength());
  samflow::gelu_backward(x.Data(), dy.Data(), dx.Data(), x.ElementLength());
  return info.Env().Undefined();
}

// layerNorm(x, gamma, beta, out, rows, cols, eps)
Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  const std::size_t rows = integer(info, 4, "rows"), cols = integer(info, 5, "cols");
  auto x = floats(info, 0, "x", rows * cols);
  auto gamma = floats(info, 1, "gamma", cols);
  auto beta = floats(info, 2, "beta", cols);
  auto out = floats(info, 3, "out", rows * cols);
  samflow::layer_norm_forward(x.Data(), gamma.Data(), beta.Data(), out.Data(), rows, cols, info[6].As<Napi::Number>().FloatValue());
  return info.Env().Undefined();
}

// layerNormGrad(x, gamma, dy, dx, dgamma, dbeta, rows, cols, eps)
Napi::Value LayerNormGrad(const Napi::CallbackInfo& info) {
  const std::size_t rows = integer(info, 6, "rows"), cols = integer(info, 7, "cols");
  auto x = floats(info, 0, "x", rows * cols);
  auto gamma = floats(info, 1, "gamma", cols);
  auto dy = floats(info, 2, "dy", rows * cols);
  auto dx = floats(info, 3, "dx", rows * cols);
  auto dgamma = floats(info, 4, "dgamma", cols);
  auto dbeta = floats(info, 5, "dbeta", cols);
  samflow::layer_norm_backward(x.Data(), gamma.Data(), dy.Data(), dx.Data(), dgamma.Data(), dbeta.Data(), rows, cols,
                               info[8].As<Napi::Number>().FloatValue());
  return info.Env().Undefined();
}

// softmaxGrad(y, dy, dx, rows, cols)
Napi::Value SoftmaxGrad(const Napi::CallbackInfo& info) {
  const std::size_t rows = integer(info, 3, "rows"), cols = integer(info, 4, "cols");
  auto y = floats(info, 0, "y", rows * cols);
  auto dy = floats(info, 1, "dy", rows * cols);
  auto dx = floats(info, 2, "dx", rows * cols);
  samflow::softmax_backward(y.Data(), dy.Data(), dx.Data(), rows, cols);
  return info.Env().Undefined();
}

Napi::Int32Array int32s(const Napi::CallbackInfo& info, std::size_t index, const char* name) {
  if (!info[index].IsTypedArray() || info[index].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(info.Env(), std::string(name) + ": expected an Int32Array");
  return info[index].As<Napi::Int32Array>();
}

// Label ids: an Int32Array, or compact bytes (Uint8Array).
struct LabelIds {
  const int32_t* wide = nullptr;
  const uint8_t* compact = nullptr;
  std::size_t length = 0;

  // f(ids) with the ids as the pointer type they are.
  template <typename F>
  void visit(F&& f) const {
    if (wide) f(wide);
    else f(compact);
  }
};

LabelIds label_ids(const Napi::CallbackInfo& info, std::size_t index, const char* name) {
  if (info[index].IsTypedArray()) {
    const auto type = info[index].As<Napi::TypedArray>().TypedArrayType();
    if (type == napi_int32_array) {
      auto a = info[index].As<Napi::Int32Array>();
      return {a.Data(), nullptr, a.ElementLength()};
    }
    if (type == napi_uint8_array) {
      auto a = info[index].As<Napi::Uint8Array>();
      return {nullptr, a.Data(), a.ElementLength()};
    }
  }
  throw Napi::TypeError::New(info.Env(), std::string(name) + ": expected an Int32Array or a Uint8Array");
}

Napi::Float64Array doubles(const Napi::CallbackInfo& info, std::size_t index, const char* name) {
  if (!info[index].IsTypedArray() || info[index].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw Napi::TypeError::New(info.Env(), std::string(name) + ": expected a Float64Array");
  return info[index].As<Napi::Float64Array>();
}

Napi::Float64Array doubles(const Napi::CallbackInfo& info, std::size_t index, const char* name, std::size_t length) {
  auto a = doubles(info, index, name);
  if (a.ElementLength() != length) throw Napi::RangeError::New(info.Env(), std::string(name) + ": expected " + std::to_string(length) + " entries");
  return a;
}

// The maps must hold every neighbour: offsets[r] + h * w <= data length.
void check_maps(const Napi::CallbackInfo& info, std::size_t data_length, const std::vector<int64_t>& offs, int h, int w) {
  if (h < 1 || w < 1) throw Napi::RangeError::New(info.Env(), "points: h and w must be positive");
  for (int64_t o : offs)
    if (o < 0 || std::size_t(o) + std::size_t(h) * std::size_t(w) > data_length) throw Napi::RangeError::New(info.Env(), "points: an offset's map reads past the end");
}

// The maps at `offsets` (a Float64Array) of `data`, h x w each.
std::vector<int64_t> maps(const Napi::CallbackInfo& info, std::size_t data_length, std::size_t index, int h, int w) {
  auto offs = offsets(info, index, "offsets", int(doubles(info, index, "offsets").ElementLength()));
  check_maps(info, data_length, offs, h, w);
  return offs;
}

// Entries per row: length / rows, which must be whole.
std::size_t per_row(const Napi::CallbackInfo& info, std::size_t length, std::size_t rows, const char* name) {
  if (rows == 0 || length % rows != 0) throw Napi::RangeError::New(info.Env(), std::string(name) + ": expected a whole number of entries per row");
  return length / rows;
}

// presentClasses(labels, images, numClasses, ignoreIndex, present[, compact]) -> index of the first stray label, or -1
Napi::Value PresentClasses(const Napi::CallbackInfo& info) {
  auto labels = int32s(info, 0, "labels");
  const std::size_t images = integer(info, 1, "images"), classes = integer(info, 2, "numClasses");
  if (!info[3].IsNumber()) throw Napi::TypeError::New(info.Env(), "ignoreIndex: expected a number");
  if (!info[4].IsTypedArray() || info[4].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array || info[4].As<Napi::Uint8Array>().ElementLength() != images * classes)
    throw Napi::TypeError::New(info.Env(), "present: expected a Uint8Array of images x numClasses entries");
  const std::size_t pixels = per_row(info, labels.ElementLength(), images, "labels");
  uint8_t* compact = nullptr;
  if (info.Length() > 5 && !info[5].IsUndefined()) {
    if (!info[5].IsTypedArray() || info[5].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array || info[5].As<Napi::Uint8Array>().ElementLength() != labels.ElementLength())
      throw Napi::TypeError::New(info.Env(), "compact: expected a Uint8Array of as many entries as labels");
    if (classes > samflow::kCompactIgnore) throw Napi::RangeError::New(info.Env(), "compact: labels of more than 255 classes do not fit in bytes");
    compact = info[5].As<Napi::Uint8Array>().Data();
  }
  const int64_t stray = samflow::present_classes(labels.Data(), images, pixels, int32_t(classes), info[3].As<Napi::Number>().Int32Value(),
                                                 info[4].As<Napi::Uint8Array>().Data(), compact);
  return Napi::Number::New(info.Env(), double(stray));
}

// matchingCosts(data, offsets, points, h, w, labels, labelH, labelW, clamp, slot, bce, dice)
Napi::Value MatchingCosts(const Napi::CallbackInfo& info) {
  auto data = floats(info, 0, "data");
  const int h = integer(info, 3, "h"), w = integer(info, 4, "w");
  const auto offs = maps(info, data.ElementLength(), 1, h, w);
  auto points = floats(info, 2, "points");
  const int label_h = integer(info, 6, "labelH"), label_w = integer(info, 7, "labelW");
  const auto labels = label_ids(info, 5, "labels");
  if (labels.length != std::size_t(label_h) * std::size_t(label_w))
    throw Napi::RangeError::New(info.Env(), "labels: expected " + std::to_string(std::size_t(label_h) * std::size_t(label_w)) + " entries");
  auto slot = int32s(info, 9, "slot");
  auto bce = doubles(info, 10, "bce");
  const std::size_t columns = per_row(info, bce.ElementLength(), offs.size(), "bce");
  auto dice = doubles(info, 11, "dice", bce.ElementLength());
  for (std::size_t i = 0; i < slot.ElementLength(); i++)
    if (slot[i] >= int32_t(columns)) throw Napi::RangeError::New(info.Env(), "slot: a column past the end of bce");
  labels.visit([&](const auto* ids) {
    samflow::matching_costs(data.Data(), offs.data(), offs.size(), points.Data(), points.ElementLength() / 2, h, w, ids, label_h, label_w,
                            info[8].ToBoolean().Value(), slot.Data(), slot.ElementLength(), columns, bce.Data(), dice.Data());
  });
  return info.Env().Undefined();
}

// samplePoints(data, offsets, points, h, w, clamp, out)
Napi::Value SamplePoints(const Napi::CallbackInfo& info) {
  auto data = floats(info, 0, "data");
  const int h = integer(info, 3, "h"), w = integer(info, 4, "w");
  const auto offs = maps(info, data.ElementLength(), 1, h, w);
  auto points = floats(info, 2, "points");
  const std::size_t count = points.ElementLength() / 2;
  auto out = floats(info, 6, "out", offs.size() * count);
  samflow::sample_points(data.Data(), offs.data(), offs.size(), points.Data(), count, h, w, info[5].ToBoolean().Value(), out.Data());
  return info.Env().Undefined();
}

// importancePoints(data, offsets, draws, h, w, drawn, uncertain, out, logits)
Napi::Value ImportancePoints(const Napi::CallbackInfo& info) {
  auto data = floats(info, 0, "data");
  const int h = integer(info, 3, "h"), w = integer(info, 4, "w");
  const auto offs = maps(info, data.ElementLength(), 1, h, w);
  const std::size_t drawn = integer(info, 5, "drawn"), uncertain = integer(info, 6, "uncertain");
  auto out = floats(info, 7, "out");
  const std::size_t points = per_row(info, out.ElementLength(), offs.size(), "out") / 2;
  if (uncertain > drawn || uncertain > points) throw Napi::RangeError::New(info.Env(), "uncertain: more than the points drawn or kept");
  auto logits = floats(info, 8, "logits", offs.size() * points);
  // The draws, or the state of the stream that makes them.
  if (info[2].IsTypedArray() && info[2].As<Napi::TypedArray>().TypedArrayType() == napi_uint32_array) {
    auto state = info[2].As<Napi::Uint32Array>();
    if (state.ElementLength() != 1) throw Napi::TypeError::New(info.Env(), "draws: expected a Float32Array of draws or a Uint32Array of one entry (a stream's state)");
    samflow::importance_points(data.Data(), offs.data(), offs.size(), nullptr, state.Data(), h, w, drawn, uncertain, points, out.Data(), logits.Data());
  } else {
    auto draws = floats(info, 2, "draws", offs.size() * (2 * drawn + 2 * (points - uncertain)));
    samflow::importance_points(data.Data(), offs.data(), offs.size(), draws.Data(), nullptr, h, w, drawn, uncertain, points, out.Data(), logits.Data());
  }
  return info.Env().Undefined();
}

// pointLoss(logits, points, perRow, labels, labelOffsets, classes, labelH, labelW, clamp, truth, stats)
Napi::Value PointLoss(const Napi::CallbackInfo& info) {
  const auto labels = label_ids(info, 3, "labels");
  auto classes = int32s(info, 5, "classes");
  const std::size_t rows = classes.ElementLength();
  auto logits = floats(info, 0, "logits");
  const std::size_t count = per_row(info, logits.ElementLength(), rows, "logits");
  const bool each = info[2].ToBoolean().Value();
  auto points = floats(info, 1, "points", 2 * count * (each ? rows : 1));
  const int label_h = integer(info, 6, "labelH"), label_w = integer(info, 7, "labelW");
  const auto label_offs = offsets(info, 4, "labelOffsets", int(rows));
  check_maps(info, labels.length, label_offs, label_h, label_w);
  auto truth = floats(info, 9, "truth", rows * count);
  auto stats = doubles(info, 10, "stats", 4 * rows);
  labels.visit([&](const auto* ids) {
    samflow::point_loss(logits.Data(), rows, points.Data(), count, each, ids, label_offs.data(), classes.Data(), label_h, label_w,
                        info[8].ToBoolean().Value(), truth.Data(), stats.Data());
  });
  return info.Env().Undefined();
}

// pointLossGrad(dx, offsets, points, perRow, h, w, clamp, logits, truth, coefficients)
Napi::Value PointLossGrad(const Napi::CallbackInfo& info) {
  auto dx = floats(info, 0, "dx");
  const int h = integer(info, 4, "h"), w = integer(info, 5, "w");
  const auto offs = maps(info, dx.ElementLength(), 1, h, w);
  const std::size_t rows = offs.size();
  const bool each = info[3].ToBoolean().Value();
  auto logits = floats(info, 7, "logits");
  const std::size_t count = per_row(info, logits.ElementLength(), rows, "logits");
  auto points = floats(info, 2, "points", 2 * count * (each ? rows : 1));
  auto truth = floats(info, 8, "truth", rows * count);
  auto coefficients = doubles(info, 9, "coefficients", 3 * rows);
  samflow::point_loss_grad(dx.Data(), offs.data(), rows, points.Data(), count, each, h, w, info[6].ToBoolean().Value(), logits.Data(), truth.Data(),
                           coefficients.Data());
  return info.Env().Undefined();
}

// mulberry32Fill(state, out)
Napi::Value Mulberry32Fill(const Napi::CallbackInfo& info) {
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array || info[0].As<Napi::Uint32Array>().ElementLength() != 1)
    throw Napi::TypeError::New(info.Env(), "state: expected a Uint32Array of one entry");
  auto out = floats(info, 1, "out");
  samflow::mulberry32_fill(info[0].As<Napi::Uint32Array>().Data(), out.Data(), out.ElementLength());
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("presentClasses", Napi::Function::New(env, PresentClasses));
  exports.Set("matchingCosts", Napi::Function::New(env, MatchingCosts));
  exports.Set("samplePoints", Napi::Function::New(env, SamplePoints));
  exports.Set("importancePoints", Napi::Function::New(env, ImportancePoints));
  exports.Set("pointLoss", Napi::Function::New(env, PointLoss));
  exports.Set("pointLossGrad", Napi::Function::New(env, PointLossGrad));
  exports.Set("mulberry32Fill", Napi::Function::New(env, Mulberry32Fill));
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("setGemm", Napi::Function::New(env, SetGemm));
  exports.Set("batchMatMul", Napi::Function::New(env, BatchMatMul));
  exports.Set("conv2d", Napi::Function::New(env, Conv<false>));
  exports.Set("depthwiseConv2d", Napi::Function::New(env, Conv<true>));
  exports.Set("binary", Napi::Function::New(env, Binary));
  exports.Set("unary", Napi::Function::New(env, Unary));
  exports.Set("softmax", Napi::Function::New(env, Softmax));
  exports.Set("reduce", Napi::Function::New(env, Reduce));
  exports.Set("transpose", Napi::Function::New(env, Transpose));
  exports.Set("pad", Napi::Function::New(env, Pad));
  exports.Set("slice", Napi::Function::New(env, Slice));
  exports.Set("gelu", Napi::Function::New(env, Gelu));
  exports.Set("geluGrad", Napi::Function::New(env, GeluGrad));
  exports.Set("layerNorm", Napi::Function::New(env, LayerNorm));
  exports.Set("layerNormGrad", Napi::Function::New(env, LayerNormGrad));
  exports.Set("softmaxGrad", Napi::Function::New(env, SoftmaxGrad));
  return exports;
}

}  // namespace

NODE_API_MODULE(samflow_kernels, Init)
