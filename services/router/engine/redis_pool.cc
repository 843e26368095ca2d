#include "services/router/engine/redis_pool.h"

#include <algorithm>

namespace parley::router::engine {

RedisPool::RedisPool(const redis::ClientOptions& options, int size) : options_(options) {
  for (int i = 0; i < std::max(size, 1); ++i) {
    clients_.push_back(std::make_unique<redis::Client>(options));
    idle_.push_back(i);
  }
}

RedisPool::Lease RedisPool::Get() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_cv_.wait(lock, [this] { return !idle_.empty(); });
  const int index = idle_.back();  // the most recently used: its connection is warm
  idle_.pop_back();
  return Lease(this, index);
}

void RedisPool::Return(int index) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(index);
  }
  idle_cv_.notify_one();
}

}  // namespace parley::router::engine
