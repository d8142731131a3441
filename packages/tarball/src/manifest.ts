import { Parser, type ReadEntry } from 'tar';

/** package.json files larger than this are refused (the largest real ones are a few hundred KB). */
const MAX_MANIFEST_BYTES = 5 * 1024 * 1024;

export class ManifestError extends Error {
  constructor(message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.name = 'ManifestError';
  }
}

/**
 * Reads the package's own `package.json` from a gzipped npm tarball entirely in memory: nothing is
 * written to disk. The file is looked for one level below the archive root, as npm does (normally
 * `package/package.json`; a few old packages use another top folder). Throws ManifestError when the
 * archive is corrupt, has no package.json, or the file is not a JSON object.
 */
export async function readTarballManifest(tarball: Buffer): Promise<Record<string, unknown>> {
  const raw = await new Promise<Buffer>((resolve, reject) => {
    let found: Buffer | null = null;
    let preferred = false;
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      reject(err);
    };
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        const parts = entry.path.replace(/^\.\//, '').split('/');
        const isManifest = entry.type === 'File' && parts.length === 2 && parts[1] === 'package.json';
        // `package/package.json` wins over any other top folder; otherwise the first one found.
        if (!isManifest || preferred || (found && parts[0] !== 'package')) {
          entry.resume();
          return;
        }
        if (entry.size > MAX_MANIFEST_BYTES) {
          entry.resume();
          fail(new ManifestError(`package.json in the tarball is ${entry.size} bytes (limit ${MAX_MANIFEST_BYTES})`));
          return;
        }
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => {
          found = Buffer.concat(chunks);
          preferred = parts[0] === 'package';
        });
      },
    });
    parser.on('error', (err: Error) =>
      fail(new ManifestError(`the tarball is not a readable gzipped tar archive: ${err.message}`, { cause: err })),
    );
    parser.on('end', () => {
      if (failed) return;
      if (!found) fail(new ManifestError('the tarball has no package/package.json'));
      else resolve(found);
    });
    parser.end(tarball);
  });
  let doc: unknown;
  try {
    doc = JSON.parse(raw.toString('utf8').replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new ManifestError(`package.json in the tarball is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    throw new ManifestError('package.json in the tarball is not a JSON object');
  return doc as Record<string, unknown>;
}
