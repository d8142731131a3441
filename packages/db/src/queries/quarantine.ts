import { sql } from 'kysely';
import type { DB } from '../db.js';
import { AppError } from '../errors.js';
import { Status } from '../status.js';
import { quarantineSubquery, type QuarantiningAdvisory } from './advisory-findings.js';
import { recordAudit } from './audit.js';
import { insertWaiver } from './policy.js';

/** A published version whose deprecation on the target registry is not what its quarantine calls for. */
export interface DeprecationDue {
  packageId: number;
  name: string;
  version: string;
  /** The advisories quarantining it now (null: it should carry no quarantine deprecation). */
  quarantinedBy: QuarantiningAdvisory[] | null;
  /** What the target registry carries now (null: nothing we set). */
  current: string | null;
}

/**
 * Versions published to `target` that are quarantined without a deprecation there, or carry one but
 * are no longer quarantined (released, resolved): at most `limit`, oldest first.
 */
export async function targetDeprecationsDue(db: DB, target: string, limit: number): Promise<DeprecationDue[]> {
  const rows = await db
    .selectFrom('packages as p')
    .innerJoin('package_status as ps', 'ps.package_id', 'p.id')
    .select(['p.id as packageId', 'p.name', 'p.version', 'ps.target_deprecation as current'])
    .select(quarantineSubquery.as('quarantinedBy'))
    .where('ps.status', '=', Status.Published)
    .where('ps.published_to', '=', target)
    .where((eb) =>
      eb.or([
        eb.and([eb('ps.target_deprecation', 'is', null), sql<boolean>`${quarantineSubquery} IS NOT NULL`]),
        eb.and([eb('ps.target_deprecation', 'is not', null), sql<boolean>`${quarantineSubquery} IS NULL`]),
      ]),
    )
    .orderBy('p.id')
    .limit(limit)
    .execute();
  return rows;
}

/** Records the deprecation message the target registry now carries for the package (null: none). */
export async function setTargetDeprecation(db: DB, packageId: number, message: string | null): Promise<void> {
  await db
    .updateTable('package_status')
    .set({ target_deprecation: message })
    .where('package_id', '=', packageId)
    .execute();
}

interface Actor {
  userId: number;
  username: string;
  ip?: string | null;
}

/** The open quarantine findings of a package (with or without a release), for release and reject. */
async function openQuarantineFindings(db: DB, packageId: number) {
  return db
    .selectFrom('advisory_findings as f')
    .innerJoin('packages as p', 'p.id', 'f.package_id')
    .select(['f.id', 'f.advisory_id', 'p.name', 'p.version'])
    .where('f.package_id', '=', packageId)
    .where('f.action', '=', 'quarantine')
    .where('f.resolved_at', 'is', null)
    .orderBy('f.advisory_id')
    .execute();
}

/**
 * Releases a quarantined version: for each open quarantine finding (or only `advisoryId`'s) a waiver
 * of kind `advisory` for exactly this version, with the approver's reason, owner and expiry, linked to
 * the finding. The registry serves the version again while the waiver lives; when it expires or is
 * revoked the quarantine is back. Audited (`package.quarantine.release`). 404 when the package has no
 * open quarantine finding (for that advisory).
 */
export async function releaseQuarantine(
  db: DB,
  opts: Actor & { packageId: number; advisoryId?: string; reason: string; owner: string; expiresAt: Date },
): Promise<{ waiverIds: number[]; advisories: string[] }> {
  return db.transaction().execute(async (trx) => {
    const open = (await openQuarantineFindings(trx, opts.packageId)).filter(
      (f) => !opts.advisoryId || f.advisory_id === opts.advisoryId,
    );
    if (open.length === 0)
      throw new AppError(
        'ERR_NOT_QUARANTINED',
        opts.advisoryId
          ? `Package ${opts.packageId} is not quarantined by ${opts.advisoryId}.`
          : `Package ${opts.packageId} is not quarantined.`,
        { status: 404 },
      );
    const waiverIds: number[] = [];
    for (const f of open) {
      const w = await insertWaiver(trx, {
        packageName: f.name,
        versionRange: f.version,
        kind: 'advisory',
        subject: f.advisory_id,
        reason: opts.reason,
        owner: opts.owner,
        expiresAt: opts.expiresAt,
        userId: opts.userId,
        username: opts.username,
      });
      await trx.updateTable('advisory_findings').set({ release_waiver_id: w.id }).where('id', '=', f.id).execute();
      waiverIds.push(w.id);
    }
    await recordAudit(trx, {
      actorId: opts.userId,
      actorUsername: opts.username,
      action: 'package.quarantine.release',
      targetType: 'package',
      targetId: opts.packageId,
      details: {
        package: `${open[0]!.name}@${open[0]!.version}`,
        advisories: open.map((f) => f.advisory_id),
        waivers: waiverIds,
        reason: opts.reason,
        owner: opts.owner,
        expires_at: opts.expiresAt.toISOString(),
      },
      ip: opts.ip,
    });
    return { waiverIds, advisories: open.map((f) => f.advisory_id) };
  });
}

