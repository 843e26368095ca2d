#include "services/ingress/sent_parts.h"

#include <pqxx/pqxx>

namespace parley::ingress {
namespace {

constexpr const char* kLoadParts = R"sql(
  SELECT part_index, provider_message_id, (extract(epoch FROM accept_time) * 1000000)::bigint
  FROM ingress.outbound_parts WHERE outbound_message_id = $1::uuid ORDER BY part_index)sql";

constexpr const char* kRecordPart = R"sql(
  INSERT INTO ingress.outbound_parts (outbound_message_id, part_index, provider_message_id,
                                      accept_time)
  VALUES ($1::uuid, $2, $3, to_timestamp($4::double precision / 1000000))
  ON CONFLICT (outbound_message_id, part_index) DO NOTHING)sql";

}  // namespace

absl::StatusOr<std::map<int, AcceptedPart>> SentParts::Load(
    const std::string& outbound_message_id) {
  return pool_.Transact<std::map<int, AcceptedPart>>(
      [&](pqxx::work& tx) -> absl::StatusOr<std::map<int, AcceptedPart>> {
        std::map<int, AcceptedPart> out;
        for (const auto& row : tx.exec_params(kLoadParts, outbound_message_id)) {
          out[row[0].as<int>()] = {row[1].as<std::string>(),
                                   absl::FromUnixMicros(row[2].as<int64_t>())};
        }
        return out;
      });
}

absl::Status SentParts::Record(const std::string& outbound_message_id, int part_index,
                               const AcceptedPart& part) {
  return pool_.Transact([&](pqxx::work& tx) {
    tx.exec_params(kRecordPart, outbound_message_id, part_index, part.provider_message_id,
                   absl::ToUnixMicros(part.accept_time));
    return absl::OkStatus();
  });
}

}  // namespace parley::ingress
