/**
 * SPDX licence ids as the licence policy (supported_licenses.spdx_id) keys them. Shared by the worker,
 * which upgrades what packages declare before it looks a tier up, and the API, which canonicalises
 * what an admin writes, so a policy row always names what the worker looks for.
 */

/**
 * Deprecated SPDX ids and what SPDX says they mean now. Plain GNU ids meant "only" (SPDX 3.0 made
 * that explicit); the `-with-…-exception` ids became `WITH` expressions.
 */
export const DEPRECATED_LICENSE_IDS: Readonly<Record<string, { id: string; exception?: string }>> = {
  'GPL-1.0': { id: 'GPL-1.0-only' },
  'GPL-2.0': { id: 'GPL-2.0-only' },
  'GPL-3.0': { id: 'GPL-3.0-only' },
  'LGPL-2.0': { id: 'LGPL-2.0-only' },
  'LGPL-2.1': { id: 'LGPL-2.1-only' },
  'LGPL-3.0': { id: 'LGPL-3.0-only' },
  'AGPL-1.0': { id: 'AGPL-1.0-only' },
  'AGPL-3.0': { id: 'AGPL-3.0-only' },
  'GFDL-1.1': { id: 'GFDL-1.1-only' },
  'GFDL-1.2': { id: 'GFDL-1.2-only' },
  'GFDL-1.3': { id: 'GFDL-1.3-only' },
  'GPL-2.0-with-GCC-exception': { id: 'GPL-2.0-only', exception: 'GCC-exception-2.0' },
  'GPL-2.0-with-autoconf-exception': { id: 'GPL-2.0-only', exception: 'Autoconf-exception-2.0' },
  'GPL-2.0-with-bison-exception': { id: 'GPL-2.0-only', exception: 'Bison-exception-2.2' },
  'GPL-2.0-with-classpath-exception': { id: 'GPL-2.0-only', exception: 'Classpath-exception-2.0' },
  'GPL-2.0-with-font-exception': { id: 'GPL-2.0-only', exception: 'Font-exception-2.0' },
  'GPL-3.0-with-GCC-exception': { id: 'GPL-3.0-only', exception: 'GCC-exception-3.1' },
  'GPL-3.0-with-autoconf-exception': { id: 'GPL-3.0-only', exception: 'Autoconf-exception-3.0' },
  'BSD-2-Clause-FreeBSD': { id: 'BSD-2-Clause' },
  'BSD-2-Clause-NetBSD': { id: 'BSD-2-Clause' },
  'StandardML-NJ': { id: 'SMLNJ' },
  'bzip2-1.0.5': { id: 'bzip2-1.0.6' },
  'eCos-2.0': { id: 'GPL-2.0-or-later', exception: 'eCos-exception-2.0' },
  wxWindows: { id: 'LGPL-2.0-or-later', exception: 'WxWindows-exception-3.1' },
  Nunit: { id: 'zlib-acknowledgement' },
};

/**
 * The policy key for one licence of an SPDX expression: deprecated ids upgraded (GPL-2.0 →
 * GPL-2.0-only, GPL-2.0-with-GCC-exception → GPL-2.0-only WITH GCC-exception-2.0), `X+` as
 * `X-or-later` when SPDX has that id (`isId` says which ids exist). `plusKept` is true when a `+` had no
 * `-or-later` id to become.
 */
export function policyLicense(
  license: string,
  opts: { plus?: boolean; exception?: string; isId: (id: string) => boolean },
): { id: string; exception?: string; deprecated: boolean; plusKept: boolean } {
  let id = license;
  let exception = opts.exception;
  const dep = DEPRECATED_LICENSE_IDS[id];
  if (dep) {
    id = dep.id;
    exception = exception ?? dep.exception;
  }
  let plusKept = false;
  if (opts.plus) {
    // `X+` means "X or any later version": GPL-2.0+ is GPL-2.0-or-later.
    const base = id.replace(/-only$/, '');
    if (opts.isId(`${base}-or-later`)) id = `${base}-or-later`;
    else plusKept = true;
  }
  return exception ? { id, exception, deprecated: !!dep, plusKept } : { id, deprecated: !!dep, plusKept };
}
