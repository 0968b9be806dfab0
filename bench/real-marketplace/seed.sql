-- Seeds a database built from the marketplace's schema (0001 / tests' fixture) for the pgbench scripts beside
-- this file: 100 buyer workspaces (ids 10000000-…-<n>) with users (20000000-…-<n>) and credits, one seller
-- workspace and query, 10 partners (60000000-…-<n>), and :leads listed leads at 1.0000 (00000000-…-<n>).
-- Deterministic ids let a pgbench script name leads by number without a lookup.
-- psql -v ON_ERROR_STOP=1 -v leads=N -f seed.sql
INSERT INTO global_topics (id, topic) VALUES ('30000000-0000-4000-8000-000000000001', 'bench');
INSERT INTO workspaces (id, name, slug) VALUES ('40000000-0000-4000-8000-000000000001', 'seller', 'seller');
INSERT INTO queries (id, workspace_id, topic_id)
VALUES ('50000000-0000-4000-8000-000000000001', '40000000-0000-4000-8000-000000000001', '30000000-0000-4000-8000-000000000001');
INSERT INTO partners (id, name, email)
SELECT ('60000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'partner ' || g, 'partner' || g || '@example.com'
FROM generate_series(0, 9) g;
INSERT INTO workspaces (id, name, slug)
SELECT ('10000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'buyer ' || g, 'buyer-' || g FROM generate_series(0, 99) g;
INSERT INTO auth.users (id) SELECT ('70000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid FROM generate_series(0, 99) g;
INSERT INTO users (id, auth_user_id, workspace_id, email)
SELECT ('20000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, ('70000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid,
       ('10000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'buyer' || g || '@example.com'
FROM generate_series(0, 99) g;
INSERT INTO workspace_credits (workspace_id, balance, total_purchased)
SELECT ('10000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 100000000, 100000000 FROM generate_series(0, 99) g;
-- The partner upload counter is the app's bookkeeping, not the purchase path's: off while seeding.
ALTER TABLE leads DISABLE TRIGGER trigger_update_partner_lead_count;
INSERT INTO leads (id, workspace_id, query_id, company_data, partner_id, marketplace_price, is_marketplace_listed)
SELECT ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, '40000000-0000-4000-8000-000000000001',
       '50000000-0000-4000-8000-000000000001', jsonb_build_object('name', 'company ' || g),
       ('60000000-0000-4000-8000-' || lpad((g % 10)::text, 12, '0'))::uuid, 1.0000, true
FROM generate_series(0, :leads - 1) g;
ALTER TABLE leads ENABLE TRIGGER trigger_update_partner_lead_count;
-- Both fixes add marketplace_status with the default 'draft' and mark the listed leads 'available' when they
-- add it; these leads came after.
UPDATE leads SET marketplace_status = 'available' WHERE sold_at IS NULL;
