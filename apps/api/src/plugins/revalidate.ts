import etag from '@fastify/etag';
import type { FastifyInstance } from 'fastify';

/**
 * Makes the GET answers of one route plugin cheap to poll: each carries an ETag (a hash of the body)
 * and `Cache-Control: private, no-cache`, so a browser or script that asks again with If-None-Match gets
 * an empty 304 when nothing changed. Call it inside an encapsulated route plugin: it applies to that
 * plugin's routes only.
 */
export async function revalidateGets(app: FastifyInstance): Promise<void> {
  await app.register(etag, { algorithm: 'sha1' });
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.method === 'GET' || request.method === 'HEAD') void reply.header('cache-control', 'private, no-cache');
    return payload;
  });
}
