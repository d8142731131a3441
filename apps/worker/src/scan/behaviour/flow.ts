import { isFunction, keyOf, requiredModule, type N, type Program, type Scope } from './program.js';

/** What a value may carry, as bits. */
export const T = {
  /** Credentials: sensitive files, secret environment variables, the cloud metadata endpoint's answer. */
  SECRET: 1,
  /** The whole environment (`process.env` as a value). */
  ENV: 2,
  /** Who and where: host name, user, working folder. */
  HOST: 4,
  /** Data received from the network. */
  REMOTE: 8,
  /** Decoded from base64, hex, char codes or a cipher. */
  DECODED: 16,
  /** Hidden in invisible characters. */
  HIDDEN: 32,
  /**
   * Received from an address chosen at run time (a parameter, configuration) by a file that names no
   * remote address at all: what module loaders (monaco's AMD loader) fetch. Malware that downloads a
   * second stage names its server somewhere (or decodes it, which makes it REMOTE again).
   */
  FETCHED: 64,
} as const;

/** A URL or host name of another machine (not this one, not a file name). */
const REMOTE_ADDRESS =
  /^(?:[a-z][a-z0-9+.-]*:)?\/\/(?!localhost\b|127\.|\[::1\])[^/\s]|^(?!localhost$)[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?!(?:c?js|mjs|ts|json|css|html?|map|wasm|txt|md|node)$)[a-z]{2,}$|^\d{1,3}(?:\.\d{1,3}){3}$/i;

const SECRET_ENV = /TOKEN|SECRET|PASSW|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|AUTH|CREDENTIAL|SESSION|COOKIE/i;
const NOT_SECRET_ENV = /_(FILE|PATH|DIR|URL|HOST|REGION|PROFILE)$/i;

/** Paths (or parts of them) of credential and wallet stores. */
export const SENSITIVE_PATH =
  /(^|[\\/])\.npmrc$|\.ssh([\\/]|$)|id_(rsa|dsa|ecdsa|ed25519)|\.aws[\\/]credentials|\.aws([\\/]|$)|(^|[\\/])\.env$|\.git-credentials|\.netrc|\.docker[\\/]config\.json|\.kube[\\/]config|\.config[\\/]gcloud|\.azure[\\/]|Login Data|Local Extension Settings|Local Storage[\\/]leveldb|[\\/]Cookies$|Local State|nkbihfbeogaeaoehlefnkodbefgpgknn|bfnaelmomeimhlpmgjnjophhpkkoljpa|hnfanknocfeofbddgcijnmhnfnkdnaad|exodus|Exodus|electrum|wallet\.dat|solana[\\/]id\.json|keystore|Keychains|\.bash_history|\/etc\/(passwd|shadow)|\.pgpass|\.pypirc|\.gem[\\/]credentials|\.config[\\/]gh[\\/]hosts|discord[\\/]Local Storage/i;

export const METADATA_HOSTS = new Set([
  '169.254.169.254',
  'metadata.google.internal',
  '100.100.100.200',
  'fd00:ec2::254',
]);
const METADATA_TEXT = /169\.254\.169\.254|metadata\.google\.internal|100\.100\.100\.200/;

// Runs of invisible characters (zero-width, word joiner, variation selectors, tags, Hangul fillers).
// Variation selectors are combining marks on purpose here: a run of them is the payload. Private-use
// characters are left out: charset tables (iconv-lite's sbcs data) and icon fonts are full of them.
const INVISIBLE = '[\\u200b-\\u200d\\u2060-\\u2064\\ufeff\\u3164\\u115f\\u1160\\ufe00-\\ufe0f]';
// eslint-disable-next-line no-misleading-character-class -- the combining marks are what is searched for
export const INVISIBLE_RUN = new RegExp(`(?:${INVISIBLE}|\\udb40[\\udc00-\\udc7f\\udd00-\\uddef]){8,}`);

