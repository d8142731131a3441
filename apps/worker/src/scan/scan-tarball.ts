import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { builtinScan } from './builtin.js';
import { withExtracted } from './extract.js';
import type { ManifestLike } from './signals.js';
import type { Finding } from './types.js';

/**
 * The built-in scanner over one package tarball on disk, as the scan stage runs it, without a
 * database or a registry: no advisories, and the tarball's own package.json stands in for the
 * registry's version document (so no manifest-confusion finding). For the detection benchmark and
 * the real-package check. Throws what the scan stage would (a hostile archive, a failed read).
 */
export async function scanTarballFile(
  file: string,
  opts: { name: string; version: string; maxEntries?: number; maxUnpackedBytes?: number },
): Promise<Finding[]> {
  const limits = { maxEntries: opts.maxEntries ?? 100_000, maxUnpackedBytes: opts.maxUnpackedBytes ?? 1024 ** 3 };
  return withExtracted(file, limits, async (x) => {
    let manifest: ManifestLike | null = null;
    try {
      manifest = JSON.parse(await readFile(join(x.root, 'package.json'), 'utf8')) as ManifestLike;
    } catch {
      manifest = null;
    }
    return builtinScan({
      root: x.root,
      name: opts.name,
      version: opts.version,
      manifest,
      registryDoc: manifest,
      declaredLicence: null,
      advisories: [],
      skippedLinks: x.skippedLinks,
    });
  });
}
