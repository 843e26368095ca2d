-- Parts of outbound messages the providers accepted, so that a retried SendMessage (same
-- outbound_message_id) never sends a part twice (ProviderGatewayService.SendMessage).
CREATE TABLE IF NOT EXISTS ingress.outbound_parts (
  outbound_message_id uuid NOT NULL,
  part_index integer NOT NULL CHECK (part_index >= 0),
  provider_message_id text NOT NULL,
  accept_time timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (outbound_message_id, part_index)
);
CREATE INDEX IF NOT EXISTS outbound_parts_accept_time ON ingress.outbound_parts (accept_time);
