import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { DB } from '@spm/db';
import type { ApiConfig } from '../config.js';

/** Shares the database and the configuration with every plugin. Closes the pool only if it owns it. */
export default fp(
  async function dbPlugin(app: FastifyInstance, opts: { db: DB; config: Readonly<ApiConfig>; ownsDb: boolean }) {
    app.decorate('db', opts.db);
    app.decorate('config', opts.config);
    if (opts.ownsDb) {
      app.addHook('onClose', async () => {
        await opts.db.destroy();
      });
    }
  },
  { name: 'spm-db' },
);
