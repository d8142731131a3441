import { createReadStream } from 'node:fs';
import {
  LIMIT_SETTINGS,
  TarballError,
  UNUSUAL_TARBALL_SIZES,
  withTarballView,
  type TarballIssue,
  type TarballIssueCode,
  type TarballLimits,
  type TarballStats,
  type TarballView,
} from '@spm/tarball';
import { PermanentError } from '../errors.js';
import { excerpt, type Finding, type Severity } from './types.js';

/**
 * The scanner's policy over the one view of an archive (`@spm/tarball`): what npm installs is what is
 * scanned; what the view reports about the archive either refuses the package (policy) or becomes a
 * finding for the approver.
 *
 * Refused (Rejected, kind policy): a hard limit passed (the reason names the limit and its setting),
 * an archive that is not a readable tar archive, and the two marks of an archive built to write outside
 * the package folder (`..` segments, links leaving the package). npm would skip those entries, but no
 * packing tool writes them: they are an attack, not a package.
 *
 * Findings: everything else the view reports, and sizes that are unusual but allowed. A second
 * top-level folder, a duplicated path with different contents and differing package.json copies are
 * high: they are how an archive shows a reviewer one thing and installs another.
 */

/** Why an archive was refused before it was scanned: a PermanentError of kind policy. */
export class ArchiveRefusedError extends PermanentError {
  /** The hard limit that was passed, when that is why. */
  readonly limit?: keyof TarballLimits;
  constructor(message: string, opts: { limit?: keyof TarballLimits; cause?: unknown } = {}) {
    super('policy', message, { cause: opts.cause });
    this.name = 'ArchiveRefusedError';
    this.limit = opts.limit;
  }
}

export interface ArchiveOptions {
  /** Hard limits (defaults: DEFAULT_TARBALL_LIMITS). */
  limits?: Partial<TarballLimits>;
  /** Parent of the view's temporary file for contents that do not fit in memory. */
  tmpRoot?: string;
  signal?: AbortSignal;
}

/**
 * Reads the stored archive once into its view, refuses it when the policy says so (see above), runs
 * `fn` on the view and always disposes of it. Throws ArchiveRefusedError for a refused archive; an
 * abort of `signal` and I/O errors are rethrown as they are.
 */
