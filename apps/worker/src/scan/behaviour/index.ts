import { posix } from 'node:path';
import semver from 'semver';
import { commandName, parseScript } from '../shell.js';
import type { ManifestLike } from '../signals.js';
import { excerpt, type Finding } from '../types.js';
import { Flow } from './flow.js';
import { jsHits, type Hit } from './js-rules.js';
import { lineLocator } from '../lines.js';
import { buildProgram, parseJs, requiredModule, type N } from './program.js';
import { RULES, type RuleId } from './rules.js';
import { commandFindings } from './shell-command.js';
import { textHits } from './text.js';

/** One file of the package as npm installs it: path relative to the package root, and its text. */
export interface BehaviourFile {
  path: string;
  text: string;
}

export interface BehaviourInput {
  files: BehaviourFile[];
  manifest: ManifestLike | null;
  signal?: AbortSignal;
}

/** Work bounds for hostile input. Larger files get the text checks only. */
export const BEHAVIOUR_LIMITS = {
  /** Largest file parsed (minified bundles of a few MB are parsed; bigger ones are not). */
  maxParseBytes: 3 * 1024 * 1024,
  /** Total bytes parsed per package; the rest get the text checks only. */
  maxPackageParseBytes: 24 * 1024 * 1024,
  /** Findings of one rule listed per package. */
  maxPerRule: 10,
};