const FS_READ = new Set(['readFileSync', 'readFile', 'createReadStream', 'readdirSync', 'readdir', 'openSync', 'open']);
const HOST_CALLS = new Set(['hostname', 'userInfo', 'networkInterfaces', 'cwd', 'whoami', 'username']);
const NETWORK_MODULES = new Set([
  'http',
  'https',
  'http2',
  'net',
  'tls',
  'dns',
  'dns/promises',
  'dgram',
  'axios',
  'node-fetch',
  'got',
  'request',
  'undici',
  'needle',
  'superagent',
  'cross-fetch',
  'ws',
]);
const NETWORK_METHODS = new Set([
  'get',
  'request',
  'post',
  'put',
  'patch',
  'delete',
  'connect',
  'createConnection',
  'fetch',
  'lookup',
  'resolve',
  'resolve4',
  'resolve6',
  'resolveTxt',
  'resolveAny',
  'resolveCname',
  'send',
  'head',
  'stream',
]);

/** What a callee refers to: a module and the member called on it, or a global name. */
export interface Callee {
  module?: string;
  member?: string;
  global?: string;
  /** The object a method is called on (`req` in `req.end(x)`), when not a module. */
  object?: N;
  computed?: boolean;
}

export class Flow {
  readonly taint = new Map<string, number>();
  private fnTaint = new Map<N, number>();
  private depth = 0;
  /** Taint of each expression node in the current round (every node is always read in one scope). */
  private memo = new Map<N, number>();
  private readonly mentionsMetadata: boolean;

  constructor(readonly prog: Program) {
    this.mentionsMetadata = METADATA_TEXT.test(prog.source);
  }

  /**
   * What a network call's answer carries: REMOTE when its address names another machine (a literal,
   * followed through assignments, or passed by the file to its own function) or is decoded or hidden; FETCHED
   * when the address comes from elsewhere (a caller outside the file, configuration): what module
   * loaders (monaco's AMD loader) fetch.
   */
  received(n: N, scope: Scope): number {
    const address: N | undefined = n.arguments?.[0];
    if (!address || this.of(address, scope) & (T.DECODED | T.HIDDEN)) return T.REMOTE;
    const named = [{ node: address, scope }];
    if (address.type === 'Identifier') named.push(...(this.prog.argumentsOf.get(keyOf(scope, address.name)) ?? []));
    return named.some((a) => this.literals(a.node, a.scope).some((s) => REMOTE_ADDRESS.test(s))) ? T.REMOTE : T.FETCHED;
  }

  /** Taints every binding until nothing changes (at most 6 rounds). */
  solve(): void {
    for (let round = 0; round < 6; round++) {
      this.memo.clear();
      let changed = false;
      const add = (key: string, m: number) => {
        const old = this.taint.get(key) ?? 0;
        if ((old | m) !== old) {
          this.taint.set(key, old | m);
          changed = true;
        }
      };
      for (const e of this.prog.edges) add(e.key, this.of(e.expr, e.scope));
      for (const p of this.prog.callbackParams) {
        const c = p.call;
        let m = this.isNetworkCall(c, p.scope) ? this.received(c, p.scope) : 0;
        if (c.callee.type === 'MemberExpression') m |= this.of(c.callee.object, p.scope);
        add(p.key, m);
      }
      for (const [fn, rets] of this.prog.returns) {
        const m =
          rets.reduce((acc, r) => acc | this.of(r.node, r.scope), 0) | (this.containsNetwork(fn) ? T.REMOTE : 0);
        if (m !== (this.fnTaint.get(fn) ?? 0)) {
          this.fnTaint.set(fn, m);
          changed = true;
        }
      }
      // A mutating method with tainted arguments taints its object (`out.push(x)`, `form.append(k, v)`).
      for (const { node, scope } of this.prog.calls) {
        const c = node.callee;
        if (c.type !== 'MemberExpression' || c.object.type !== 'Identifier') continue;
        const name = c.computed ? null : c.property.name;
        if (!name || !/^(push|unshift|append|set|add|write|concat|assign|splice)$/.test(name)) continue;
        const m = node.arguments.reduce((acc: number, a: N) => acc | this.of(a, scope), 0);
        if (m) add(keyOf(scope, c.object.name), m);
      }
      if (!changed) break;
    }
    this.memo.clear();
  }

