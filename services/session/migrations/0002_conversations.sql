-- Contacts, channel identities, conversations, messages, notes, the state-change log, the
-- transactional outbox and dead letters. Enum columns hold the numeric values of the proto
-- enums of parley.common.v1 / parley.session.v1 (Channel, ConversationState, Direction,
-- SenderKind, DeliveryStatus, CloseReason); see docs/adr/0006-session-storage.md.

-- Timestamps cross the wire as integer microseconds since the Unix epoch (exact both ways).
CREATE FUNCTION session.us(t timestamptz) RETURNS bigint
  LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT (extract(epoch FROM t) * 1000000)::bigint $$;
CREATE FUNCTION session.ts(us bigint) RETURNS timestamptz
  LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT to_timestamp(0) + us * interval '1 microsecond' $$;

-- The order in which delivery statuses may move (common.proto DeliveryStatus): PENDING <
-- QUEUED < SENT < FAILED = UNDELIVERED < DELIVERED < READ; RECEIVED (inbound) never moves.
CREATE FUNCTION session.delivery_rank(status smallint) RETURNS integer
  LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE status WHEN 2 THEN 1 WHEN 3 THEN 2 WHEN 4 THEN 3 WHEN 7 THEN 4 WHEN 8 THEN 4
                       WHEN 5 THEN 5 WHEN 6 THEN 6 ELSE 0 END $$;

-- A customer record. Merged contacts are kept as tombstones pointing at the survivor so that
-- GetContact can name it.
CREATE TABLE session.contacts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  display_name text NOT NULL DEFAULT '',
  first_name text NOT NULL DEFAULT '',
  last_name text NOT NULL DEFAULT '',
  email text NOT NULL DEFAULT '',
  phone_number text NOT NULL DEFAULT '',
  locale text NOT NULL DEFAULT '',
  timezone_offset_hours double precision,
  verified boolean NOT NULL DEFAULT false,
  auto_created boolean NOT NULL DEFAULT false,
  merged_into uuid REFERENCES session.contacts (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_by_email ON session.contacts (lower(email)) WHERE email <> '';
CREATE INDEX contacts_by_phone ON session.contacts (phone_number) WHERE phone_number <> '';

-- A customer's identity on one page or sender; belongs to exactly one contact.
CREATE TABLE session.channel_identities (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  channel smallint NOT NULL CHECK (channel IN (1, 2)),
  endpoint_id text NOT NULL CHECK (length(endpoint_id) BETWEEN 1 AND 32),
  user_id text NOT NULL CHECK (length(user_id) BETWEEN 1 AND 64),
  contact_id uuid NOT NULL REFERENCES session.contacts (id),
  profile_name text NOT NULL DEFAULT '',
  linked_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz,
  UNIQUE (channel, endpoint_id, user_id)
);
CREATE INDEX channel_identities_by_contact ON session.channel_identities (contact_id);

-- A conversation between one identity and one page or sender. Settings that matter later
-- (Human Agent tag, language and its text-search configuration) are copied when it opens.
CREATE TABLE session.conversations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  channel smallint NOT NULL CHECK (channel IN (1, 2)),
  endpoint_id text NOT NULL,
  identity_id uuid NOT NULL REFERENCES session.channel_identities (id),
  contact_id uuid NOT NULL REFERENCES session.contacts (id),
  state smallint NOT NULL CHECK (state BETWEEN 1 AND 5),
  work_stream_id text NOT NULL DEFAULT '',
  queue_id text NOT NULL DEFAULT '',
  agent_id text NOT NULL DEFAULT '',
  customer_display_name text NOT NULL DEFAULT '',
  first_message_text text NOT NULL DEFAULT '',
  locale text NOT NULL DEFAULT '',
  timezone_offset_hours double precision,
  language text NOT NULL DEFAULT 'en',
  search_config regconfig NOT NULL DEFAULT 'simple',
  human_agent_tag_enabled boolean NOT NULL DEFAULT false,
  opened_at timestamptz NOT NULL DEFAULT now(),
  assigned_at timestamptz,
  closed_at timestamptz,
  close_reason smallint NOT NULL DEFAULT 0,
  last_customer_message_at timestamptz,
  last_agent_message_at timestamptz,
  reply_deadline timestamptz,
  last_activity_at timestamptz NOT NULL DEFAULT now(),
  message_count integer NOT NULL DEFAULT 0,
  routing_sequence bigint NOT NULL DEFAULT 0,
  previous_conversation_id uuid REFERENCES session.conversations (id),
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- At most one conversation that is not CLOSED (5) per identity.
CREATE UNIQUE INDEX conversations_one_live_per_identity
  ON session.conversations (identity_id) WHERE state <> 5;
CREATE INDEX conversations_by_agent
  ON session.conversations (agent_id, last_activity_at DESC) WHERE agent_id <> '';
CREATE INDEX conversations_by_queue
  ON session.conversations (queue_id, last_activity_at DESC) WHERE queue_id <> '';
CREATE INDEX conversations_by_contact ON session.conversations (contact_id, opened_at DESC);
CREATE INDEX conversations_by_state ON session.conversations (state, last_activity_at DESC);

-- One message in either direction. `content` is MessageContent in protobuf's JSON form;
-- `body_text` is its text for full-text search, indexed in the conversation's language.
CREATE TABLE session.messages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq bigint GENERATED ALWAYS AS IDENTITY,
  conversation_id uuid NOT NULL REFERENCES session.conversations (id),
  channel smallint NOT NULL,
  endpoint_id text NOT NULL,
  dedup_key text CHECK (length(dedup_key) BETWEEN 1 AND 512),
  direction smallint NOT NULL CHECK (direction IN (1, 2)),
  sender_kind smallint NOT NULL CHECK (sender_kind BETWEEN 1 AND 5),
  sender_id text NOT NULL DEFAULT '',
  content jsonb NOT NULL,
  body_text text NOT NULL DEFAULT '',
  search_config regconfig NOT NULL DEFAULT 'simple',
  tsv tsvector GENERATED ALWAYS AS (to_tsvector(search_config, body_text)) STORED,
  reply_to_message_id uuid REFERENCES session.messages (id),
  provider_message_id text NOT NULL DEFAULT '',
  provider_time timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  delivery_status smallint NOT NULL CHECK (delivery_status BETWEEN 1 AND 8),
  delivery_status_at timestamptz NOT NULL DEFAULT now(),
  delivery_error jsonb,
  sent_at timestamptz,
  delivered_at timestamptz,
  read_at timestamptz,
  edited boolean NOT NULL DEFAULT false,
  human_agent_tag_used boolean NOT NULL DEFAULT false,
  UNIQUE (channel, endpoint_id, dedup_key)
);
CREATE INDEX messages_in_order ON session.messages (conversation_id, provider_time, seq);
CREATE INDEX messages_by_provider_id
  ON session.messages (channel, endpoint_id, provider_message_id) WHERE provider_message_id <> '';
