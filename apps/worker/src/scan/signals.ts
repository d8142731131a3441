import { open, readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, posix, relative, resolve, sep } from 'node:path';
import { analyseJs, mayHaveLongString, obfuscation, type Capability } from './js-analysis.js';
import { commandName, parseScript } from './shell.js';
import { excerpt, type Finding, type Severity } from './types.js';

export const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'] as const;
const JS_EXT = new Set(['.js', '.cjs', '.mjs']);
const MAX_JS_BYTES = 5 * 1024 * 1024;
const MAX_PER_ID = 20;
const MAX_INSTALL_FILES = 25;

export const DOWNLOADERS = new Set([
  'curl',
  'wget',
  'fetch',
  'iwr',
  'irm',
  'invoke-webrequest',
  'invoke-restmethod',
  'certutil',
  'bitsadmin',
  'nc',
  'ncat',
  'aria2c',
  'tftp',
  'ftp',
  'scp',
]);
export const INTERPRETERS = new Set([
  'sh',
  'bash',
  'zsh',
  'dash',
  'ksh',
  'fish',
  'powershell',
  'pwsh',
  'cmd',
  'node',
  'python',
  'python3',
  'perl',
  'ruby',
  'php',
  'iex',
  'invoke-expression',
  'source',
  '.',
]);

/** A regular file in the package: path relative to the package root (posix separators). */
export interface PackageFile {
  rel: string;
  abs: string;
  size: number;
}

/** Every regular file under `root` (symlinks and other special files are ignored), up to `max`. */
export async function listFiles(root: string, max = 100_000): Promise<PackageFile[]> {
  const out: PackageFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const d of await readdir(dir, { withFileTypes: true })) {
      if (out.length >= max) return;
      const abs = join(dir, d.name);
      if (d.isDirectory()) await walk(abs);
      else if (d.isFile())
        out.push({ rel: relative(root, abs).split(sep).join('/'), abs, size: (await stat(abs)).size });
    }
  };
  await walk(root);
  return out;
}

function finding(f: Omit<Finding, 'source'>): Finding {
  const out: Finding = { source: 'signal', ...f };
  if (out.evidence !== undefined) out.evidence = excerpt(out.evidence);
  return out;
}

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

