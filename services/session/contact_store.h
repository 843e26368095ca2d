// Where ContactService reads and changes contacts and their channel identities: the boundary
// between its gRPC handlers (which validate first, see request_checks.h) and PostgreSQL.
#pragma once

#include "absl/status/statusor.h"
#include "parley/session/v1/session.pb.h"

namespace parley::session {

class ContactStore {
 public:
  virtual ~ContactStore() = default;

  // Contacts matching every criterion, best first. InvalidArgument for a bad page token.
  virtual absl::StatusOr<v1::SearchContactsResponse> Search(
      const v1::SearchContactsRequest& request) = 0;
  // NotFound (naming the survivor for a merged contact).
  virtual absl::StatusOr<v1::Contact> Get(const std::string& contact_id) = 0;
  // Creates, and links `link_identity` when set. NotFound / FailedPrecondition as Link.
  virtual absl::StatusOr<v1::Contact> Create(const v1::CreateContactRequest& request) = 0;
  // Replaces the fields of a validated mask. NotFound.
  virtual absl::StatusOr<v1::Contact> Update(const v1::UpdateContactRequest& request) = 0;
  // Moves the identity (and its conversations) to the contact. NotFound; FailedPrecondition
  // when it belongs to another contact that is not auto-created.
  virtual absl::StatusOr<v1::Contact> Link(const v1::LinkIdentityRequest& request) = 0;
  // Moves the identity to a new auto-created contact. NotFound.
  virtual absl::StatusOr<v1::UnlinkIdentityResponse> Unlink(
      const v1::UnlinkIdentityRequest& request) = 0;
  // Merges source into target. NotFound.
  virtual absl::StatusOr<v1::Contact> Merge(const v1::MergeContactsRequest& request) = 0;
  // The contact, its identities and conversations. NotFound.
  virtual absl::StatusOr<v1::GetCustomerSummaryResponse> Summary(
      const v1::GetCustomerSummaryRequest& request) = 0;
};

}  // namespace parley::session