const JS_FILE = /\.(c|m)?js$/i;
const SCRIPT_FILE = /\.(sh|bat|cmd|ps1)$/i;
const INSTALL_KEYS = ['preinstall', 'install', 'postinstall'] as const;
// Only files that can reach a rule's sink need a parse.
const WORTH_PARSING =
  /child_process|\bhttps?\b|\bnet\b|\bdns\b|\btls\b|dgram|fetch|WebSocket|XMLHttpRequest|sendBeacon|\beval\b|Function|\bvm\b|_compile|writeFile|appendFile|copyFile|createWriteStream|cpSync|axios|\bgot\b|undici|request|ethereum|publish|scripts|process\.env|require\s*\(\s*[^'"`\s)]|\brequire\s*[,;)]|constructor|createDecipher|fromCharCode|atob/;

/**
 * Behaviour detection over all code of a package: what each file does, judged by data flow (a
 * secret read that reaches a network call, decoded data fed to eval or child_process, a download
 * that is executed) and by text (invisible characters, Trojan Source, hidden code, obfuscation).
 * A finding reachable from an install script takes the rule's install-time severity. Every finding
 * names the file, line, an excerpt and why. Never throws on package content; bounded by
 * BEHAVIOUR_LIMITS.
 */
export function detectBehaviour(input: BehaviourInput): Finding[] {
  const byPath = new Map(input.files.map((f) => [f.path, f]));
  const paths = new Set(byPath.keys());
  const install = installEntries(input.manifest, paths);
  const analysed = new Map<string, { hits: Hit[]; requires: string[] }>();
  let parseBudget = BEHAVIOUR_LIMITS.maxPackageParseBytes;
  const skipped: string[] = [];
  const parsed = new Set<string>();

  for (const f of input.files) {
    input.signal?.throwIfAborted();
    if (JS_FILE.test(f.path)) {
      const hits: Hit[] = textHits(f.text);
      let requires: string[] = [];
      if (WORTH_PARSING.test(f.text)) {
        if (f.text.length > BEHAVIOUR_LIMITS.maxParseBytes || f.text.length > parseBudget) skipped.push(f.path);
        else {
          parseBudget -= f.text.length;
          parsed.add(f.path);
          const r = analyseJs(f.text, paths);
          hits.push(...r.hits);
          requires = r.requires;
        }
      }
      analysed.set(f.path, { hits, requires });
    }
  }
  for (const code of install.inline) analysed.set(code.path, analyseJs(code.text, paths));

  // Install-time reachability: the files install scripts run and everything they require.
  const reached = new Set<string>();
  const queue = [...install.files, ...install.inline.map((c) => c.path)];
  while (queue.length) {
    const p = queue.shift()!;
    if (reached.has(p)) continue;
    reached.add(p);
    // A file that install code runs is read for its requires even when nothing in it needed a parse.
    if (!analysed.has(p) && JS_FILE.test(p) && byPath.has(p)) {
      const text = byPath.get(p)!.text;
      analysed.set(
        p,
        text.length <= BEHAVIOUR_LIMITS.maxParseBytes ? analyseJs(text, paths) : { hits: [], requires: [] },
      );
    } else if (
      analysed.get(p)?.requires.length === 0 &&
      byPath.has(p) &&
      !parsed.has(p) &&
      byPath.get(p)!.text.length <= BEHAVIOUR_LIMITS.maxParseBytes
    ) {
      const text = byPath.get(p)!.text;
      const r = analyseJs(text, paths);
      analysed.set(p, { hits: [...analysed.get(p)!.hits, ...r.hits], requires: r.requires });
    }
    for (const spec of analysed.get(p)?.requires ?? []) {
      const next = resolveLocal(p, spec, paths);
      if (next) queue.push(next);
    }
    for (const h of analysed.get(p)?.hits ?? []) for (const r of h.runs ?? []) queue.push(r);
  }

  const findings: Finding[] = [];
  const locators = new Map<string, (pos: number) => number>();
  const lineAt = (text: string, pos: number) => {
    let locate = locators.get(text);
    if (!locate) locators.set(text, (locate = lineLocator(text)));
    return locate(pos);
  };
  const add = (rule: RuleId, path: string, text: string | null, start: number, end: number, detail: string) => {
    const def = RULES[rule];
    const atInstall = reached.has(path);
    const f: Finding = {
      id: rule,
      source: 'signal',
      severity: atInstall ? def.install : def.runtime,
      title: `${def.title}${atInstall ? ' (runs at install)' : ''}`,
      file: path,
      explanation: `${def.why} Seen: ${detail}.${atInstall ? ' This code runs when the package is installed.' : ''}`,
    };
    if (text !== null) {
      f.line = lineAt(text, start);
      f.evidence = excerpt(text.slice(start, Math.min(end, start + 300)));
    }
    findings.push(f);
  };
  for (const [path, a] of analysed) {
    const text = byPath.get(path)?.text ?? install.inline.find((c) => c.path === path)?.text ?? null;
    for (const h of a.hits) add(h.rule, path, text, h.start, h.end, h.detail);
  }
  // Batch and shell scripts of the package that its code or install scripts run.
  for (const p of reachedScripts(analysed, install.files, paths)) {
    const text = byPath.get(p)?.text ?? '';
    for (const c of commandFindings(text)) add(c.rule, p, text, 0, Math.min(text.length, 200), c.detail);
  }
  findings.push(...manifestFindings(input.manifest, install.files.length + install.inline.length > 0));
  if (skipped.length)
    findings.push({
      id: 'behaviour-not-analysed',
      source: 'signal',
      severity: 'info',
      title: `${skipped.length} file(s) too large for behaviour analysis`,
      evidence: skipped.slice(0, 5).join(', '),
      explanation: `Files over ${BEHAVIOUR_LIMITS.maxParseBytes} bytes, or past ${BEHAVIOUR_LIMITS.maxPackageParseBytes} bytes per package, got the text checks only.`,
    });
  return cap(findings);
}

function analyseJs(text: string, paths: ReadonlySet<string>): { hits: Hit[]; requires: string[] } {
  const ast = parseJs(text);
  if (!ast) return { hits: [], requires: [] };
  const prog = buildProgram(ast, text);
  const flow = new Flow(prog);
  flow.solve();
  const requires: string[] = [];
  for (const { node, scope } of prog.calls) {
    const m = requiredModule(node, prog, scope);
    if (m && m.startsWith('.')) requires.push(m);
  }
  walkImports(ast, requires);
  return { hits: jsHits(prog, flow, paths), requires };
}

function walkImports(ast: N, out: string[]): void {
  for (const s of ast.body ?? [])
    if (
      (s.type === 'ImportDeclaration' || s.type === 'ExportAllDeclaration' || s.type === 'ExportNamedDeclaration') &&
      typeof s.source?.value === 'string' &&
      s.source.value.startsWith('.')
    )
      out.push(s.source.value);
}

function resolveLocal(from: string, spec: string, paths: ReadonlySet<string>): string | null {
  const base = posix.normalize(posix.join(posix.dirname(from.includes('#') ? 'x' : from), spec));
  for (const c of [base, `${base}.js`, `${base}.cjs`, `${base}.mjs`, `${base}/index.js`]) if (paths.has(c)) return c;
  return null;
}

/** The files and inline code npm's install scripts run (`node x.js`, `node -e "…"`, `./x.js`, `sh x.sh`). */
function installEntries(
  m: ManifestLike | null,
  paths: ReadonlySet<string>,
): { files: string[]; inline: BehaviourFile[] } {
  const files: string[] = [];
  const inline: BehaviourFile[] = [];
  const scripts = m?.scripts && typeof m.scripts === 'object' ? (m.scripts as Record<string, unknown>) : {};
  for (const key of INSTALL_KEYS) {
    const script = scripts[key];
    if (typeof script !== 'string') continue;
    for (const p of parseScript(script))
      for (const cmd of p.commands) {
        const name = commandName(cmd[0] ?? '');
        const args = cmd.slice(1);
        let file: string | undefined;
        if (name === 'node') {
          const e = args.findIndex((a) => a === '-e' || a === '--eval' || a === '-p' || a === '--print');
          if (e >= 0 && args[e + 1]) inline.push({ path: `package.json (scripts.${key})`, text: args[e + 1]! });
          else file = args.find((a) => !a.startsWith('-'));
        } else if (/^(sh|bash)$/.test(name)) file = args.find((a) => !a.startsWith('-'));
        else if (/^\.{0,2}\//.test(cmd[0] ?? '')) file = cmd[0];
        if (!file) continue;
        const resolved = resolveLocal('x', file.replace(/^\.\//, './'), paths) ?? resolveLocal('x', `./${file}`, paths);
        if (resolved) files.push(resolved);
      }
  }
  return { files, inline };
}

function reachedScripts(
  analysed: Map<string, { hits: Hit[] }>,
  installFiles: string[],
  paths: ReadonlySet<string>,
): string[] {
  const out = new Set<string>(installFiles.filter((f) => SCRIPT_FILE.test(f)));
  for (const a of analysed.values())
    for (const h of a.hits) for (const r of h.runs ?? []) if (SCRIPT_FILE.test(r) && paths.has(r)) out.add(r);
  return [...out];
}

const INTERNAL_NAME = /(^|[-_./@])(internal|intranet|corp|private|priv|infra|backend|staging|prod)([-_./]|$)/i;

function manifestFindings(m: ManifestLike | null, hasInstall: boolean): Finding[] {
  if (!m || typeof m.version !== 'string') return [];
  const v = semver.parse(m.version);
  if (!v) return [];
  const high = v.major >= 90 && !(v.major >= 1990 && v.major <= 2100);
  if (!high) return [];
  const internal = typeof m.name === 'string' && INTERNAL_NAME.test(m.name) && !m.name.startsWith('@types/');
  const rule: RuleId = internal ? 'dependency-confusion' : 'very-high-version';
  const def = RULES[rule];
  return [
    {
      id: rule,
      source: 'signal',
      severity: hasInstall ? def.install : def.runtime,
      title: def.title,
      file: 'package.json',
      evidence: `"name": ${JSON.stringify(m.name)}, "version": ${JSON.stringify(m.version)}`,
      explanation: `${def.why}${internal ? ' The name looks like an internal package.' : ''}${hasInstall ? ' It also runs code at install.' : ''}`,
    },
  ];
}

/** Keeps the first few findings of each rule (the most severe first), folding the rest into a count. */
function cap(findings: Finding[]): Finding[] {
  const rank = { critical: 4, high: 3, medium: 2, low: 1, info: 0 } as const;
  const sorted = [...findings].sort((a, b) => rank[b.severity] - rank[a.severity]);
  const seen = new Map<string, number>();
  const out: Finding[] = [];
  for (const f of sorted) {
    const key = `${f.id}\0${f.file}\0${f.severity}`;
    if (out.some((o) => `${o.id}\0${o.file}\0${o.severity}` === key && o.evidence === f.evidence)) continue;
    const n = (seen.get(f.id) ?? 0) + 1;
    seen.set(f.id, n);
    if (n <= BEHAVIOUR_LIMITS.maxPerRule) out.push(f);
  }
  return out;
}
