import { TarballError } from './limits.js';
import { readTarball } from './view.js';

export class ManifestError extends Error {
  constructor(message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.name = 'ManifestError';
  }
}

/**
 * The package.json npm installs from a package tarball (the last copy, under whatever top-level
 * folder), read in memory through the same view the scanner uses; no other file's contents are
 * kept. Throws ManifestError when the archive is unreadable or over a limit, has no package.json,
 * or the file is not a JSON object.
 */
export async function readTarballManifest(tarball: Uint8Array): Promise<Record<string, unknown>> {
  let view;
  try {
    view = await readTarball(tarball, { keep: () => false });
  } catch (err) {
    if (err instanceof TarballError) throw new ManifestError(err.message, { cause: err });
    throw err;
  }
  try {
    if (!view.manifest) throw new ManifestError(view.manifestError ?? 'the tarball has no package.json');
    return view.manifest;
  } finally {
    view.dispose();
  }
}