/**
 * Rejects a quarantined version for good: Approved, Published or waiting → Rejected (kind approver),
 * with the reason and the advisories, recorded in its history and audited
 * (`package.quarantine.reject`). The registry stops listing it at all; retry never undoes it.
 * 404 when the package has no open quarantine finding; 409 when it is in a work status (a worker holds
 * it; try again in a moment) or already rejected.
 */
export async function rejectQuarantined(
  db: DB,
  opts: Actor & { packageId: number; reason: string },
): Promise<{ advisories: string[] }> {
  return db.transaction().execute(async (trx) => {
    const open = await openQuarantineFindings(trx, opts.packageId);
    if (open.length === 0)
      throw new AppError('ERR_NOT_QUARANTINED', `Package ${opts.packageId} is not quarantined.`, { status: 404 });
    const advisories = open.map((f) => f.advisory_id);
    const why = `rejected after approval (${advisories.join(', ')}): ${opts.reason}`;
    const moved = await sql<{ from_status: string }>`
      WITH old AS (
        SELECT package_id, status FROM package_status
         WHERE package_id = ${opts.packageId}
           AND status IN (${Status.PendingApproval}, ${Status.Approved}, ${Status.Published})
         FOR UPDATE
      ), upd AS (
        UPDATE package_status ps
           SET status = ${Status.Rejected}, rejection_kind = 'approver', rejection_reason = ${why},
               rejected_from = old.status, rejected_by = ${opts.userId}, rejected_at = now(),
               run_at = now(), updated_at = now()
          FROM old WHERE ps.package_id = old.package_id
        RETURNING ps.package_id, old.status AS from_status
      )
      INSERT INTO package_events (package_id, from_status, to_status, actor, actor_kind, reason)
      SELECT package_id, from_status, ${Status.Rejected}, ${opts.username}, 'user', ${why} FROM upd
      RETURNING from_status
    `.execute(trx);
    if (moved.rows.length === 0)
      throw new AppError(
        'ERR_PACKAGE_BUSY',
        `Package ${opts.packageId} is being worked on or already rejected; look at its status and try again.`,
        { status: 409 },
      );
    await recordAudit(trx, {
      actorId: opts.userId,
      actorUsername: opts.username,
      action: 'package.quarantine.reject',
      targetType: 'package',
      targetId: opts.packageId,
      details: {
        package: `${open[0]!.name}@${open[0]!.version}`,
        advisories,
        from: moved.rows[0]!.from_status,
        reason: opts.reason,
      },
      ip: opts.ip,
    });
    return { advisories };
  });
}

/** One quarantined version, for the approvers' list. */
export interface QuarantinedVersion {
  packageId: number;
  name: string;
  version: string;
  status: string;
  advisories: QuarantiningAdvisory[];
}

/** Every version held in quarantine now (open, unreleased quarantine findings), newest finding first. */
export async function listQuarantined(db: DB, opts: { limit: number; offset: number }): Promise<QuarantinedVersion[]> {
  const rows = await db
    .selectFrom('packages as p')
    .innerJoin('package_status as ps', 'ps.package_id', 'p.id')
    .select(['p.id as packageId', 'p.name', 'p.version', 'ps.status'])
    .select(quarantineSubquery.as('advisories'))
    .where('ps.status', '!=', Status.Rejected)
    .where(sql<boolean>`${quarantineSubquery} IS NOT NULL`)
    .orderBy('p.name')
    .orderBy('p.id')
    .limit(opts.limit)
    .offset(opts.offset)
    .execute();
  return rows.map((r) => ({ ...r, advisories: r.advisories ?? [] }));
}
