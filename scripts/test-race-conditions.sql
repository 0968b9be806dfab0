-- Concurrency tests of the purchase functions, from psql alone:
--   psql -X -v ON_ERROR_STOP=1 -d <database> -f scripts/test-race-conditions.sql
-- Two real sessions ('buyer_a', 'buyer_b') through dblink replay the app's calls as route.ts makes them,
-- each call its own transaction. A failure raises (psql exits non-zero); each passed test prints PASS.
-- When dblink cannot connect as the current user over the local socket (e.g. a non-superuser on a hosted
-- database), pass a connection string: -v dblink_conn='host=... user=... password=... dbname=...'.
-- The rows it makes are removed at the end, also when a test fails half way (the next run cleans up).

\set QUIET on
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dblink;

\if :{?dblink_conn}
\else
SELECT format('dbname=%s user=%s port=%s host=%s', current_database(), current_user, current_setting('port'),
              split_part(current_setting('unix_socket_directories'), ',', 1)) AS dblink_conn \gset
\endif

-- Leftovers of an interrupted run.
DELETE FROM workspaces WHERE slug LIKE 'race-test-%';
DELETE FROM auth.users WHERE email LIKE 'race-test-%@example.com';
DELETE FROM global_topics WHERE topic = 'race test';

-- A workspace with the required columns only; where the schema has onboarding_status, its CHECK does not
-- admit the column's own default ('not_started'), so the insert names an allowed value.
CREATE FUNCTION pg_temp.new_workspace(p_name text, p_slug text) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE v_id uuid;
BEGIN
  IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'public.workspaces'::regclass AND attname = 'onboarding_status' AND NOT attisdropped) THEN
    EXECUTE 'INSERT INTO workspaces (name, slug, onboarding_status) VALUES ($1, $2, ''pending'') RETURNING id' INTO v_id USING p_name, p_slug;
  ELSE
    INSERT INTO workspaces (name, slug) VALUES (p_name, p_slug) RETURNING id INTO v_id;
  END IF;
  RETURN v_id;
END $$;
-- psql variables are not expanded inside dollar quotes: the DO blocks read them from settings.
CREATE FUNCTION pg_temp.v(p_name text) RETURNS uuid LANGUAGE sql AS $$ SELECT current_setting('race.' || p_name)::uuid $$;

-- Two buyers with 10 credits each, and listed leads at 1.00 and at 0.05.
WITH seller AS (SELECT pg_temp.new_workspace('Race test seller', 'race-test-seller') AS id),
     topic AS (INSERT INTO global_topics (topic) VALUES ('race test') RETURNING id),
     q AS (INSERT INTO queries (workspace_id, topic_id, name) SELECT seller.id, topic.id, 'Race test' FROM seller, topic RETURNING id, workspace_id),
     l AS (INSERT INTO leads (workspace_id, query_id, company_data, marketplace_price, is_marketplace_listed, marketplace_status)
           SELECT q.workspace_id, q.id, jsonb_build_object('name', 'Race test ' || n, 'technologies', '[]'::jsonb, 'intent_signals', '[]'::jsonb), CASE WHEN n = 4 THEN 0.05 ELSE 1.00 END, true, 'available'
           FROM q, generate_series(1, 4) n RETURNING id, company_data->>'name' AS name)
SELECT (SELECT id FROM l WHERE name = 'Race test 1') AS lead1, (SELECT id FROM l WHERE name = 'Race test 2') AS lead2,
       (SELECT id FROM l WHERE name = 'Race test 3') AS lead3, (SELECT id FROM l WHERE name = 'Race test 4') AS lead4 \gset

WITH ws AS (SELECT pg_temp.new_workspace('Race test ' || x, 'race-test-' || x) AS id, 'race-test-' || x AS slug FROM unnest(ARRAY['a', 'b']) x),
     au AS (INSERT INTO auth.users (email) VALUES ('race-test-a@example.com'), ('race-test-b@example.com') RETURNING id, email),
     u AS (INSERT INTO users (auth_user_id, workspace_id, email)
           SELECT au.id, ws.id, au.email FROM au JOIN ws ON ws.slug = 'race-test-' || split_part(split_part(au.email, '@', 1), '-', 3)
           RETURNING id, workspace_id, email),
     c AS (INSERT INTO workspace_credits (workspace_id, balance, total_purchased) SELECT workspace_id, 10, 10 FROM u)
