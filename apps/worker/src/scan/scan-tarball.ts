import { archiveFindings, withPackageView } from './archive.js';
import { builtinScan } from './builtin.js';
import type { ManifestLike } from './signals.js';
import type { Finding } from './types.js';

/**
 * The built-in scanner over one package tarball on disk, as the scan stage runs it (the archive's
 * npm-equivalent view, its archive findings, then the built-in signals), without a database or a
 * registry: no advisories, and the tarball's own package.json stands in for the registry's version
 * document (so no manifest-confusion finding). For the detection benchmark and the real-package check.
 * Throws what the scan stage would turn into a rejection (ArchiveRefusedError) or a failure.
 */
export async function scanTarballFile(
  file: string,
  opts: { name: string; version: string; maxEntries?: number; maxUnpackedBytes?: number },
): Promise<Finding[]> {
  const limits = {
    ...(opts.maxEntries !== undefined && { maxEntries: opts.maxEntries }),
    ...(opts.maxUnpackedBytes !== undefined && { maxUnpackedBytes: opts.maxUnpackedBytes }),
  };
  return withPackageView(file, { limits }, async (view) => {
    const manifest = view.manifest as ManifestLike | null;
    const builtin = await builtinScan({
      contents: view,
      name: opts.name,
      version: opts.version,
      manifest,
      manifestError: view.manifestError,
      registryDoc: manifest,
      declaredLicence: null,
      advisories: [],
    });
    return [...archiveFindings(view), ...builtin];
  });
}
