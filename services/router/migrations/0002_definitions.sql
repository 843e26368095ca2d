-- Routing definitions: work streams, queues and their member agents, routing rules, agents.
-- Every change bumps router.revision (one row) in the same transaction; each replica polls it
-- and reloads the whole set when it moved.

CREATE TABLE router.revision (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  value bigint NOT NULL
);
INSERT INTO router.revision (singleton, value) VALUES (true, 0);

-- Integer microseconds since the epoch (the protos' Timestamp), as session.us() does.
CREATE FUNCTION router.us(t timestamptz) RETURNS bigint
  LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT (extract(epoch FROM t) * 1000000)::bigint $$;

CREATE TABLE router.queues (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL UNIQUE CHECK (char_length(name) BETWEEN 1 AND 200),
  priority integer NOT NULL CHECK (priority BETWEEN 0 AND 100),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE router.agents (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  display_name text NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 200),
  capacity integer NOT NULL CHECK (capacity BETWEEN 1 AND 1000),
  skills text[] NOT NULL DEFAULT '{}',
  enabled boolean NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agents_by_name ON router.agents (display_name, id);

CREATE TABLE router.queue_members (
  queue_id uuid NOT NULL REFERENCES router.queues (id) ON DELETE CASCADE,
  agent_id uuid NOT NULL REFERENCES router.agents (id) ON DELETE CASCADE,
  PRIMARY KEY (queue_id, agent_id)
);
CREATE INDEX queue_members_by_agent ON router.queue_members (agent_id);

-- Durations in nanoseconds (google.protobuf.Duration keeps nanoseconds).
CREATE TABLE router.work_streams (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL UNIQUE CHECK (char_length(name) BETWEEN 1 AND 200),
  channel smallint NOT NULL CHECK (channel > 0),
  mode smallint NOT NULL CHECK (mode > 0),
  capacity_cost integer NOT NULL CHECK (capacity_cost BETWEEN 1 AND 1000),
  offer_timeout_ns bigint NOT NULL CHECK (offer_timeout_ns BETWEEN 5000000000 AND 600000000000),
  strategy smallint NOT NULL CHECK (strategy > 0),
  auto_close_after_ns bigint NOT NULL CHECK (auto_close_after_ns BETWEEN 0 AND 2592000000000000),
  urgent_before_deadline_ns bigint NOT NULL
    CHECK (urgent_before_deadline_ns BETWEEN 0 AND 604800000000000),
  default_queue_id uuid NOT NULL REFERENCES router.queues (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX work_streams_by_default_queue ON router.work_streams (default_queue_id);

-- `condition` is the RuleExpression in protobuf's JSON form.
CREATE TABLE router.routing_rules (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  work_stream_id uuid NOT NULL REFERENCES router.work_streams (id) ON DELETE CASCADE,
  name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  position integer NOT NULL CHECK (position >= 0),
  condition jsonb NOT NULL,
  queue_id uuid NOT NULL REFERENCES router.queues (id),
  required_skills text[] NOT NULL DEFAULT '{}',
  enabled boolean NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT routing_rules_position UNIQUE (work_stream_id, position) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX routing_rules_by_queue ON router.routing_rules (queue_id);