async function head(abs: string, n: number): Promise<Buffer> {
  const fh = await open(abs, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

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
  const addon = extname(f.rel) === '.node';
  if (!format && !addon) return null;
  return finding({
    id: 'native-binary',
    severity: 'medium',
    title: `Prebuilt native binary: ${f.rel}`,
    file: f.rel,
    evidence: `${format ?? 'unrecognised format'}${addon ? ', Node.js native addon (.node)' : ''}, ${f.size} bytes`,
    explanation:
      'The package ships compiled machine code. It cannot be reviewed like source code and runs with the full rights of the process that loads it; check that it is expected and built from the published source.',
  });
}

// ---- install scripts -------------------------------------------------------------------------

interface ScriptRun {
  files: string[];
  inline: string[];
}

function scriptFindings(key: string, script: string): { findings: Finding[]; runs: ScriptRun } {
  const runs: ScriptRun = { files: [], inline: [] };
  const findings: Finding[] = [];
  const pipelines = parseScript(script);
  let downloads = false;
  let downloadExec = false;
  const add = (id: string, severity: Severity, title: string, explanation: string) => {
    if (!findings.some((f) => f.id === id))
      findings.push(
        finding({
          id,
          severity,
          title,
          file: 'package.json',
          evidence: `"${key}": ${JSON.stringify(script)}`,
          explanation,
        }),
      );
  };
  for (const p of pipelines) {
    const names = p.commands.map((c) => commandName(c[0]!));
    const dl = names.findIndex((n) => DOWNLOADERS.has(n));
    if (dl >= 0) {
      downloads = true;
      if (names.slice(dl + 1).some((n) => INTERPRETERS.has(n))) downloadExec = true;
    }
    for (const cmd of p.commands) {
      const name = commandName(cmd[0]!);
      const args = cmd.slice(1);
      if ((name === 'sh' || name === 'bash' || name === 'zsh' || name === 'dash') && args[0] === '-c' && args[1]) {
        const inner = scriptFindings(key, args[1]);
        for (const f of inner.findings) add(f.id, f.severity, f.title, f.explanation);
        runs.files.push(...inner.runs.files);
        runs.inline.push(...inner.runs.inline);
      }
      if ((name === 'powershell' || name === 'pwsh') && args.some((a) => /^-e(nc(odedcommand)?)?$/i.test(a))) {
        add(
          'install-script-encoded',
          'high',
          `The ${key} script runs an encoded PowerShell command`,
          'An encoded command hides what the script does at install time.',
        );
      }
      // `sh -c "$(curl …)"`, `node -e "$(wget …)"`: a download substituted into an interpreter's arguments.
      if (INTERPRETERS.has(name) || name === 'eval') {
        if (args.some((a) => /\$\(|`/.test(a) && [...DOWNLOADERS].some((d) => new RegExp(`\\b${d}\\b`, 'i').test(a)))) {
          downloads = true;
          downloadExec = true;
        }
      }
      if (name === 'eval')
        add(
          'install-script-eval',
          'high',
          `The ${key} script uses shell eval`,
          'eval runs a string built at install time as a command; what it runs cannot be read from the package.',
        );
      if (name === 'base64' && args.some((a) => a === '-d' || a === '--decode' || a === '-D')) {
        add(
          'install-script-encoded',
          'high',
          `The ${key} script decodes base64 data`,
          'Decoding hidden data during installation is a common way to conceal a payload.',
        );
      }
      if (name === 'npx' || (name === 'npm' && (args[0] === 'exec' || args[0] === 'x'))) {
        add(
          'install-script-remote-package',
          'high',
          `The ${key} script runs a package fetched at install time (${name})`,
          'npx downloads and runs a package that is not part of this one and was never reviewed.',
        );
      }
      if (name === 'node') {
        const eIdx = args.findIndex((a) => a === '-e' || a === '--eval' || a === '-p' || a === '--print');
        if (eIdx >= 0 && args[eIdx + 1]) runs.inline.push(args[eIdx + 1]!);
        else {
          const file = args.find((a) => !a.startsWith('-'));
          if (file) runs.files.push(file);
        }
      }
      if (/\.(c|m)?js$/.test(cmd[0]!) && cmd[0]!.startsWith('./')) runs.files.push(cmd[0]!);
      if ((name === 'sh' || name === 'bash') && args[0] && !args[0].startsWith('-')) runs.files.push(args[0]);
      if (name === 'chmod' && dl < 0 && downloads) downloadExec = true;
    }
  }
  // A URL in the script, or a downloader anywhere: the install talks to the network.
  const url = script.match(/\b(?:https?|ftp):\/\/[^\s'"|;&)]+/i)?.[0];
  if (downloadExec) {
    add(
      'install-script-download-exec',
      'critical',
      `The ${key} script downloads code and runs it`,
      'Code fetched from the network at install time runs on every machine that installs this package and can change at any moment without a new version.',
    );
  } else if (downloads || url) {
    add(
      'install-script-network',
      'high',
      `The ${key} script uses the network${url ? ` (${url.slice(0, 80)})` : ''}`,
      'Installing the package contacts a server: it may download unreviewed code or send data out.',
    );
  }
  return { findings, runs };
}

function resolveInside(root: string, from: string, spec: string): string | null {
  const base = posix.normalize(posix.join(posix.dirname(from), spec));
  if (base.startsWith('../') || base === '..' || posix.isAbsolute(base)) return null;
  const abs = resolve(root, base);
  if (!abs.startsWith(resolve(root) + sep)) return null;
  return base;
}

// What install-time code can do, as medium facts for the approver: whether it does something harmful
// with it (a download that is run, a secret that is sent) is judged by data flow in scan/behaviour,
// whose findings carry the high and critical severities. Any network or shell use at install was
// high before, which flagged esbuild, node-gyp and prebuild-install alike.
function capabilityFindings(key: string, file: string, caps: Capability[]): Finding[] {
  const out: Finding[] = [];
  const net = caps.find((c) => c.kind === 'network');
  const shell = caps.find((c) => c.kind === 'shell');
  const ev = caps.find((c) => c.kind === 'eval');
  const dyn = caps.find((c) => c.kind === 'dynamic-require');
  const where = (c: Capability) => ({ file, evidence: `line ${c.line}: ${c.evidence}` });
  if (net && (shell || ev)) {
    out.push(
      finding({
        id: 'install-code-download-exec',
        severity: 'medium',
        title: `Install-time code uses the network and runs commands or code (${net.what} + ${(shell ?? ev)!.what})`,
        ...where(net),
        explanation: `${file} runs during ${key}: it uses ${net.what} and ${(shell ?? ev)!.what}, the pattern of a dropper that downloads and executes a payload on install.`,
      }),
    );
  } else if (net) {
    out.push(
      finding({
        id: 'install-code-network',
        severity: 'medium',
        title: `Install-time code uses the network (${net.what})`,
        ...where(net),
        explanation: `${file} runs during ${key} and can contact a server: it may download unreviewed code or send data out.`,
      }),
    );
  }
  if (shell && !net) {
    out.push(
      finding({
        id: 'install-code-shell',
        severity: 'medium',
        title: `Install-time code runs shell commands (${shell.what})`,
        ...where(shell),
        explanation: `${file} runs during ${key} and starts other programs; check what they are.`,
      }),
    );
  }
  if (ev && !net) {
    out.push(
      finding({
        id: 'install-code-eval',
        severity: 'medium',
        title: `Install-time code evaluates code at run time (${ev.what})`,
        ...where(ev),
        explanation: `${file} runs during ${key} and builds code from strings, which hides what it does from a reviewer.`,
      }),
    );
  }
  if (dyn) {
    out.push(
      finding({
        id: 'install-code-dynamic-require',
        severity: 'medium',
        title: 'Install-time code loads a module whose name is computed',
        ...where(dyn),
        explanation: `${file} runs during ${key} and requires a module chosen at run time, so what it loads cannot be read from the source.`,
      }),
    );
  }
  return out;
}

async function readText(root: string, rel: string): Promise<string | null> {
  try {
    const abs = resolve(root, rel);
    const st = await stat(abs);
    if (!st.isFile() || st.size > MAX_JS_BYTES) return null;
    return await readFile(abs, 'utf8');
  } catch {
    return null;
  }
}

/** Follows the files an install script runs (and their local requires) and reports what they can do. */
async function installCode(
  root: string,
  key: string,
  runs: ScriptRun,
): Promise<{ findings: Finding[]; files: Set<string> }> {
  const findings: Finding[] = [];
  const visited = new Set<string>();
  for (const code of runs.inline) {
    const a = analyseJs(code);
    findings.push(...capabilityFindings(key, `package.json (${key}, inline node -e)`, a.capabilities));
  }
  const queue = runs.files.map((f) => resolveInside(root, 'x', f)).filter((f): f is string => f !== null);
  while (queue.length && visited.size < MAX_INSTALL_FILES) {
    const rel = queue.shift()!;
    const candidates = JS_EXT.has(extname(rel))
      ? [rel]
      : [rel, `${rel}.js`, `${rel}.cjs`, `${rel}.mjs`, `${rel}/index.js`];
    let found: string | null = null;
    let text: string | null = null;
    for (const c of candidates) {
      text = await readText(root, c);
      if (text !== null) {
        found = c;
        break;
      }
    }
    if (!found || text === null || visited.has(found)) continue;
    visited.add(found);
    const a = analyseJs(text);
    findings.push(...capabilityFindings(key, found, a.capabilities));
    for (const spec of a.localRequires) {
      const next = resolveInside(root, found, spec);
      if (next) queue.push(next);
    }
  }
  return { findings, files: visited };
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
  root: string;
  manifest: ManifestLike | null;
  /** The registry's version document; null when it could not be fetched. */
  registryDoc: ManifestLike | null;
  registryError?: string;
  declaredLicence: string | null;
  skippedLinks?: string[];
  signal?: AbortSignal;
}

/**
 * Supply-chain signals from an extracted package: install scripts and what the files they run can do,
 * native binaries, obfuscated code, non-registry dependencies, a package.json that disagrees with
 * the registry, and a licence that differs from the declared one. Reads files only; runs nothing.
 */
export async function supplyChainSignals(input: SignalInput): Promise<Finding[]> {
  const { root, manifest } = input;
  const findings: Finding[] = [];
  const files = await listFiles(root);
  const hasBindingGyp = files.some((f) => f.rel === 'binding.gyp');

  if (!manifest) {
    findings.push(
      finding({
        id: 'manifest-missing',
        severity: 'high',
        title: 'The tarball has no readable package.json',
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
      const code = await installCode(root, key, runs);
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
    const js = JS_EXT.has(extname(f.rel)) && f.size <= MAX_JS_BYTES && f.size > 0;
    if (!js) {
      if (f.size < 4) continue;
      const b = nativeBinary(f, await head(f.abs, 1024));
      if (b) binaries.push(b);
      continue;
    }
    const buf = await readFile(f.abs);
    if (f.size >= 4) {
      const b = nativeBinary(f, buf.subarray(0, 1024));
      if (b) binaries.push(b);
    }
    const text = buf.toString('utf8');
    // Here only the long string literals (and eval beside them) count, so a file that cannot hold
    // one is not parsed; the files install scripts run were analysed in full above.
    const a = mayHaveLongString(text) ? analyseJs(text) : null;
    const o = obfuscation(text, a?.parsed ? a : null);
    const install = installFiles.has(f.rel);
    // Medium wherever it is: dense escapes and long lines also mark minified bundles and generated
    // tables. javascript-obfuscator's own fingerprints are judged high by scan/behaviour (`obfuscated`).
    if (o.score >= 3) {
      obfuscated.push(
        finding({
          id: 'obfuscated-code',
          severity: 'medium',
          title: `Obfuscated code${install ? ' in install-time code' : ''}: ${f.rel}`,
          file: f.rel,
          evidence: o.evidence,
          explanation: `Signs of deliberately unreadable code: ${o.markers.join('; ')}. Obfuscation is rare in legitimate npm packages and common in malicious ones.`,
        }),
      );
    } else if (o.markers.some((m) => m.includes('bits/char'))) {
      obfuscated.push(
        finding({
          id: 'high-entropy-string',
          severity: 'low',
          title: `High-entropy string literal: ${f.rel}`,
          file: f.rel,
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
  if (input.skippedLinks?.length) {
    findings.push(
      finding({
        id: 'archive-links',
        severity: 'info',
        title: `The archive holds ${input.skippedLinks.length} link(s), not extracted`,
        evidence: input.skippedLinks.slice(0, 5).join(', '),
        explanation: 'npm does not install links from package tarballs; they stay inside the package and were ignored.',
      }),
    );
  }
  return capPerId(findings);
}
