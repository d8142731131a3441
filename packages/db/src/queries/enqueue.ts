import { sql } from 'kysely';
import type { DB } from '../db.js';
import type { LockfileFormat } from '../schema.js';
import { Status } from '../status.js';
import { notifyRunnable } from './queue.js';
import { checkQueuedAfter, checkQuotaBefore, type UserQuota } from './quotas.js';

export interface LockfilePackage {
  name: string;
  version: string;
  integrity: string | null;
  resolved: string | null;
  /** The declared licence, as a string (SPDX expression) or the JSON text of a legacy form. */
  license: string | null;
  dev: boolean;
  optional: boolean;
  /** Yarn Berry only: its checksum of its own zip of the package. Recorded per request, never used as integrity. */
  yarnChecksum?: string | null;
}

export interface EnqueueInput {
  applicationName: string;
  applicationVersion: string;
  requestorId: number | null;
  /** Actor name recorded on the package events (the requestor's username). */
  actor: string;
  /** The lockfile as submitted: its JSON text (stored as is) or a value to serialise. */
  lockfile: unknown;
  /** Default npm. */
  lockfileFormat?: LockfileFormat;
  lockfileVersion: number;
  packages: LockfilePackage[];
  /** Claim priority of the request (lower runs sooner; default 0, normal). */
  priority?: number;
  /** When given, the upload is recorded in audit_log in the same transaction (action `request.upload`). */
  audit?: { ip: string | null };
  /** The requestor's limits (none for admins): checked in the same transaction, 429 when over. */
  quota?: UserQuota;
}

export interface EnqueueResult {
  requestId: number;
  packageCount: number;
  newCount: number;
  existingCount: number;
}

/**
 * Records a submitted lockfile in one transaction with a fixed number of statements whatever its size:
 * the request (after the requestor's quota is checked, under a per-user lock), every name@version upserted
 * into `packages`, new ones queued as Requested (with an event), every package linked as new or existing,
 * and one NOTIFY. A name@version already known is linked as existing and not queued again. Duplicate
 * name@version entries in the input are merged.
 */
export async function enqueueLockfile(db: DB, input: EnqueueInput): Promise<EnqueueResult> {
  const seen = new Map<string, LockfilePackage>();
  for (const p of input.packages) {
    const key = `${p.name}@${p.version}`;
    const prev = seen.get(key);
    // A package is dev/optional for this request only if every occurrence is.
    if (prev) {
      seen.set(key, {
        ...prev,
        dev: prev.dev && p.dev,
        optional: prev.optional && p.optional,
        yarnChecksum: prev.yarnChecksum ?? p.yarnChecksum,
      });
    } else seen.set(key, p);
  }
  const pkgs = [...seen.values()];
  const payload = JSON.stringify(pkgs);
  const priority = input.priority ?? 0;

  return db.transaction().execute(async (trx) => {
    const quota = input.quota !== undefined && input.requestorId !== null ? input.quota : undefined;
    const queuedBefore = quota ? await checkQuotaBefore(trx, input.requestorId!, quota) : 0;
    const req = await trx
      .insertInto('requests')
      .values({
        application_name: input.applicationName,
        application_version: input.applicationVersion,
        requestor_id: input.requestorId,
        lockfile: typeof input.lockfile === 'string' ? input.lockfile : JSON.stringify(input.lockfile),
        lockfile_version: input.lockfileVersion,
        lockfile_format: input.lockfileFormat ?? 'npm',
        priority,
        package_count: pkgs.length,
        new_count: 0,
        existing_count: 0,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const requestId = req.id;

    // New packages: insert, queue and record, in one statement.
    const inserted = await sql<{ id: number }>`
      WITH input AS (
        SELECT * FROM jsonb_to_recordset(${payload}::jsonb)
          AS x(name text, version text, integrity text, resolved text, license text, dev boolean, optional boolean)
      ), ins AS (
        INSERT INTO packages (name, version, integrity, resolved, declared_license)
        SELECT name, version, integrity, resolved, license FROM input
        ON CONFLICT (name, version) DO NOTHING
        RETURNING id
      ), st AS (
        INSERT INTO package_status (package_id, status, priority, request_id)
        SELECT id, ${Status.Requested}, ${priority}::int, ${requestId}::bigint FROM ins
      ), ev AS (
        INSERT INTO package_events (package_id, from_status, to_status, actor, actor_kind, reason)
        SELECT id, NULL, ${Status.Requested}, ${input.actor}, 'user', ${`submitted in request ${requestId}`} FROM ins
      )
      SELECT id FROM ins
    `.execute(trx);
    const newIds = inserted.rows.map((r) => r.id);
    if (quota) checkQueuedAfter(queuedBefore, newIds.length, quota);

    // Link every package (a new statement sees rows committed concurrently by another upload).
    const linked = await sql<{ new_count: number; existing_count: number }>`
      WITH input AS (
        SELECT * FROM jsonb_to_recordset(${payload}::jsonb)
          AS x(name text, version text, dev boolean, optional boolean, "yarnChecksum" text)
      ), links AS (
        INSERT INTO request_packages (request_id, package_id, link, dev, optional, yarn_checksum, package_name,
                                      package_version)
        SELECT ${requestId}, p.id, CASE WHEN p.id = ANY(${newIds}::bigint[]) THEN 'new' ELSE 'existing' END,
               i.dev, i.optional, i."yarnChecksum", p.name, p.version
        FROM input i JOIN packages p ON p.name = i.name AND p.version = i.version
        RETURNING link, package_id
      ), prio AS (
        -- A package already waiting in the queue runs as soon as the most urgent request holding it.
        UPDATE package_status ps SET priority = ${priority}::int
        FROM links l
        WHERE ps.package_id = l.package_id AND l.link = 'existing' AND ps.priority > ${priority}::int
          AND ps.status NOT IN (${Status.Published}, ${Status.Rejected})
      ), counts AS (
        SELECT count(*) FILTER (WHERE link = 'new')::int AS new_count,
               count(*) FILTER (WHERE link = 'existing')::int AS existing_count
        FROM links
      ), upd AS (
        UPDATE requests r SET new_count = c.new_count, existing_count = c.existing_count
        FROM counts c WHERE r.id = ${requestId}
        RETURNING r.new_count, r.existing_count
      ), aud AS (
        INSERT INTO audit_log (actor_id, actor_username, action, target_type, target_id, details, ip)
        SELECT ${input.requestorId}::int, ${input.actor}, 'request.upload', 'request', ${String(requestId)},
               jsonb_build_object('application_name', ${input.applicationName}::text,
                                  'application_version', ${input.applicationVersion}::text,
                                  'package_count', ${pkgs.length}::int,
                                  'new_packages', c.new_count, 'existing_packages', c.existing_count),
               ${input.audit?.ip ?? null}::text
        FROM counts c WHERE ${input.audit !== undefined}
      )
      SELECT new_count, existing_count FROM upd
    `.execute(trx);
    const counts = linked.rows[0]!;
    if (newIds.length > 0) await notifyRunnable(trx);
    return {
      requestId,
      packageCount: pkgs.length,
      newCount: Number(counts.new_count),
      existingCount: Number(counts.existing_count),
    };
  });
}