export async function withPackageView<T>(
  file: string,
  opts: ArchiveOptions,
  fn: (view: TarballView) => Promise<T>,
): Promise<T> {
  try {
    return await withTarballView(
      createReadStream(file),
      { limits: opts.limits, tmpRoot: opts.tmpRoot, signal: opts.signal },
      async (view) => {
        refuseHostile(view.issues);
        return fn(view);
      },
    );
  } catch (err) {
    if (err instanceof TarballError) {
      throw err.code === 'ERR_TARBALL_LIMIT'
        ? new ArchiveRefusedError(`archive over a hard limit: ${err.message}`, { limit: err.limit, cause: err })
        : new ArchiveRefusedError(`unreadable archive: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

interface IssueRule {
  severity: Severity;
  title: (i: TarballIssue) => string;
  explanation: string;
}

/** Issues that refuse the archive outright. */
const REFUSED: ReadonlyMap<TarballIssueCode, string> = new Map([
  ['dot-dot-path', "has a '..' path segment (path traversal)"],
  ['link-escapes', 'links out of the package folder'],
]);

/** Throws ArchiveRefusedError when the view reports an issue the policy refuses. */
export function refuseHostile(issues: readonly TarballIssue[]): void {
  for (const issue of issues) {
    const why = REFUSED.get(issue.code);
    if (why) {
      const example = excerpt(issue.examples[0] ?? '', 120);
      const more = issue.count > 1 ? ` (and ${issue.count - 1} more)` : '';
      throw new ArchiveRefusedError(`hostile archive: entry ${JSON.stringify(example)} ${why}${more}`);
    }
  }
}

const n = (i: TarballIssue, one: string, many: string) => (i.count === 1 ? one : `${i.count} ${many}`);

/** Every issue code the view can report that is not refused, and what it means for a reviewer. */
const ISSUE_RULES: Readonly<Record<Exclude<TarballIssueCode, 'dot-dot-path' | 'link-escapes'>, IssueRule>> = {
  'multiple-roots': {
    severity: 'high',
    title: (i) => `Files under a second top-level folder (${n(i, 'one folder', 'folders')}) are installed too`,
    explanation:
      'npm strips the first folder of every path whatever its name, so files outside package/ land in the package beside (or over) the others. Packing tools never do this; it hides files from anyone who reads only package/.',
  },
  'duplicate-path': {
    severity: 'high',
    title: (i) => `${n(i, 'A path appears', 'paths appear')} more than once with different contents`,
    explanation:
      'npm keeps the last copy of a duplicated path; tools that read the first copy see something else. The scan saw the copy npm installs.',
  },
  'manifest-copies-differ': {
    severity: 'high',
    title: () => 'The archive holds package.json more than once, with different contents',
    explanation:
      'Tools reading the first package.json (scripts, dependencies) see another manifest than the one npm installs: the scan and the served metadata use the last copy, as npm does.',
  },
  'absolute-path': {
    severity: 'high',
    title: (i) => `${n(i, 'An entry has', 'entries have')} an absolute path`,
    explanation:
      'npm strips the root and writes the file inside the package, but no packing tool writes absolute paths: the archive was made by hand, perhaps to write elsewhere with another extractor.',
  },
  'nul-in-path': {
    severity: 'high',
    title: (i) => `${n(i, 'An entry has', 'entries have')} a NUL character in its path`,
    explanation: 'A NUL in a path makes extractors disagree about the name; npm skips such entries.',
  },
  'special-entry': {
    severity: 'high',
    title: (i) => `${n(i, 'A device, FIFO or unknown entry', 'device, FIFO or unknown entries')} in the archive`,
    explanation:
      'npm skips them, but a package has no reason to hold device files or FIFOs: the archive was made by hand.',
  },
  'backslash-path': {
    severity: 'medium',
    title: (i) => `${n(i, 'A path holds', 'paths hold')} a backslash`,
    explanation:
      'A backslash is a folder separator on Windows and part of the name elsewhere, so the package may be laid out differently on different machines.',
  },
  'case-conflict': {
    severity: 'medium',
    title: (i) => `${n(i, 'Two paths differ', 'groups of paths differ')} only in letter case`,
    explanation:
      'On macOS and Windows one replaces the other when installed, so which contents end up on disk depends on the machine.',
  },
  'path-conflict': {
    severity: 'medium',
    title: (i) => `${n(i, 'A file is', 'files are')} not installed: a file and a folder share a path`,
    explanation: 'npm skips a file written where a folder is, or below a file; the archive is inconsistent.',
  },
  'invalid-header': {
    severity: 'medium',
    title: (i) => `${n(i, 'A tar header is', 'tar headers are')} damaged and skipped`,
    explanation:
      'npm reads past damaged headers with a warning; other extractors may stop or read different files from the same archive.',
  },
  'too-deep': {
    severity: 'medium',
    title: (i) => `${n(i, 'A path is', 'paths are')} more than 1024 folders deep and not installed`,
    explanation: 'npm skips such paths; no real package needs them.',
  },
  'top-level-file': {
    severity: 'low',
    title: (i) =>
      `${n(i, 'A file sits', 'files sit')} at the archive's top level and ${i.count === 1 ? 'is' : 'are'} not installed`,
    explanation: 'npm installs only what is inside a folder of the archive; these files are skipped.',
  },
  'duplicate-identical': {
    severity: 'info',
    title: (i) => `${n(i, 'A path appears', 'paths appear')} more than once with the same contents`,
    explanation: 'Harmless (npm keeps the last copy, which is the same), but a sign of an unusual packing tool.',
  },
  link: {
    severity: 'info',
    title: (i) => `${n(i, 'A link', 'links')} inside the package ${i.count === 1 ? 'is' : 'are'} not installed`,
    explanation: 'npm does not create links from package tarballs; they were ignored, as npm ignores them.',
  },
  'gitignore-shadowed': {
    severity: 'info',
    title: () => 'A .gitignore beside a .npmignore is not installed',
    explanation: 'npm renames .gitignore to .npmignore unless one is already there, in which case it skips it.',
  },
};

/** The findings for what the view reports about the archive (refused issues are not listed here). */
export function issueFindings(issues: readonly TarballIssue[]): Finding[] {
  const out: Finding[] = [];
  for (const issue of issues) {
    if (REFUSED.has(issue.code)) continue;
    const rule = ISSUE_RULES[issue.code as keyof typeof ISSUE_RULES];
    if (!rule) continue;
    out.push({
      id: `archive-${issue.code}`,
      source: 'signal',
      severity: rule.severity,
      title: rule.title(issue),
      evidence: excerpt(issue.examples.join(', ')),
      explanation: rule.explanation,
    });
  }
  return out;
}

const MiB = 1024 * 1024;
const mib = (b: number) => `${(b / MiB).toFixed(1)} MiB`;

/**
 * A low finding for each size above the unusual mark (`UNUSUAL_TARBALL_SIZES`, chosen from measured
 * real packages): the approver is told, nothing is refused. Hard limits are enforced by the reader.
 */
export function sizeFindings(stats: TarballStats, unusual: TarballLimits = UNUSUAL_TARBALL_SIZES): Finding[] {
  const out: Finding[] = [];
  const add = (limit: keyof TarballLimits, title: string, evidence: string) =>
    out.push({
      id: 'unusual-size',
      source: 'signal',
      severity: 'low',
      title,
      evidence: `${evidence}; unusual above ${unusual[limit]} (${LIMIT_SETTINGS[limit]} is the hard limit)`,
      explanation:
        'Few real packages are this large. It is allowed; check that the size is expected (icon sets, bundled binaries, compilers) rather than padding or a hidden payload.',
    });
  if (stats.entries > unusual.maxEntries)
    add('maxEntries', `Unusually many entries: ${stats.entries}`, `${stats.entries} entries, ${stats.files} files`);
  if (stats.unpackedBytes > unusual.maxUnpackedBytes)
    add(
      'maxUnpackedBytes',
      `Unusually large when unpacked: ${mib(stats.unpackedBytes)}`,
      `${stats.unpackedBytes} bytes`,
    );
  if (stats.largestFile && stats.largestFile.size > unusual.maxFileBytes)
    add(
      'maxFileBytes',
      `Unusually large file: ${stats.largestFile.path} (${mib(stats.largestFile.size)})`,
      `${stats.largestFile.size} bytes`,
    );
  if (stats.compressionRatio > unusual.maxCompressionRatio)
    add(
      'maxCompressionRatio',
      `Unusually high compression ratio: ${stats.compressionRatio}`,
      `${stats.compressedBytes} bytes expand to ${stats.decompressedBytes}`,
    );
  return out;
}

/** Everything the archive itself tells a reviewer: issue findings, then unusual sizes. */
export function archiveFindings(view: Pick<TarballView, 'issues' | 'stats'>): Finding[] {
  return [...issueFindings(view.issues), ...sizeFindings(view.stats)];
}
