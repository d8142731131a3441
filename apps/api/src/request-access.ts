import type { FastifyRequest } from 'fastify';
import { AppError, getRequest, type RequestSummary } from '@spm/db';
import { hasRole } from './plugins/auth.js';

/**
 * The request with this id, if the caller may see it: approvers and admins see every request, a plain
 * user only their own. Someone else's request is reported as not found, so ids reveal nothing.
 */
export async function visibleRequest(request: FastifyRequest, id: number): Promise<RequestSummary> {
  const r = await getRequest(request.server.db, id);
  if (!r || (!hasRole(request.user.role, 'approver') && r.requestorId !== request.user.id)) {
    throw new AppError('ERR_REQUEST_NOT_FOUND', `No request with id ${id}.`, { status: 404 });
  }
  return r;
}
