import type { FastifyRequest } from 'fastify';
import { recordAudit } from '@spm/db';

/** Records a human action in audit_log as the request's user, with the client address. */
export async function audit(
  request: FastifyRequest,
  action: string,
  target: { type?: string; id?: string | number | null } = {},
  details?: unknown,
): Promise<void> {
  const user = request.user as { id: number; username: string } | undefined;
  await recordAudit(request.server.db, {
    actorId: user?.id ?? null,
    actorUsername: user?.username ?? null,
    action,
    targetType: target.type ?? null,
    targetId: target.id ?? null,
    details,
    ip: request.ip,
  });
}
