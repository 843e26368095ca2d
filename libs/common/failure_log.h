// Logging for background loops (outbox relay, sweeper, cache refresh) that retry every few
// hundred milliseconds: while a dependency is down they would otherwise write several warnings
// a second. FailureLog writes the first failure, then at most one line per interval while the
// failures go on (saying how many were not written), and one line when the loop works again.
// One instance per loop, used from that loop's thread only.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace parley::log {

class FailureLog {
 public:
  // `what` names the loop in the lines, e.g. "outbox relay round".
  explicit FailureLog(std::string what, absl::Duration every = absl::Minutes(1));

  // Records a failed round; returns whether a line was written.
  bool Failed(const absl::Status& status, absl::Time now = absl::Now());
  // Records a successful round; returns whether a line ("… works again") was written.
  bool Succeeded();

 private:
  const std::string what_;
  const absl::Duration every_;
  int failures_ = 0;   // since the last success
  int unwritten_ = 0;  // failures since the last line
  absl::Time last_line_ = absl::InfinitePast();
};

}  // namespace parley::log