  /** The taint of an expression (nested functions are not entered; their returns are). */
  of(n: N | null | undefined, scope: Scope): number {
    if (!n || this.depth > 150) return 0;
    const known = this.memo.get(n);
    if (known !== undefined) return known;
    this.depth++;
    try {
      const m = this.compute(n, scope);
      this.memo.set(n, m);
      return m;
    } finally {
      this.depth--;
    }
  }

  private compute(n: N, scope: Scope): number {
    switch (n.type) {
      case 'Identifier':
        return this.taint.get(keyOf(scope, n.name)) ?? 0;
      case 'Literal':
        return typeof n.value === 'string' && INVISIBLE_RUN.test(n.value) ? T.HIDDEN : 0;
      case 'TemplateLiteral':
        return (
          (n.quasis.some((q: N) => INVISIBLE_RUN.test(q.value.cooked ?? q.value.raw)) ? T.HIDDEN : 0) |
          n.expressions.reduce((a: number, e: N) => a | this.of(e, scope), 0)
        );
      case 'MemberExpression': {
        if (isProcessEnv(n)) return T.ENV;
        if (isProcessEnv(n.object)) {
          const name = n.computed ? (n.property.type === 'Literal' ? String(n.property.value) : '') : n.property.name;
          return name && SECRET_ENV.test(name) && !NOT_SECRET_ENV.test(name) ? T.SECRET : 0;
        }
        return this.of(n.object, scope) | (n.computed ? this.of(n.property, scope) : 0);
      }
      case 'CallExpression':
      case 'NewExpression':
        return this.callTaint(n, scope);
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
      case 'ClassExpression':
        return 0;
      default: {
        let m = 0;
        for (const k in n) {
          if (k === 'type' || k === 'start' || k === 'end') continue;
          const v = n[k];
          if (Array.isArray(v)) {
            for (const c of v) if (c && typeof c.type === 'string') m |= this.of(c, scope);
          } else if (v && typeof v.type === 'string') m |= this.of(v, scope);
        }
        return m;
      }
    }
  }

  private callTaint(n: N, scope: Scope): number {
    const callee = this.callee(n.callee, scope);
    const args: N[] = n.arguments;
    const argTaint = () => args.reduce((a, x) => a | (isFunction(x) ? 0 : this.of(x, scope)), 0);
    const name = callee.member ?? callee.global ?? '';
    // Hashes and HMACs keep nothing readable of their input.
    if (name === 'digest' || name === 'createHash' || name === 'createHmac') return 0;
    if (callee.global === 'require' || requiredModule(n, this.prog, scope)) return 0;
    let m = 0;
    if (this.isNetworkCall(n, scope)) m |= this.received(n, scope);
    if (this.mentionsMetadata && args.some((a) => this.literals(a, scope).some((s) => METADATA_TEXT.test(s))))
      m |= T.SECRET;
    if (FS_READ.has(name) && args[0] && this.literals(args[0], scope).some((s) => SENSITIVE_PATH.test(s)))
      m |= T.SECRET;
    if ((callee.module === 'os' || callee.global === 'process' || name === 'cwd') && HOST_CALLS.has(name)) m |= T.HOST;
    if (this.isDecoder(n, callee, scope)) m |= T.DECODED;
    if (callee.module === undefined && callee.global === undefined && n.callee.type === 'Identifier') {
      const fn = this.prog.functions.get(keyOf(scope, n.callee.name));
      if (fn) m |= this.fnTaint.get(fn) ?? 0;
    }
    if (n.callee.type === 'MemberExpression') m |= this.of(n.callee.object, scope);
    if (n.type === 'NewExpression' && args.some((a) => isFunction(a) && this.containsNetwork(a))) m |= T.REMOTE;
    return m | argTaint();
  }

