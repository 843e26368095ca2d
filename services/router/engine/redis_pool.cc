#include "services/router/engine/redis_pool.h"

#include <algorithm>

namespace parley::router::engine {

RedisPool::RedisPool(const redis::ClientOptions& options, int size) : options_(options) {
  for (int i = 0; i < std::max(size, 1); ++i) {
    clients_.push_back(std::make_unique<redis::Client>(options));
  }
}

redis::Client& RedisPool::Get() {
  return *clients_[next_.fetch_add(1, std::memory_order_relaxed) % clients_.size()];
}

}  // namespace parley::router::engine
