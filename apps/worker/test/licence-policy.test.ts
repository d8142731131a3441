import { describe, expect, it } from 'vitest';
import { DEFAULT_LICENSES } from '@spm/db';
import {
  TIER_SCORE,
  blockedReason,
  compareLicences,
  declaredLicenceText,
  evaluateLicence,
  tierTable,
  type TierTable,
} from '../src/licence/policy.js';

const policy: TierTable = tierTable(DEFAULT_LICENSES.map((l) => ({ spdxId: l.spdx_id, tier: l.tier })));
const ev = (declared: unknown, tiers: TierTable = policy) => evaluateLicence(declared, tiers);

describe('single SPDX identifiers', () => {
  it.each([
    ['MIT', 'always_allowed', 100],
    ['Apache-2.0', 'always_allowed', 100],
    ['BSD-1-Clause', 'allowed', 80],
    ['MPL-2.0', 'avoid', 50],
    ['GPL-3.0-only', 'blocked', 0],
    ['Sleepycat', 'unknown', 30],
  ])('rates %s as %s with score %i', (id, tier, score) => {
    const v = ev(id);
    expect(v.tier).toBe(tier);
    expect(v.score).toBe(score);
    expect(v.expression).toBe(id);
  });

  it('flags avoid-tier licences', () => {
    expect(ev('MPL-2.0').flags).toContain('avoid');
  });

  it('flags a licence missing from the policy for review and names it', () => {
    const v = ev('Sleepycat');
    expect(v.flags).toEqual(expect.arrayContaining(['review', 'unknown-license:Sleepycat']));
  });

  it('gives every tier its documented score', () => {
    expect(TIER_SCORE).toEqual({ always_allowed: 100, allowed: 80, avoid: 50, unknown: 30, blocked: 0 });
  });

  it('matches policy ids case-insensitively', () => {
    const tiers = tierTable([{ spdxId: 'mit', tier: 'allowed' }]);
    expect(ev('MIT', tiers).tier).toBe('allowed');
  });

  it('treats LicenseRef identifiers as unknown', () => {
    const v = ev('LicenseRef-Proprietary');
    expect(v.tier).toBe('unknown');
    expect(v.flags).toContain('unknown-license:LicenseRef-Proprietary');
  });
});