  /** Buffer.from(x, 'base64'|'hex'), atob, String.fromCharCode(…), a decipher's output. */
  isDecoder(n: N, callee: Callee, scope: Scope): boolean {
    const c = n.callee;
    const args: N[] = n.arguments;
    if (c.type === 'MemberExpression' && c.object.type === 'Identifier' && c.object.name === 'Buffer') {
      const enc = args[1] ? this.fold(args[1], scope) : null;
      if (enc && /^(base64|base64url|hex|binary|latin1|ucs2|utf16le)$/i.test(enc)) return true;
      if (args[0] && args[0].type !== 'Literal' && args[0].type !== 'TemplateLiteral' && !args[1]) {
        // Buffer.from(array of numbers) rebuilds bytes.
        return args[0].type === 'ArrayExpression' || (this.of(args[0], scope) & (T.HIDDEN | T.DECODED)) !== 0;
      }
    }
    const name = callee.global ?? callee.member;
    if (name === 'atob') return true;
    if (c.type === 'MemberExpression' && !c.computed && c.property.name === 'fromCharCode')
      return args.length >= 6 || args.some((a) => a.type === 'SpreadElement');
    if (name === 'createDecipher' || name === 'createDecipheriv' || name === 'privateDecrypt') return true;
    if (
      (name === 'update' || name === 'final') &&
      c.type === 'MemberExpression' &&
      this.of(c.object, scope) & T.DECODED
    )
      return true;
    if (name === 'toString' && c.type === 'MemberExpression') {
      const enc = args[0] ? this.fold(args[0], scope) : null;
      return this.isDecoderChain(c.object, scope) || (!!enc && /^(base64|hex)$/i.test(enc) && false);
    }
    return false;
  }

  private isDecoderChain(n: N, scope: Scope): boolean {
    return (n.type === 'CallExpression' && this.isDecoder(n, this.callee(n.callee, scope), scope)) || false;
  }

  /** Resolves what a callee expression names. */
  callee(c: N, scope: Scope): Callee {
    if (c.type === 'Identifier') {
      const key = keyOf(scope, c.name);
      const mod = this.prog.modules.get(key);
      if (mod) return mod.member ? { module: mod.module, member: mod.member } : { module: mod.module, member: '' };
      if (key.startsWith('g:')) return { global: c.name };
      return {};
    }
    if (c.type === 'MemberExpression') {
      const member = c.computed
        ? c.property.type === 'Literal'
          ? String(c.property.value)
          : undefined
        : c.property.name;
      let obj = c.object;
      // fs.promises.readFile, dns.promises.resolve, window.fetch, globalThis.fetch
      if (obj.type === 'MemberExpression' && !obj.computed && obj.property.name === 'promises') obj = obj.object;
      if (obj.type === 'Identifier') {
        if (['window', 'globalThis', 'global', 'self'].includes(obj.name) && keyOf(scope, obj.name).startsWith('g:'))
          return { global: member, computed: c.computed && member === undefined };
        const mod = this.prog.modules.get(keyOf(scope, obj.name));
        if (mod)
          return {
            module: mod.member ? `${mod.module}.${mod.member}` : mod.module,
            member,
            computed: c.computed && member === undefined,
          };
        if (
          keyOf(scope, obj.name).startsWith('g:') &&
          ['process', 'os', 'Buffer', 'String', 'navigator', 'JSON', 'Object'].includes(obj.name)
        )
          return { global: obj.name, member, object: obj };
      }
      const mod = requiredModule(obj, this.prog, scope);
      if (mod) return { module: mod, member, computed: c.computed && member === undefined };
      return { member, object: c.object, computed: c.computed && member === undefined };
    }
    return {};
  }

