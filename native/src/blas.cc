#include "blas.h"

#include <dlfcn.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "thread_pool.h"

namespace samflow {
namespace {

Blas load() {
  Blas result;
  std::vector<std::string> candidates;
  const char* env = std::getenv("SAMFLOW_BLAS");
  if (env && std::string(env) == "none") {
    result.description = "OpenBLAS disabled by SAMFLOW_BLAS=none";
    return result;
  }
  if (env && *env) candidates.push_back(env);
  else candidates = {"libopenblas.so.0", "libopenblas.so", "libopenblasp.so.0"};

  std::string errors;
  for (const auto& name : candidates) {
    void* handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      errors += (errors.empty() ? "" : "; ") + std::string(dlerror());
      continue;
    }
    auto sgemm = reinterpret_cast<CblasSgemm>(dlsym(handle, "cblas_sgemm"));
    if (!sgemm) {
      errors += "; " + name + " has no cblas_sgemm";
      dlclose(handle);
      continue;
    }
    // Threads = cores, the same count the addon's own loops use.
    if (auto set_threads = reinterpret_cast<void (*)(int)>(dlsym(handle, "openblas_set_num_threads"))) set_threads(thread_count());
    std::string config;
    if (auto get_config = reinterpret_cast<char* (*)()>(dlsym(handle, "openblas_get_config"))) config = get_config();
    int threads = 0;
    if (auto get_threads = reinterpret_cast<int (*)()>(dlsym(handle, "openblas_get_num_threads"))) threads = get_threads();
    result.sgemm = sgemm;
    result.description = "OpenBLAS cblas_sgemm (" + name + (config.empty() ? "" : ", " + config) + ", " +
                         std::to_string(threads) + " threads)";
    return result;
  }
  result.description = "OpenBLAS not found (" + errors + ")";
  return result;
}

}  // namespace

const Blas& blas() {
  static Blas instance = load();
  return instance;
}

}  // namespace samflow