SELECT (SELECT workspace_id FROM u WHERE email LIKE 'race-test-a%') AS ws_a, (SELECT id FROM u WHERE email LIKE 'race-test-a%') AS user_a,
       (SELECT workspace_id FROM u WHERE email LIKE 'race-test-b%') AS ws_b, (SELECT id FROM u WHERE email LIKE 'race-test-b%') AS user_b \gset

SELECT set_config('race.' || k, v, false) FROM (VALUES ('lead1', :'lead1'), ('lead2', :'lead2'), ('lead3', :'lead3'), ('lead4', :'lead4'),
  ('ws_a', :'ws_a'), ('ws_b', :'ws_b'), ('user_a', :'user_a'), ('user_b', :'user_b')) AS s(k, v) \g /dev/null
SELECT dblink_connect('buyer_a', :'dblink_conn');
SELECT dblink_connect('buyer_b', :'dblink_conn');

-- One step of the app, in session s: validate (true when it returned every lead), the pending purchase and
-- its items as the repository inserts them, the credit completion (its success column).
CREATE FUNCTION pg_temp.validate(s text, p_leads uuid[], ws uuid) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE n int;
BEGIN
  SELECT count(*) INTO n FROM dblink(s, format('SELECT id FROM validate_and_lock_leads_for_purchase(%L::uuid[], %L::uuid)', p_leads, ws), false) AS t(id uuid);
  RETURN n = cardinality(p_leads);
