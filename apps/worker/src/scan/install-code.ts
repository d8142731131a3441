import { extname, posix } from 'node:path';
import { analyseJs, type Capability } from './js-analysis.js';
import { commandName, parseScript } from './shell.js';
import { readText, signalFinding as finding, type Finding, type PackageFiles, type Severity } from './types.js';

/** What install scripts run, and what the files they run can do (network, shell, eval), read from the view. */

export const JS_EXT = new Set(['.js', '.cjs', '.mjs']);
/** JavaScript files larger than this are not analysed. */
export const MAX_JS_BYTES = 5 * 1024 * 1024;
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

export interface ScriptRun {
  files: string[];
  inline: string[];
}

export function scriptFindings(key: string, script: string): { findings: Finding[]; runs: ScriptRun } {
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

/** `spec` relative to the folder of `from`, inside the package, or null when it leaves it. */
function resolveInside(from: string, spec: string): string | null {
  const base = posix.normalize(posix.join(posix.dirname(from), spec));
  if (base === '..' || base.startsWith('../') || posix.isAbsolute(base)) return null;
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

/** Follows the files an install script runs (and their local requires) and reports what they can do. */
export async function installCode(
  pkg: PackageFiles,
  key: string,
  runs: ScriptRun,
): Promise<{ findings: Finding[]; files: Set<string> }> {
  const findings: Finding[] = [];
  const visited = new Set<string>();
  for (const code of runs.inline) {
    const a = analyseJs(code);
    findings.push(...capabilityFindings(key, `package.json (${key}, inline node -e)`, a.capabilities));
  }
  const queue = runs.files.map((f) => resolveInside('x', f)).filter((f): f is string => f !== null);
  while (queue.length && visited.size < MAX_INSTALL_FILES) {
    const rel = queue.shift()!;
    const candidates = JS_EXT.has(extname(rel))
      ? [rel]
      : [rel, `${rel}.js`, `${rel}.cjs`, `${rel}.mjs`, `${rel}/index.js`];
    let found: string | null = null;
    let text: string | null = null;
    for (const c of candidates) {
      const f = pkg.file(c);
      text = f ? await readText(f, MAX_JS_BYTES) : null;
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
      const next = resolveInside(found, spec);
      if (next) queue.push(next);
    }
  }
  return { findings, files: visited };
}
