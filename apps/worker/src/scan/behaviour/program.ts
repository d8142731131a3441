import { parse, type Node } from 'acorn';

/** An acorn node with its fields reachable by name. */
export type N = Node & Record<string, any>;

/** A function (or the program): where `var`, parameters and function declarations live. */
export interface Scope {
  id: number;
  node: N;
  parent: Scope | null;
  names: Set<string>;
}

/** `binding ← expression`, in the scope the expression is read in. */
export interface Edge {
  key: string;
  expr: N;
  scope: Scope;
}

/** A call, `new` or assignment with the scope it sits in: where behaviour is judged. */
export interface Site {
  node: N;
  scope: Scope;
}

/**
 * One parsed file reduced to what the behaviour rules need: scopes with their declarations, every
 * assignment to a name (flow-insensitive: a name holds whatever was ever assigned to it), callback
 * parameters with the call they belong to, the return values of each function, and every call site.
 */
export interface Program {
  source: string;
  scopes: Map<N, Scope>;
  edges: Edge[];
  /** The edges of each binding key. */
  edgesByKey: Map<string, Edge[]>;
  /** The binding a call's result is assigned to, by the call node. */
  boundTo: Map<N, string>;
  /** Callback parameters: the parameter's key and the call whose callback it is. */
  callbackParams: Array<{ key: string; call: N; scope: Scope }>;
  /** Function declarations and named function values by binding key. */
  functions: Map<string, N>;
  returns: Map<N, Site[]>;
  calls: Site[];
  assignments: Site[];
  /** Bindings of `require('x')` / `import … from 'x'`: key → module and the member taken (if any). */
  modules: Map<string, { module: string; member?: string }>;
  /** Bindings that alias `require` itself (`var r = require`). */
  requireAliases: Set<string>;
  /** Set when the walk stopped at the node budget. */
  truncated: boolean;
  /** The arguments each parameter of the file's named functions receives, by the parameter's key. */
  argumentsOf: Map<string, Site[]>;
}

export const MAX_NODES = 400_000;

/**
 * Parses JavaScript with acorn (script, then module) and never throws: null when it does not
 * parse. Hostile input is bounded by the caller's size cap and by acorn being linear.
 */
export function parseJs(source: string): N | null {
  for (const sourceType of ['script', 'module'] as const) {
    try {
      return parse(source, {
        ecmaVersion: 'latest',
        sourceType,
        allowHashBang: true,
        allowReturnOutsideFunction: true,
        allowAwaitOutsideFunction: true,
        allowImportExportEverywhere: true,
      }) as N;
    } catch {
      // try the other source type
    }
  }
  return null;
}

const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);

export function isFunction(n: N | null | undefined): boolean {
  return !!n && FUNCTION_TYPES.has(n.type);
}

function patternNames(p: N | null | undefined, out: N[] = []): N[] {
  if (!p) return out;
  if (p.type === 'Identifier') out.push(p);
  else if (p.type === 'ObjectPattern')
    for (const prop of p.properties) patternNames(prop.type === 'RestElement' ? prop.argument : prop.value, out);
  else if (p.type === 'ArrayPattern') for (const el of p.elements) patternNames(el, out);
  else if (p.type === 'RestElement') patternNames(p.argument, out);
  else if (p.type === 'AssignmentPattern') patternNames(p.left, out);
  return out;
}

/** The binding key a name resolves to from `scope` (the global scope when nobody declares it). */
export function keyOf(scope: Scope, name: string): string {
  for (let s: Scope | null = scope; s; s = s.parent) if (s.names.has(name)) return `${s.id}:${name}`;
  return `g:${name}`;
}

/** `require('x')`, `require('node:x')`, or a require alias: the module name, else null. */
export function requiredModule(n: N | null | undefined, prog: Program, scope: Scope): string | null {
  if (!n || n.type !== 'CallExpression' || n.arguments.length !== 1) return null;
  const c = n.callee;
  const isRequire = c.type === 'Identifier' && (c.name === 'require' || prog.requireAliases.has(keyOf(scope, c.name)));
  const a = n.arguments[0];
  if (!isRequire || a.type !== 'Literal' || typeof a.value !== 'string') return null;
  return a.value.replace(/^node:/, '');
}

