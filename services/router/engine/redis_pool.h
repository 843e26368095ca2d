// A fixed set of Redis connections shared by the engine's callers. Each redis::Client runs one
// command at a time, so Get() lends a connection nobody is using (waiting only when every one
// is busy) for as long as the returned Lease lives: `pool.Get().Command({...})` holds it for
// that one command. Lending idle connections, rather than handing them out in turn, keeps a
// caller from queueing behind a busy connection while others sit idle.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "libs/redis/client.h"

namespace parley::router::engine {

class RedisPool {
 public:
  // A borrowed connection, given back when destroyed.
  class Lease {
   public:
    Lease(RedisPool* pool, int index) : pool_(pool), index_(index) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_), index_(other.index_) {
      other.pool_ = nullptr;
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (pool_ != nullptr) pool_->Return(index_);
    }

    redis::Client& client() const { return *pool_->clients_[static_cast<size_t>(index_)]; }
    operator redis::Client&() const { return client(); }  // NOLINT: used as a Client
    absl::StatusOr<redis::Reply> Command(const std::vector<std::string>& args) const {
      return client().Command(args);
    }
    absl::Status Ping() const { return client().Ping(); }

   private:
    RedisPool* pool_;
    int index_;
  };

  RedisPool(const redis::ClientOptions& options, int size);

  // An idle connection; safe from any thread.
  Lease Get();
  const redis::ClientOptions& options() const { return options_; }

 private:
  void Return(int index);

  redis::ClientOptions options_;
  std::vector<std::unique_ptr<redis::Client>> clients_;
  std::mutex mu_;
  std::condition_variable idle_cv_;
  std::vector<int> idle_;  // indexes of connections nobody holds
};

}  // namespace parley::router::engine