describe('SPDX expressions', () => {
  it('takes the best alternative of an OR', () => {
    expect(ev('(GPL-3.0-only OR MIT)').tier).toBe('always_allowed');
    expect(ev('GPL-3.0-only OR MPL-2.0').tier).toBe('avoid');
    expect(ev('MIT OR Apache-2.0').decisive.map((l) => l.id)).toEqual(['MIT', 'Apache-2.0']);
  });

  it('takes the worst licence of an AND', () => {
    expect(ev('MIT AND GPL-3.0-only').tier).toBe('blocked');
    expect(ev('MIT AND MPL-2.0').tier).toBe('avoid');
    expect(ev('MIT AND Sleepycat').tier).toBe('unknown');
  });

  it('ranks blocked below unknown inside an AND, and unknown below avoid inside an OR', () => {
    expect(ev('Sleepycat AND GPL-3.0-only').tier).toBe('blocked');
    expect(ev('Sleepycat OR MPL-2.0').tier).toBe('avoid');
    expect(ev('Sleepycat OR GPL-3.0-only').tier).toBe('unknown');
  });

  it('evaluates nested expressions with precedence (AND binds tighter than OR)', () => {
    expect(ev('GPL-3.0-only OR MIT AND Apache-2.0').tier).toBe('always_allowed');
    expect(ev('(GPL-3.0-only OR MIT) AND (MPL-2.0 OR AGPL-3.0-only)').tier).toBe('avoid');
    expect(ev('(GPL-3.0-only OR MIT) AND (MPL-2.0 OR AGPL-3.0-only)').expression).toBe(
      '(GPL-3.0-only OR MIT) AND (MPL-2.0 OR AGPL-3.0-only)',
    );
    expect(ev('MIT AND (GPL-2.0-only OR GPL-3.0-only)').tier).toBe('blocked');
  });

  it('names the blocked licences of an AND, not the harmless ones', () => {
    const v = ev('MIT AND GPL-3.0-only');
    expect(v.decisive.map((l) => l.id)).toEqual(['GPL-3.0-only']);
    expect(blockedReason(v)).toBe('licence GPL-3.0-only is blocked by policy (declared: MIT AND GPL-3.0-only)');
  });

  it('names every alternative when all alternatives of an OR are blocked', () => {
    const v = ev('GPL-3.0-only OR AGPL-3.0-only');
    expect(v.tier).toBe('blocked');
    expect(blockedReason(v)).toContain('GPL-3.0-only, AGPL-3.0-only');
  });

  it('evaluates the licence of a WITH expression and notes the exception', () => {
    const v = ev('GPL-2.0-only WITH Classpath-exception-2.0');
    expect(v.tier).toBe('blocked');
    expect(v.flags).toContain('exception:Classpath-exception-2.0');
    expect(v.expression).toBe('GPL-2.0-only WITH Classpath-exception-2.0');
  });

  it('lets a policy row for the exact licence-with-exception combination decide', () => {
    const tiers = tierTable([
      { spdxId: 'GPL-2.0-only', tier: 'blocked' },
      { spdxId: 'GPL-2.0-only WITH Classpath-exception-2.0', tier: 'avoid' },
    ]);
    expect(ev('GPL-2.0-only WITH Classpath-exception-2.0', tiers).tier).toBe('avoid');
  });

  it('reads `+` as "or later"', () => {
    const v = ev('GPL-2.0+');
    expect(v.expression).toBe('GPL-2.0-or-later');
    expect(v.tier).toBe('blocked');
    expect(ev('LGPL-2.1+').expression).toBe('LGPL-2.1-or-later');
    expect(ev('LGPL-2.1+').tier).toBe('avoid');
  });

  it('keeps the id and flags `+` when the licence has no or-later variant', () => {
    const v = ev('Apache-2.0+');
    expect(v.expression).toBe('Apache-2.0');
    expect(v.tier).toBe('always_allowed');
    expect(v.flags).toContain('or-later:Apache-2.0');
  });

  it.each([
    ['GPL-2.0', 'GPL-2.0-only', 'blocked'],
    ['GPL-3.0', 'GPL-3.0-only', 'blocked'],
    ['LGPL-2.1', 'LGPL-2.1-only', 'avoid'],
    ['LGPL-3.0', 'LGPL-3.0-only', 'avoid'],
    ['AGPL-3.0', 'AGPL-3.0-only', 'blocked'],
    ['BSD-2-Clause-FreeBSD', 'BSD-2-Clause', 'always_allowed'],
    ['GPL-2.0-with-classpath-exception', 'GPL-2.0-only WITH Classpath-exception-2.0', 'blocked'],
  ])('upgrades the deprecated id %s to %s', (id, expression, tier) => {
    const v = ev(id);
    expect(v.expression).toBe(expression);
    expect(v.tier).toBe(tier);
    expect(v.flags).toContain(`deprecated-id:${id}`);
  });

  it('upgrades deprecated ids inside expressions', () => {
    const v = ev('(MIT OR GPL-2.0)');
    expect(v.expression).toBe('MIT OR GPL-2.0-only');
    expect(v.tier).toBe('always_allowed');
  });
});

