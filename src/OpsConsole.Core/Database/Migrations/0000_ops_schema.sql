-- The console's own tables (accounts, sign-offs, samples, adjustments) live in schema ops,
-- apart from the marketplace's public schema that the contract fixes.
CREATE SCHEMA IF NOT EXISTS ops;
