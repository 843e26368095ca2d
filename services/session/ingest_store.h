// Where IngestService keeps inbound events: the boundary between the gRPC handler and
// PostgreSQL, so that the handler can be tested without a database and the store without gRPC.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "parley/session/v1/session.pb.h"

namespace parley::session {

class IngestStore {
 public:
  virtual ~IngestStore() = default;

  // Stores a batch that passed ValidateIngestRequest, all or nothing, and returns one result
  // per event in request order, only after the batch is committed. Poison events are
  // dead-lettered inside the batch, not reported as errors. Errors: Unavailable (PostgreSQL
  // does not answer or the commit failed: nothing is stored), Aborted (a conflict: retry),
  // Internal (a bug).
  virtual absl::StatusOr<v1::IngestResponse> Ingest(const v1::IngestRequest& request) = 0;
};

// InvalidArgument naming the field when the batch itself is malformed (see session.proto
// IngestService.Ingest); OK otherwise. Content problems are not checked here: they make a
// single event a dead letter, not the batch a bad request.
absl::Status ValidateIngestRequest(const v1::IngestRequest& request);

}  // namespace parley::session
