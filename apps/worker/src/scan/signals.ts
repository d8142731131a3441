import { extname } from 'node:path';
import { installCode, JS_EXT, MAX_JS_BYTES, scriptFindings } from './install-code.js';
import { analyseJs, mayHaveLongString, obfuscation } from './js-analysis.js';
import { signalFinding as finding, type Finding, type PackageFile, type PackageFiles, type Severity } from './types.js';

export const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'] as const;
const MAX_PER_ID = 20;

/** Keeps at most MAX_PER_ID findings per id, summarising the rest in one more. */
export function capPerId(findings: Finding[]): Finding[] {
  const seen = new Map<string, number>();
  const out: Finding[] = [];
  for (const f of findings) {
    const n = (seen.get(f.id) ?? 0) + 1;
    seen.set(f.id, n);
    if (n <= MAX_PER_ID) out.push(f);
  }
  for (const [id, n] of seen) {
    if (n > MAX_PER_ID) {
      const first = findings.find((f) => f.id === id)!;
      out.push({
        ...first,
        file: undefined,
        evidence: undefined,
        title: `${first.title} (and ${n - MAX_PER_ID} more files)`,
        explanation: `${n - MAX_PER_ID} further findings of this kind were not listed.`,
      });
    }
  }
  return out;
}

// ---- native binaries -------------------------------------------------------------------------

/** The executable format of a file by its magic bytes (ELF, Mach-O, PE), or null. */
export function binaryFormat(b: Buffer): string | null {
  if (b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46) return 'ELF';
  if (b.length >= 4) {
    const be = b.readUInt32BE(0);
    if ([0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe].includes(be)) return 'Mach-O';
    // 0xcafebabe is also a Java class file; a fat Mach-O has a small architecture count next.
    if (be === 0xcafebabe && b.length >= 8 && b.readUInt32BE(4) > 0 && b.readUInt32BE(4) < 30)
      return 'Mach-O (universal)';
  }
  if (b.length >= 64 && b[0] === 0x4d && b[1] === 0x5a) {
    const peOffset = b.readUInt32LE(0x3c);
    if (peOffset + 4 <= b.length && b.readUInt32BE(peOffset) === 0x50450000) return 'PE (Windows)';
    return 'DOS/PE (MZ header)';
  }
  return null;
}

function nativeBinary(f: PackageFile, head: Buffer): Finding | null {
  const format = binaryFormat(head);
  const addon = extname(f.path) === '.node';
  if (!format && !addon) return null;
  return finding({
    id: 'native-binary',
    severity: 'medium',
    title: `Prebuilt native binary: ${f.path}`,
    file: f.path,
    evidence: `${format ?? 'unrecognised format'}${addon ? ', Node.js native addon (.node)' : ''}, ${f.size} bytes`,
    explanation:
      'The package ships compiled machine code. It cannot be reviewed like source code and runs with the full rights of the process that loads it; check that it is expected and built from the published source.',
  });
}

export interface ManifestLike {
  name?: unknown;
  version?: unknown;
  scripts?: unknown;
  dependencies?: unknown;
  optionalDependencies?: unknown;
  peerDependencies?: unknown;
  license?: unknown;
  licenses?: unknown;
  gypfile?: unknown;
  [k: string]: unknown;
}

