import { parse, type Node } from 'acorn';
import { simple } from 'acorn-walk';
import { lineLocator } from './lines.js';
import { excerpt } from './types.js';

export interface Capability {
  kind: 'network' | 'shell' | 'eval' | 'dynamic-require' | 'env';
  /** What was used: a module name (`child_process`), a call (`fetch`, `eval`, `exec`). */
  what: string;
  evidence: string;
  line: number;
}

export interface JsAnalysis {
  parsed: boolean;
  parseError?: string;
  capabilities: Capability[];
  /** Relative module specifiers required or imported (`./lib/x`), for following install-time code. */
  localRequires: string[];
  /** Long string literals with their Shannon entropy (bits per character). */
  longStrings: Array<{ value: string; entropy: number; line: number }>;
}

const NETWORK_MODULES = new Set([
  'http',
  'https',
  'http2',
  'net',
  'tls',
  'dgram',
  'dns',
  'dns/promises',
  'undici',
  'node-fetch',
  'axios',
  'request',
  'got',
]);
const SHELL_MODULES = new Set(['child_process']);
const EVAL_MODULES = new Set(['vm']);
const EXEC_CALLS = new Set(['exec', 'execSync', 'execFile', 'execFileSync', 'spawn', 'spawnSync', 'fork']);
const LONG_STRING = 200;

/** Shannon entropy of a string, in bits per character. */
export function shannonEntropy(s: string): number {
  if (!s) return 0;
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  const n = [...s].length;
  for (const c of counts.values()) {
    const p = c / n;
    h -= p * Math.log2(p);
  }
  return h;
}

function moduleName(spec: string): string {
  return spec.replace(/^node:/, '');
}

type AnyNode = Node & Record<string, any>;

/**
 * Parses JavaScript (script, then module syntax) with acorn and reports what it can do: network
 * modules or fetch, child_process and exec/spawn calls, eval / new Function / vm, dynamic require,
 * plus its local requires and long string literals. Never executes anything; never throws (a file
 * that does not parse is reported with `parsed: false`).
 */
export function analyseJs(source: string): JsAnalysis {
  const out: JsAnalysis = { parsed: false, capabilities: [], localRequires: [], longStrings: [] };
  let ast: Node | null = null;
  for (const sourceType of ['script', 'module'] as const) {
    try {
      ast = parse(source, {
        ecmaVersion: 'latest',
        sourceType,
        allowHashBang: true,
        allowReturnOutsideFunction: true,
        allowAwaitOutsideFunction: true,
        allowImportExportEverywhere: true,
      });
      break;
    } catch (err) {
      out.parseError = (err as Error).message;
    }
  }
  if (!ast) return out;
  const lineOf = lineLocator(source);
  out.parsed = true;
  delete out.parseError;

  let childProcessBound = false;
  const add = (kind: Capability['kind'], what: string, node: AnyNode) => {
    out.capabilities.push({
      kind,
      what,
      evidence: excerpt(source.slice(node.start, Math.min(node.end, node.start + 300))),
      line: lineOf(node.start),
    });
  };
  const useModule = (spec: string, node: AnyNode) => {
    const m = moduleName(spec);
    if (NETWORK_MODULES.has(m)) add('network', m, node);
    if (SHELL_MODULES.has(m)) {
      childProcessBound = true;
      add('shell', m, node);
    }
    if (EVAL_MODULES.has(m)) add('eval', m, node);
    if (spec.startsWith('./') || spec.startsWith('../')) out.localRequires.push(spec);
  };
  const pendingExec: AnyNode[] = [];

  simple(ast, {
    ImportDeclaration(n) {
      const node = n as AnyNode;
      if (typeof node.source?.value === 'string') useModule(node.source.value, node);
    },
    ImportExpression(n) {
      const node = n as AnyNode;
      if (node.source?.type === 'Literal' && typeof node.source.value === 'string') useModule(node.source.value, node);
      else add('dynamic-require', 'import()', node);
    },
    CallExpression(n) {
      const node = n as AnyNode;
      const callee = node.callee as AnyNode;
      const name =
        callee.type === 'Identifier'
          ? callee.name
          : callee.type === 'MemberExpression' && !callee.computed
            ? callee.property?.name
            : null;
      if (callee.type === 'Identifier' && callee.name === 'require') {
        const arg = node.arguments[0] as AnyNode | undefined;
        if (arg?.type === 'Literal' && typeof arg.value === 'string') useModule(arg.value, node);
        else if (arg?.type === 'TemplateLiteral' && arg.expressions.length === 0)
          useModule(arg.quasis[0].value.cooked ?? '', node);
        else add('dynamic-require', 'require(<computed>)', node);
        return;
      }
      if (name === 'fetch') add('network', 'fetch', node);
      else if (callee.type === 'Identifier' && callee.name === 'eval') add('eval', 'eval', node);
      else if (callee.type === 'Identifier' && callee.name === 'Function') add('eval', 'Function', node);
      else if (name && EXEC_CALLS.has(name)) pendingExec.push(node);
    },
    NewExpression(n) {
      const node = n as AnyNode;
      if (node.callee.type === 'Identifier' && node.callee.name === 'Function') add('eval', 'new Function', node);
      if (node.callee.type === 'Identifier' && node.callee.name === 'WebSocket') add('network', 'WebSocket', node);
    },
    MemberExpression(n) {
      const node = n as AnyNode;
      if (node.object?.type === 'Identifier' && node.object.name === 'process' && node.property?.name === 'env') {
        if (!out.capabilities.some((c) => c.kind === 'env')) add('env', 'process.env', node);
      }
    },
    Literal(n) {
      const node = n as AnyNode;
      if (typeof node.value === 'string' && node.value.length >= LONG_STRING) {
        out.longStrings.push({
          value: node.value,
          entropy: shannonEntropy(node.value),
          line: lineOf(node.start),
        });
      }
    },
    TemplateElement(n) {
      const node = n as AnyNode;
      const v = node.value?.cooked ?? node.value?.raw;
      if (typeof v === 'string' && v.length >= LONG_STRING)
        out.longStrings.push({ value: v, entropy: shannonEntropy(v), line: lineOf(node.start) });
    },
  });
  // exec/spawn are only shell use when child_process is in play (a RegExp's exec is not).
  if (childProcessBound)
    for (const node of pendingExec)
      add('shell', (node.callee as AnyNode).name ?? (node.callee as AnyNode).property?.name, node);
  return out;
}

