// What the PostgreSQL stores of the session service share: new ids, the conversion of times
// between absl, protobuf and the SQL functions session.us()/session.ts() (integer
// microseconds), and the mapping of conversation and message rows to their protos.
#pragma once

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "parley/session/v1/session.pb.h"

namespace parley::session {

// A random (version 4) UUID in lower case.
std::string NewUuid();

int64_t ToMicros(absl::Time t);
absl::Time TimeFromProto(const google::protobuf::Timestamp& ts);
void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out);
// Sets the field `mutable_field()` returns from a nullable session.us() column; for NULL the
// field stays absent (mutable_field is not called, so has_...() stays false).
template <typename MutableField>
void SetTimestamp(const pqxx::field& micros, MutableField mutable_field) {
  if (micros.is_null()) return;
  SetTimestamp(absl::FromUnixMicros(micros.as<int64_t>()), mutable_field());
}

// A message in protobuf's JSON form (for jsonb columns) and back. Internal on failure.
std::string ToJson(const google::protobuf::Message& message);
absl::Status FromJson(absl::string_view json, google::protobuf::Message* message);

// Hex form of bytes for bytea parameters (`decode($n, 'hex')`), and back.
std::string Hex(absl::string_view bytes);
std::string Unhex(absl::string_view hex);

// The columns ConversationFromRow reads; the query must join conversations c, identities i
// and contacts ct.
extern const char* const kConversationColumns;
extern const char* const kConversationFrom;
v1::Conversation ConversationFromRow(const pqxx::row& row, absl::Time now);

// The columns MessageFromRow reads from messages m (plus `pos`, its position).
extern const char* const kMessageColumns;
v1::Message MessageFromRow(const pqxx::row& row);

// The columns SummaryFromRow reads from conversations c.
extern const char* const kSummaryColumns;
v1::ConversationSummary SummaryFromRow(const pqxx::row& row);

// The text of a message's content that full-text search indexes.
std::string SearchableText(const common::v1::MessageContent& content);

}  // namespace parley::session
