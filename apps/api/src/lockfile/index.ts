import { lockfileError } from './entry.js';
import { detectFormat } from './detect.js';
import { parseNpmText, unstorable } from './npm.js';
import { parsePnpm } from './pnpm.js';
import type { LockfileFormat, ParsedLockfile } from './types.js';
import { parseYarnBerry } from './yarn-berry.js';
import { parseYarnClassic } from './yarn-classic.js';

export { detectFormat } from './detect.js';
export { integrityConflicts, isRegistryTarball } from './entry.js';
export { parseNpmLockfile } from './npm.js';
export type { LockfileFormat, ParsedLockfile } from './types.js';

const PARSERS: Record<LockfileFormat, (text: string) => ParsedLockfile> = {
  npm: parseNpmText,
  'yarn-classic': parseYarnClassic,
  'yarn-berry': parseYarnBerry,
  pnpm: parsePnpm,
};

export const LOCKFILE_FORMATS = Object.keys(PARSERS) as LockfileFormat[];

/**
 * Parses a submitted lockfile of any accepted format, told apart by its content: package-lock.json
 * v1–v3 and npm-shrinkwrap.json, yarn.lock (classic v1 and Berry), pnpm-lock.yaml 6.x and 9.x.
 * Pure; throws AppError (400) with a stable code (ERR_NOT_JSON, ERR_NOT_LOCKFILE, ERR_LOCKFILE_*)
 * naming the offending entry where there is one.
 */
export function parseLockfileText(text: string): ParsedLockfile {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.trim() === '') {
    throw lockfileError(
      'ERR_NOT_JSON',
      'The body is empty: send the contents of package-lock.json, npm-shrinkwrap.json, yarn.lock or pnpm-lock.yaml.',
    );
  }
  const format = detectFormat(body);
  // The text formats are stored as they are: a NUL cannot be, and has no place in a lockfile.
  if (format !== 'npm' && body.includes('\u0000')) throw unstorable();
  return PARSERS[format](body);
}

/** What is stored in `requests.lockfile` (a json column): npm's JSON as it is, any other format as a JSON string. */
export function storedLockfile(format: LockfileFormat, text: string): string {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  return format === 'npm' ? body : JSON.stringify(body);
}
