// Runtime CPU dispatch. GCC's target_clones resolver picked the baseline clone inside this
// addon (ifunc resolvers run before the CPU model is known), so hot loops are compiled twice,
// with target("avx2,fma") and without, and chosen through this flag.
#pragma once

namespace samflow {

inline bool has_avx2_fma() {
  static const bool value = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return value;
}

}  // namespace samflow

// Defines `name` calling name_avx2 (same body, compiled for AVX2 + FMA) where the CPU has them.
#define SAMFLOW_DISPATCHED(name, params, args, body)                  \
  __attribute__((target("avx2,fma"))) void name##_avx2 params body     \
  void name##_baseline params body                                     \
  void name params {                                                   \
    if (::samflow::has_avx2_fma()) name##_avx2 args;                   \
    else name##_baseline args;                                         \
  }
