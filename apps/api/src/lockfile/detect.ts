import type { LockfileFormat } from './types.js';

/** How far into the text detection looks: every format announces itself in its first lines. */
const HEAD = 4096;

/**
 * Tells the lockfile format from the content, not from a file name or media type (a CI job may send
 * anything as text/plain): JSON is npm's; yarn classic writes `# yarn lockfile v1` (and quotes its
 * fields without colons: `  version "1.0.0"`), Yarn Berry a top-level `__metadata:`, pnpm a top-level
 * `lockfileVersion:`. Anything else is handed to the npm (JSON) parser, whose error says what was expected.
 * Only anchored, single-line patterns on the head, so hostile input costs nothing here.
 */
export function detectFormat(text: string): LockfileFormat {
  const head = text.slice(0, HEAD);
  if (/^\s*[[{]/.test(head)) return 'npm';
  if (/^#\s*yarn lockfile v1\s*$/im.test(head)) return 'yarn-classic';
  if (/^__metadata:/m.test(head)) return 'yarn-berry';
  if (/^lockfileVersion:/m.test(head)) return 'pnpm';
  if (/^ {2}version "[^"\n]*"\s*$/m.test(head)) return 'yarn-classic';
  return 'npm';
}
