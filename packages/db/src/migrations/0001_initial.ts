import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE users (
      id serial PRIMARY KEY,
      username text NOT NULL UNIQUE CHECK (length(username) BETWEEN 1 AND 100),
      password_hash text NOT NULL,
      role text NOT NULL CHECK (role IN ('user', 'approver', 'admin')),
      disabled boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE supported_licenses (
      id serial PRIMARY KEY,
      spdx_id text NOT NULL UNIQUE,
      name text NOT NULL,
      tier text NOT NULL CHECK (tier IN ('always_allowed', 'allowed', 'avoid', 'blocked')),
      notes text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE requests (
      id bigserial PRIMARY KEY,
      application_name text NOT NULL,
      application_version text NOT NULL,
      requestor_id integer REFERENCES users (id) ON DELETE SET NULL,
      -- json, not jsonb: the lockfile is kept as submitted (text, key order and all) and never queried into.
      lockfile json NOT NULL,
      lockfile_version integer NOT NULL,
      package_count integer NOT NULL,
      new_count integer NOT NULL,
      existing_count integer NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX requests_requestor_idx ON requests (requestor_id, id DESC);

    CREATE TABLE packages (
      id bigserial PRIMARY KEY,
      name text NOT NULL,
      version text NOT NULL,
      integrity text,
      resolved text,
      declared_license text,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (name, version)
    );

    CREATE TABLE request_packages (
      request_id bigint NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
      package_id bigint NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
      link text NOT NULL CHECK (link IN ('new', 'existing')),
      dev boolean NOT NULL DEFAULT false,
      optional boolean NOT NULL DEFAULT false,
      PRIMARY KEY (request_id, package_id)
    );
    CREATE INDEX request_packages_package_idx ON request_packages (package_id);

    CREATE TABLE package_status (
      package_id bigint PRIMARY KEY REFERENCES packages (id) ON DELETE CASCADE,
      status text NOT NULL,
      attempts integer NOT NULL DEFAULT 0,
      run_at timestamptz NOT NULL DEFAULT now(),
      priority integer NOT NULL DEFAULT 0,
      locked_by text,
      locked_until timestamptz,
      stage_started_at timestamptz,
      last_error text,
      rejection_kind text CHECK (rejection_kind IN ('policy', 'error', 'approver')),
      rejection_reason text,
      rejected_from text,
      license_expression text,
      license_tier text,
      license_score integer,
      license_flags text[] NOT NULL DEFAULT '{}',
      security_score integer,
      scan_state text,
      checksum text,
      size_bytes bigint,
      storage_key text,
      registry_integrity text,
      approved_by integer REFERENCES users (id) ON DELETE SET NULL,
      approved_at timestamptz,
      rejected_by integer REFERENCES users (id) ON DELETE SET NULL,
      rejected_at timestamptz,
      published_at timestamptz,
      published_to text,
      stuck_resets integer NOT NULL DEFAULT 0,
      retries integer NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CHECK (status IN ('Requested', 'Checking Licence', 'Licence Checked', 'Downloading', 'Downloaded',
        'Security Scanning', 'Security Scanned', 'Pending Approval', 'Approved', 'Publishing', 'Published', 'Rejected')),
      -- Work statuses always carry a lease.
      CHECK ((status IN ('Checking Licence', 'Downloading', 'Security Scanning', 'Publishing'))
             = (locked_by IS NOT NULL AND locked_until IS NOT NULL))
    );
    -- The claim query's access path: only runnable checkpoints, in claim order.
    CREATE INDEX package_status_runnable_idx ON package_status (priority, run_at, package_id)
      WHERE status IN ('Requested', 'Licence Checked', 'Downloaded', 'Approved');
    CREATE INDEX package_status_working_idx ON package_status (locked_until)
      WHERE locked_by IS NOT NULL;
    CREATE INDEX package_status_status_idx ON package_status (status);

    CREATE TABLE security_scans (
      id bigserial PRIMARY KEY,
      package_id bigint NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
      scanners jsonb NOT NULL,
      critical integer NOT NULL DEFAULT 0,
      high integer NOT NULL DEFAULT 0,
      medium integer NOT NULL DEFAULT 0,
      low integer NOT NULL DEFAULT 0,
      info integer NOT NULL DEFAULT 0,
      findings jsonb NOT NULL DEFAULT '[]',
      malware boolean NOT NULL DEFAULT false,
      score integer NOT NULL,
      duration_ms integer NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX security_scans_package_idx ON security_scans (package_id, id DESC);

    -- Append-only history, written only by the queue functions in the same statement as the status change
    -- they record. No foreign key: a per-row RI check on every event is the largest single cost of
    -- enqueueing a big lockfile, and the package row always exists by construction.
    CREATE TABLE package_events (
      id bigserial PRIMARY KEY,
      package_id bigint NOT NULL,
      from_status text,
      to_status text NOT NULL,
      actor text NOT NULL,
      actor_kind text NOT NULL CHECK (actor_kind IN ('worker', 'user', 'system')),
      reason text,
      attempt integer,
      details jsonb,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX package_events_package_idx ON package_events (package_id, id);

    CREATE TABLE advisories (
      id text PRIMARY KEY,
      modified timestamptz NOT NULL,
      published timestamptz,
      withdrawn timestamptz,
      aliases text[] NOT NULL DEFAULT '{}',
      summary text,
      severity text,
      cvss_vector text,
      malware boolean NOT NULL DEFAULT false,
      raw jsonb NOT NULL,
      imported_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE advisory_affected (
      id bigserial PRIMARY KEY,
      advisory_id text NOT NULL REFERENCES advisories (id) ON DELETE CASCADE,
      package_name text NOT NULL,
      ranges jsonb NOT NULL DEFAULT '[]',
      versions text[] NOT NULL DEFAULT '{}',
      fixed_versions text[] NOT NULL DEFAULT '{}'
    );
    CREATE INDEX advisory_affected_name_idx ON advisory_affected (package_name);
    CREATE INDEX advisory_affected_advisory_idx ON advisory_affected (advisory_id);

    CREATE TABLE workers (
      id text PRIMARY KEY,
      hostname text NOT NULL,
      pid integer NOT NULL,
      version text,
      started_at timestamptz NOT NULL DEFAULT now(),
      last_heartbeat timestamptz NOT NULL DEFAULT now(),
      stopped_at timestamptz,
      in_flight integer NOT NULL DEFAULT 0
    );

    CREATE TABLE audit_log (
      id bigserial PRIMARY KEY,
      actor_id integer REFERENCES users (id) ON DELETE SET NULL,
      actor_username text,
      action text NOT NULL,
      target_type text,
      target_id text,
      details jsonb,
      ip text,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX audit_log_created_idx ON audit_log (created_at DESC, id DESC);
    CREATE INDEX audit_log_action_idx ON audit_log (action);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE IF EXISTS audit_log, workers, advisory_affected, advisories, package_events, security_scans,
      package_status, request_packages, packages, requests, supported_licenses, users CASCADE;
  `.execute(db);
}