/** Builds the Program of a parsed file. Visits at most MAX_NODES nodes. */
export function buildProgram(ast: N, source: string): Program {
  const prog: Program = {
    source,
    scopes: new Map(),
    edges: [],
    edgesByKey: new Map(),
    boundTo: new Map(),
    callbackParams: [],
    functions: new Map(),
    returns: new Map(),
    calls: [],
    assignments: [],
    modules: new Map(),
    requireAliases: new Set(),
    truncated: false,
    argumentsOf: new Map(),
  };
  let nextId = 0;
  let budget = MAX_NODES;

  // Pass 1: declarations, hoisted to the nearest function (a simplification of block scoping that
  // only ever joins two bindings of the same name in one function).
  const declare = (scope: Scope, id: N | null | undefined) => {
    for (const n of patternNames(id)) scope.names.add(n.name);
  };
  const pass1 = (node: N, scope: Scope): void => {
    if (--budget < 0) {
      prog.truncated = true;
      return;
    }
    let inner = scope;
    if (isFunction(node) || node.type === 'Program') {
      inner = { id: nextId++, node, parent: node.type === 'Program' ? null : scope, names: new Set() };
      prog.scopes.set(node, inner);
      if (node.type === 'FunctionDeclaration' && node.id) scope.names.add(node.id.name);
      if (node.type === 'FunctionExpression' && node.id) inner.names.add(node.id.name);
      for (const p of node.params ?? []) declare(inner, p);
    } else if (node.type === 'VariableDeclarator') declare(scope, node.id);
    else if (node.type === 'CatchClause') declare(scope, node.param);
    else if (node.type === 'ClassDeclaration' && node.id) scope.names.add(node.id.name);
    else if (
      node.type === 'ImportSpecifier' ||
      node.type === 'ImportDefaultSpecifier' ||
      node.type === 'ImportNamespaceSpecifier'
    )
      scope.names.add(node.local.name);
    for (const k in node) {
      if (k === 'type' || k === 'start' || k === 'end') continue;
      const v = node[k];
      if (Array.isArray(v)) {
        for (const c of v) if (c && typeof c.type === 'string') pass1(c, inner);
      } else if (v && typeof v.type === 'string') pass1(v, inner);
    }
  };
  pass1(ast, null as unknown as Scope);

  // Pass 2: edges, call sites, returns, module bindings.
  budget = MAX_NODES;
  const bind = (target: N | null | undefined, expr: N, scope: Scope) => {
    for (const n of patternNames(target)) prog.edges.push({ key: keyOf(scope, n.name), expr, scope });
  };
  const fnStack: N[] = [];
  const pass2 = (node: N, scope: Scope): void => {
    if (--budget < 0) {
      prog.truncated = true;
      return;
    }
    const own = prog.scopes.get(node);
    const inner = own ?? scope;
    switch (node.type) {
      case 'VariableDeclarator':
        if (node.init) {
          bind(node.id, node.init, scope);
          recordModule(node.id, node.init, scope);
          if (node.id.type === 'Identifier' && isFunction(node.init))
            prog.functions.set(keyOf(scope, node.id.name), node.init);
        }
        break;
      case 'FunctionDeclaration':
        if (node.id) prog.functions.set(keyOf(scope, node.id.name), node);
        break;
      case 'AssignmentExpression': {
        prog.assignments.push({ node, scope });
        let base = node.left;
        while (base.type === 'MemberExpression') base = base.object;
        // `process.env.X = …` or `window.x = …` must not taint every later read of the global object.
        const globalBase = base.type === 'Identifier' && base !== node.left && keyOf(scope, base.name).startsWith('g:');
        if (base.type === 'Identifier' && !globalBase) {
          prog.edges.push({ key: keyOf(scope, base.name), expr: node.right, scope });
          if (node.left.type === 'Identifier') {
            recordModule(node.left, node.right, scope);
            if (isFunction(node.right)) prog.functions.set(keyOf(scope, node.left.name), node.right);
          }
        }
        break;
      }
      case 'ForOfStatement':
      case 'ForInStatement': {
        const left = node.left.type === 'VariableDeclaration' ? node.left.declarations[0]?.id : node.left;
        bind(left, node.right, scope);
        break;
      }
      case 'CallExpression':
      case 'NewExpression':
        prog.calls.push({ node, scope });
        for (const a of node.arguments)
          if (isFunction(a)) {
            const s = prog.scopes.get(a);
            if (s)
              for (const p of a.params)
                for (const n of patternNames(p)) prog.callbackParams.push({ key: keyOf(s, n.name), call: node, scope });
          }
        break;
      case 'ReturnStatement':
        if (node.argument && fnStack.length) {
          const fn = fnStack[fnStack.length - 1]!;
          prog.returns.set(fn, [...(prog.returns.get(fn) ?? []), { node: node.argument, scope }]);
        }
        break;
      case 'ImportDeclaration':
        for (const s of node.specifiers) {
          const key = keyOf(scope, s.local.name);
          const module = String(node.source.value).replace(/^node:/, '');
          prog.modules.set(
            key,
            s.type === 'ImportSpecifier' ? { module, member: s.imported.name ?? s.imported.value } : { module },
          );
        }
        break;
    }
    if (node.type === 'ArrowFunctionExpression' && node.expression)
      prog.returns.set(node, [{ node: node.body, scope: inner }]);
    if (own && node.type !== 'Program') fnStack.push(node);
    for (const k in node) {
      if (k === 'type' || k === 'start' || k === 'end') continue;
      const v = node[k];
      if (Array.isArray(v)) {
        for (const c of v) if (c && typeof c.type === 'string') pass2(c, inner);
      } else if (v && typeof v.type === 'string') pass2(v, inner);
    }
    if (own && node.type !== 'Program') fnStack.pop();
  };
  const recordModule = (id: N, init: N, scope: Scope) => {
    if (init.type === 'Identifier' && init.name === 'require' && id.type === 'Identifier') {
      prog.requireAliases.add(keyOf(scope, id.name));
      return;
    }
    let member: string | undefined;
    let call = init;
    if (init.type === 'MemberExpression' && !init.computed) {
      member = init.property.name;
      call = init.object;
    }
    const module = requiredModule(call, prog, scope);
    if (!module) return;
    if (id.type === 'Identifier') prog.modules.set(keyOf(scope, id.name), member ? { module, member } : { module });
    else if (id.type === 'ObjectPattern' && !member)
      for (const p of id.properties)
        if (p.type === 'Property' && p.value.type === 'Identifier') {
          const name = p.key.type === 'Identifier' ? p.key.name : String(p.key.value);
          prog.modules.set(keyOf(scope, p.value.name), { module, member: name });
        }
  };
  pass2(ast, prog.scopes.get(ast)!);
  // What the file's own named functions are called with, by parameter (`load('https://…')` for
  // `function load(url)`). Kept apart from the edges: taint does not flow through calls (in a bundle
  // every helper is called with everything), only the address of a network call is looked up here.
  for (const { node, scope } of prog.calls) {
    if (node.callee.type !== 'Identifier') continue;
    const fn = prog.functions.get(keyOf(scope, node.callee.name));
    const fnScope = fn && prog.scopes.get(fn);
    if (!fnScope) continue;
    fn.params.forEach((p: N, i: number) => {
      const arg: N | undefined = node.arguments[i];
      if (p.type !== 'Identifier' || !arg || arg.type === 'SpreadElement') return;
      const key = keyOf(fnScope, p.name);
      prog.argumentsOf.set(key, [...(prog.argumentsOf.get(key) ?? []), { node: arg, scope }]);
    });
  }
  for (const e of prog.edges) {
    const list = prog.edgesByKey.get(e.key);
    if (list) list.push(e);
    else prog.edgesByKey.set(e.key, [e]);
    prog.boundTo.set(e.expr, e.key);
  }
  return prog;
}
