#include "libs/common/failure_log.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/common/log.h"

namespace parley::log {

FailureLog::FailureLog(std::string what, absl::Duration every)
    : what_(std::move(what)), every_(every) {}

bool FailureLog::Failed(const absl::Status& status, absl::Time now) {
  ++failures_;
  if (failures_ > 1 && now - last_line_ < every_) {
    ++unwritten_;
    return false;
  }
  const std::string error = status.ToString();
  const std::string failures = absl::StrCat(failures_);
  const std::string unwritten = absl::StrCat(unwritten_);
  Warn(absl::StrCat(what_, " failed"),
       {{"error", error}, {"failures_in_a_row", failures}, {"not_logged", unwritten}});
  unwritten_ = 0;
  last_line_ = now;
  return true;
}

bool FailureLog::Succeeded() {
  if (failures_ == 0) return false;
  const std::string failures = absl::StrCat(failures_);
  Info(absl::StrCat(what_, " works again"), {{"failures_in_a_row", failures}});
  failures_ = 0;
  unwritten_ = 0;
  last_line_ = absl::InfinitePast();
  return true;
}

}  // namespace parley::log
