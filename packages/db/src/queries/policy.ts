import { sql, type Kysely, type Transaction } from 'kysely';
import semver from 'semver';
import type { DB } from '../db.js';
import { recordAudit } from './audit.js';
import type { Database } from '../schema.js';
import { Status, WAKE_CHANNEL } from '../status.js';
import type { Severity } from '../vocabulary.js';
import { DEFAULT_POLICY } from '../policy/defaults.js';
import type {
  PolicyDecision,
  PolicyDocument,
  PolicyFinding,
  PolicyInput,
  PolicyWaiver,
  WaiverKind,
} from '../policy/types.js';

type Executor = Kysely<Database> | Transaction<Database>;

export interface PolicyVersion {
  version: number;
  document: PolicyDocument;
  comment: string | null;
  createdBy: string | null;
  createdAt: Date;
}

function versionRow(r: {
  version: number;
  document: unknown;
  comment: string | null;
  created_by_username: string | null;
  created_at: Date;
}): PolicyVersion {
  return {
    version: r.version,
    document: r.document as PolicyDocument,
    comment: r.comment,
    createdBy: r.created_by_username,
    createdAt: r.created_at,
  };
}

/**
 * The policy in force: the highest version. A database with none gets the default policy as version 1
 * (written once, whoever asks first).
 */
export async function currentPolicy(db: Executor): Promise<PolicyVersion> {
  const row = await db.selectFrom('policy_versions').selectAll().orderBy('version', 'desc').limit(1).executeTakeFirst();
  if (row) return versionRow(row);
  await sql`
    WITH ins AS (
      INSERT INTO policy_versions (version, document, comment)
      VALUES (1, ${JSON.stringify(DEFAULT_POLICY)}::jsonb, 'the default policy')
      ON CONFLICT (version) DO NOTHING RETURNING version
    )
    INSERT INTO policy_changes (kind, ref) SELECT 'policy', version::text FROM ins
  `.execute(db);
  return currentPolicy(db);
}

/**
 * The policy in force and the latest change generation, read in one statement so they belong
 * together: a package decided by this version with this generation is evaluated again only when a
 * later change (a new version, a waiver granted or revoked) is recorded.
 */
export async function policyInForce(db: Executor): Promise<{ policy: PolicyVersion; generation: number }> {
  const read = () =>
    sql<{
      version: number;
      document: unknown;
      comment: string | null;
      created_by_username: string | null;
      created_at: Date;
      generation: string;
    }>`
      SELECT v.version, v.document, v.comment, v.created_by_username, v.created_at,
             (SELECT coalesce(max(generation), 0) FROM policy_changes)::bigint AS generation
      FROM policy_versions v ORDER BY v.version DESC LIMIT 1
    `.execute(db);
  let res = await read();
  if (!res.rows[0]) {
    await currentPolicy(db);
    res = await read();
  }
  const row = res.rows[0]!;
  return { policy: versionRow(row), generation: Number(row.generation) };
}

/** Every version, newest first (documents included: they are small). */
export async function listPolicyVersions(
  db: DB,
  opts: { limit: number; offset: number },
): Promise<{ total: number; versions: PolicyVersion[] }> {
  await currentPolicy(db);
  const [rows, count] = await Promise.all([
    db
      .selectFrom('policy_versions')
      .selectAll()
      .orderBy('version', 'desc')
      .limit(opts.limit)
      .offset(opts.offset)
      .execute(),
    db
      .selectFrom('policy_versions')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow(),
  ]);
  return { total: Number(count.n), versions: rows.map(versionRow) };
}

export async function getPolicyVersion(db: DB, version: number): Promise<PolicyVersion | null> {
  const row = await db.selectFrom('policy_versions').selectAll().where('version', '=', version).executeTakeFirst();
  return row ? versionRow(row) : null;
}

/**
 * Writes a new policy version (the next number), records the change and the admin's audit entry in
 * one transaction, and wakes the workers so pending packages are evaluated again. Concurrent writers
 * are serialised by a transaction-level advisory lock, so version numbers have no gaps or clashes.
 */
