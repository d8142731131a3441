import { type Flow, INVISIBLE_RUN, METADATA_HOSTS, T, type Callee } from './flow.js';
import { keyOf, requiredModule, type N, type Program, type Scope } from './program.js';
import type { RuleId } from './rules.js';
import { commandFindings } from './shell-command.js';

/** One rule that matched, at a node of the file, with what was seen. */
export interface Hit {
  rule: RuleId;
  start: number;
  end: number;
  detail: string;
  /** Files of the package this code starts (a batch or shell script passed to a shell). */
  runs?: string[];
}

const EXEC = new Set(['exec', 'execSync', 'execFile', 'execFileSync', 'spawn', 'spawnSync', 'fork']);
const EVAL_GLOBALS = new Set(['eval', 'Function']);
const VM_CALLS = new Set([
  'runInThisContext',
  'runInNewContext',
  'runInContext',
  'Script',
  'compileFunction',
  'SourceTextModule',
]);
const FS_WRITE = new Set([
  'writeFileSync',
  'writeFile',
  'appendFileSync',
  'appendFile',
  'copyFileSync',
  'copyFile',
  'createWriteStream',
  'cpSync',
  'cp',
  'renameSync',
  'rename',
  'symlinkSync',
  'outputFileSync',
  'outputFile',
]);
const FS_MODULES = new Set(['fs', 'fs/promises', 'fs-extra', 'graceful-fs']);
const SHELLS =
  /^(?:.*[\\/])?(sh|bash|zsh|dash|ksh|cmd(\.exe)?|powershell(\.exe)?|pwsh(\.exe)?|node|python3?|perl|ruby|wscript(\.exe)?|cscript(\.exe)?|mshta(\.exe)?)$/i;
/** Where stolen data goes: messaging webhooks and bots, paste sites, request catchers, tunnels, OAST. */
export const CHANNELS =
  /discord(app)?\.com\/api\/webhooks|api\.telegram\.org\/bot|hooks\.slack\.com\/services|pastebin\.com|paste\.ee|hastebin|ghostbin|pastie\.io|transfer\.sh|webhook\.site|pipedream\.net|requestbin|requestcatcher|beeceptor|ngrok(-free)?\.(io|app|dev)|\.oast\.|oastify\.com|interact\.sh|burpcollaborator\.net|canarytokens|dnslog\.cn|ceye\.io|trycloudflare\.com/i;
const PERSISTENCE =
  /\.bashrc|\.zshrc|\.bash_profile|(^|[\\/])\.profile$|crontab|LaunchAgents|LaunchDaemons|[\\/]autostart[\\/]|Start Menu[\\/]Programs[\\/]Startup|CurrentVersion\\Run|systemd[\\/]user/i;
const OTHER_APP_DIRS =
  /LOCALAPPDATA|APPDATA|ProgramFiles|Program Files|SystemRoot|System32|windir|Discord|Slack|Teams|Chrome|Application Support/i;
const BINARY_EXT = /\.(dll|exe|so|dylib|scr|sys|node)$/i;
const WALLET_PATTERN =
  /0x\[a-fA-F0-9\]\{40\}|0x\[0-9a-fA-F\]\{40\}|bc1|\[13\]\[a-km-zA-HJ-NP-Z1-9\]|eth_sendTransaction|eth_signTypedData|solana|TronWeb/;

type Dest = { kind: 'channel' | 'metadata' | 'ip' | 'local' | 'literal' | 'computed'; host: string; text: string };

