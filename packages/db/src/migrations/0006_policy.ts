import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.

/**
 * The approval policy. Versioned policies (a new row per change, old ones kept), waivers, and an
 * append-only list of policy changes whose generation numbers tell the worker which pending packages
 * were decided before the latest change. The decision stage gets its own work status (`Applying
 * Policy`) between the Security Scanned checkpoint and the outcome, and every package records the
 * decision: policy version, deciding rule, outcome, reason, and the registry facts it used.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE policy_versions (
      version integer PRIMARY KEY,
      document jsonb NOT NULL,
      comment text,
      created_by integer REFERENCES users (id) ON DELETE SET NULL,
      created_by_username text,
      created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE waivers (
      id bigserial PRIMARY KEY,
      package_name text NOT NULL,
      version_range text NOT NULL,
      kind text NOT NULL CHECK (kind IN ('advisory', 'signal', 'license')),
      subject text NOT NULL,
      reason text NOT NULL,
      owner text NOT NULL,
      expires_at timestamptz NOT NULL,
      created_by integer REFERENCES users (id) ON DELETE SET NULL,
      created_by_username text,
      created_at timestamptz NOT NULL DEFAULT now(),
      revoked_at timestamptz,
      revoked_by_username text
    );
    CREATE INDEX waivers_name_idx ON waivers (package_name) WHERE revoked_at IS NULL;

    -- Every change that can alter a decision (a policy version, a waiver granted or revoked), numbered.
    CREATE TABLE policy_changes (
      generation bigserial PRIMARY KEY,
      kind text NOT NULL,
      ref text,
      created_at timestamptz NOT NULL DEFAULT now()
    );

    ALTER TABLE package_status
      ADD COLUMN policy_version integer,
      ADD COLUMN policy_rule text,
      ADD COLUMN policy_outcome text CHECK (policy_outcome IN ('approve', 'warn', 'hold', 'reject', 'wait')),
      ADD COLUMN policy_reason text,
      ADD COLUMN policy_decision jsonb,
      ADD COLUMN policy_generation bigint,
      ADD COLUMN policy_evaluated_at timestamptz,
      ADD COLUMN cooldown_until timestamptz,
      ADD COLUMN registry_published_at timestamptz,
      ADD COLUMN registry_deprecated boolean,
      ADD COLUMN cooldown_released_by text,
      ADD COLUMN cooldown_release_reason text,
      ADD COLUMN cooldown_released_at timestamptz;

    ALTER TABLE package_status DROP CONSTRAINT package_status_status_check;
    ALTER TABLE package_status ADD CONSTRAINT package_status_status_check CHECK (status IN ('Requested',
      'Checking Licence', 'Licence Checked', 'Downloading', 'Downloaded', 'Security Scanning', 'Security Scanned',
      'Applying Policy', 'Pending Approval', 'Approved', 'Publishing', 'Published', 'Rejected'));
    ALTER TABLE package_status DROP CONSTRAINT package_status_check;
    ALTER TABLE package_status ADD CONSTRAINT package_status_lease_check CHECK (
      (status IN ('Checking Licence', 'Downloading', 'Security Scanning', 'Applying Policy', 'Publishing'))
      = (locked_by IS NOT NULL AND locked_until IS NOT NULL));

    DROP INDEX package_status_runnable_idx;
    CREATE INDEX package_status_runnable_idx ON package_status (priority, run_at, package_id)
      WHERE status IN ('Requested', 'Licence Checked', 'Downloaded', 'Security Scanned', 'Approved');
    CREATE INDEX package_status_policy_pending_idx ON package_status (policy_generation)
      WHERE status IN ('Pending Approval', 'Security Scanned');
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP INDEX package_status_policy_pending_idx;
    DROP INDEX package_status_runnable_idx;
    CREATE INDEX package_status_runnable_idx ON package_status (priority, run_at, package_id)
      WHERE status IN ('Requested', 'Licence Checked', 'Downloaded', 'Approved');
    UPDATE package_status SET status = 'Security Scanned', locked_by = NULL, locked_until = NULL
      WHERE status = 'Applying Policy';
    ALTER TABLE package_status DROP CONSTRAINT package_status_lease_check;
    ALTER TABLE package_status ADD CONSTRAINT package_status_check CHECK (
      (status IN ('Checking Licence', 'Downloading', 'Security Scanning', 'Publishing'))
      = (locked_by IS NOT NULL AND locked_until IS NOT NULL));
    ALTER TABLE package_status DROP CONSTRAINT package_status_status_check;
    ALTER TABLE package_status ADD CONSTRAINT package_status_status_check CHECK (status IN ('Requested',
      'Checking Licence', 'Licence Checked', 'Downloading', 'Downloaded', 'Security Scanning', 'Security Scanned',
      'Pending Approval', 'Approved', 'Publishing', 'Published', 'Rejected'));
    ALTER TABLE package_status
      DROP COLUMN policy_version, DROP COLUMN policy_rule, DROP COLUMN policy_outcome, DROP COLUMN policy_reason,
      DROP COLUMN policy_decision, DROP COLUMN policy_generation, DROP COLUMN policy_evaluated_at,
      DROP COLUMN cooldown_until, DROP COLUMN registry_published_at, DROP COLUMN registry_deprecated,
      DROP COLUMN cooldown_released_by, DROP COLUMN cooldown_release_reason, DROP COLUMN cooldown_released_at;
    DROP TABLE policy_changes;
    DROP TABLE waivers;
    DROP TABLE policy_versions;
  `.execute(db);
}
