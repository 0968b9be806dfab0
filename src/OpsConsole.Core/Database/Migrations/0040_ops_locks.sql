-- 0040_ops_locks.sql
--
-- The lock views (/locks): the contention history the shared sampler keeps (one row per sample
-- slot, whichever console instance wrote it first), the append-only record of every cancel or
-- terminate the console sent, and the row resolver that names the lead, workspace or purchase a
-- session waits on.
--
-- Idempotent: applies with plain psql (-v ON_ERROR_STOP=1) and again without error. No psql
-- meta-commands, no BEGIN/COMMIT (DbUp wraps the script in one transaction), no line holding only
-- a semicolon (DbUp splits there).

CREATE SCHEMA IF NOT EXISTS ops;

-- One row per sample slot (the sample time rounded down to Locks:SampleInterval): every instance
-- samples, the first to insert a slot writes it (ON CONFLICT DO NOTHING), so the history is the
-- same whichever instance a page is on. Deadlocks are pg_stat_database's counter (deltas are taken
-- when read); conflicts are the purchase_conflict audit rows of the slot's interval.
CREATE TABLE IF NOT EXISTS ops.lock_samples (
    sampled_at        timestamptz NOT NULL PRIMARY KEY,
    waiting_sessions  int         NOT NULL,
    blocking_sessions int         NOT NULL,
    longest_wait_ms   bigint      NOT NULL,
    blocked_purchases int         NOT NULL,
    deadlocks_total   bigint      NOT NULL,
    conflicts         int         NOT NULL,
    timed_out         boolean     NOT NULL DEFAULT false
);

-- Every cancel or terminate the console actually sent, with what the session was doing and what it
-- blocked. Append-only: a trigger refuses UPDATE, DELETE and TRUNCATE, and the runtime role may only
-- read and insert.
CREATE TABLE IF NOT EXISTS ops.lock_actions (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_id        text        NOT NULL,
    actor           text        NOT NULL,
    action          text        NOT NULL,
    pid             int         NOT NULL,
    backend_start   timestamptz NOT NULL,
    username        text,
    application     text,
    query           text,
    blocked_pids    int[]       NOT NULL DEFAULT '{}',
    blocked_queries text[]      NOT NULL DEFAULT '{}',
    reason          text        NOT NULL,
    result          text        NOT NULL,
    CONSTRAINT lock_actions_action_known CHECK (action IN ('cancel', 'terminate')),
    CONSTRAINT lock_actions_reason_given CHECK (length(btrim(reason)) > 0)
);

CREATE INDEX IF NOT EXISTS lock_actions_at_idx ON ops.lock_actions (at DESC);

CREATE OR REPLACE FUNCTION ops.lock_actions_refuse_change()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    RAISE EXCEPTION 'ops.lock_actions is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$fn$;

CREATE OR REPLACE TRIGGER lock_actions_append_only
    BEFORE UPDATE OR DELETE ON ops.lock_actions
    FOR EACH ROW EXECUTE FUNCTION ops.lock_actions_refuse_change();

CREATE OR REPLACE TRIGGER lock_actions_no_truncate
    BEFORE TRUNCATE ON ops.lock_actions
    FOR EACH STATEMENT EXECUTE FUNCTION ops.lock_actions_refuse_change();

-- Names the rows behind tuple locks: (relation, page, tuple) -> the lead and its seller, the
-- workspace and its name, the purchase and its buyer. Each table is read in a block of its own, so
-- a table nobody can read right now (an ACCESS EXCLUSIVE lock held or queued on it, as a long
-- migration takes) gives up under the caller's lock_timeout and is reported as unresolved, while
-- the other tables still resolve. SECURITY INVOKER: it reads with the caller's rights.
CREATE OR REPLACE FUNCTION ops.resolve_locked_rows(p_relations oid[], p_pages int[], p_tuples int[])
RETURNS TABLE (relation oid, page int, tuple int, kind text, row_id uuid, owner_id uuid, owner_name text, unresolved text)
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $fn$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['leads', 'workspace_credits', 'marketplace_purchases'] LOOP
        CONTINUE WHEN NOT (to_regclass('public.' || t) = ANY (p_relations));
        BEGIN
            IF t = 'leads' THEN
                RETURN QUERY
                    SELECT w.rel, w.pg, w.tp, 'lead'::text, l.id, l.workspace_id, ws.name, NULL::text
                    FROM unnest(p_relations, p_pages, p_tuples) AS w(rel, pg, tp)
                    LEFT JOIN public.leads AS l ON l.ctid = format('(%s,%s)', w.pg, w.tp)::tid
                    LEFT JOIN public.workspaces AS ws ON ws.id = l.workspace_id
                    WHERE w.rel = 'public.leads'::regclass;
            ELSIF t = 'workspace_credits' THEN
                RETURN QUERY
                    SELECT w.rel, w.pg, w.tp, 'workspace'::text, c.workspace_id, c.workspace_id, ws.name, NULL::text
                    FROM unnest(p_relations, p_pages, p_tuples) AS w(rel, pg, tp)
                    LEFT JOIN public.workspace_credits AS c ON c.ctid = format('(%s,%s)', w.pg, w.tp)::tid
                    LEFT JOIN public.workspaces AS ws ON ws.id = c.workspace_id
                    WHERE w.rel = 'public.workspace_credits'::regclass;
            ELSE
                RETURN QUERY
                    SELECT w.rel, w.pg, w.tp, 'purchase'::text, p.id, p.buyer_workspace_id, ws.name, NULL::text
                    FROM unnest(p_relations, p_pages, p_tuples) AS w(rel, pg, tp)
                    LEFT JOIN public.marketplace_purchases AS p ON p.ctid = format('(%s,%s)', w.pg, w.tp)::tid
                    LEFT JOIN public.workspaces AS ws ON ws.id = p.buyer_workspace_id
                    WHERE w.rel = 'public.marketplace_purchases'::regclass;
            END IF;
        EXCEPTION WHEN lock_not_available OR query_canceled OR insufficient_privilege THEN
            RETURN QUERY
                SELECT w.rel, w.pg, w.tp, NULL::text, NULL::uuid, NULL::uuid, NULL::text,
                       format('%s could not be read (%s)', t, SQLERRM)
                FROM unnest(p_relations, p_pages, p_tuples) AS w(rel, pg, tp)
                WHERE w.rel = to_regclass('public.' || t);
        END;
    END LOOP;
END
$fn$;

GRANT USAGE ON SCHEMA ops TO opsconsole_runtime;
-- The history: the sampler inserts, the page reads, retention deletes old slots.
GRANT SELECT, INSERT, DELETE ON ops.lock_samples TO opsconsole_runtime;
-- The action record: read and append only.
GRANT SELECT, INSERT ON ops.lock_actions TO opsconsole_runtime;
GRANT USAGE ON SEQUENCE ops.lock_actions_id_seq TO opsconsole_runtime;
GRANT EXECUTE ON FUNCTION ops.resolve_locked_rows(oid[], int[], int[]) TO opsconsole_runtime;
