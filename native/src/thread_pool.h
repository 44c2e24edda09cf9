// A fixed pool of worker threads (one per core) for the kernels' parallel loops.
#pragma once
#include <cstddef>
#include <functional>

namespace samflow {

// Number of threads parallel_for uses (the hardware concurrency, or SAMFLOW_THREADS).
int thread_count();

// Calls fn(begin, end) on disjoint chunks covering [0, n), on up to thread_count() threads, and
// returns when all are done. Chunks are at least `grain` long. Nested calls run serially.
void parallel_for(std::size_t n, std::size_t grain, const std::function<void(std::size_t, std::size_t)>& fn);

}  // namespace samflow
