-- The ingress service keeps its tables in a schema of its own: channel configuration (applications, pages, WhatsApp senders) and webhook bookkeeping.
-- Services never read each other's tables; they talk over gRPC.
CREATE SCHEMA IF NOT EXISTS ingress;
