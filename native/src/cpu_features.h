// Runtime CPU dispatch. GCC's target_clones resolver picked the baseline clone inside this
// addon (ifunc resolvers run before the CPU model is known), so hot loops are compiled twice,
// with target("avx2,fma") and without (three times where AVX-512 pays), and chosen through
// these flags.
#pragma once

namespace samflow {

inline bool has_avx2_fma() {
  static const bool value = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return value;
}

// AVX-512 F, DQ, BW and VL, with AVX2 and FMA.
inline bool has_avx512() {
  static const bool value = [] {
    __builtin_cpu_init();
    return has_avx2_fma() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  }();
  return value;
}

}  // namespace samflow

// Defines `name` (returning `type`) calling name_avx2 (same body, compiled for AVX2 + FMA) where
// the CPU has them.
#define SAMFLOW_DISPATCHED_RETURNING(type, name, params, args, body) \
  __attribute__((target("avx2,fma"))) type name##_avx2 params body    \
  type name##_baseline params body                                    \
  type name params {                                                  \
    if (::samflow::has_avx2_fma()) return name##_avx2 args;           \
    return name##_baseline args;                                      \
  }

// As SAMFLOW_DISPATCHED_RETURNING, with a third copy compiled for AVX-512 (16 floats a vector)
// where the CPU has it: for arithmetic-bound loops (gathers run no faster there).
#define SAMFLOW_DISPATCHED_AVX512_RETURNING(type, name, params, args, body)                              \
  __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma"))) type name##_avx512 params body \
  SAMFLOW_DISPATCHED_RETURNING(type, name##_upto_avx2, params, args, body)                              \
  type name params {                                                                                    \
    if (::samflow::has_avx512()) return name##_avx512 args;                                             \
    return name##_upto_avx2 args;                                                                       \
  }

// The void functions most loops are.
#define SAMFLOW_DISPATCHED(name, params, args, body) SAMFLOW_DISPATCHED_RETURNING(void, name, params, args, body)
#define SAMFLOW_DISPATCHED_AVX512(name, params, args, body) SAMFLOW_DISPATCHED_AVX512_RETURNING(void, name, params, args, body)
