import { sql } from 'kysely';
import type { DB } from '../db.js';

export interface AuditInput {
  actorId: number | null;
  actorUsername: string | null;
  action: string;
  targetType?: string | null;
  targetId?: string | number | null;
  details?: unknown;
  ip?: string | null;
}

/** Appends one entry to the audit log. */
export async function recordAudit(db: DB, e: AuditInput): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      actor_id: e.actorId,
      actor_username: e.actorUsername,
      action: e.action,
      target_type: e.targetType ?? null,
      target_id: e.targetId === undefined || e.targetId === null ? null : String(e.targetId),
      details: e.details === undefined ? null : JSON.stringify(e.details),
      ip: e.ip ?? null,
    })
    .execute();
}

export interface AuditFilter {
  /** Exact action, or a prefix when it ends with `.*` (`package.*`). */
  action?: string;
  /** Actor username (exact). */
  actor?: string;
  from?: Date;
  to?: Date;
  limit: number;
  offset: number;
}

export interface AuditRow {
  id: number;
  actorId: number | null;
  actorUsername: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  details: unknown;
  ip: string | null;
  createdAt: Date;
}

/** Audit entries, newest first, with the total matching the filter. */
export async function listAudit(db: DB, f: AuditFilter): Promise<{ total: number; entries: AuditRow[] }> {
  let q = db.selectFrom('audit_log');
  if (f.action !== undefined) {
    if (f.action.endsWith('.*')) {
      const prefix = f.action.slice(0, -1).replace(/[\\%_]/g, (c) => `\\${c}`);
      q = q.where('action', 'like', `${prefix}%`);
    } else q = q.where('action', '=', f.action);
  }
  if (f.actor !== undefined) q = q.where('actor_username', '=', f.actor);
  if (f.from !== undefined) q = q.where('created_at', '>=', f.from);
  if (f.to !== undefined) q = q.where('created_at', '<=', f.to);
  const [count, rows] = await Promise.all([
    q.select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow(),
    q.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit).offset(f.offset).execute(),
  ]);
  return {
    total: count.n,
    entries: rows.map((r) => ({
      id: r.id,
      actorId: r.actor_id,
      actorUsername: r.actor_username,
      action: r.action,
      targetType: r.target_type,
      targetId: r.target_id,
      details: r.details,
      ip: r.ip,
      createdAt: r.created_at,
    })),
  };
}