export function classifyDestination(text: string | null): Dest {
  if (!text) return { kind: 'computed', host: '', text: '' };
  const m = /^(?:[a-z][a-z0-9+.-]*:)?\/\/(?:[^@/]*@)?(\[[^\]]+\]|[^/:?#]+)/i.exec(text);
  const host = (m?.[1] ?? (/^[a-z0-9.-]+$/i.test(text) ? text : '')).toLowerCase();
  if (CHANNELS.test(text)) return { kind: 'channel', host, text };
  if (!host) return { kind: 'computed', host, text };
  if (METADATA_HOSTS.has(host)) return { kind: 'metadata', host, text };
  if (/^(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|0\.0\.0\.0|localhost$|\[::1\])/.test(host))
    return { kind: 'local', host, text };
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return { kind: 'ip', host, text };
  return { kind: 'literal', host, text };
}

/** Received from the network, from a named server or from an address chosen at run time. */
const NETWORK = T.REMOTE | T.FETCHED;

/** Judges every call and assignment of a file. */
export function jsHits(prog: Program, flow: Flow, packageFiles: ReadonlySet<string>): Hit[] {
  const hits: Hit[] = [];
  const hit = (rule: RuleId, node: N, detail: string, runs?: string[]) =>
    hits.push({ rule, start: node.start, end: node.end, detail, ...(runs?.length ? { runs } : {}) });
  // Bindings that hold a request, socket or spawned process: where later writes go.
  const requests = new Map<string, Dest>();
  const shells = new Set<string>();
  const sockets = new Set<string>();
  const remoteFiles = new Set<string>();
  const streams = new Map<string, N>();
  let publishes: N | null = null;
  let injects: N | null = null;
  let hooks: N | null = null;

  // The name a call's result is assigned to: `const req = https.request(…)`.
  const bindingOf = (node: N, _scope: Scope): string | null => prog.boundTo.get(node) ?? null;
  const destOf = (arg: N | undefined, scope: Scope): Dest => {
    if (!arg) return classifyDestination(null);
    if (arg.type === 'ObjectExpression') {
      const prop = (k: string) =>
        arg.properties.find((p: N) => p.type === 'Property' && (p.key.name === k || p.key.value === k))?.value;
      const host = prop('hostname') ?? prop('host') ?? prop('url') ?? prop('baseURL');
      return classifyDestination(host ? flow.prefix(host, scope) : null);
    }
    return classifyDestination(flow.prefix(arg, scope));
  };
  const sendData = (node: N, dest: Dest, data: number, via: string) => {
    const where = dest.host || dest.text.slice(0, 60) || 'a computed address';
    if (dest.kind === 'channel')
      hit(
        data & (T.SECRET | T.ENV | T.HOST) ? 'secret-exfiltration' : 'exfiltration-channel',
        node,
        `${via} to ${where}`,
      );
    if (data & T.ENV) hit('env-exfiltration', node, `the whole environment reaches ${via} (${where})`);
    else if (data & T.SECRET) {
      if (dest.kind === 'computed' || dest.kind === 'local')
        hit('secret-network', node, `credentials reach ${via} (${where})`);
      else if (dest.kind !== 'metadata') hit('secret-exfiltration', node, `credentials reach ${via} to ${where}`);
    } else if (
      data & T.HOST &&
      dest.kind !== 'computed' &&
      dest.kind !== 'local' &&
      dest.kind !== 'metadata' &&
      dest.kind !== 'channel'
    )
      hit('host-beacon', node, `host name / user / folder sent with ${via} to ${where}`);
    if (dest.kind === 'metadata') hit('cloud-metadata', node, `${via} to ${where}`);
    if (dest.kind === 'ip') hit('hardcoded-ip', node, `${via} to ${where}`);
  };

  for (const { node, scope } of prog.calls) {
    const c: Callee = flow.callee(node.callee, scope);
    const args: N[] = node.arguments;
    const argTaint = args.reduce((a, x) => a | flow.of(x, scope), 0);
    const name = c.member ?? c.global ?? '';
    const mod = c.module?.split('.')[0];

    // eval / Function / vm / module compilation
    const isEval =
      (c.global !== undefined && EVAL_GLOBALS.has(c.global) && c.member === undefined) ||
      (mod === 'vm' && VM_CALLS.has(name)) ||
      name === '_compile';
    if (isEval) {
      const code = c.global === 'Function' ? args.slice(-1) : args.slice(0, 1);
      const t = code.reduce((a, x) => a | flow.of(x, scope), 0);
      const what = c.global ?? `vm.${name}`;
      if (t & T.REMOTE) hit('download-exec', node, `data from the network reaches ${what}`);
      else if (t & T.FETCHED)
        hit('loads-code', node, `code fetched from an address chosen at run time reaches ${what}`);
      else if (t & (T.DECODED | T.HIDDEN)) hit('decode-exec', node, `decoded data reaches ${what}`);
      else if (code.some((x) => flow.fold(x, scope) === null))
        hit('dynamic-code', node, `${what} of a computed string`);
      continue;
    }
    // A method looked up by a decoded name and called with decoded data (event-stream's `_compile`).
    if (node.callee.type === 'MemberExpression' && node.callee.computed) {
      const keyTaint = flow.of(node.callee.property, scope);
      if (keyTaint & T.DECODED && argTaint & (T.DECODED | NETWORK))
        hit('decode-exec', node, 'a method with a decoded name is called with decoded data');
      if (mod === 'child_process' && c.member === undefined)
        hit('hidden-require', node, 'child_process method chosen by a computed name');
    }
    // require of a hidden name
    if (
      (c.global === 'require' ||
        prog.requireAliases.has(node.callee.type === 'Identifier' ? keyOf(scope, node.callee.name) : '')) &&
      args[0]
    ) {
      if (!requiredModule(node, prog, scope) && flow.of(args[0], scope) & (T.DECODED | T.HIDDEN))
        hit('hidden-require', node, 'require() of a decoded module name');
    }

    // child_process
    if (mod === 'child_process' && EXEC.has(name)) {
      const cmd = args[0];
      const t = cmd ? flow.of(cmd, scope) : 0;
      const argv = args[1]?.type === 'ArrayExpression' ? args[1] : null;
      const opts = args.find((a, i) => i > 0 && a.type === 'ObjectExpression');
      const folded = cmd ? flow.fold(cmd, scope) : null;
      const argvParts: string[] = argv ? argv.elements.map((e: N) => flow.shape(e, scope)) : [];
      const program = cmd ? flow.shape(cmd, scope) : '…';
      const line = `${program}${argvParts.length ? ` ${argvParts.join(' ')}` : ''}`;
      const isShell = cmd
        ? SHELLS.test(program.trim()) || flow.literals(cmd, scope).some((s) => SHELLS.test(s))
        : false;
      if (t & NETWORK || (cmd?.type === 'Identifier' && remoteFiles.has(keyOf(scope, cmd.name))))
        hit(
          'download-exec',
          node,
          `runs ${cmd?.type === 'Identifier' ? `a downloaded file (${cmd.name})` : 'a command received from the network'}`,
        );
      else if (t & (T.DECODED | T.HIDDEN) || (argv && flow.of(argv, scope) & (T.DECODED | T.HIDDEN)))
        hit('decode-exec', node, 'a decoded command reaches child_process');
      if (line !== '…') {
        // `sh -c "…"`, `cmd /c …`, `powershell -Command …`: the command is the argument after the flag.
        const flag = argvParts.findIndex((a) => /^(-c|\/c|\/s|-command|-Command)$/.test(a));
        const inner = isShell && flag >= 0 ? argvParts.slice(flag + 1).join(' ') : null;
        const seen = new Set<string>();
        for (const f of [...commandFindings(line), ...(inner ? commandFindings(inner) : [])])
          if (!seen.has(f.rule)) {
            seen.add(f.rule);
            hit(f.rule, node, f.detail);
          }
        if (/\bnpm\b.*\bpublish\b/.test(line)) publishes = node;
      }
      const runs = flow
        .literals(argv ?? cmd, scope)
        .flatMap((s) => [...packageFiles].filter((f) => s.endsWith(f) && /\.(bat|cmd|sh|ps1|js|cjs|mjs)$/i.test(f)));
      if (runs.length) hit('detached-process', node, `runs ${runs.join(', ')} from the package`, runs);
      const detached = opts && flow.fold(propOf(opts, 'detached'), scope) === 'true';
      const stdio = opts ? flow.fold(propOf(opts, 'stdio'), scope) : null;
      const silent = detached && (stdio === 'ignore' || propOf(opts, 'windowsHide'));
      if (silent)
        hit(
          folded !== null && SHELLS.test(folded) ? 'silent-spawn' : 'detached-process',
          node,
          `${folded ?? 'a computed program'} started detached${stdio === 'ignore' ? ' with output discarded' : ''}`,
        );
      const b = bindingOf(node, scope);
      if (b && isShell) shells.add(b);
      continue;
    }

    // Network
    if (flow.isNetworkCall(node, scope)) {
      const isSocket = name === 'Socket' || (mod === 'net' && (name === 'connect' || name === 'createConnection'));
      const dnsCall = mod === 'dns' || mod === 'dns/promises';
      const dest = isSocket
        ? destOf(
            args.find((a) => a.type !== 'Literal' || typeof a.value === 'string'),
            scope,
          )
        : destOf(args[0], scope);
      const via = c.global ?? `${c.module}${name ? `.${name}` : ''}`;
      if (args[0] && flow.of(args[0], scope) & T.DECODED)
        hit('hidden-destination', node, `${via} to an address decoded at run time (${dest.host || 'unknown'})`);
      if (dnsCall) {
        if (flow.of(args[0], scope) & (T.SECRET | T.ENV | T.HOST | T.DECODED))
          hit('dns-exfiltration', node, `${via} of a name built from local data`);
      } else
        sendData(
          node,
          dest,
          args.reduce(
            (a, x) =>
              a | (x.type === 'FunctionExpression' || x.type === 'ArrowFunctionExpression' ? 0 : flow.of(x, scope)),
            0,
          ),
          via,
        );
      const b = bindingOf(node, scope);
      if (b) {
        requests.set(b, dest);
        if (isSocket) sockets.add(b);
      }
      continue;
    }
    // Chained: https.request(…).end(x)
    if (
      node.callee.type === 'MemberExpression' &&
      /^(write|end|send)$/.test(name) &&
      flow.isNetworkCall(node.callee.object, scope)
    ) {
      const inner = node.callee.object;
      sendData(
        node,
        destOf(inner.arguments[0], scope),
        argTaint,
        `${flow.callee(inner.callee, scope).module ?? 'request'}.${name}`,
      );
      continue;
    }
    // Writes into a request or socket opened earlier: req.write(x), req.end(x), socket.connect(port, host), ws.send(x)
    if (node.callee.type === 'MemberExpression' && node.callee.object.type === 'Identifier') {
      const key = keyOf(scope, node.callee.object.name);
      const dest = requests.get(key);
      if (dest && sockets.has(key) && name === 'connect') {
        const d = destOf(
          args.find(
            (a) =>
              !(a.type === 'Literal' && typeof a.value === 'number') &&
              a.type !== 'ArrowFunctionExpression' &&
              a.type !== 'FunctionExpression',
          ),
          scope,
        );
        requests.set(key, d);
        if (d.kind === 'ip') hit('hardcoded-ip', node, `socket connects to ${d.host}`);
      } else if (dest && /^(write|end|send)$/.test(name))
        sendData(node, dest, argTaint, `${node.callee.object.name}.${name}`);
      if (name === 'pipe' && args[0]) {
        const other = args[0];
        const root = (x: N): string | null => {
          while (x.type === 'MemberExpression') x = x.object;
          return x.type === 'Identifier' ? keyOf(scope, x.name) : null;
        };
        const a = root(node.callee.object);
        const b = root(other);
        if (a && b && ((shells.has(a) && sockets.has(b)) || (sockets.has(a) && shells.has(b))))
          hit('reverse-shell', node, 'a shell’s input and output are piped to a socket');
        // res.pipe(file) with res from the network: the file now holds downloaded bytes.
        if (flow.of(node.callee.object, scope) & NETWORK && b && streams.has(b)) {
          const target = streams.get(b)!;
          if (target.type === 'Identifier') remoteFiles.add(keyOf(scope, target.name));
        }
      }
    }

    // File system writes
    if (mod && FS_MODULES.has(mod) && FS_WRITE.has(name) && args[0]) {
      const pathArg =
        name.startsWith('copyFile') || name.startsWith('rename') || name.startsWith('cp') || name.startsWith('symlink')
          ? args[1]
          : args[0];
      const paths = pathArg ? flow.literals(pathArg, scope) : [];
      const joined = paths.join('/');
      const data = name.startsWith('copyFile') || name.startsWith('cp') ? args[0] : args[1];
      const dataTaint = data ? flow.of(data, scope) : 0;
      const dataText = data ? flow.literals(data, scope).join('\n') : '';
      const pathText = pathArg ? prog.source.slice(pathArg.start, Math.min(pathArg.end, pathArg.start + 300)) : '';
      if (name === 'createWriteStream') {
        const b = bindingOf(node, scope);
        if (b) streams.set(b, args[0]);
      }
      if (dataTaint & NETWORK && pathArg?.type === 'Identifier') remoteFiles.add(keyOf(scope, pathArg.name));
      const fromPath = pathArg ? flow.of(pathArg, scope) : 0;
      const pathEnv =
        /process\.env\.PATH\b|\bPATH\b.*delimiter/.test(pathText) || pathOfPathEnv(pathArg, flow, scope, prog);
      if ((BINARY_EXT.test(joined) || paths.some((p) => BINARY_EXT.test(p))) && OTHER_APP_DIRS.test(joined + pathText))
        hit(
          'binary-hijack',
          node,
          `writes ${paths.find((p) => BINARY_EXT.test(p)) ?? 'a binary'} into another application's folder`,
        );
      else if (pathEnv) hit('binary-hijack', node, 'writes a program into a folder on PATH');
      if (PERSISTENCE.test(joined)) hit('persistence', node, `writes to ${paths.find((p) => PERSISTENCE.test(p))}`);
      if (/node_modules/.test(joined + pathText)) {
        if (
          /child_process|require\(['"]net['"]\)|\beval\(|\.exec\(|spawn\(/.test(dataText) ||
          dataTaint & (T.DECODED | NETWORK)
        )
          hit('modifies-other-package', node, 'writes code into a file of another installed package');
        else hit('writes-node-modules', node, 'writes into node_modules');
      }
      if (/package\.json/.test(joined) && /"(pre|post)?install"|postinstall|preinstall/.test(dataText)) injects = node;
      void fromPath;
      continue;
    }
    if (c.global === 'JSON' && name === 'stringify' && args[0] && flow.of(args[0], scope) & T.ENV)
      hit('env-serialised', node, 'JSON.stringify of process.env');
    if (
      c.global === 'Object' &&
      /^(entries|keys|values|assign)$/.test(name) &&
      args.some((a) => flow.of(a, scope) & T.ENV && a.type === 'MemberExpression')
    )
      hit('env-serialised', node, `Object.${name}(process.env)`);
  }

  for (const { node, scope } of prog.assignments) {
    const left = prog.source.slice(node.left.start, node.left.end).replace(/\s+/g, '');
    if (
      /(^|\.)(fetch|XMLHttpRequest\.prototype\.(open|send)|ethereum\.request|ethereum\.send|ethereum\.sendAsync)$/.test(
        left,
      ) &&
      /^(window|globalThis|global|self|XMLHttpRequest|ethereum)/.test(left)
    ) {
      hooks = node;
    }
    if (
      /\.scripts\.(postinstall|preinstall|install)$/.test(left) ||
      /\.scripts\[['"](post|pre)?install['"]\]$/.test(left)
    )
      injects = node;
    void scope;
  }
  if (hooks) {
    if (WALLET_PATTERN.test(prog.source))
      hit('wallet-drainer', hooks, 'replaces a network or wallet function in a file that matches wallet addresses');
    else hit('network-hook', hooks, 'replaces a network or wallet function');
  }
  if (injects && publishes)
    hit('self-propagation', injects, 'adds an install script to a package and runs npm publish');
  else if (injects) hit('install-script-injection', injects, 'writes an install script into a package.json');
  else if (publishes) hit('publish', publishes, 'runs npm publish');
  return hits;
}

function propOf(obj: N | undefined, key: string): N | undefined {
  return obj?.properties?.find((p: N) => p.type === 'Property' && (p.key.name === key || p.key.value === key))?.value;
}

/** A path built from an entry of process.env.PATH. */
function pathOfPathEnv(n: N | undefined, flow: Flow, scope: Scope, prog: Program, depth = 0): boolean {
  if (!n || depth > 8) return false;
  const text = prog.source.slice(n.start, Math.min(n.end, n.start + 400));
  if (/process\.env\.PATH\b/.test(text)) return true;
  if (n.type === 'Identifier') {
    const key = keyOf(scope, n.name);
    return (prog.edgesByKey.get(key) ?? []).some((e) => pathOfPathEnv(e.expr, flow, e.scope, prog, depth + 1));
  }
  if (n.type === 'CallExpression')
    return (
      n.arguments.some((a: N) => pathOfPathEnv(a, flow, scope, prog, depth + 1)) ||
      (n.callee.type === 'MemberExpression' && pathOfPathEnv(n.callee.object, flow, scope, prog, depth + 1))
    );
  if (n.type === 'LogicalExpression' || n.type === 'BinaryExpression')
    return pathOfPathEnv(n.left, flow, scope, prog, depth + 1) || pathOfPathEnv(n.right, flow, scope, prog, depth + 1);
  return false;
}

export { INVISIBLE_RUN };