  /** A call that sends or receives over the network. */
  isNetworkCall(n: N, scope: Scope): boolean {
    if (n.type !== 'CallExpression' && n.type !== 'NewExpression') return false;
    const c = this.callee(n.callee, scope);
    if (c.global === 'fetch' || c.global === 'WebSocket' || c.global === 'XMLHttpRequest' || c.global === 'EventSource')
      return true;
    if (c.global === 'navigator' && c.member === 'sendBeacon') return true;
    if (c.module) {
      const base = c.module.split('.')[0]!;
      if (!NETWORK_MODULES.has(base)) return false;
      if (c.member === '' || c.member === undefined)
        return (
          ['axios', 'node-fetch', 'got', 'request', 'needle', 'cross-fetch', 'superagent'].includes(base) ||
          c.module.includes('.')
        );
      return NETWORK_METHODS.has(c.member) || c.member === 'Socket';
    }
    return false;
  }

  private networkStarts: number[] | null = null;

  /** True when a function (or expression) contains a network call anywhere inside. */
  containsNetwork(n: N): boolean {
    if (!this.networkStarts) {
      this.networkStarts = this.prog.calls
        .filter((c) => this.isNetworkCall(c.node, c.scope))
        .map((c) => c.node.start as number)
        .sort((a, b) => a - b);
    }
    const starts = this.networkStarts;
    // The first network call starting at or after n.start; inside n if it starts before n.end.
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid]! < n.start) lo = mid + 1;
      else hi = mid;
    }
    return lo < starts.length && starts[lo]! < n.end;
  }

  /**
   * The string constants an expression may be built from: its literals, and those of what the names
   * in it were assigned (three levels deep). At most 60.
   */
  literals(n: N | null | undefined, scope: Scope, depth = 3, out: string[] = []): string[] {
    if (!n || out.length >= 60) return out;
    switch (n.type) {
      case 'Literal':
        if (typeof n.value === 'string') out.push(n.value);
        break;
      case 'TemplateLiteral':
        for (const q of n.quasis) out.push(q.value.cooked ?? q.value.raw);
        for (const e of n.expressions) this.literals(e, scope, depth, out);
        break;
      case 'Identifier':
        if (depth > 0) {
          const key = keyOf(scope, n.name);
          for (const e of this.prog.edgesByKey.get(key) ?? []) this.literals(e.expr, e.scope, depth - 1, out);
        }
        break;
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
        break;
      default:
        if (n.type === 'CallExpression') {
          const folded = this.fold(n, scope);
          if (folded !== null) {
            out.push(folded);
            break;
          }
        }
        for (const k in n) {
          if (k === 'type' || k === 'start' || k === 'end' || k === 'callee') continue;
          const v = n[k];
          if (Array.isArray(v)) {
            for (const c of v) if (c && typeof c.type === 'string') this.literals(c, scope, depth, out);
          } else if (v && typeof v.type === 'string') this.literals(v, scope, depth, out);
        }
    }
    return out;
  }

  /**
   * The string value of an expression when it is fully known: literals, concatenations, templates,
   * constants, and base64/hex decodes of those. Null otherwise.
   */
  fold(n: N | null | undefined, scope: Scope, depth = 0): string | null {
    if (!n || depth > 8) return null;
    switch (n.type) {
      case 'Literal':
        return typeof n.value === 'string' || typeof n.value === 'number' || typeof n.value === 'boolean'
          ? String(n.value)
          : null;
      case 'UnaryExpression':
        // !0 and !1, as minifiers write true and false
        return n.operator === '!' && n.argument.type === 'Literal' && typeof n.argument.value === 'number'
          ? String(!n.argument.value)
          : null;
      case 'TemplateLiteral': {
        let s = '';
        for (let i = 0; i < n.quasis.length; i++) {
          s += n.quasis[i].value.cooked ?? '';
          if (i < n.expressions.length) {
            const v = this.fold(n.expressions[i], scope, depth + 1);
            if (v === null) return null;
            s += v;
          }
        }
        return s;
      }
      case 'BinaryExpression': {
        if (n.operator !== '+') return null;
        const a = this.fold(n.left, scope, depth + 1);
        const b = a === null ? null : this.fold(n.right, scope, depth + 1);
        return a === null || b === null ? null : a + b;
      }
      case 'Identifier': {
        const key = keyOf(scope, n.name);
        const defs = this.prog.edgesByKey.get(key) ?? [];
        return defs.length === 1 ? this.fold(defs[0]!.expr, defs[0]!.scope, depth + 1) : null;
      }
      case 'CallExpression': {
        const c = n.callee;
        if (c.type === 'MemberExpression' && !c.computed && c.property.name === 'toString') {
          const inner = c.object;
          if (
            inner.type === 'CallExpression' &&
            inner.callee.type === 'MemberExpression' &&
            inner.callee.object.name === 'Buffer'
          ) {
            const data = this.fold(inner.arguments[0], scope, depth + 1);
            const enc = inner.arguments[1] ? this.fold(inner.arguments[1], scope, depth + 1) : 'utf8';
            if (data !== null && enc && Buffer.isEncoding(enc)) return Buffer.from(data, enc).toString();
          }
          return this.fold(inner, scope, depth + 1);
        }
        if (c.type === 'Identifier' && c.name === 'atob' && n.arguments[0]) {
          const data = this.fold(n.arguments[0], scope, depth + 1);
          return data === null ? null : Buffer.from(data, 'base64').toString('latin1');
        }
        return null;
      }
      default:
        return null;
    }
  }

  /**
   * A string expression with its unknown parts replaced by `…` (`'certutil -f ' + url + ' x.dll'` →
   * `certutil -f … x.dll`), enough to read the shape of a command line.
   */
  shape(n: N | null | undefined, scope: Scope, depth = 0): string {
    if (!n || depth > 8) return '…';
    const whole = this.fold(n, scope, depth);
    if (whole !== null) return whole;
    if (n.type === 'BinaryExpression' && n.operator === '+')
      return this.shape(n.left, scope, depth + 1) + this.shape(n.right, scope, depth + 1);
    if (n.type === 'TemplateLiteral')
      return n.quasis
        .map(
          (q: N, i: number) =>
            (q.value.cooked ?? '') + (i < n.expressions.length ? this.shape(n.expressions[i], scope, depth + 1) : ''),
        )
        .join('');
    if (n.type === 'Identifier') {
      const defs = this.prog.edgesByKey.get(keyOf(scope, n.name)) ?? [];
      return defs.length === 1 ? this.shape(defs[0]!.expr, defs[0]!.scope, depth + 1) : '…';
    }
    return '…';
  }

  /**
   * The known beginning of a string expression (`'https://host/' + user` → `https://host/`), enough
   * to read a URL's host. Null when nothing is known.
   */
  prefix(n: N | null | undefined, scope: Scope, depth = 0): string | null {
    if (!n || depth > 8) return null;
    const whole = this.fold(n, scope, depth);
    if (whole !== null) return whole;
    if (n.type === 'BinaryExpression' && n.operator === '+') return this.prefix(n.left, scope, depth + 1);
    if (n.type === 'TemplateLiteral') return n.quasis[0]?.value.cooked || null;
    if (n.type === 'NewExpression' && n.callee.type === 'Identifier' && n.callee.name === 'URL') {
      // new URL(path, base): the base decides the host.
      return n.arguments[1]
        ? this.prefix(n.arguments[1], scope, depth + 1)
        : this.prefix(n.arguments[0], scope, depth + 1);
    }
    if (n.type === 'Identifier') {
      const key = keyOf(scope, n.name);
      const defs = this.prog.edgesByKey.get(key) ?? [];
      return defs.length === 1 ? this.prefix(defs[0]!.expr, defs[0]!.scope, depth + 1) : null;
    }
    return null;
  }
}

/** `process.env` used as a value (not `process.env.X`). */
export function isProcessEnv(n: N | null | undefined): boolean {
  return (
    !!n &&
    n.type === 'MemberExpression' &&
    !n.computed &&
    n.object.type === 'Identifier' &&
    n.object.name === 'process' &&
    n.property.name === 'env'
  );
}
