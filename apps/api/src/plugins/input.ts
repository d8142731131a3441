import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { MULTILINE_TEXT_PATTERN, PLAIN_TEXT_PATTERN } from '../input.js';

type Schema = Record<string, unknown>;

const PARTS = ['body', 'querystring', 'params', 'headers'] as const;
const CHILD_MAPS = ['properties', 'patternProperties', 'definitions', '$defs'] as const;
const CHILDREN = ['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains'] as const;
const CHILD_LISTS = ['anyOf', 'oneOf', 'allOf', 'prefixItems'] as const;

/**
 * A copy of a request schema in which every string refuses control characters: a string with no pattern
 * of its own gets the plain-text pattern (or keeps the multi-line one it declared); a string with a pattern
 * of its own also gets the plain-text pattern through `allOf`. Enums and constants are left alone (they
 * cannot match a control character anyway). Pure; the input schema is not changed (schemas are shared).
 */
export function refuseControlCharacters(schema: unknown): unknown {
  if (schema === null || typeof schema !== 'object') return schema;
  if (Array.isArray(schema)) return schema.map(refuseControlCharacters);
  const s: Schema = { ...(schema as Schema) };
  for (const key of CHILD_MAPS) {
    const map = s[key];
    if (map !== null && typeof map === 'object') {
      s[key] = Object.fromEntries(Object.entries(map).map(([k, v]) => [k, refuseControlCharacters(v)]));
    }
  }
  for (const key of CHILDREN) if (key in s) s[key] = refuseControlCharacters(s[key]);
  for (const key of CHILD_LISTS) if (Array.isArray(s[key])) s[key] = (s[key] as unknown[]).map(refuseControlCharacters);
  const isString = s.type === 'string' || (Array.isArray(s.type) && s.type.includes('string'));
  if (isString && s.enum === undefined && s.const === undefined) {
    if (s.pattern === undefined) s.pattern = PLAIN_TEXT_PATTERN;
    else if (s.pattern !== PLAIN_TEXT_PATTERN && s.pattern !== MULTILINE_TEXT_PATTERN) {
      s.allOf = [...((s.allOf as unknown[] | undefined) ?? []), { pattern: PLAIN_TEXT_PATTERN }];
    }
  }
  return s;
}

/**
 * Input hygiene for every route: before a route's schema is compiled, each string in its body, query,
 * params and headers is made to refuse control characters (400 ERR_CONTROL_CHARACTER from the error
 * mapper). Registered before the routes, so no route can forget it.
 */
export default fp(
  async function inputPlugin(app: FastifyInstance) {
    app.addHook('onRoute', (route) => {
      const schema = route.schema as Schema | undefined;
      if (!schema) return;
      const out: Schema = { ...schema };
      for (const part of PARTS) if (part in out) out[part] = refuseControlCharacters(out[part]);
      route.schema = out;
    });
  },
  { name: 'spm-input' },
);
