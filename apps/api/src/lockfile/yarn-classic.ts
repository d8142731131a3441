import { createRequire } from 'node:module';
import type * as YarnLockfile from '@yarnpkg/lockfile';
import {
  Collector,
  MAX_DEPTH,
  clip,
  describe,
  entryError,
  isLocalFolder,
  isObject,
  isRegistryTarball,
  lockfileError,
  notFromRegistry,
  own,
  registryPackage,
  sha1HexToIntegrity,
  splitAtName,
  stringField,
  syntaxError,
  type Obj,
} from './entry.js';
import type { ParsedLockfile } from './types.js';

// A webpack bundle with an `__esModule` flag: ESM interop differs between Node and bundlers, require does not.
const yarnLockfile = createRequire(import.meta.url)('@yarnpkg/lockfile') as typeof YarnLockfile;

/**
 * Yarn classic's yarn.lock (v1), read by Yarn's own parser (@yarnpkg/lockfile). Each entry is keyed by
 * the descriptors (`name@range`) it satisfies and names its version, resolved URL and integrity.
 * The format has no dev or optional flags and no application name.
 */
export function parseYarnClassic(text: string): ParsedLockfile {
  const body = text.endsWith('\n') ? text : `${text}\n`;
  checkTokens(body);
  let result: ReturnType<typeof yarnLockfile.parse>;
  try {
    result = yarnLockfile.parse(body);
  } catch (err) {
    throw syntaxError('yarn.lock', err);
  }
  if (result.type !== 'success') {
    throw lockfileError(
      'ERR_LOCKFILE_SYNTAX',
      'The yarn.lock contains merge conflict markers: resolve the conflict (run `yarn install`) and upload the result.',
    );
  }
  const doc: unknown = result.object;
  if (!isObject(doc)) throw lockfileError('ERR_NOT_LOCKFILE', `The yarn.lock is not a list of entries.`);

  // `"a@^1.0.0", "a@^1.1.0":` is one entry: the parser gives each descriptor its own key, sharing the object.
  const descriptorsOf = new Map<unknown, string[]>();
  for (const key of Object.keys(doc)) {
    const entry = doc[key];
    if (!isObject(entry)) throw entryError(key, `expected an entry with fields, got ${describe(entry)}`);
    const keys = descriptorsOf.get(entry);
    if (keys) keys.push(key);
    else descriptorsOf.set(entry, [key]);
  }
  const ctx = new Collector();
  for (const [entry, keys] of descriptorsOf) readEntry(keys, entry as Obj, ctx);
  return {
    format: 'yarn-classic',
    lockfileVersion: 1,
    applicationName: null,
    applicationVersion: null,
    packages: ctx.packages(),
    skipped: ctx.skipped,
  };
}

/**
 * @yarnpkg/lockfile's tokeniser never stops on a string left open at the end of the text (it appends
 * `undefined` until V8 refuses the string length: seconds of CPU and a gigabyte of memory for a
 * few bytes of input), nor on a comment without a newline after it. So the text is first checked
 * line by line, with the tokeniser's own rules for where a token starts: every quoted string closes
 * on its line (Yarn writes no other kind), no character is one the tokeniser cannot start a token
 * with, no indentation deeper than MAX_DEPTH levels. Linear; the parser then only sees text it ends on.
 */
function checkTokens(text: string): void {
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n]!;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const bad = (what: string) =>
      lockfileError('ERR_LOCKFILE_SYNTAX', `The yarn.lock cannot be read: ${what} on line ${n + 1}.`, { line: n + 1 });
    let i = 0;
    while (line[i] === ' ') i++;
    if (i > 2 * MAX_DEPTH) throw bad(`indentation deeper than ${MAX_DEPTH} levels`);
    while (i < line.length) {
      const c = line[i]!;
      if (c === '#') break;
      if (c === ' ' || c === ':' || c === ',') i++;
      else if (c === '"') {
        let j = i + 1;
        for (; j < line.length; j++) if (line[j] === '"' && !(line[j - 1] === '\\' && line[j - 2] !== '\\')) break;
        if (j >= line.length) throw bad('a string that is not closed');
        i = j + 1;
      } else if (line.startsWith('true', i) || line.startsWith('false', i)) {
        i += line.startsWith('true', i) ? 4 : 5;
      } else if (c >= '0' && c <= '9') {
        while (line[i]! >= '0' && line[i]! <= '9') i++;
      } else if (/[a-zA-Z/-]/.test(c)) {
        while (i < line.length && !' :,\r'.includes(line[i]!)) i++;
      } else throw bad(`an unexpected character ${JSON.stringify(c)}`);
    }
  }
}

function readEntry(descriptors: string[], entry: Obj, ctx: Collector): void {
  const path = descriptors.join(', ');
  let name: string | undefined;
  let localRange: string | undefined;
  for (const descriptor of descriptors) {
    const d = splitAtName(descriptor);
    if (!d) throw entryError(path, `"${clip(descriptor, 80)}" is not a name@range descriptor`);
    // An alias (`"alias@npm:real@^1.0.0"`) installs the real package under another folder name.
    const aliased = d.range.startsWith('npm:') ? splitAtName(d.range.slice(4)) : null;
    const real = aliased ? aliased.name : d.name;
    if (name !== undefined && real !== name) {
      throw entryError(path, `its descriptors name different packages (${clip(name, 80)}, ${clip(real, 80)})`);
    }
    name = real;
    if (/^(file|link|portal):/.test(d.range)) localRange = d.range;
  }
  const resolvedRaw = stringField(path, 'resolved', own(entry, 'resolved'));
  if (localRange !== undefined) {
    // A local folder is the team's own code (npm skips it too); a local tarball is refused like npm does.
    const spec = localRange.slice(localRange.indexOf(':') + 1);
    const resolvedLocal = resolvedRaw === null || resolvedRaw.startsWith('file:');
    if (isLocalFolder(spec) && resolvedLocal && (resolvedRaw === null || isLocalFolder(resolvedRaw.split('#')[0]!))) {
      ctx.skip(path, 'link');
      return;
    }
    throw notFromRegistry(path, name!, localRange, { field: 'descriptor' });
  }
  let resolved = resolvedRaw;
  let integrity = own(entry, 'integrity');
  if (resolvedRaw !== null && isRegistryTarball(resolvedRaw)) {
    // Yarn appends the tarball's sha1 as the URL fragment; older lockfiles have no `integrity` besides it.
    const hash = resolvedRaw.indexOf('#');
    if (hash >= 0) {
      const fragment = resolvedRaw.slice(hash + 1);
      resolved = resolvedRaw.slice(0, hash);
      if (integrity === undefined && /^[0-9a-f]{40}$/.test(fragment)) integrity = sha1HexToIntegrity(fragment);
    }
  }
  ctx.add(path, registryPackage(path, { name: name!, version: own(entry, 'version'), resolved, integrity }));
}
