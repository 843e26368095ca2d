-- Idempotency keys of CreateContact and MergeContacts: a repeated request_id returns the contact
-- the first request produced and changes nothing. The row is inserted first in the request's
-- transaction, so a concurrent repeat waits on the primary key and then finds the answer.
CREATE TABLE session.contact_requests (
  request_id uuid PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('create', 'merge')),
  contact_id uuid,
  created_at timestamptz NOT NULL DEFAULT now()
);
