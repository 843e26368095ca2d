-- The router service keeps its tables in a schema of its own: routing definitions (work streams, queues, rules, agents); live state is in Redis.
-- Services never read each other's tables; they talk over gRPC.
CREATE SCHEMA IF NOT EXISTS router;