END $$;
CREATE FUNCTION pg_temp.pending_purchase(s text, p_leads uuid[], ws uuid, usr uuid, method text) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE v_id uuid; v_total numeric;
BEGIN
  SELECT sum(coalesce(marketplace_price, 0.05)) INTO v_total FROM leads WHERE id = ANY(p_leads);
  SELECT id INTO v_id FROM dblink(s, format(
    'INSERT INTO marketplace_purchases (buyer_workspace_id, buyer_user_id, total_leads, total_price, payment_method, credits_used, card_amount, status)
     VALUES (%L, %L, %s, %s, %L, %s, 0, ''pending'') RETURNING id',
    ws, usr, cardinality(p_leads), v_total, method, CASE WHEN method = 'credits' THEN v_total ELSE 0 END)) AS t(id uuid);
  PERFORM dblink_exec(s, format(
    'INSERT INTO marketplace_purchase_items (purchase_id, lead_id, price_at_purchase)
     SELECT %L, id, coalesce(marketplace_price, 0.05) FROM leads WHERE id = ANY(%L::uuid[])', v_id, p_leads));
  RETURN v_id;
END $$;
CREATE FUNCTION pg_temp.complete_credits(s text, purchase uuid, ws uuid, amount numeric) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE ok boolean;
BEGIN
  SELECT success INTO ok FROM dblink(s, format('SELECT * FROM complete_credit_lead_purchase(%L, %L, %s)', purchase, ws, amount), false)
    AS t(success boolean, new_credit_balance integer, error_message text);
  RETURN coalesce(ok, false);
END $$;
CREATE FUNCTION pg_temp.sales(lead uuid) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM marketplace_purchase_items i JOIN marketplace_purchases p ON p.id = i.purchase_id
  WHERE i.lead_id = lead AND p.status = 'completed'
$$;

-- 1. Two buyers, two sessions, one lead: both validate before either completes.
DO $$
DECLARE pa uuid; pb uuid; va boolean; vb boolean;
BEGIN
  va := pg_temp.validate('buyer_a', ARRAY[pg_temp.v('lead1')], pg_temp.v('ws_a'));
  vb := pg_temp.validate('buyer_b', ARRAY[pg_temp.v('lead1')], pg_temp.v('ws_b'));
  IF va THEN pa := pg_temp.pending_purchase('buyer_a', ARRAY[pg_temp.v('lead1')], pg_temp.v('ws_a'), pg_temp.v('user_a'), 'credits'); END IF;
  IF vb THEN pb := pg_temp.pending_purchase('buyer_b', ARRAY[pg_temp.v('lead1')], pg_temp.v('ws_b'), pg_temp.v('user_b'), 'credits'); END IF;
  IF pa IS NOT NULL THEN PERFORM pg_temp.complete_credits('buyer_a', pa, pg_temp.v('ws_a'), 1.00); END IF;
  IF pb IS NOT NULL THEN PERFORM pg_temp.complete_credits('buyer_b', pb, pg_temp.v('ws_b'), 1.00); END IF;
  IF pg_temp.sales(pg_temp.v('lead1')) <> 1 OR (SELECT sold_count FROM leads WHERE id = pg_temp.v('lead1')) <> 1 THEN
    RAISE EXCEPTION 'FAIL 1: lead sold % times (sold_count %) to two interleaved buyers',
      pg_temp.sales(pg_temp.v('lead1')), (SELECT sold_count FROM leads WHERE id = pg_temp.v('lead1'));
  END IF;
END $$;
\echo PASS 1: two sessions validating the same lead before completing sell it once

-- 2. A client retries the completion call: the purchase is charged once.
DO $$
DECLARE p uuid; before numeric; after numeric;
BEGIN
  SELECT balance INTO before FROM workspace_credits WHERE workspace_id = pg_temp.v('ws_b');
  IF NOT pg_temp.validate('buyer_b', ARRAY[pg_temp.v('lead2')]::uuid[], pg_temp.v('ws_b')) THEN RAISE EXCEPTION 'FAIL 2: lead 2 not available'; END IF;
  p := pg_temp.pending_purchase('buyer_b', ARRAY[pg_temp.v('lead2')]::uuid[], pg_temp.v('ws_b'), pg_temp.v('user_b'), 'credits');
  PERFORM pg_temp.complete_credits('buyer_b', p, pg_temp.v('ws_b'), 1.00);
  PERFORM pg_temp.complete_credits('buyer_a', p, pg_temp.v('ws_b'), 1.00);
  PERFORM pg_temp.complete_credits('buyer_b', p, pg_temp.v('ws_b'), 1.00);
  SELECT balance INTO after FROM workspace_credits WHERE workspace_id = pg_temp.v('ws_b');
  IF before - after <> 1.00 OR (SELECT sold_count FROM leads WHERE id = pg_temp.v('lead2')) <> 1 THEN
    RAISE EXCEPTION 'FAIL 2: three completion calls charged % (price 1.00), sold_count %', before - after,
      (SELECT sold_count FROM leads WHERE id = pg_temp.v('lead2'));
  END IF;
END $$;
\echo PASS 2: a retried completion charges and sells once

-- 3. A 0.05 lead costs 0.05 credits, and the balance keeps to the guide's formula.
DO $$
DECLARE p uuid; before numeric; after numeric;
BEGIN
  SELECT balance INTO before FROM workspace_credits WHERE workspace_id = pg_temp.v('ws_a');
  IF NOT pg_temp.validate('buyer_a', ARRAY[pg_temp.v('lead4')]::uuid[], pg_temp.v('ws_a')) THEN RAISE EXCEPTION 'FAIL 3: lead 4 not available'; END IF;
  BEGIN
    p := pg_temp.pending_purchase('buyer_a', ARRAY[pg_temp.v('lead4')]::uuid[], pg_temp.v('ws_a'), pg_temp.v('user_a'), 'credits');
  EXCEPTION WHEN OTHERS THEN
    RAISE EXCEPTION 'FAIL 3: the app''s insert of a 0.05 credit purchase fails: %', SQLERRM;
  END;
  PERFORM pg_temp.complete_credits('buyer_a', p, pg_temp.v('ws_a'), 0.05);
  SELECT balance INTO after FROM workspace_credits WHERE workspace_id = pg_temp.v('ws_a');
  IF before - after <> 0.05 THEN RAISE EXCEPTION 'FAIL 3: a 0.05 lead charged %', before - after; END IF;
  IF EXISTS (SELECT 1 FROM workspace_credits WHERE workspace_id IN (pg_temp.v('ws_a'), pg_temp.v('ws_b'))
             AND balance <> coalesce(total_purchased, 0) + coalesce(total_earned, 0) - coalesce(total_used, 0)) THEN
    RAISE EXCEPTION 'FAIL 3: a credit row is off balance = total_purchased + total_earned - total_used';
  END IF;
END $$;
\echo PASS 3: a 0.05 lead is charged 0.05 and balances keep to the formula

-- 4. A card checkout, then (its reservation run out) a credit buyer takes the lead, then the card payment's
--    webhook arrives: no second sale.
DO $$
DECLARE card uuid; p uuid;
BEGIN
  IF NOT pg_temp.validate('buyer_a', ARRAY[pg_temp.v('lead3')]::uuid[], pg_temp.v('ws_a')) THEN RAISE EXCEPTION 'FAIL 4: lead 3 not available'; END IF;
  card := pg_temp.pending_purchase('buyer_a', ARRAY[pg_temp.v('lead3')]::uuid[], pg_temp.v('ws_a'), pg_temp.v('user_a'), 'stripe');
  IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'leads'::regclass AND attname = 'reserved_until' AND NOT attisdropped) THEN
    -- From a session of its own: a lock held by this DO block's transaction would stall the calls below.
    PERFORM dblink_exec('buyer_b', format('UPDATE leads SET reserved_until = now() - interval ''1 second'' WHERE id = %L', pg_temp.v('lead3')));
  END IF;
  IF pg_temp.validate('buyer_b', ARRAY[pg_temp.v('lead3')]::uuid[], pg_temp.v('ws_b')) THEN
    p := pg_temp.pending_purchase('buyer_b', ARRAY[pg_temp.v('lead3')]::uuid[], pg_temp.v('ws_b'), pg_temp.v('user_b'), 'credits');
    PERFORM pg_temp.complete_credits('buyer_b', p, pg_temp.v('ws_b'), 1.00);
  END IF;
  PERFORM * FROM dblink('buyer_a', format('SELECT * FROM complete_stripe_lead_purchase(%L, NULL)', card), false) AS t(success boolean, already boolean, ids uuid[]);
  IF pg_temp.sales(pg_temp.v('lead3')) > 1 OR (SELECT sold_count FROM leads WHERE id = pg_temp.v('lead3')) > 1 THEN
    RAISE EXCEPTION 'FAIL 4: the late card payment sold the lead a second time (% sales)', pg_temp.sales(pg_temp.v('lead3'));
  END IF;
  IF pg_temp.sales(pg_temp.v('lead3')) = 1 AND (SELECT status FROM marketplace_purchases WHERE id = card) NOT IN ('completed', 'refund_required') THEN
    RAISE EXCEPTION 'FAIL 4: the card purchase ended %', (SELECT status FROM marketplace_purchases WHERE id = card);
  END IF;
END $$;
\echo PASS 4: a late card payment for a lead sold meanwhile is not a second sale

-- 5. Truly at once: session A holds the lead's row lock (a transaction left open), session B's validate
--    must not get the lead meanwhile.
DO $$
DECLARE r text; got boolean;
BEGIN
  PERFORM dblink_exec('buyer_a', 'BEGIN');
  PERFORM * FROM dblink('buyer_a', format('SELECT 1 FROM leads WHERE id = %L FOR UPDATE', pg_temp.v('lead2'))) AS t(x int);
  got := pg_temp.validate('buyer_b', ARRAY[pg_temp.v('lead2')]::uuid[], pg_temp.v('ws_b'));
  PERFORM dblink_exec('buyer_a', 'ROLLBACK');
  IF got THEN RAISE EXCEPTION 'FAIL 5: validate handed out a lead another session holds'; END IF;
END $$;
\echo PASS 5: a lead held by another session is not handed out

SELECT dblink_disconnect('buyer_a');
SELECT dblink_disconnect('buyer_b');
DELETE FROM workspaces WHERE slug LIKE 'race-test-%';
DELETE FROM auth.users WHERE email LIKE 'race-test-%@example.com';
DELETE FROM global_topics WHERE topic = 'race test';
\echo ALL PASS
