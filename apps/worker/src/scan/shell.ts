/**
 * A small POSIX-ish shell tokeniser for npm lifecycle scripts. It never runs anything: it splits a
 * script into pipelines of commands (argument arrays) so the scanner can see what an install script
 * would do, e.g. that `curl … | sh` pipes a download into a shell.
 */

export interface Pipeline {
  /** Each command's words, quotes removed, leading `VAR=value` assignments dropped. */
  commands: string[][];
}

type Tok = { kind: 'word'; value: string } | { kind: 'op'; value: string };

/** Splits a script into words and operators (`|`, `||`, `&&`, `;`, `&`, newlines, redirections). */
export function tokenize(script: string): { tokens: Tok[]; substitutions: string[] } {
  const tokens: Tok[] = [];
  const substitutions: string[] = [];
  let word = '';
  let inWord = false;
  const push = () => {
    if (inWord) tokens.push({ kind: 'word', value: word });
    word = '';
    inWord = false;
  };
  for (let i = 0; i < script.length; i++) {
    const c = script[i]!;
    if (c === '\\' && i + 1 < script.length) {
      word += script[++i];
      inWord = true;
    } else if (c === "'") {
      const end = script.indexOf("'", i + 1);
      word += script.slice(i + 1, end < 0 ? script.length : end);
      inWord = true;
      i = end < 0 ? script.length : end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < script.length && script[j] !== '"'; j++) {
        if (script[j] === '\\' && j + 1 < script.length) j++;
        else if (script[j] === '$' && script[j + 1] === '(') {
          const close = matchParen(script, j + 1);
          substitutions.push(script.slice(j + 2, close));
          j = close;
        }
      }
      word += script.slice(i + 1, j).replace(/\\(["\\$`])/g, '$1');
      inWord = true;
      i = j;
    } else if (c === '$' && script[i + 1] === '(') {
      const close = matchParen(script, i + 1);
      substitutions.push(script.slice(i + 2, close));
      word += '$(…)';
      inWord = true;
      i = close;
    } else if (c === '`') {
      const end = script.indexOf('`', i + 1);
      substitutions.push(script.slice(i + 1, end < 0 ? script.length : end));
      word += '`…`';
      inWord = true;
      i = end < 0 ? script.length : end;
    } else if (c === ' ' || c === '\t') {
      push();
    } else if (c === '\n' || c === ';' || c === '(' || c === ')') {
      push();
      tokens.push({ kind: 'op', value: c === '\n' ? ';' : c });
    } else if (c === '|' || c === '&') {
      push();
      const two = script[i + 1] === c;
      tokens.push({ kind: 'op', value: two ? c + c : c });
      if (two) i++;
    } else if (c === '>' || c === '<') {
      // A redirection: the operator and its target are not part of the command's arguments.
      if (inWord && /^\d+$/.test(word)) {
        word = '';
        inWord = false;
      }
      push();
      let j = i + 1;
      while (script[j] === '>' || script[j] === '&') j++;
      tokens.push({ kind: 'op', value: 'redirect' });
      i = j - 1;
    } else {
      word += c;
      inWord = true;
    }
  }
  push();
  return { tokens, substitutions };
}

function matchParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')' && --depth === 0) return i;
  }
  return s.length;
}

const WRAPPERS = new Set(['sudo', 'env', 'exec', 'nohup', 'time', 'command', 'nice', 'xargs']);

/** Splits a script into pipelines; command substitutions are returned as pipelines of their own. */
export function parseScript(script: string, depth = 0): Pipeline[] {
  const { tokens, substitutions } = tokenize(script);
  const pipelines: Pipeline[] = [];
  let current: string[][] = [];
  let cmd: string[] = [];
  let skipNext = false;
  const endCommand = () => {
    // Drop leading assignments (FOO=bar cmd) and wrappers (sudo cmd).
    let k = 0;
    while (k < cmd.length && (/^[A-Za-z_][A-Za-z0-9_]*=/.test(cmd[k]!) || WRAPPERS.has(cmd[k]!))) k++;
    const argv = cmd.slice(k);
    if (argv.length) current.push(argv);
    cmd = [];
  };
  const endPipeline = () => {
    endCommand();
    if (current.length) pipelines.push({ commands: current });
    current = [];
  };
  for (const t of tokens) {
    if (t.kind === 'word') {
      if (skipNext) skipNext = false;
      else cmd.push(t.value);
    } else if (t.value === '|') endCommand();
    else if (t.value === 'redirect') skipNext = true;
    else endPipeline();
  }
  endPipeline();
  if (depth < 3) for (const sub of substitutions) pipelines.push(...parseScript(sub, depth + 1));
  return pipelines;
}

/** The command name without a directory or a Windows extension, lower-cased (`/usr/bin/curl` → `curl`). */
export function commandName(word: string): string {
  return (word.split(/[\\/]/).pop() ?? word).toLowerCase().replace(/\.(exe|cmd|bat|ps1)$/, '');
}
