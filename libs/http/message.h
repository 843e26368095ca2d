// The request a handler of parley::http::Server receives and the response it returns. Both are
// plain values, free of Boost, so that handlers and their tests build without Beast. The body
// is kept as the exact bytes the client sent (after chunked transfer decoding): provider
// webhook signatures are computed over those bytes, so nothing here decodes or re-encodes it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace parley::http {

// Header fields in the order received (or to be sent); names compare case-insensitively.
class Headers {
 public:
  void Add(std::string name, std::string value);
  // The value of the first field called `name` (any case); "" when there is none.
  absl::string_view Get(absl::string_view name) const;
  bool Has(absl::string_view name) const;

  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

struct Request {
  std::string method;  // as sent: "GET", "POST"
  std::string path;    // the target up to '?', not percent-decoded: "/webhooks/messenger"
  std::string query;   // the raw target after '?' ("" when none), not decoded
  Headers headers;
  std::string body;  // the raw body bytes, possibly with NULs and invalid UTF-8
  std::string peer;  // the client's "address:port" (a proxy's when behind one)
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  Headers headers;  // besides Content-Type, Content-Length and Connection, set by the server
  std::string body;
};

// A plain-text response: Text(404, "no such page\n").
Response Text(int status, std::string body);

}  // namespace parley::http
