import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ids = [
  ...(require('spdx-license-ids') as string[]),
  ...(require('spdx-license-ids/deprecated.json') as string[]),
];
const exceptions = [
  ...(require('spdx-exceptions') as string[]),
  ...(require('spdx-exceptions/deprecated.json') as string[]),
];

const LICENSES = new Map(ids.map((id) => [id.toLowerCase(), id]));
const EXCEPTIONS = new Map(exceptions.map((id) => [id.toLowerCase(), id]));
const LICENSE_REF = /^LicenseRef-[A-Za-z0-9.-]+$/i;

/**
 * The canonical spelling of a licence policy id, or null when it is not one: an SPDX licence id
 * (current or deprecated, any case), a `LicenseRef-*` id, either optionally followed by `+`, or
 * `<licence> WITH <exception>` with an SPDX exception id.
 */
export function canonicalPolicyId(input: string): string | null {
  const m = /^\s*(\S+?)(\+)?(?:\s+WITH\s+(\S+))?\s*$/i.exec(input);
  if (!m) return null;
  const [, id, plus, exception] = m;
  let canonical: string | undefined;
  if (LICENSE_REF.test(id!)) canonical = `LicenseRef-${id!.slice('LicenseRef-'.length)}`;
  else canonical = LICENSES.get(id!.toLowerCase());
  if (!canonical) return null;
  if (plus) canonical += '+';
  if (exception !== undefined) {
    const ex = EXCEPTIONS.get(exception.toLowerCase());
    if (!ex) return null;
    canonical += ` WITH ${ex}`;
  }
  return canonical;
}
