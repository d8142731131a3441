import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.

/**
 * Continuous protection: advisories that arrive after a version was approved.
 *
 * Matching a changed advisory against every approved version has to be one set-based statement, so
 * versions get a comparable form in the database itself: `spm_semver_key(v)` turns a semantic version
 * into text whose byte order (COLLATE "C") is semver precedence. Each numeric part is prefixed with its
 * length (so 10 sorts after 9), a release ends in `~` and a prerelease in `-` plus its identifiers
 * (numeric ones as `0<len><digits>`, alphanumeric ones as `1<text>`, joined by `!`, which sorts below
 * every identifier character, so a shorter list sorts first); build metadata is ignored, as semver
 * precedence does. A version that is not valid semver has no key and matches only an explicit list.
 *
 * `advisory_intervals` holds each affected entry as key intervals, derived by a statement trigger from
 * the OSV events as the specification evaluates them (events in version order; `introduced` opens,
 * `fixed` closes exclusive, `last_affected` inclusive; nothing at or past a `limit`), plus one point
 * per listed version. `advisory_findings` records every match of an advisory on an approved or published
 * version and whether it only flags the version or quarantines it; `advisory_sync_runs` records each
 * scheduled sync.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION spm_semver_key(v text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
    DECLARE
      m text[];
      key text;
      part text;
      first boolean := true;
    BEGIN
      m := regexp_match(v, '^v?(0|[1-9][0-9]{0,40})\\.(0|[1-9][0-9]{0,40})\\.(0|[1-9][0-9]{0,40})(?:-([0-9A-Za-z.-]+))?(?:\\+[0-9A-Za-z.-]+)?$');
      IF m IS NULL THEN RETURN NULL; END IF;
      key := chr(64 + length(m[1])) || m[1] || chr(64 + length(m[2])) || m[2] || chr(64 + length(m[3])) || m[3];
      IF m[4] IS NULL THEN RETURN key || '~'; END IF;
      key := key || '-';
      FOREACH part IN ARRAY string_to_array(m[4], '.') LOOP
        IF NOT first THEN key := key || '!'; END IF;
        first := false;
        IF part ~ '^(0|[1-9][0-9]{0,40})$' THEN
          key := key || '0' || chr(64 + length(part)) || part;
        ELSIF part ~ '^[0-9]*[A-Za-z-][0-9A-Za-z-]*$' THEN
          key := key || '1' || part;
        ELSE
          RETURN NULL;
        END IF;
      END LOOP;
      RETURN key;
    END
    $$;

    CREATE FUNCTION spm_osv_intervals(ranges jsonb, versions text[])
    RETURNS TABLE (lo_key text, hi_key text, hi_inclusive boolean)
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
    DECLARE
      r jsonb;
      e record;
      limit_key text;
      no_limit boolean;
      is_open boolean;
      open_key text;
      out_lo text[];
      out_hi text[];
      out_inc boolean[];
      i integer;
      lv text;
    BEGIN
      FOR r IN SELECT x FROM jsonb_array_elements(CASE WHEN jsonb_typeof(ranges) = 'array' THEN ranges ELSE '[]' END) x LOOP
        IF r ->> 'type' NOT IN ('SEMVER', 'ECOSYSTEM') OR jsonb_typeof(r -> 'events') <> 'array' THEN CONTINUE; END IF;
        -- Anything at or beyond the highest limit is outside the range; a limit of * is no limit.
        SELECT bool_or(ev ->> 'limit' LIKE '%*%'), max(spm_semver_key(ev ->> 'limit') COLLATE "C")
          INTO no_limit, limit_key
          FROM jsonb_array_elements(r -> 'events') ev WHERE ev ? 'limit';
        IF no_limit THEN limit_key := NULL; END IF;
        is_open := false;
        out_lo := '{}'; out_hi := '{}'; out_inc := '{}';
        FOR e IN
          SELECT s.kind, s.key FROM (
            SELECT k.kind, ev.n,
                   CASE WHEN k.kind = 'introduced' AND k.val = '0' THEN '' ELSE spm_semver_key(k.val) END AS key
              FROM jsonb_array_elements(r -> 'events') WITH ORDINALITY AS ev(doc, n)
              CROSS JOIN LATERAL (SELECT kv.key AS kind, kv.value AS val FROM jsonb_each_text(ev.doc) kv LIMIT 1) k
             WHERE k.kind IN ('introduced', 'fixed', 'last_affected')
          ) s ORDER BY s.key COLLATE "C", s.n
        LOOP
          CONTINUE WHEN e.key IS NULL;
          IF e.kind = 'introduced' AND NOT is_open THEN
            is_open := true; open_key := e.key;
          ELSIF e.kind IN ('fixed', 'last_affected') AND is_open THEN
            out_lo := out_lo || open_key; out_hi := out_hi || e.key; out_inc := out_inc || (e.kind = 'last_affected');
            is_open := false;
          END IF;
        END LOOP;
        IF is_open THEN
          out_lo := out_lo || open_key; out_hi := out_hi || NULL::text; out_inc := out_inc || false;
        END IF;
        FOR i IN 1 .. coalesce(array_length(out_lo, 1), 0) LOOP
          lo_key := out_lo[i]; hi_key := out_hi[i]; hi_inclusive := out_inc[i];
          IF limit_key IS NOT NULL THEN
            CONTINUE WHEN lo_key COLLATE "C" >= limit_key COLLATE "C";
            IF hi_key IS NULL OR hi_key COLLATE "C" >= limit_key COLLATE "C" THEN
              hi_key := limit_key; hi_inclusive := false;
            END IF;
          END IF;
          RETURN NEXT;
        END LOOP;
      END LOOP;
      FOREACH lv IN ARRAY coalesce(versions, '{}') LOOP
        lo_key := spm_semver_key(lv);
        CONTINUE WHEN lo_key IS NULL;
        hi_key := lo_key; hi_inclusive := true;
        RETURN NEXT;
      END LOOP;
    END
    $$;

    ALTER TABLE packages ADD COLUMN version_key text COLLATE "C" GENERATED ALWAYS AS (spm_semver_key(version)) STORED;
    CREATE INDEX packages_name_version_key_idx ON packages (name, version_key);

    CREATE TABLE advisory_intervals (
      affected_id bigint NOT NULL REFERENCES advisory_affected (id) ON DELETE CASCADE,
      advisory_id text NOT NULL,
      package_name text NOT NULL,
      lo_key text COLLATE "C" NOT NULL,
      hi_key text COLLATE "C",
      hi_inclusive boolean NOT NULL
    );
    CREATE INDEX advisory_intervals_advisory_idx ON advisory_intervals (advisory_id);
    CREATE INDEX advisory_intervals_affected_idx ON advisory_intervals (affected_id);

    INSERT INTO advisory_intervals (affected_id, advisory_id, package_name, lo_key, hi_key, hi_inclusive)
    SELECT af.id, af.advisory_id, af.package_name, i.lo_key, i.hi_key, i.hi_inclusive
      FROM advisory_affected af CROSS JOIN LATERAL spm_osv_intervals(af.ranges, af.versions) i;

    CREATE FUNCTION spm_advisory_intervals_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO advisory_intervals (affected_id, advisory_id, package_name, lo_key, hi_key, hi_inclusive)
      SELECT n.id, n.advisory_id, n.package_name, i.lo_key, i.hi_key, i.hi_inclusive
        FROM new_rows n CROSS JOIN LATERAL spm_osv_intervals(n.ranges, n.versions) i;
      RETURN NULL;
    END
    $$;
    CREATE TRIGGER advisory_affected_intervals AFTER INSERT ON advisory_affected
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION spm_advisory_intervals_insert();

    CREATE TABLE advisory_findings (
      id bigserial PRIMARY KEY,
      package_id bigint NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
      advisory_id text NOT NULL REFERENCES advisories (id) ON DELETE CASCADE,
      action text NOT NULL CHECK (action IN ('flag', 'quarantine')),
      first_matched_at timestamptz NOT NULL DEFAULT now(),
      matched_at timestamptz NOT NULL DEFAULT now(),
      resolved_at timestamptz,
      resolved_reason text,
      release_waiver_id bigint REFERENCES waivers (id) ON DELETE SET NULL,
      UNIQUE (package_id, advisory_id)
    );
    CREATE INDEX advisory_findings_advisory_idx ON advisory_findings (advisory_id);
    CREATE INDEX advisory_findings_open_quarantine_idx ON advisory_findings (package_id)
      WHERE action = 'quarantine' AND resolved_at IS NULL;

    -- The deprecation message this version carries on the target registry (null: none), so the worker
    -- knows what it still has to set or clear there.
    ALTER TABLE package_status ADD COLUMN target_deprecation text;

    CREATE TABLE advisory_sync_runs (
      id bigserial PRIMARY KEY,
      worker_id text,
      source text NOT NULL,
      started_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz,
      outcome text NOT NULL DEFAULT 'running' CHECK (outcome IN ('running', 'imported', 'not_modified', 'failed')),
      http_status integer,
      etag text,
      last_modified text,
      bytes bigint,
      read integer,
      written integer,
      unchanged integer,
      skipped integer,
      rejected integer,
      matched integer,
      newly_affected integer,
      quarantined integer,
      resolved integer,
      duration_ms integer,
      error text
    );
    CREATE INDEX advisory_sync_runs_started_idx ON advisory_sync_runs (started_at DESC);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE IF EXISTS advisory_sync_runs;
    ALTER TABLE package_status DROP COLUMN IF EXISTS target_deprecation;
    DROP TABLE IF EXISTS advisory_findings;
    DROP TRIGGER IF EXISTS advisory_affected_intervals ON advisory_affected;
    DROP FUNCTION IF EXISTS spm_advisory_intervals_insert();
    DROP TABLE IF EXISTS advisory_intervals;
    DROP INDEX IF EXISTS packages_name_version_key_idx;
    ALTER TABLE packages DROP COLUMN IF EXISTS version_key;
    DROP FUNCTION IF EXISTS spm_osv_intervals(jsonb, text[]);
    DROP FUNCTION IF EXISTS spm_semver_key(text);
  `.execute(db);
}
