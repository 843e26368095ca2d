// The ChannelDirectory of a running ingress: every application, page and sender loaded from
// PostgreSQL with their secrets decrypted, held as one immutable snapshot that readers share
// without touching the database. A background thread polls ingress.channel_revision (one row,
// bumped by a trigger on every change made by any replica) every `refresh_interval` and swaps
// in a fresh snapshot when it moved, so a change is seen everywhere within about that interval.
// While PostgreSQL is away the last snapshot keeps serving.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "libs/pg/pool.h"
#include "services/ingress/channel_directory.h"
#include "services/ingress/secret_box.h"

namespace parley::ingress {

struct ChannelCacheOptions {
  // How often the revision is polled.
  absl::Duration refresh_interval = absl::Seconds(1);
  // Called once, on the polling thread, after its first successful load (the schema exists by
  // then); may be empty.
  std::function<void()> after_first_load;
};

class ChannelCache : public ChannelDirectory {
 public:
  // `pool` and `box` must outlive the cache. Nothing is loaded until Refresh or Start.
  ChannelCache(pg::Pool& pool, const SecretBox& box, ChannelCacheOptions options = {});
  ~ChannelCache() override;  // stops the thread
  ChannelCache(const ChannelCache&) = delete;
  ChannelCache& operator=(const ChannelCache&) = delete;

  // Loads a new snapshot when the revision moved since the last load (or nothing was loaded
  // yet). Unavailable when PostgreSQL does not answer (the old snapshot stays). A secret that
  // cannot be decrypted (unknown key id, altered data) is logged without its value and left
  // empty; the record is kept.
  absl::Status Refresh();

  // Starts the polling thread (a first Refresh runs on it at once). Idempotent.
  void Start();
  // Stops and joins it. Idempotent.
  void Stop();

  // Whether a snapshot has been loaded; until then every lookup answers null.
  bool loaded() const;
  // The revision of the current snapshot; 0 before the first load.
  int64_t revision() const;

  // ChannelDirectory:
  std::shared_ptr<const MessengerCallback> FindMessengerCallback(
      absl::string_view callback_key) const override;
  std::shared_ptr<const MessengerPage> FindPage(absl::string_view page_id) const override;
  std::shared_ptr<const MessengerApp> FindApp(absl::string_view app_record_id) const override;
  std::shared_ptr<const WhatsAppSender> FindWhatsAppCallback(
      absl::string_view callback_key) const override;
  std::shared_ptr<const WhatsAppSender> FindSender(absl::string_view phone_number) const override;

  struct Snapshot;

 private:
  std::shared_ptr<const Snapshot> Current() const;
  void Loop();

  pg::Pool& pool_;
  const SecretBox& box_;
  const ChannelCacheOptions options_;

  mutable std::mutex snapshot_mu_;
  std::shared_ptr<const Snapshot> snapshot_;  // never null
  std::mutex refresh_mu_;                     // one Refresh at a time

  std::mutex loop_mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace parley::ingress
