-- Channel configuration: Facebook applications, their pages, Twilio WhatsApp senders.
-- Secrets are stored sealed (AES-256-GCM, see services/ingress/secret_box.h): the id of the key
-- that sealed them in *_key_id, the blob (version | nonce | ciphertext | tag) in *_sealed.
-- Every change bumps ingress.channel_revision, which each replica's cache polls.

CREATE TABLE ingress.facebook_apps (
  id uuid PRIMARY KEY,
  name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  meta_app_id text NOT NULL UNIQUE CHECK (meta_app_id ~ '^[0-9]{1,32}$'),
  app_secret_key_id text,
  app_secret_sealed bytea,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((app_secret_key_id IS NULL) = (app_secret_sealed IS NULL))
);
CREATE INDEX facebook_apps_by_name ON ingress.facebook_apps (name, id);

CREATE TABLE ingress.facebook_pages (
  id uuid PRIMARY KEY,
  -- A Page ID belongs to at most one application.
  page_id text NOT NULL UNIQUE CHECK (page_id ~ '^[0-9]{1,32}$'),
  app_id uuid NOT NULL REFERENCES ingress.facebook_apps (id) ON DELETE RESTRICT,
  name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  page_access_token_key_id text,
  page_access_token_sealed bytea,
  language text NOT NULL,
  work_stream_id uuid NOT NULL,
  customer_attachments_enabled boolean NOT NULL DEFAULT false,
  agent_attachments_enabled boolean NOT NULL DEFAULT false,
  human_agent_tag_enabled boolean NOT NULL DEFAULT false,
  automated_messages_enabled boolean NOT NULL DEFAULT false,
  survey_enabled boolean NOT NULL DEFAULT false,
  callback_key text NOT NULL UNIQUE,
  verify_token text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((page_access_token_key_id IS NULL) = (page_access_token_sealed IS NULL))
);
CREATE INDEX facebook_pages_by_name ON ingress.facebook_pages (name, id);
CREATE INDEX facebook_pages_by_app ON ingress.facebook_pages (app_id, name, id);

CREATE TABLE ingress.whatsapp_senders (
  id uuid PRIMARY KEY,
  name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  account_sid text NOT NULL CHECK (account_sid ~ '^AC[0-9a-fA-F]{32}$'),
  auth_token_key_id text,
  auth_token_sealed bytea,
  phone_number text NOT NULL UNIQUE CHECK (phone_number ~ '^\+[0-9]{8,15}$'),
  language text NOT NULL,
  work_stream_id uuid NOT NULL,
  customer_attachments_enabled boolean NOT NULL DEFAULT false,
  agent_attachments_enabled boolean NOT NULL DEFAULT false,
  -- The Human Agent tag is Messenger's; kept as a column so settings map one to one.
  human_agent_tag_enabled boolean NOT NULL DEFAULT false CHECK (NOT human_agent_tag_enabled),
  automated_messages_enabled boolean NOT NULL DEFAULT false,
  survey_enabled boolean NOT NULL DEFAULT false,
  callback_key text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((auth_token_key_id IS NULL) = (auth_token_sealed IS NULL))
);
CREATE INDEX whatsapp_senders_by_name ON ingress.whatsapp_senders (name, id);

-- Create requests already answered (AIP-155 request_id), kept 24 hours: a repeat returns
-- `response` (the serialized resource, which never holds a secret).
CREATE TABLE ingress.create_requests (
  request_id uuid PRIMARY KEY,
  kind text NOT NULL,
  response bytea,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX create_requests_by_age ON ingress.create_requests (created_at);

-- One row: a number that grows with every change to the three channel tables. Replicas poll
-- it (one index-free row read) and reload their snapshot when it moved.
CREATE TABLE ingress.channel_revision (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  revision bigint NOT NULL
);
INSERT INTO ingress.channel_revision (singleton, revision) VALUES (true, 1);

CREATE FUNCTION ingress.bump_channel_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE ingress.channel_revision SET revision = revision + 1;
  RETURN NULL;
END
$$;

CREATE TRIGGER facebook_apps_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON ingress.facebook_apps FOR EACH STATEMENT EXECUTE FUNCTION ingress.bump_channel_revision();
CREATE TRIGGER facebook_pages_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON ingress.facebook_pages FOR EACH STATEMENT EXECUTE FUNCTION ingress.bump_channel_revision();
CREATE TRIGGER whatsapp_senders_revision AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON ingress.whatsapp_senders FOR EACH STATEMENT EXECUTE FUNCTION ingress.bump_channel_revision();
