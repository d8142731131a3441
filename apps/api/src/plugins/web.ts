import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Paths that belong to the API, never to the web app (an unknown one is the API's 404, not the page). */
export const API_PATH_PREFIXES = ['/api', '/registry', '/docs', '/health', '/ready', '/metrics'] as const;

/**
 * Headers on every file of the web app. The CSP allows scripts and styles from our own origin only
 * (the build has no inline script; React sets style properties through the DOM, which CSP allows),
 * connections to our own API, no frames, no plugins, and no form posts elsewhere.
 */
export const WEB_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
});

/** True for a path the single-page app answers with its index.html (its own routes). */
export function isAppPath(path: string): boolean {
  if (API_PATH_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`))) return false;
  // A missing file (anything with an extension in its last segment) is a 404, not the app.
  const last = path.slice(path.lastIndexOf('/') + 1);
  return !last.includes('.');
}

/**
 * Serves the built web app (apps/web/dist) on `/`: hashed files under /assets/ cached for a year, the
 * other files and index.html revalidated on every load, and index.html for every path of the app's own
 * routes (so /requests/12 can be reloaded). Registered as an encapsulated plugin: its headers and routes
 * do not touch the API's. Without a build the API runs on its own and says so once.
 */
export default async function webPlugin(app: FastifyInstance, opts: { root: string }): Promise<void> {
  const indexFile = join(opts.root, 'index.html');
  if (!existsSync(indexFile)) {
    app.log.warn(
      { webRoot: opts.root },
      'the web app is not built (no index.html): `/` is not served; run `pnpm build`',
    );
    return;
  }
  // Read once: index.html changes only with a new build, which comes with a restart.
  const indexHtml = readFileSync(indexFile);

  app.addHook('onSend', async (_request, reply, payload) => {
    void reply.headers(WEB_SECURITY_HEADERS);
    return payload;
  });

  await app.register(fastifyStatic, {
    root: opts.root,
    prefix: '/',
    wildcard: false,
    index: false,
    serveDotFiles: false,
    cacheControl: false,
    setHeaders(res, path) {
      const immutable = path.startsWith(join(opts.root, 'assets'));
      res.setHeader('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });

  const sendIndex = (reply: FastifyReply) =>
    reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(indexHtml);

  app.get('/', { config: { access: 'public' }, schema: { hide: true } }, (_request, reply) => sendIndex(reply));
  app.get('/*', { config: { access: 'public' }, schema: { hide: true } }, (request, reply) => {
    const path = request.url.split('?')[0]!;
    if (!isAppPath(path)) return reply.callNotFound();
    return sendIndex(reply);
  });
}