describe('npm legacy forms', () => {
  it('reads a { type, url } licence object', () => {
    const v = ev({ type: 'MIT', url: 'https://example.test/license' });
    expect(v.tier).toBe('always_allowed');
    expect(v.flags).toContain('legacy-object');
  });

  it('reads a licenses array as a choice between its entries', () => {
    const v = ev([{ type: 'GPL-3.0-only' }, { type: 'MIT' }]);
    expect(v.expression).toBe('GPL-3.0-only OR MIT');
    expect(v.tier).toBe('always_allowed');
    expect(v.flags).toContain('legacy-array');
  });

  it('reads a licenses array of one entry as that licence', () => {
    expect(ev([{ type: 'Apache-2.0' }]).expression).toBe('Apache-2.0');
  });

  it('reads a licenses array of strings and parenthesises compound entries', () => {
    expect(declaredLicenceText(['MIT', 'Apache-2.0 AND BSD-3-Clause']).text).toBe(
      'MIT OR (Apache-2.0 AND BSD-3-Clause)',
    );
  });

  it('unpacks the JSON text of a legacy form as stored from a lockfile', () => {
    expect(ev('{"type":"ISC","url":"x"}').tier).toBe('always_allowed');
    expect(ev('[{"type":"MIT"},{"type":"Apache-2.0"}]').expression).toBe('MIT OR Apache-2.0');
  });

  it('keeps text that merely looks like JSON', () => {
    expect(ev('{not json').flags).toContain('unparseable');
  });

  it('treats an empty array or object as a missing licence', () => {
    expect(ev([]).flags).toContain('missing');
    expect(ev({}).flags).toContain('missing');
  });

  it('treats UNLICENSED as proprietary, flagged for review, and never as the Unlicense', () => {
    const v = ev('UNLICENSED');
    expect(v.tier).toBe('unknown');
    expect(v.expression).toBe('UNLICENSED');
    expect(v.flags).toEqual(expect.arrayContaining(['unlicensed', 'review']));
    expect(ev('Unlicense').tier).toBe('always_allowed');
  });

  it('records the file of SEE LICENSE IN and flags it for review', () => {
    const v = ev('SEE LICENSE IN LICENSE.md');
    expect(v.tier).toBe('unknown');
    expect(v.flags).toEqual(expect.arrayContaining(['see-license-in:LICENSE.md', 'review']));
    expect(ev('see licence in ./EULA.txt').flags).toContain('see-license-in:./EULA.txt');
  });

  it.each([null, undefined, '', '   '])('treats %j as a missing licence', (input) => {
    const v = ev(input);
    expect(v.tier).toBe('unknown');
    expect(v.expression).toBeNull();
    expect(v.flags).toEqual(expect.arrayContaining(['missing', 'review']));
  });

  it('ignores values of other types', () => {
    expect(ev(42).flags).toContain('missing');
  });
});

describe('free text', () => {
  it.each([
    ['Apache 2', 'Apache-2.0'],
    ['mit', 'MIT'],
    ['Apache License, Version 2.0', 'Apache-2.0'],
    ['BSD', 'BSD-2-Clause'],
  ])('corrects %j to %s and flags it', (text, expression) => {
    const v = ev(text);
    expect(v.expression).toBe(expression);
    expect(v.flags).toContain('corrected');
  });

  it('corrects each part of a free-text expression', () => {
    const v = ev('mit or Apache 2');
    expect(v.expression).toBe('MIT OR Apache-2.0');
    expect(v.flags).toContain('corrected');
  });

  it('upgrades while correcting (GPLv3 is strong copyleft)', () => {
    const v = ev('GPLv3');
    expect(v.tier).toBe('blocked');
    expect(v.flags).toContain('corrected');
  });

  it('leaves text it cannot correct unknown and flagged unparseable', () => {
    const v = ev('Public Domain, do what you like');
    expect(v.tier).toBe('unknown');
    expect(v.flags).toEqual(expect.arrayContaining(['unparseable', 'review']));
    expect(v.expression).toBe('Public Domain, do what you like');
  });

  it('never throws on hostile input', () => {
    for (const s of ['(((', 'MIT AND', 'OR OR OR', ')MIT(', 'MIT WITH', 'x'.repeat(10_000), '\u0000']) {
      expect(() => ev(s)).not.toThrow();
    }
    expect(ev('x'.repeat(10_000)).expression!.length).toBeLessThanOrEqual(200);
  });
});

describe('policy edits', () => {
  it('reflects the table it is given, so a changed tier changes the verdict', () => {
    expect(ev('MPL-2.0', tierTable([{ spdxId: 'MPL-2.0', tier: 'blocked' }])).tier).toBe('blocked');
    expect(ev('MPL-2.0', new Map()).tier).toBe('unknown');
  });
});

describe('compareLicences', () => {
  it('treats equal expressions, in any spelling, as the same', () => {
    expect(compareLicences('MIT', { type: 'MIT' }).same).toBe(true);
    expect(compareLicences('MIT OR Apache-2.0', 'Apache-2.0 OR MIT').same).toBe(true);
    expect(compareLicences('GPL-2.0', 'GPL-2.0-only').same).toBe(true);
  });

  it('reports a different licence in the tarball', () => {
    const c = compareLicences('MIT', 'GPL-3.0-only');
    expect(c).toEqual({ same: false, declared: 'MIT', tarball: 'GPL-3.0-only' });
    expect(compareLicences('MIT OR Apache-2.0', 'MIT AND Apache-2.0').same).toBe(false);
    expect(compareLicences('MIT', null).same).toBe(false);
  });
});
