#include "services/router/engine/lua_script.h"

#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace parley::router::engine {
namespace {

std::string Sha1Hex(const std::string& text) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::vector<std::string> Command(const char* verb, const std::string& script,
                                 const std::vector<std::string>& keys,
                                 const std::vector<std::string>& args) {
  std::vector<std::string> command;
  command.reserve(3 + keys.size() + args.size());
  command.push_back(verb);
  command.push_back(script);
  command.push_back(absl::StrCat(keys.size()));
  command.insert(command.end(), keys.begin(), keys.end());
  command.insert(command.end(), args.begin(), args.end());
  return command;
}

}  // namespace

LuaScript::LuaScript(std::string source) : source_(std::move(source)), sha1_(Sha1Hex(source_)) {}

absl::StatusOr<redis::Reply> LuaScript::Run(redis::Client& client,
                                            const std::vector<std::string>& keys,
                                            const std::vector<std::string>& args) const {
  absl::StatusOr<redis::Reply> reply = client.Command(Command("EVALSHA", sha1_, keys, args));
  if (reply.ok() || !absl::IsNotFound(reply.status())) return reply;
  return client.Command(Command("EVAL", source_, keys, args));
}

}  // namespace parley::router::engine
