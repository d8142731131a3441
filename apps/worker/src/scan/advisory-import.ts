import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import yauzl from 'yauzl';
import {
  reevaluateAdvisories,
  severitiesFrom,
  upsertAdvisories,
  type AdvisoryInput,
  type DB,
  type ReevaluationResult,
} from '@spm/db';
import { parseOsvRecord, type NormalisedAdvisory } from './osv.js';

/** Largest single JSON document read from a file or zip entry. */
export const MAX_DOCUMENT_BYTES = 32 * 1024 * 1024;
const BATCH = 500;

export interface ImportSummary {
  /** JSON documents read. */
  read: number;
  /** Inserted or replaced by a newer record. */
  written: number;
  /** Already stored with the same or a newer `modified`. */
  unchanged: number;
  /** Records without any npm package. */
  skipped: number;
  /** Malformed records (bad JSON, missing id/modified, malformed range events), with the reason. */
  rejected: Array<{ source: string; id: string | null; error: string }>;
  /** The written advisories matched against every approved and published version (see reevaluateAdvisories). */
  reevaluation: ReevaluationResult;
}

interface Doc {
  source: string;
  text: string;
}

/** Whether the file starts with a zip local-file header. */
export async function isZip(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(4);
    const { bytesRead } = await fh.read(b, 0, 4, 0);
    return bytesRead === 4 && b.readUInt32LE(0) === 0x04034b50;
  } finally {
    await fh.close();
  }
}

async function* zipDocs(path: string): AsyncGenerator<Doc> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(path, { lazyEntries: true, autoClose: true, strictFileNames: false }, (err, z) =>
      err ? reject(err) : resolve(z!),
    ),
  );
  try {
    while (true) {
      const entry = await new Promise<yauzl.Entry | null>((resolve, reject) => {
        const onEntry = (e: yauzl.Entry) => {
          cleanup();
          resolve(e);
        };
        const onEnd = () => {
          cleanup();
          resolve(null);
        };
        const onError = (err: Error) => {
          cleanup();
          reject(err);
        };
        const cleanup = () => {
          zip.off('entry', onEntry);
          zip.off('end', onEnd);
          zip.off('error', onError);
        };
        zip.on('entry', onEntry);
        zip.on('end', onEnd);
        zip.on('error', onError);
        zip.readEntry();
      });
      if (!entry) return;
      if (entry.fileName.endsWith('/') || !entry.fileName.toLowerCase().endsWith('.json')) continue;
      if (entry.uncompressedSize > MAX_DOCUMENT_BYTES) {
        throw new Error(`${entry.fileName} in ${path} is larger than ${MAX_DOCUMENT_BYTES} bytes`);
      }
      const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) =>
        zip.openReadStream(entry, (err, s) => (err ? reject(err) : resolve(s!))),
      );
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of stream) {
        size += (c as Buffer).length;
        // The header's size is not trusted: count what actually comes out.
        if (size > MAX_DOCUMENT_BYTES)
          throw new Error(`${entry.fileName} in ${path} inflates past ${MAX_DOCUMENT_BYTES} bytes`);
        chunks.push(c as Buffer);
      }
      yield { source: `${path}:${entry.fileName}`, text: Buffer.concat(chunks).toString('utf8') };
    }
  } finally {
    zip.close();
  }
}

async function* pathDocs(path: string): AsyncGenerator<Doc> {
  const st = await stat(path);
  if (st.isDirectory()) {
    const names = (await readdir(path, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const d of names) {
      const p = join(path, d.name);
      if (d.isDirectory()) yield* pathDocs(p);
      else if (d.isFile() && (d.name.toLowerCase().endsWith('.json') || d.name.toLowerCase().endsWith('.zip')))
        yield* pathDocs(p);
    }
    return;
  }
  if (await isZip(path)) {
    yield* zipDocs(path);
    return;
  }
  if (st.size > MAX_DOCUMENT_BYTES) throw new Error(`${path} is larger than ${MAX_DOCUMENT_BYTES} bytes`);
  yield { source: path, text: await readFile(path, 'utf8') };
}

function toInput(a: NormalisedAdvisory): AdvisoryInput {
  return {
    id: a.id,
    modified: a.modified,
    published: a.published,
    withdrawn: a.withdrawn,
    aliases: a.aliases,
    summary: a.summary,
    severity: a.severity,
    cvssVector: a.cvssVector,
    malware: a.malware,
    raw: a.raw,
    affected: a.affected.map((x) => ({
      packageName: x.packageName,
      ranges: x.ranges,
      versions: x.versions,
      fixedVersions: x.fixedVersions,
    })),
  };
}

/** Severities that quarantine a version by default (ADVISORIES_QUARANTINE_SEVERITY=high); malware always does. */
export const DEFAULT_QUARANTINE_SEVERITIES = severitiesFrom('high');

/**
 * Imports OSV records from a JSON file (one record or an array of them), a directory (searched
 * recursively for .json and .zip files) or a zip of `<ID>.json` files (the shape of the OSV npm
 * export). Records are validated (see parseOsvRecord), reduced to npm packages and upserted by id in
 * batches; older records never overwrite newer ones. Malformed records are reported, not fatal. The
 * advisories written are then re-evaluated against every approved and published version (after
 * every import, so a version approved before its advisory existed is found). Throws only for
 * unreadable input or database errors.
 */
export async function importAdvisories(
  db: DB,
  path: string,
  opts: {
    force?: boolean;
    onProgress?: (s: ImportSummary) => void;
    /** Severities whose match quarantines a version (default: critical and high); malware always does. */
    quarantineSeverities?: readonly string[];
  } = {},
): Promise<ImportSummary> {
  const summary: ImportSummary = {
    read: 0,
    written: 0,
    unchanged: 0,
    skipped: 0,
    rejected: [],
    reevaluation: { matched: 0, newlyAffected: 0, quarantined: 0, resolved: 0, packageIds: [] },
  };
  const writtenIds: string[] = [];
  let pending: AdvisoryInput[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const res = await upsertAdvisories(db, pending, { force: opts.force });
    writtenIds.push(...res.written);
    summary.written += res.written.length;
    summary.unchanged += res.unchanged;
    pending = [];
    opts.onProgress?.(summary);
  };
  for await (const doc of pathDocs(path)) {
    summary.read++;
    let parsed: unknown;
    try {
      parsed = JSON.parse(doc.text);
    } catch (err) {
      summary.rejected.push({ source: doc.source, id: null, error: `invalid JSON: ${(err as Error).message}` });
      continue;
    }
    for (const rec of Array.isArray(parsed) ? parsed : [parsed]) {
      const res = parseOsvRecord(rec);
      if (res.ok) pending.push(toInput(res.advisory));
      else if (res.skipped) summary.skipped++;
      else summary.rejected.push({ source: doc.source, id: res.id, error: res.error });
    }
    if (pending.length >= BATCH) await flush();
  }
  await flush();
  summary.reevaluation = await reevaluateAdvisories(db, writtenIds, {
    quarantineSeverities: opts.quarantineSeverities ?? DEFAULT_QUARANTINE_SEVERITIES,
  });
  return summary;
}
