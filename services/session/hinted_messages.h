// The fast path of group commit (docs/adr/0007): the customer messages of a group whose live
// conversation an earlier batch found (ConversationHints) are stored by one multi-row statement
// instead of one statement each. The statement inserts a message only while its conversation
// still is the identity's live conversation as remembered and its dedup key is new, updates each
// conversation once for all its messages, and writes their outbox rows. What it did not store
// takes the full path (lookup, then insert), which reports duplicates and reopens as before.
#pragma once

#include <cstdint>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"

namespace parley::session {

// One inbound customer message for a remembered conversation, ready to insert.
struct HintedMessage {
  std::string message_id;       // made in C++ (UUID)
  std::string conversation_id;  // the remembered conversation
  int channel = 0;
  std::string endpoint_id;
  std::string user_id;
  std::string dedup_key;
  std::string content_json;  // MessageContent in protobuf JSON
  std::string body_text;     // what full-text search indexes
  std::string provider_message_id;
  int64_t provider_us = 0;  // provider time, microseconds since the epoch
  int64_t window_us = 0;    // reply window after a customer message
  // The conversation as remembered: checked against the row by the statement.
  std::string agent_id;
  bool tag = false;
  std::string search_config;
  // The outbox row to write with the message ("" kind for none), payload in hex.
  std::string outbox_kind;
  std::string outbox_payload_hex;
};

// Stores `messages` (in order) in one statement inside `tx`, whose identities are locked;
// returns the ids of those it stored. Throws libpqxx's exceptions.
absl::flat_hash_set<std::string> InsertHintedMessages(pqxx::transaction_base& tx,
                                                      const std::vector<HintedMessage>& messages);

}  // namespace parley::session
