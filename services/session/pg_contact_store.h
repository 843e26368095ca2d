// ContactStore on PostgreSQL. Identity moves lock the identity row and the contacts involved
// (FOR UPDATE) so that a concurrent ingest (which serializes on the identity's advisory lock
// and reads the identity's contact) sees either the old or the new owner, never neither.
#pragma once

#include "libs/pg/pool.h"
#include "services/session/contact_store.h"

namespace parley::session {

class PgContactStore : public ContactStore {
 public:
  explicit PgContactStore(pg::Pool& pool) : pool_(pool) {}

  // ContactStore
  absl::StatusOr<v1::SearchContactsResponse> Search(
      const v1::SearchContactsRequest& request) override;
  absl::StatusOr<v1::Contact> Get(const std::string& contact_id) override;
  absl::StatusOr<v1::Contact> Create(const v1::CreateContactRequest& request) override;
  absl::StatusOr<v1::Contact> Update(const v1::UpdateContactRequest& request) override;
  absl::StatusOr<v1::Contact> Link(const v1::LinkIdentityRequest& request) override;
  absl::StatusOr<v1::UnlinkIdentityResponse> Unlink(
      const v1::UnlinkIdentityRequest& request) override;
  absl::StatusOr<v1::Contact> Merge(const v1::MergeContactsRequest& request) override;
  absl::StatusOr<v1::GetCustomerSummaryResponse> Summary(
      const v1::GetCustomerSummaryRequest& request) override;

 private:
  pg::Pool& pool_;
};

}  // namespace parley::session
