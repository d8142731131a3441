import { createRequire } from 'node:module';
import { policyLicense } from '@spm/db';

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
const CURRENT = new Set(require('spdx-license-ids') as string[]);
const EXCEPTIONS = new Map(exceptions.map((id) => [id.toLowerCase(), id]));
const LICENSE_REF = /^LicenseRef-[A-Za-z0-9.-]+$/i;

/**
 * The canonical policy id for what an admin wrote, or null when it is not one: an SPDX licence id (any
 * case), a `LicenseRef-*` id, either optionally followed by `+`, or `<licence> WITH <exception>` with
 * an SPDX exception id. Deprecated ids are upgraded exactly as the worker upgrades what packages
 * declare (`policyLicense`: GPL-2.0 → GPL-2.0-only, GPL-2.0+ → GPL-2.0-or-later), so a policy row
 * always names what the worker looks up.
 */
export function canonicalPolicyId(input: string): string | null {
  const m = /^\s*(\S+?)(\+)?(?:\s+WITH\s+(\S+))?\s*$/i.exec(input);
  if (!m) return null;
  const [, id, plus, exception] = m;
  let spelled: string | undefined;
  if (LICENSE_REF.test(id!)) spelled = `LicenseRef-${id!.slice('LicenseRef-'.length)}`;
  else spelled = LICENSES.get(id!.toLowerCase());
  if (!spelled) return null;
  let ex: string | undefined;
  if (exception !== undefined) {
    ex = EXCEPTIONS.get(exception.toLowerCase());
    if (!ex) return null;
  }
  const up = policyLicense(spelled, { plus: !!plus, exception: ex, isId: (x) => CURRENT.has(x) });
  return `${up.id}${up.plusKept ? '+' : ''}${up.exception ? ` WITH ${up.exception}` : ''}`;
}
