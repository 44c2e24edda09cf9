#include "blas.h"

#include <dlfcn.h>
#include <pthread.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "thread_pool.h"

namespace samflow {
namespace {

// OpenBLAS registers a pthread_atfork "prepare" handler that shuts its thread pool down in the
// forking process. A fork from any thread (Node spawning a child, tsx starting esbuild, a worker
// thread starting) while another thread is inside cblas_sgemm tears the pool down under the call:
// exec_blas then waits forever for server threads that are gone (the hang seen after one step of
// `npm start`; test/workers/native/openblas-fork.test.ts reproduces it). So every call holds this lock, and a prepare handler of ours, registered
// after OpenBLAS's and therefore run before it, takes the lock too: a fork waits for the call in
// flight, OpenBLAS shuts its idle pool down, and its next call starts a new one. The lock also
// keeps two threads of one process (two tensor workers) from entering OpenBLAS at once.
pthread_mutex_t gemm_lock = PTHREAD_MUTEX_INITIALIZER;
CblasSgemm openblas_sgemm = nullptr;

void lock_gemm() { pthread_mutex_lock(&gemm_lock); }
void unlock_gemm() { pthread_mutex_unlock(&gemm_lock); }

void guarded_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                   const float* b, int ldb, float beta, float* c, int ldc) {
  lock_gemm();
  openblas_sgemm(order, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  unlock_gemm();
}

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
    openblas_sgemm = sgemm;
    pthread_atfork(lock_gemm, unlock_gemm, unlock_gemm);
    result.sgemm = guarded_sgemm;
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
