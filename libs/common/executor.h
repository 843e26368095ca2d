// A fixed pool of threads for blocking work (PostgreSQL transactions, provider calls) that
// gRPC's callback handlers hand off, so that gRPC's own few callback threads never wait
// (docs/adr/0007). Tasks run in submission order across the threads; the destructor finishes
// the queued tasks and joins.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace parley {

class Executor {
 public:
  explicit Executor(int threads);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  void Post(std::function<void()> task);

 private:
  void Work();

  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace parley
