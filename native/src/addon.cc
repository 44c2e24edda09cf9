// N-API bindings: the kernels read and write the tfjs cpu backend's Float32Arrays in place.
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "conv2d.h"
#include "depthwise.h"
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

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("setGemm", Napi::Function::New(env, SetGemm));
  exports.Set("batchMatMul", Napi::Function::New(env, BatchMatMul));
  exports.Set("conv2d", Napi::Function::New(env, Conv<false>));
  exports.Set("depthwiseConv2d", Napi::Function::New(env, Conv<true>));
  return exports;
}

}  // namespace

NODE_API_MODULE(samflow_kernels, Init)
