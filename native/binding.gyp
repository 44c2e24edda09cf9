{
  "targets": [
    {
      "target_name": "samflow_kernels",
      "sources": [
        "src/addon.cc",
        "src/thread_pool.cc",
        "src/blas.cc",
        "src/gemm_blocked.cc",
        "src/gemm.cc",
        "src/conv2d.cc",
        "src/depthwise.cc",
        "src/elementwise.cc",
        "src/fused.cc",
        "src/point_sampling.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-ffp-contract=fast", "-fno-trapping-math", "-fno-math-errno"],
      "libraries": ["-ldl", "-lpthread"]
    }
  ]
}
