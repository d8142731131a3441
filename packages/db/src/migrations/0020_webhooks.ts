import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.

/**
 * Webhooks: endpoints registered by admins, an outbox of events, and one delivery per endpoint and
 * event. Package events are written by a trigger in the same transaction as the status change that
 * causes them (so a crash can lose neither); the worker delivers them. `requests.settled_notified_at`
 * marks a request whose `request.settled` event was written.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE webhooks (
      id serial PRIMARY KEY,
      url text NOT NULL,
      secret text NOT NULL,
      events text[] NOT NULL,
      description text,
      enabled boolean NOT NULL DEFAULT true,
      created_by integer REFERENCES users(id) ON DELETE SET NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE webhook_events (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      type text NOT NULL,
      ordering_key text NOT NULL,
      package_id integer REFERENCES packages(id) ON DELETE SET NULL,
      request_id integer REFERENCES requests(id) ON DELETE SET NULL,
      payload jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp()
    );

    CREATE TABLE webhook_deliveries (
      id bigserial PRIMARY KEY,
      webhook_id integer NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
      event_id uuid NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
      ordering_key text NOT NULL,
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
      attempts integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      locked_until timestamptz,
      last_status_code integer,
      last_error text,
      last_attempt_at timestamptz,
      delivered_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (webhook_id, event_id)
    );
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
    CREATE INDEX webhook_deliveries_order ON webhook_deliveries (webhook_id, ordering_key, id) WHERE status = 'pending';
    CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, id DESC);

    ALTER TABLE requests ADD COLUMN settled_notified_at timestamptz;
    -- Requests that exist now are not news to an endpoint registered later.
    UPDATE requests SET settled_notified_at = now();
    CREATE INDEX requests_settled_unnotified ON requests (id) WHERE settled_notified_at IS NULL;

    CREATE FUNCTION spm_webhook_package_event() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      etype text;
      ev uuid;
      pkg record;
    BEGIN
      etype := CASE NEW.status
        WHEN 'Pending Approval' THEN 'package.pending_approval'
        WHEN 'Rejected' THEN 'package.rejected'
        WHEN 'Published' THEN 'package.published'
      END;
      IF etype IS NULL OR NOT EXISTS (SELECT 1 FROM webhooks WHERE enabled AND etype = ANY (events)) THEN
        RETURN NULL;
      END IF;
      SELECT name, version INTO pkg FROM packages WHERE id = NEW.package_id;
      INSERT INTO webhook_events (type, ordering_key, package_id, payload)
      VALUES (
        etype,
        'package:' || NEW.package_id,
        NEW.package_id,
        jsonb_build_object(
          'package', jsonb_build_object(
            'id', NEW.package_id,
            'name', pkg.name,
            'version', pkg.version,
            'status', NEW.status,
            'previous_status', OLD.status,
            'rejection', CASE WHEN NEW.status = 'Rejected'
              THEN jsonb_build_object('kind', NEW.rejection_kind, 'reason', NEW.rejection_reason) END,
            'security_score', NEW.security_score,
            'license', NEW.license_expression
          )
        )
      )
      RETURNING id INTO ev;
      INSERT INTO webhook_deliveries (webhook_id, event_id, ordering_key)
      SELECT id, ev, 'package:' || NEW.package_id FROM webhooks WHERE enabled AND etype = ANY (events);
      RETURN NULL;
    END
    $$;

    CREATE TRIGGER package_status_webhook_event
      AFTER UPDATE OF status ON package_status
      FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
      EXECUTE FUNCTION spm_webhook_package_event();
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TRIGGER IF EXISTS package_status_webhook_event ON package_status;
    DROP FUNCTION IF EXISTS spm_webhook_package_event();
    ALTER TABLE requests DROP COLUMN IF EXISTS settled_notified_at;
    DROP TABLE IF EXISTS webhook_deliveries;
    DROP TABLE IF EXISTS webhook_events;
    DROP TABLE IF EXISTS webhooks;
  `.execute(db);
}
