// Which parts of an outbound message the provider already accepted, kept in PostgreSQL
// (ingress.outbound_parts) so that a retried SendMessage with the same outbound_message_id
// skips them on any replica: providers offer no idempotency key, so this is what stops a
// customer from receiving a part twice.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/pg/pool.h"

namespace parley::ingress {

struct AcceptedPart {
  std::string provider_message_id;
  absl::Time accept_time;
};

class SentParts {
 public:
  explicit SentParts(pg::Pool& pool) : pool_(pool) {}

  // part_index -> what the provider accepted, for one outbound message. Unavailable when
  // PostgreSQL does not answer.
  absl::StatusOr<std::map<int, AcceptedPart>> Load(const std::string& outbound_message_id);
  // Records one accepted part (a repeat keeps the first record).
  absl::Status Record(const std::string& outbound_message_id, int part_index,
                      const AcceptedPart& part);

 private:
  pg::Pool& pool_;
};

}  // namespace parley::ingress
