import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE } from '@spm/db';

/*
 * How the web app holds its credentials. The browser never sees the token: POST /api/auth/session puts
 * the same JWT that POST /api/auth/login returns into an httpOnly cookie (so script injected into the
 * page cannot read or exfiltrate it), SameSite=Strict (other sites' pages do not send it) and Secure
 * when the API is reached over https. Cookies are sent by the browser on its own, so a state-changing
 * request authenticated by the cookie must also prove it comes from our page: it carries the CSRF
 * token in a header, which another origin cannot set or read. The CSRF token is an HMAC of the session
 * token (nothing to store server-side) and reaches the page in the login answer and in a readable
 * `spm_csrf` cookie (for a reload). Scripts and CI keep using `Authorization: Bearer`, which needs no
 * CSRF token because a browser never adds that header by itself.
 */

export { CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE };

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The CSRF token that belongs to one session token: HMAC-SHA256 with the JWT secret. */
export function csrfTokenFor(secret: string, sessionToken: string): string {
  return createHmac('sha256', secret).update(`spm-csrf\0${sessionToken}`).digest('base64url');
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The token a request authenticates with: the `Authorization: Bearer` header when there is one (it
 * wins), else the session cookie. A cookie-authenticated request with an unsafe method must carry the
 * matching CSRF header, or it is refused with 403 ERR_CSRF. Returns null when the request has neither.
 */
export function requestToken(request: FastifyRequest, secret: string): string | null {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    return m ? m[1]! : null;
  }
  const cookie = request.cookies?.[SESSION_COOKIE];
  if (!cookie) return null;
  if (!SAFE_METHODS.has(request.method)) {
    const sent = request.headers[CSRF_HEADER];
    if (typeof sent !== 'string' || !sameToken(sent, csrfTokenFor(secret, cookie))) {
      throw new AppError(
        'ERR_CSRF',
        `This request is authenticated by the session cookie but lacks its CSRF token: send the ${CSRF_HEADER} header with the value of the ${CSRF_COOKIE} cookie.`,
        { status: 403 },
      );
    }
  }
  return cookie;
}

/** True when the browser reached us over https (directly, or through a trusted proxy's X-Forwarded-Proto). */
function isHttps(request: FastifyRequest, publicUrl: string | null): boolean {
  return request.protocol === 'https' || (publicUrl?.startsWith('https:') ?? false);
}

/** Sets the session and CSRF cookies for `token`, valid until the token expires; returns the CSRF token. */
export function setSessionCookies(
  request: FastifyRequest,
  reply: FastifyReply,
  opts: { token: string; secret: string; expiresAt: Date; publicUrl: string | null },
): string {
  const csrf = csrfTokenFor(opts.secret, opts.token);
  const common = {
    path: '/',
    sameSite: 'strict' as const,
    secure: isHttps(request, opts.publicUrl),
    expires: opts.expiresAt,
  };
  void reply.setCookie(SESSION_COOKIE, opts.token, { ...common, httpOnly: true });
  void reply.setCookie(CSRF_COOKIE, csrf, { ...common, httpOnly: false });
  return csrf;
}

/** Expires both cookies (sign out). */
export function clearSessionCookies(request: FastifyRequest, reply: FastifyReply, publicUrl: string | null): void {
  const common = { path: '/', sameSite: 'strict' as const, secure: isHttps(request, publicUrl) };
  void reply.clearCookie(SESSION_COOKIE, { ...common, httpOnly: true });
  void reply.clearCookie(CSRF_COOKIE, { ...common, httpOnly: false });
}