export async function createPolicyVersion(
  db: DB,
  opts: { document: PolicyDocument; comment: string | null; userId: number; username: string; ip?: string | null },
): Promise<PolicyVersion> {
  await currentPolicy(db);
  return db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(hashtext('spm_policy_versions'))`.execute(trx);
    const row = await sql<{
      version: number;
      document: unknown;
      comment: string | null;
      created_by_username: string | null;
      created_at: Date;
    }>`
      INSERT INTO policy_versions (version, document, comment, created_by, created_by_username)
      SELECT coalesce(max(version), 0) + 1, ${JSON.stringify(opts.document)}::jsonb, ${opts.comment}, ${opts.userId}, ${opts.username}
      FROM policy_versions
      RETURNING version, document, comment, created_by_username, created_at
    `.execute(trx);
    const v = versionRow(row.rows[0]!);
    await trx
      .insertInto('policy_changes')
      .values({ kind: 'policy', ref: String(v.version) })
      .execute();
    await recordAudit(trx, {
      actorId: opts.userId,
      actorUsername: opts.username,
      action: 'policy.version.create',
      targetType: 'policy',
      targetId: v.version,
      details: { comment: opts.comment, rules: opts.document.rules.length },
      ip: opts.ip ?? null,
    });
    await sql`SELECT pg_notify(${WAKE_CHANNEL}, '')`.execute(trx);
    return v;
  });
}

export interface WaiverRow extends PolicyWaiver {
  createdBy: string | null;
  createdAt: Date;
  revokedAt: Date | null;
  revokedBy: string | null;
}

type WaiverDbRow = {
  id: number;
  package_name: string;
  version_range: string;
  kind: WaiverKind;
  subject: string;
  reason: string;
  owner: string;
  expires_at: Date;
  created_by_username: string | null;
  created_at: Date;
  revoked_at: Date | null;
  revoked_by_username: string | null;
};

function waiverRow(r: WaiverDbRow): WaiverRow {
  return {
    id: r.id,
    packageName: r.package_name,
    versionRange: r.version_range,
    kind: r.kind,
    subject: r.subject,
    reason: r.reason,
    owner: r.owner,
    expiresAt: r.expires_at,
    createdBy: r.created_by_username,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
    revokedBy: r.revoked_by_username,
  };
}

export interface NewWaiver {
  packageName: string;
  versionRange: string;
  kind: WaiverKind;
  subject: string;
  reason: string;
  owner: string;
  expiresAt: Date;
  userId: number;
  username: string;
  ip?: string | null;
}

/**
 * Inserts a waiver inside the caller's transaction: audited (`policy.waiver.create`), counted as a
 * policy change, and the workers woken so pending packages are evaluated again.
 */
export async function insertWaiver(trx: DB, opts: NewWaiver): Promise<WaiverRow> {
  const row = await trx
    .insertInto('waivers')
    .values({
      package_name: opts.packageName,
      version_range: opts.versionRange,
      kind: opts.kind,
      subject: opts.subject,
      reason: opts.reason,
      owner: opts.owner,
      expires_at: opts.expiresAt,
      created_by: opts.userId,
      created_by_username: opts.username,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await trx
    .insertInto('policy_changes')
    .values({ kind: 'waiver', ref: String(row.id) })
    .execute();
  await recordAudit(trx, {
    actorId: opts.userId,
    actorUsername: opts.username,
    action: 'policy.waiver.create',
    targetType: 'waiver',
    targetId: row.id,
    details: {
      package: opts.packageName,
      range: opts.versionRange,
      kind: opts.kind,
      subject: opts.subject,
      reason: opts.reason,
      owner: opts.owner,
      expiresAt: opts.expiresAt.toISOString(),
    },
    ip: opts.ip ?? null,
  });
  await sql`SELECT pg_notify(${WAKE_CHANNEL}, '')`.execute(trx);
  return waiverRow(row as WaiverDbRow);
}

/** Grants a waiver in its own transaction (see insertWaiver). */
export async function createWaiver(db: DB, opts: NewWaiver): Promise<WaiverRow> {
  return db.transaction().execute((trx) => insertWaiver(trx, opts));
}

/** Revokes a waiver; returns null when there is none with that id, the row unchanged when already revoked. */
export async function revokeWaiver(
  db: DB,
  opts: { id: number; userId: number; username: string; reason: string; ip?: string | null },
): Promise<WaiverRow | null> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .updateTable('waivers')
      .set({ revoked_at: sql<Date>`now()`, revoked_by_username: opts.username })
      .where('id', '=', opts.id)
      .where('revoked_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
    if (!row) {
      const existing = await trx.selectFrom('waivers').selectAll().where('id', '=', opts.id).executeTakeFirst();
      return existing ? waiverRow(existing as WaiverDbRow) : null;
    }
    await trx
      .insertInto('policy_changes')
      .values({ kind: 'waiver-revoked', ref: String(row.id) })
      .execute();
    await recordAudit(trx, {
      actorId: opts.userId,
      actorUsername: opts.username,
      action: 'policy.waiver.revoke',
      targetType: 'waiver',
      targetId: row.id,
      details: { reason: opts.reason },
      ip: opts.ip ?? null,
    });
    await sql`SELECT pg_notify(${WAKE_CHANNEL}, '')`.execute(trx);
    return waiverRow(row as WaiverDbRow);
  });
}

/** Waivers, newest first; `active` leaves out revoked and expired ones. */
export async function listWaivers(
  db: DB,
  opts: { active?: boolean; packageName?: string; limit: number; offset: number },
): Promise<{ total: number; waivers: WaiverRow[] }> {
  let q = db.selectFrom('waivers');
  if (opts.active) q = q.where('revoked_at', 'is', null).where('expires_at', '>', sql<Date>`now()`);
  if (opts.packageName) q = q.where(sql`lower(package_name)`, '=', opts.packageName.toLowerCase());
  const [rows, count] = await Promise.all([
    q.selectAll().orderBy('id', 'desc').limit(opts.limit).offset(opts.offset).execute(),
    q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { total: Number(count.n), waivers: rows.map((r) => waiverRow(r as WaiverDbRow)) };
}

/** The highest change generation (0 when nothing changed yet). */
export async function policyGeneration(db: Executor): Promise<number> {
  const r = await sql<{ g: number }>`SELECT coalesce(max(generation), 0)::bigint AS g FROM policy_changes`.execute(db);
  return Number(r.rows[0]?.g ?? 0);
}

const SEVERITY_SET = new Set<string>(['critical', 'high', 'medium', 'low', 'info']);

/** The scanner's stored findings as the policy reads them; anything malformed is dropped, never guessed. */
export function policyFindings(raw: unknown): PolicyFinding[] {
  if (!Array.isArray(raw)) return [];
  const out: PolicyFinding[] = [];
  for (const f of raw as Array<Record<string, unknown>>) {
    if (!f || typeof f.id !== 'string' || typeof f.source !== 'string') continue;
    const severity = (SEVERITY_SET.has(f.severity as string) ? f.severity : 'medium') as Severity;
    const pf: PolicyFinding = { id: f.id, source: f.source, severity };
    if (typeof f.title === 'string') pf.title = f.title;
    if (typeof f.evidence === 'string') pf.evidence = f.evidence;
    if (Array.isArray(f.aliases)) pf.aliases = f.aliases.filter((a): a is string => typeof a === 'string');
    if (f.malware === true) pf.malware = true;
    if (typeof f.cvss === 'number' && Number.isFinite(f.cvss)) pf.cvss = f.cvss;
    out.push(pf);
  }
  return out;
}

/**
 * Everything the policy needs about each package, read from the database in three set-based queries:
 * licence verdict, latest scan findings, registry facts stored by the decision stage, dev/optional use
 * (only-dev when every request including it marks it dev), the previous approved version's signals,
 * waivers for the name and any cooldown release. Dry-run and the worker both build inputs here.
 */
export async function policyInputs(db: Executor, packageIds: number[]): Promise<Map<number, PolicyInput>> {
  const out = new Map<number, PolicyInput>();
  if (packageIds.length === 0) return out;
  const rows = await sql<{
    id: number;
    name: string;
    version: string;
    license_tier: string | null;
    license_expression: string | null;
    registry_published_at: Date | null;
    registry_deprecated: boolean | null;
    cooldown_released_by: string | null;
    cooldown_release_reason: string | null;
    findings: unknown;
    has_scan: boolean;
    dev: boolean | null;
    optional: boolean | null;
  }>`
    SELECT p.id, p.name, p.version, ps.license_tier, ps.license_expression, ps.registry_published_at,
           ps.registry_deprecated, ps.cooldown_released_by, ps.cooldown_release_reason,
           s.findings, s.id IS NOT NULL AS has_scan, rp.dev, rp.optional
    FROM packages p
    JOIN package_status ps ON ps.package_id = p.id
    LEFT JOIN LATERAL (
      SELECT id, findings FROM security_scans WHERE package_id = p.id ORDER BY id DESC LIMIT 1
    ) s ON true
    LEFT JOIN LATERAL (
      SELECT bool_and(dev) AS dev, bool_and(optional) AS optional FROM request_packages WHERE package_id = p.id
    ) rp ON true
    WHERE p.id = ANY(${packageIds}::bigint[])
  `.execute(db);
  const names = [...new Set(rows.rows.map((r) => r.name))];
  const [approved, waivers] = await Promise.all([
    sql<{ name: string; version: string; signal_ids: string[] | null }>`
      SELECT p.name, p.version,
             (SELECT array_agg(DISTINCT f->>'id') FROM jsonb_array_elements(s.findings) f
              WHERE f->>'source' = 'signal') AS signal_ids
      FROM packages p
      JOIN package_status ps ON ps.package_id = p.id
      LEFT JOIN LATERAL (
        SELECT findings FROM security_scans WHERE package_id = p.id ORDER BY id DESC LIMIT 1
      ) s ON true
      WHERE p.name = ANY(${names}::text[])
        AND ps.status IN (${Status.Approved}, ${Status.Publishing}, ${Status.Published})
    `.execute(db),
    db
      .selectFrom('waivers')
      .selectAll()
      .where('revoked_at', 'is', null)
      .where(
        sql`lower(package_name)`,
        'in',
        names.map((n) => n.toLowerCase()),
      )
      .execute(),
  ]);
  const approvedByName = new Map<string, Array<{ version: string; signalIds: string[] }>>();
  for (const a of approved.rows) {
    if (!semver.valid(a.version)) continue;
    const list = approvedByName.get(a.name) ?? [];
    list.push({ version: a.version, signalIds: a.signal_ids ?? [] });
    approvedByName.set(a.name, list);
  }
  for (const r of rows.rows) {
    const prev = semver.valid(r.version)
      ? ((approvedByName.get(r.name) ?? [])
          .filter((a) => semver.lt(a.version, r.version))
          .sort((a, b) => semver.rcompare(a.version, b.version))[0] ?? null)
      : null;
    out.set(r.id, {
      name: r.name,
      version: r.version,
      licenseTier: r.license_tier,
      licenseExpression: r.license_expression,
      findings: r.has_scan ? policyFindings(r.findings) : null,
      previousApproved: prev,
      publishedAt: r.registry_published_at,
      deprecated: r.registry_deprecated,
      dev: r.dev ?? false,
      optional: r.optional ?? false,
      waivers: waivers
        .filter((w) => w.package_name.toLowerCase() === r.name.toLowerCase())
        .map((w) => waiverRow(w as WaiverDbRow)),
      cooldownRelease: r.cooldown_released_by
        ? { by: r.cooldown_released_by, reason: r.cooldown_release_reason ?? '' }
        : null,
    });
  }
  return out;
}

/** Where each outcome takes the package. */
export function statusForOutcome(outcome: PolicyDecision['outcome']): Status {
  switch (outcome) {
    case 'approve':
    case 'warn':
      return Status.Approved;
    case 'hold':
      return Status.PendingApproval;
    case 'reject':
      return Status.Rejected;
    case 'wait':
      return Status.SecurityScanned;
  }
}

/** The package_status columns that record a decision (the decide stage writes them with its transition). */
export function decisionColumns(d: PolicyDecision, generation: number, evaluatedAt: Date) {
  return {
    policy_version: d.policyVersion,
    policy_rule: d.rule ? d.rule.id : null,
    policy_outcome: d.outcome,
    policy_reason: d.reason,
    policy_decision: decisionJson(d),
    policy_generation: generation,
    policy_evaluated_at: evaluatedAt,
    cooldown_until: d.until ? new Date(d.until) : null,
  };
}

/** The decision as stored in package_status.policy_decision and the transition's event details. */
export function decisionJson(d: PolicyDecision) {
  return {
    policyVersion: d.policyVersion,
    outcome: d.outcome,
    rule: d.rule,
    reason: d.reason,
    until: d.until,
    matched: d.matched,
    waived: d.waived,
    expiredWaivers: d.expiredWaivers,
  };
}
