import { posix, win32 } from 'node:path';

/**
 * Where npm writes each entry of a package archive, decided the way npm 11 decides it: pacote's
 * extraction filter (lib/fetcher.js `#tarxOptions`) followed by node-tar's `Unpack` path checks
 * (`[CHECKPATH]`, `[STRIPABSOLUTEPATH]`, `[CHECKFS2]` and `mkdir`) with `strip: 1`, on a POSIX
 * machine. Pure: no file is touched. The npm-equivalence test installs odd archives with the real
 * npm and compares the files on disk with what this class decided.
 */

/** Why npm writes nothing for an entry. */
export type SkipReason =
  /** Symbolic or hard link: pacote's filter drops every link. */
  | 'link'
  /** Directory entry: pacote's filter drops it (directories only appear as parents of files). */
  | 'directory'
  /** Character or block device, FIFO, or a type node-tar does not know. */
  | 'special'
  /** A `.gitignore` after a `.npmignore` in the same folder (pacote renames `.gitignore` otherwise). */
  | 'gitignore-shadowed'
  /** More than 1024 path segments (node-tar's maxDepth). */
  | 'too-deep'
  /** A `..` segment: node-tar refuses the entry. */
  | 'dot-dot'
  /** Nothing is left once the first path component is stripped (a file at the archive's top level). */
  | 'top-level'
  /** A file where npm already made a folder, or below a path npm already wrote as a file. */
  | 'conflict';

export type Placement =
  | {
      write: true;
      /** The path npm writes, relative to the package folder (`node_modules/<name>`). */
      path: string;
      /** Its first component in the archive (normally `package`). */
      root: string;
      /** The archive gave an absolute path (or a drive or UNC root) that npm stripped. */
      strippedRoot: string | null;
      /** pacote renamed `.gitignore` to `.npmignore`. */
      renamed: boolean;
      /** An earlier entry already wrote this path: npm replaces it (the last copy wins). */
      replaces: boolean;
    }
  | { write: false; reason: SkipReason };

const FILE_TYPES = /File$/; // File, OldFile, ContiguousFile: what pacote's filter lets through
const LINK_TYPES = /Link$/;
const MAX_DEPTH = 1024;
const CWD = '/pkg';
// A path win32 may see a root in: a leading slash or backslash, or a drive letter.
const MAYBE_ROOTED = /^(?:[\\/]|[a-zA-Z]:)/;
// A `..` segment once backslashes count as separators (node-tar's check).
const DOT_DOT = /(?:^|[\\/])\.\.(?:[\\/]|$)/;
// A path posix.resolve would change: empty, `.` segments, doubled or trailing slashes.
const NOT_NORMAL = /(?:^|\/)\.(?:\/|$)|\/\/|\/$/;

/**
 * node-tar's `stripAbsolutePath` (lib/strip-absolute-path.ts), copied because node-tar does not
 * export it: strips every root `path.win32` sees, so `/x`, `\x`, `c:x` and `//host/share/x` all lose
 * it, on every platform. Returns [root, rest].
 */
export function stripAbsolutePath(path: string): [string, string] {
  let r = '';
  let parsed = win32.parse(path);
  while (win32.isAbsolute(path) || parsed.root) {
    const root = path.charAt(0) === '/' && path.slice(0, 4) !== '//?/' ? '/' : parsed.root;
    path = path.slice(root.length);
    r += root;
    parsed = win32.parse(path);
  }
  return [r, path];
}

/**
 * Decides, entry by entry and in archive order, what npm writes. Keeps the state npm's extraction
 * has: the `.npmignore` files seen, the files written and the folders made.
 */
export class NpmLayout {
  private readonly sawIgnores = new Set<string>();
  private readonly files = new Set<string>();
  private readonly dirs = new Set<string>();

  /** `type` is node-tar's entry type name (`File`, `Directory`, `SymbolicLink`, …). */
  place(rawPath: string, type: string): Placement {
    if (LINK_TYPES.test(type)) return { write: false, reason: 'link' };
    if (!FILE_TYPES.test(type)) {
      return { write: false, reason: type === 'Directory' || type === 'GNUDumpDir' ? 'directory' : 'special' };
    }
    let path = rawPath;
    let renamed = false;
    const base = posix.basename(path);
    if (base === '.npmignore') {
      this.sawIgnores.add(path);
    } else if (base === '.gitignore') {
      const ni = path.replace(/\.gitignore$/, '.npmignore');
      if (this.sawIgnores.has(ni)) return { write: false, reason: 'gitignore-shadowed' };
      path = ni;
      renamed = true;
    }

    // strip: 1, whatever the first component is (node-tar splits on '/' only, on POSIX).
    const slash = path.indexOf('/');
    const root = slash === -1 ? path : path.slice(0, slash);
    let stripped = slash === -1 ? '' : path.slice(slash + 1);
    if (stripped.length >= MAX_DEPTH && stripped.split('/').length > MAX_DEPTH)
      return { write: false, reason: 'too-deep' };
    const [absRoot, rest] = MAYBE_ROOTED.test(stripped) ? stripAbsolutePath(stripped) : ['', stripped];
    if (DOT_DOT.test(rest)) return { write: false, reason: 'dot-dot' };
    if (absRoot) stripped = rest;
    let final: string;
    if (stripped !== '' && !NOT_NORMAL.test(stripped)) {
      final = stripped;
    } else {
      const absolute = posix.resolve(CWD, stripped);
      if (absolute === CWD || !absolute.startsWith(`${CWD}/`)) return { write: false, reason: 'top-level' };
      final = absolute.slice(CWD.length + 1);
    }

    // mkdir of the parents fails at the first one that is a file; a file cannot replace a folder
    // that holds files (rmdir: ENOTEMPTY). node-tar reports both as warnings and skips the entry.
    for (let i = final.indexOf('/'); i !== -1; i = final.indexOf('/', i + 1)) {
      if (this.files.has(final.slice(0, i))) return { write: false, reason: 'conflict' };
    }
    if (this.dirs.has(final)) return { write: false, reason: 'conflict' };
    const replaces = this.files.has(final);
    this.files.add(final);
    for (let i = final.indexOf('/'); i !== -1; i = final.indexOf('/', i + 1)) this.dirs.add(final.slice(0, i));
    return { write: true, path: final, root, strippedRoot: absRoot || null, renamed, replaces };
  }
}
