import { randomBytes } from 'node:crypto';
import type { DB } from './db.js';
import type { LicenseTier, Role } from './schema.js';
import { hashPassword } from './passwords.js';

/**
 * The default licence policy. The tiers are a deliberate starting point for an organisation that
 * ships proprietary software: permissive licences pass, weak copyleft passes flagged, strong and
 * network copyleft and non-commercial licences are blocked. Admins edit it through the API.
 */
export const DEFAULT_LICENSES: ReadonlyArray<{ spdx_id: string; name: string; tier: LicenseTier; notes?: string }> = [
  { spdx_id: 'MIT', name: 'MIT License', tier: 'always_allowed' },
  { spdx_id: 'ISC', name: 'ISC License', tier: 'always_allowed' },
  { spdx_id: 'BSD-2-Clause', name: 'BSD 2-Clause "Simplified" License', tier: 'always_allowed' },
  { spdx_id: 'BSD-3-Clause', name: 'BSD 3-Clause "New" or "Revised" License', tier: 'always_allowed' },
  { spdx_id: 'Apache-2.0', name: 'Apache License 2.0', tier: 'always_allowed' },
  { spdx_id: '0BSD', name: 'BSD Zero Clause License', tier: 'always_allowed' },
  { spdx_id: 'MIT-0', name: 'MIT No Attribution', tier: 'always_allowed' },
  { spdx_id: 'CC0-1.0', name: 'Creative Commons Zero v1.0 Universal', tier: 'always_allowed' },
  { spdx_id: 'Unlicense', name: 'The Unlicense', tier: 'always_allowed' },
  { spdx_id: 'BlueOak-1.0.0', name: 'Blue Oak Model License 1.0.0', tier: 'always_allowed' },
  { spdx_id: 'Zlib', name: 'zlib License', tier: 'always_allowed' },
  { spdx_id: 'BSD-1-Clause', name: 'BSD 1-Clause License', tier: 'allowed' },
  { spdx_id: 'Python-2.0', name: 'Python License 2.0', tier: 'allowed' },
  { spdx_id: 'PSF-2.0', name: 'Python Software Foundation License 2.0', tier: 'allowed' },
  { spdx_id: 'CC-BY-3.0', name: 'Creative Commons Attribution 3.0', tier: 'allowed' },
  { spdx_id: 'CC-BY-4.0', name: 'Creative Commons Attribution 4.0', tier: 'allowed' },
  { spdx_id: 'OFL-1.1', name: 'SIL Open Font License 1.1', tier: 'allowed' },
  { spdx_id: 'Artistic-2.0', name: 'Artistic License 2.0', tier: 'allowed' },
  { spdx_id: 'BSL-1.0', name: 'Boost Software License 1.0', tier: 'allowed' },
  { spdx_id: 'Unicode-DFS-2016', name: 'Unicode License Agreement - Data Files and Software (2016)', tier: 'allowed' },
  { spdx_id: 'Unicode-3.0', name: 'Unicode License v3', tier: 'allowed' },
  { spdx_id: 'WTFPL', name: 'Do What The F*ck You Want To Public License', tier: 'avoid', notes: 'Legally vague.' },
  {
    spdx_id: 'MPL-2.0',
    name: 'Mozilla Public License 2.0',
    tier: 'avoid',
    notes: 'File-level copyleft: modified files must stay open.',
  },
  { spdx_id: 'EPL-2.0', name: 'Eclipse Public License 2.0', tier: 'avoid', notes: 'Weak copyleft.' },
  {
    spdx_id: 'LGPL-2.1-only',
    name: 'GNU Lesser General Public License v2.1 only',
    tier: 'avoid',
    notes: 'Weak copyleft: relinking obligations.',
  },
  {
    spdx_id: 'LGPL-2.1-or-later',
    name: 'GNU Lesser General Public License v2.1 or later',
    tier: 'avoid',
    notes: 'Weak copyleft: relinking obligations.',
  },
  {
    spdx_id: 'LGPL-3.0-only',
    name: 'GNU Lesser General Public License v3.0 only',
    tier: 'avoid',
    notes: 'Weak copyleft: relinking obligations.',
  },
  {
    spdx_id: 'LGPL-3.0-or-later',
    name: 'GNU Lesser General Public License v3.0 or later',
    tier: 'avoid',
    notes: 'Weak copyleft: relinking obligations.',
  },
  {
    spdx_id: 'CC-BY-SA-4.0',
    name: 'Creative Commons Attribution Share Alike 4.0',
    tier: 'avoid',
    notes: 'Share-alike.',
  },
  { spdx_id: 'GPL-2.0-only', name: 'GNU General Public License v2.0 only', tier: 'blocked', notes: 'Strong copyleft.' },
  {
    spdx_id: 'GPL-2.0-or-later',
    name: 'GNU General Public License v2.0 or later',
    tier: 'blocked',
    notes: 'Strong copyleft.',
  },
  { spdx_id: 'GPL-3.0-only', name: 'GNU General Public License v3.0 only', tier: 'blocked', notes: 'Strong copyleft.' },
  {
    spdx_id: 'GPL-3.0-or-later',
    name: 'GNU General Public License v3.0 or later',
    tier: 'blocked',
    notes: 'Strong copyleft.',
  },
  {
    spdx_id: 'AGPL-3.0-only',
    name: 'GNU Affero General Public License v3.0 only',
    tier: 'blocked',
    notes: 'Network copyleft.',
  },
  {
    spdx_id: 'AGPL-3.0-or-later',
    name: 'GNU Affero General Public License v3.0 or later',
    tier: 'blocked',
    notes: 'Network copyleft.',
  },
  {
    spdx_id: 'SSPL-1.0',
    name: 'Server Side Public License v1',
    tier: 'blocked',
    notes: 'Not open source; service copyleft.',
  },
  {
    spdx_id: 'BUSL-1.1',
    name: 'Business Source License 1.1',
    tier: 'blocked',
    notes: 'Source-available; production use restricted.',
  },
  {
    spdx_id: 'CC-BY-NC-4.0',
    name: 'Creative Commons Attribution Non Commercial 4.0',
    tier: 'blocked',
    notes: 'Non-commercial only.',
  },
  {
    spdx_id: 'CC-BY-NC-SA-4.0',
    name: 'Creative Commons Attribution Non Commercial Share Alike 4.0',
    tier: 'blocked',
    notes: 'Non-commercial only.',
  },
];

/** Inserts the default licence policy; existing rows (edited by admins) are left alone. */
export async function seedLicenses(db: DB): Promise<number> {
  const res = await db
    .insertInto('supported_licenses')
    .values(DEFAULT_LICENSES.map((l) => ({ spdx_id: l.spdx_id, name: l.name, tier: l.tier, notes: l.notes ?? null })))
    .onConflict((oc) => oc.column('spdx_id').doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0);
}

export interface SeededUser {
  username: string;
  password: string;
  role: Role;
}

/**
 * Development only: creates one user per role with a random password, returned so the caller can
 * print it. Users that already exist are left alone (and not returned).
 */
export async function seedDevUsers(db: DB): Promise<SeededUser[]> {
  const created: SeededUser[] = [];
  for (const role of ['admin', 'approver', 'user'] as const) {
    const username = `dev-${role}`;
    const exists = await db.selectFrom('users').select('id').where('username', '=', username).executeTakeFirst();
    if (exists) continue;
    const password = randomBytes(9).toString('base64url');
    await db
      .insertInto('users')
      .values({ username, password_hash: await hashPassword(password), role })
      .onConflict((oc) => oc.column('username').doNothing())
      .execute();
    created.push({ username, password, role });
  }
  return created;
}
