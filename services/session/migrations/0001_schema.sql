-- The session service keeps its tables in a schema of its own: conversations, messages, contacts, notes and transcripts.
-- Services never read each other's tables; they talk over gRPC.
CREATE SCHEMA IF NOT EXISTS session;