CREATE INDEX messages_text_search ON session.messages USING gin (tsv);

-- Internal notes on a conversation.
CREATE TABLE session.notes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq bigint GENERATED ALWAYS AS IDENTITY,
  conversation_id uuid NOT NULL REFERENCES session.conversations (id),
  author_agent_id text NOT NULL,
  text text NOT NULL,
  search_config regconfig NOT NULL DEFAULT 'simple',
  tsv tsvector GENERATED ALWAYS AS (to_tsvector(search_config, text)) STORED,
  request_id uuid UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notes_in_order ON session.notes (conversation_id, created_at, seq);
CREATE INDEX notes_text_search ON session.notes USING gin (tsv);

-- The state and routing changes of conversations (from_state is null when it opened).
CREATE TABLE session.conversation_events (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  conversation_id uuid NOT NULL REFERENCES session.conversations (id),
  from_state smallint,
  to_state smallint NOT NULL,
  actor_agent_id text NOT NULL DEFAULT '',
  agent_id text NOT NULL DEFAULT '',
  queue_id text NOT NULL DEFAULT '',
  reason text NOT NULL DEFAULT '',
  request_id uuid UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversation_events_in_order ON session.conversation_events (conversation_id, seq);

-- Inbound events that are not messages (referrals without a message, opt-ins), kept once.
CREATE TABLE session.signals (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  channel smallint NOT NULL,
  endpoint_id text NOT NULL,
  dedup_key text NOT NULL,
  conversation_id uuid REFERENCES session.conversations (id),
  kind text NOT NULL,
  event bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (channel, endpoint_id, dedup_key)
);

-- What other services must learn, written in the transaction that made it true and handed
-- over by the outbox relay (at least once; the id is the consumer's idempotency key).
CREATE TABLE session.outbox (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kind text NOT NULL,
  payload bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text NOT NULL DEFAULT ''
);
CREATE INDEX outbox_due ON session.outbox (next_attempt_at);

-- Inbound events that could not be stored as they are, with the raw event and the reason.
CREATE TABLE session.dead_letters (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  channel smallint NOT NULL,
  endpoint_id text NOT NULL,
  dedup_key text NOT NULL,
  batch_id text NOT NULL DEFAULT '',
  raw_event bytea NOT NULL,
  event bytea NOT NULL,
  reason text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (channel, endpoint_id, dedup_key)
);
