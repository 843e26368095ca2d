-- The attachments service keeps its tables in a schema of its own: attachment metadata and, by default, their contents.
-- Services never read each other's tables; they talk over gRPC.
CREATE SCHEMA IF NOT EXISTS attachments;
