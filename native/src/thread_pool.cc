#include "thread_pool.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace samflow {
namespace {

class Pool {
 public:
  explicit Pool(int threads) : threads_(threads) {
    for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, i] { loop(i); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }

  int threads() const { return threads_; }

  // Runs task(i) for i in [0, count) with count <= threads, the caller taking i = 0.
  void run(int count, const std::function<void(int)>& task) {
    std::unique_lock<std::mutex> lock(mutex_);
    task_ = &task;
    count_ = count;
    pending_ = count - 1;
    ++generation_;
    lock.unlock();
    wake_.notify_all();
    task(0);
    lock.lock();
    done_.wait(lock, [this] { return pending_ == 0; });
    task_ = nullptr;
  }

 private:
  void loop(int index) {
    unsigned long seen = 0;
    for (;;) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      if (index >= count_) continue;
      const auto* task = task_;
      lock.unlock();
      (*task)(index);
      lock.lock();
      if (--pending_ == 0) done_.notify_one();
    }
  }

  const int threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* task_ = nullptr;
  int count_ = 0, pending_ = 0;
  unsigned long generation_ = 0;
  bool stopping_ = false;
};

int configured_threads() {
  if (const char* env = std::getenv("SAMFLOW_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

Pool& pool() {
  static Pool instance(configured_threads());
  return instance;
}

thread_local bool inside_parallel = false;
std::mutex run_mutex;  // one parallel region at a time per process

}  // namespace

int thread_count() { return pool().threads(); }

void parallel_for(std::size_t n, std::size_t grain, const std::function<void(std::size_t, std::size_t)>& fn) {
  if (n == 0) return;
  grain = std::max<std::size_t>(grain, 1);
  const std::size_t chunks = std::min<std::size_t>(pool().threads(), (n + grain - 1) / grain);
  if (chunks <= 1 || inside_parallel) {
    fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> guard(run_mutex);
  const std::size_t step = (n + chunks - 1) / chunks;
  pool().run(static_cast<int>(chunks), [&](int i) {
    inside_parallel = true;
    const std::size_t begin = i * step;
    const std::size_t end = std::min(n, begin + step);
    if (begin < end) fn(begin, end);
    inside_parallel = false;
  });
}

}  // namespace samflow
