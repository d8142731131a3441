import type { WorkerConfig } from '../config.js';

/** Where the scan stage gets the registry's version document (the worker's SourceRegistry fits). */
export interface VersionDocSource {
  versionDocument(name: string, version: string, signal: AbortSignal): Promise<Record<string, unknown>>;
}

const NAME_RE = /^(?:@[a-z0-9~][a-z0-9._~-]*\/)?[a-z0-9~][a-z0-9._~-]*$/i;
const MAX_PACKUMENT_BYTES = 64 * 1024 * 1024;

/**
 * A minimal fallback: fetches the packument from SOURCE_REGISTRY_URL (only there, with the optional
 * token, the job's signal and the download timeout) and returns the version's document. Throws when
 * the package, version or registry is unavailable; the caller records that instead of failing.
 */
export function fetchingVersionDocs(
  config: Pick<WorkerConfig, 'sourceRegistryUrl' | 'sourceRegistryToken' | 'downloadTimeoutSeconds'>,
): VersionDocSource {
  return {
    async versionDocument(name, version, signal) {
      if (!NAME_RE.test(name)) throw new Error(`"${name}" is not a valid npm package name`);
      const base = new URL(config.sourceRegistryUrl);
      const path = name.startsWith('@') ? `@${encodeURIComponent(name.slice(1))}` : encodeURIComponent(name);
      const url = new URL(path, base);
      const headers: Record<string, string> = { accept: 'application/json' };
      if (config.sourceRegistryToken) headers.authorization = `Bearer ${config.sourceRegistryToken}`;
      const res = await fetch(url, {
        headers,
        redirect: 'error',
        signal: AbortSignal.any([signal, AbortSignal.timeout(config.downloadTimeoutSeconds * 1000)]),
      });
      if (!res.ok) {
        await res.body?.cancel().catch(() => undefined);
        throw new Error(`the source registry answered HTTP ${res.status} for ${name}`);
      }
      const text = await res.text();
      if (text.length > MAX_PACKUMENT_BYTES)
        throw new Error(`the packument of ${name} is larger than ${MAX_PACKUMENT_BYTES} bytes`);
      const doc = (JSON.parse(text) as { versions?: Record<string, unknown> }).versions?.[version];
      if (!doc || typeof doc !== 'object') throw new Error(`the source registry has no version ${version} of ${name}`);
      return doc as Record<string, unknown>;
    },
  };
}