/**
 * False only when `source` cannot hold a string literal or template element of `min` characters or
 * more, so {@link analyseJs} would report no `longStrings` for it. A cheap pass instead of a parse:
 * a `'` or `"` literal lies between two unescaped quotes of its kind (a quote after an even run of
 * backslashes; an opening quote never follows a backslash in valid source) with no line feed in
 * between other than a backslash line continuation, and a template element lies between two
 * unescaped backticks. Source that does not parse is never analysed, so its literals do not matter. A cooked value is never longer than its source text, so if every such gap is
 * shorter than `min`, no literal reaches `min`. Conservative: any doubt answers true.
 */
export function mayHaveLongString(source: string, min = LONG_STRING): boolean {
  if (source.length < min) return false;
  const backslashesBefore = (i: number): number => {
    let n = 0;
    while (i - 1 - n >= 0 && source.charCodeAt(i - 1 - n) === 92) n++;
    return n;
  };
  // The last unescaped ' , " and ` that could open a literal (-1: none since the last line feed).
  let single = -1;
  let double = -1;
  let back = -1;
  for (let i = 0; i < source.length; i++) {
    const c = source.charCodeAt(i);
    if (c === 39 || c === 34 || c === 96) {
      if (backslashesBefore(i) % 2 === 1) continue;
      const last = c === 39 ? single : c === 34 ? double : back;
      if (last >= 0 && i - last - 1 >= min) return true;
      if (c === 39) single = i;
      else if (c === 34) double = i;
      else back = i;
    } else if (c === 10) {
      // A backslash before the line feed (or before its CR) continues a quoted literal.
      const at = i > 0 && source.charCodeAt(i - 1) === 13 ? i - 1 : i;
      if (backslashesBefore(at) % 2 === 1) continue;
      // No quoted literal spans it: the next quote can close no literal opened before it.
      single = -1;
      double = -1;
    }
  }
  return false;
}

export interface ObfuscationReport {
  score: number;
  markers: string[];
  evidence: string;
}

/**
 * Heuristics for obfuscated or packed code: javascript-obfuscator style `_0x` identifiers, dense
 * `\x`/`\u` escapes, long high-entropy string literals and very long lines. Each marker adds to a
 * score: `_0x` names +3, dense escapes +3, eval of computed code alongside a high-entropy string +2,
 * a high-entropy string +1, a line over 10,000 characters +1. Callers treat 3 or more as obfuscated.
 */
export function obfuscation(source: string, analysis: JsAnalysis | null): ObfuscationReport {
  const markers: string[] = [];
  let score = 0;
  let evidence = '';
  const ox = new Set(source.match(/\b_0x[0-9a-f]{3,}\b/gi) ?? []);
  if (ox.size >= 5) {
    score += 3;
    markers.push(`${ox.size} _0x… identifiers`);
    const i = source.search(/\b_0x[0-9a-f]{3,}\b/i);
    evidence ||= source.slice(Math.max(0, i - 20), i + 160);
  }
  const escapes = source.match(/\\x[0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}/g)?.length ?? 0;
  if (escapes >= 50 && (escapes * 4) / source.length >= 0.1) {
    score += 3;
    markers.push(`${escapes} \\x/\\u escapes (${Math.round(((escapes * 4) / source.length) * 100)}% of the file)`);
    const i = source.search(/\\x[0-9a-fA-F]{2}/);
    evidence ||= source.slice(Math.max(0, i), i + 180);
  }
  const high = (analysis?.longStrings ?? []).filter((s) => s.entropy >= 5.2).sort((a, b) => b.entropy - a.entropy)[0];
  if (high) {
    score += 1;
    markers.push(
      `a ${high.value.length}-character string literal with ${high.entropy.toFixed(2)} bits/char entropy (line ${high.line})`,
    );
    evidence ||= high.value.slice(0, 180);
    if (analysis?.capabilities.some((c) => c.kind === 'eval')) {
      score += 2;
      markers.push('evaluates computed code');
    }
  }
  let longest = 0;
  for (const line of source.split('\n')) longest = Math.max(longest, line.length);
  if (longest > 10_000) {
    score += 1;
    markers.push(`a ${longest}-character line`);
  }
  return { score, markers, evidence: excerpt(evidence) };
}