function scriptsOf(m: ManifestLike): Record<string, string> {
  const s = m.scripts;
  if (!s || typeof s !== 'object') return {};
  return Object.fromEntries(
    Object.entries(s as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

/** The scripts npm would run on install, including the implicit `node-gyp rebuild` of a binding.gyp. */
export function effectiveScripts(m: ManifestLike, hasBindingGyp: boolean): Record<string, string> {
  const s = scriptsOf(m);
  if (hasBindingGyp && !s.install && !s.preinstall && m.gypfile !== false) s.install = 'node-gyp rebuild';
  return s;
}

// ---- dependencies ----------------------------------------------------------------------------

/** Classifies a dependency spec that does not come from the registry, or returns null. */
export function nonRegistrySpec(spec: string): { kind: 'git' | 'http' | 'https' | 'file'; severity: Severity } | null {
  const s = spec.trim();
  if (/^git(\+[a-z]+)?:\/\//i.test(s) || /^(github|gitlab|bitbucket|gist):/i.test(s) || /^git@/i.test(s))
    return { kind: 'git', severity: 'medium' };
  if (/^http:\/\//i.test(s)) return { kind: 'http', severity: 'high' };
  if (/^https:\/\//i.test(s)) return { kind: 'https', severity: 'medium' };
  if (/^(file|link):/i.test(s) || s.startsWith('./') || s.startsWith('../') || s.startsWith('/') || s.startsWith('~/'))
    return { kind: 'file', severity: 'medium' };
  // GitHub shorthand: user/repo or user/repo#ref (a registry range never contains a slash).
  if (/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+(#.*)?$/.test(s)) return { kind: 'git', severity: 'medium' };
  return null;
}

function dependencyFindings(m: ManifestLike): Finding[] {
  const out: Finding[] = [];
  for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies'] as const) {
    const deps = m[field];
    if (!deps || typeof deps !== 'object') continue;
    for (const [name, spec] of Object.entries(deps as Record<string, unknown>)) {
      if (typeof spec !== 'string') continue;
      const kind = nonRegistrySpec(spec);
      if (!kind) continue;
      const what = { git: 'a git repository', http: 'a plain-HTTP URL', https: 'a URL', file: 'a local path' }[
        kind.kind
      ];
      out.push(
        finding({
          id: kind.kind === 'git' ? 'git-dependency' : kind.kind === 'file' ? 'file-dependency' : 'url-dependency',
          severity: kind.severity,
          title: `Dependency ${name} comes from ${what}`,
          file: 'package.json',
          evidence: `${field}: "${name}": ${JSON.stringify(spec)}`,
          explanation:
            kind.kind === 'http'
              ? 'The dependency is fetched over unencrypted HTTP from outside the registry; anyone on the network path can replace it.'
              : kind.kind === 'file'
                ? 'A published package depending on a local path is broken or points at files on the installing machine.'
                : 'The dependency bypasses the registry (and this approval process): what it resolves to can change without a new version.',
        }),
      );
    }
  }
  return out;
}

// ---- manifest vs registry -------------------------------------------------------------------

function stable(v: unknown): string {
  if (v === undefined || v === null) return '{}';
  if (typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  const keys = Object.keys(v as object).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

function emptyToUndefined(v: unknown): unknown {
  return v && typeof v === 'object' && Object.keys(v).length === 0 ? undefined : v;
}

/**
 * Compares the tarball's package.json with the registry's version document (name, version, scripts,
 * dependencies). A difference means "manifest confusion": what the registry shows reviewers and
 * tools is not what gets installed.
 */
export function manifestMismatch(tarball: ManifestLike, registry: ManifestLike, hasBindingGyp: boolean): Finding[] {
  const out: Finding[] = [];
  const pairs: Array<[string, unknown, unknown]> = [
    ['name', tarball.name, registry.name],
    ['version', tarball.version, registry.version],
    [
      'scripts',
      emptyToUndefined(effectiveScripts(tarball, hasBindingGyp)),
      emptyToUndefined(effectiveScripts(registry, false)),
    ],
    ['dependencies', emptyToUndefined(tarball.dependencies), emptyToUndefined(registry.dependencies)],
  ];
  for (const [field, t, r] of pairs) {
    if (stable(t) === stable(r)) continue;
    out.push(
      finding({
        id: 'manifest-mismatch',
        severity: 'high',
        title: `package.json ${field} differs from the registry's metadata`,
        file: 'package.json',
        evidence: `registry: ${stable(r)}; tarball: ${stable(t)}`,
        explanation: `The registry shows a different ${field} from the one in the tarball that would be installed ("manifest confusion"): tools and reviewers reading the registry see something other than what runs.`,
      }),
    );
  }
  return out;
}

// ---- licence ---------------------------------------------------------------------------------

/** A comparable licence string from npm's forms: a string, `{ type }`, or a `licenses` array. */
export function licenceOf(m: { license?: unknown; licenses?: unknown } | null | undefined): string | null {
  if (!m) return null;
  const one = (v: unknown): string | null =>
    typeof v === 'string'
      ? v
      : v && typeof v === 'object' && typeof (v as { type?: unknown }).type === 'string'
        ? (v as { type: string }).type
        : null;
  const l = one(m.license);
  if (l) return l;
  if (Array.isArray(m.licenses)) {
    const all = m.licenses.map(one).filter((x): x is string => !!x);
    if (all.length) return all.length === 1 ? all[0]! : `(${all.join(' OR ')})`;
  }
  return null;
}

function normLicence(s: string): string {
  return s.replace(/[()\s]/g, '').toUpperCase();
}

/** A finding when the tarball's licence is not the one declared (lockfile or registry), else null. */
export function licenceMismatch(tarball: string | null, declared: string | null): Finding | null {
  if (!declared || normLicence(declared) === normLicence(tarball ?? '')) return null;
  return finding({
    id: 'licence-mismatch',
    severity: 'medium',
    title: 'The tarball declares a different licence',
    file: 'package.json',
    evidence: `declared: ${declared}; tarball: ${tarball ?? '(none)'}`,
    explanation:
      'The licence was checked against what the lockfile or registry declared, but the package itself says otherwise; the licence verdict may not hold.',
  });
}

// ---- everything ------------------------------------------------------------------------------

export interface SignalInput {
  /** The files npm installs (the archive's view). */
  contents: PackageFiles;
  manifest: ManifestLike | null;
  /** Why there is no manifest (the view's manifestError), when there is none. */
  manifestError?: string | null;
  /** The registry's version document; null when it could not be fetched. */
  registryDoc: ManifestLike | null;
  registryError?: string;
  declaredLicence: string | null;
  signal?: AbortSignal;
}

/**
 * Supply-chain signals from the files npm installs: install scripts and what the files they run can do,
 * native binaries, obfuscated code, non-registry dependencies, a package.json that disagrees with
 * the registry, and a licence that differs from the declared one. Reads files only; runs nothing.
 */
export async function supplyChainSignals(input: SignalInput): Promise<Finding[]> {
  const { contents, manifest } = input;
  const findings: Finding[] = [];
  const files: readonly PackageFile[] = contents.files;
  const hasBindingGyp = contents.file('binding.gyp') !== undefined;

  if (!manifest) {
    findings.push(
      finding({
        id: 'manifest-missing',
        severity: 'high',
        title: 'The tarball has no readable package.json',
        evidence: input.manifestError ?? undefined,
        explanation: 'npm cannot install a package without package.json; the archive is not what it claims to be.',
      }),
    );
  }

  const installFiles = new Set<string>();
  if (manifest) {
    const scripts = effectiveScripts(manifest, hasBindingGyp);
    for (const key of INSTALL_SCRIPTS) {
      const script = scripts[key];
      if (!script) continue;
      const implicit = key === 'install' && hasBindingGyp && !scriptsOf(manifest).install;
      findings.push(
        finding({
          id: 'install-script',
          severity: 'medium',
          title: implicit
            ? 'Builds native code at install time (binding.gyp → node-gyp rebuild)'
            : `Runs a ${key} script when installed`,
          file: implicit ? 'binding.gyp' : 'package.json',
          evidence: `"${key}": ${JSON.stringify(script)}`,
          explanation: implicit
            ? 'A binding.gyp makes npm run node-gyp, which compiles and may run build actions defined by the package, on every machine that installs it.'
            : `npm runs this command on every machine that installs the package (unless scripts are disabled), with the user's rights.`,
        }),
      );
      const { findings: sf, runs } = scriptFindings(key, script);
      findings.push(...sf);
      const code = await installCode(contents, key, runs);
      findings.push(...code.findings);
      for (const f of code.files) installFiles.add(f);
    }
    findings.push(...dependencyFindings(manifest));
  }

  // One read per file: the first KiB for the binary check, the whole text for JavaScript. Native
  // binaries are listed before obfuscation findings, as they always were.
  const binaries: Finding[] = [];
  const obfuscated: Finding[] = [];
  for (const f of files) {
    input.signal?.throwIfAborted();
    const js = JS_EXT.has(extname(f.path)) && f.size <= MAX_JS_BYTES && f.size > 0;
    if (!js) {
      if (f.size < 4) continue;
      const b = nativeBinary(f, await f.head(1024));
      if (b) binaries.push(b);
      continue;
    }
    const buf = await f.read();
    if (f.size >= 4) {
      const b = nativeBinary(f, buf.subarray(0, 1024));
      if (b) binaries.push(b);
    }
    const text = buf.toString('utf8');
    // Here only the long string literals (and eval beside them) count, so a file that cannot hold
    // one is not parsed; the files install scripts run were analysed in full above.
    const a = mayHaveLongString(text) ? analyseJs(text) : null;
    const o = obfuscation(text, a?.parsed ? a : null);
    const install = installFiles.has(f.path);
    // Medium wherever it is: dense escapes and long lines also mark minified bundles and generated
    // tables. javascript-obfuscator's own fingerprints are judged high by scan/behaviour (`obfuscated`).
    if (o.score >= 3) {
      obfuscated.push(
        finding({
          id: 'obfuscated-code',
          severity: 'medium',
          title: `Obfuscated code${install ? ' in install-time code' : ''}: ${f.path}`,
          file: f.path,
          evidence: o.evidence,
          explanation: `Signs of deliberately unreadable code: ${o.markers.join('; ')}. Obfuscation is rare in legitimate npm packages and common in malicious ones.`,
        }),
      );
    } else if (o.markers.some((m) => m.includes('bits/char'))) {
      obfuscated.push(
        finding({
          id: 'high-entropy-string',
          severity: 'low',
          title: `High-entropy string literal: ${f.path}`,
          file: f.path,
          evidence: o.evidence,
          explanation: `${o.markers.join('; ')}. Often embedded data (fonts, WebAssembly), sometimes an encoded payload.`,
        }),
      );
    }
  }
  findings.push(...binaries, ...obfuscated);

  if (manifest && input.registryDoc) findings.push(...manifestMismatch(manifest, input.registryDoc, hasBindingGyp));
  if (manifest && !input.registryDoc) {
    findings.push(
      finding({
        id: 'registry-metadata-unavailable',
        severity: 'info',
        title: "Could not compare package.json with the registry's metadata",
        evidence: input.registryError,
        explanation: 'The registry version document was not available, so a manifest-confusion check was not made.',
      }),
    );
  }
  if (manifest) {
    const declared = input.declaredLicence ?? licenceOf(input.registryDoc);
    const m = licenceMismatch(licenceOf(manifest), declared);
    if (m) findings.push(m);
  }
  return capPerId(findings);
}
