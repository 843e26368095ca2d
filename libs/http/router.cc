#include "libs/http/router.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"

namespace parley::http {

Router& Router::Handle(absl::string_view method, absl::string_view path, Handler handler,
                       Runs runs) {
  auto& methods = routes_[std::string(path)];
  const bool inserted =
      methods.emplace(std::string(method), Entry{std::move(handler), runs}).second;
  if (!inserted) {
    std::fprintf(stderr, "http: route %s %s registered twice\n", std::string(method).c_str(),
                 std::string(path).c_str());
    std::abort();
  }
  return *this;
}

Router& Router::Get(absl::string_view path, Handler handler, Runs runs) {
  return Handle("GET", path, std::move(handler), runs);
}

Router& Router::Post(absl::string_view path, Handler handler, Runs runs) {
  return Handle("POST", path, std::move(handler), runs);
}

Router::Match Router::Find(absl::string_view method, absl::string_view path) const {
  auto route = routes_.find(path);
  if (route == routes_.end()) route = FindPrefix(path);
  if (route == routes_.end()) return {};
  Match match{.route = &route->first};
  const auto handler = route->second.find(method);
  if (handler != route->second.end()) {
    match.handler = &handler->second.handler;
    match.runs = handler->second.runs;
    return match;
  }
  match.allow = absl::StrJoin(
      route->second, ", ", [](std::string* out, const auto& entry) { out->append(entry.first); });
  return match;
}

Router::Routes::const_iterator Router::FindPrefix(absl::string_view path) const {
  auto best = routes_.end();
  for (auto it = routes_.begin(); it != routes_.end(); ++it) {
    const absl::string_view pattern = it->first;
    if (!absl::EndsWith(pattern, "/*")) continue;
    const absl::string_view prefix = pattern.substr(0, pattern.size() - 1);
    if (path.size() <= prefix.size() || !absl::StartsWith(path, prefix)) continue;
    if (best == routes_.end() || best->first.size() < pattern.size()) best = it;
  }
  return best;
}

}  // namespace parley::http
