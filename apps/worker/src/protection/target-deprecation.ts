import { quarantineMessage, setTargetDeprecation, targetDeprecationsDue, type DB } from '@spm/db';
import type { Logger } from 'pino';
import { TargetRegistryClient, type FetchFn } from '../registry-target/client.js';
import { latestNotDeprecated, withoutCredentials } from '../registry-target/protocol.js';

/** Versions handled per sweep: bounded work, the next sweep takes the rest. */
const BATCH = 20;

/**
 * Makes the target registry agree with the quarantine, with `npm deprecate` semantics: a quarantined
 * version published there gets `deprecated: <message naming the advisory>` (npm warns on install and
 * prefers other versions of a range), a released or resolved one has it cleared (`""`, as `npm
 * deprecate <pkg>@<v> ""` does). What the target carries is recorded in
 * `package_status.target_deprecation`, so each change is made once. `latest` is moved to the newest
 * version that is not deprecated when it named a quarantined one, and back on release. A version the target no longer
 * has is recorded as done. Errors are logged per version and retried at the next sweep.
 */
export async function syncTargetDeprecations(
  db: DB,
  opts: {
    targetRegistryUrl: string;
    targetRegistryToken: string | null;
    timeoutMs: number;
    contact: string | null;
    log: Logger;
    signal?: AbortSignal;
    fetch?: FetchFn;
  },
): Promise<number> {
  const client = new TargetRegistryClient({
    url: opts.targetRegistryUrl,
    token: opts.targetRegistryToken,
    timeoutMs: opts.timeoutMs,
    signal: opts.signal ?? new AbortController().signal,
    fetch: opts.fetch,
  });
  const due = await targetDeprecationsDue(db, withoutCredentials(client.url), BATCH);
  let changed = 0;
  for (const d of due) {
    const spec = `${d.name}@${d.version}`;
    const message = d.quarantinedBy ? quarantineMessage(spec, d.quarantinedBy, opts.contact) : null;
    try {
      const packument = await client.getPackument(d.name);
      const doc = packument?.versions?.[d.version];
      if (packument && doc) {
        doc.deprecated = message ?? '';
        await client.putPackument(d.name, packument);
        // `latest` never names a quarantined version: the newest version not deprecated (and back when released).
        const latest = latestNotDeprecated(packument.versions);
        if (latest && packument['dist-tags']?.latest !== latest) await client.setDistTag(d.name, 'latest', latest);
        changed++;
      }
      await setTargetDeprecation(db, d.packageId, message);
      opts.log.info(
        { package: spec, quarantined: message !== null, onTarget: Boolean(doc) },
        message ? 'deprecated a quarantined version on the target registry' : 'cleared the quarantine deprecation',
      );
    } catch (err) {
      opts.log.warn({ err, package: spec }, 'could not update the deprecation on the target registry; will retry');
    }
  }
  return changed;
}
