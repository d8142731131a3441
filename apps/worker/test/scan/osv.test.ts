import { describe, expect, it } from 'vitest';
import { cvss3BaseScore } from '../../src/scan/cvss.js';
import { includedInRange, isAffected, parseOsvRecord, validateRange, type OsvRange } from '../../src/scan/osv.js';

const semverRange = (events: OsvRange['events']): OsvRange => ({ type: 'SEMVER', events });
const ecoRange = (events: OsvRange['events']): OsvRange => ({ type: 'ECOSYSTEM', events });

describe('OSV range evaluation (the specification examples)', () => {
  it('"every possible version is affected": introduced 0 and nothing else', () => {
    const r = semverRange([{ introduced: '0' }]);
    for (const v of ['0.0.0', '0.0.1', '1.0.0', '99.99.99', '1.0.0-alpha.1']) expect(includedInRange(v, r)).toBe(true);
  });

  it('"everything before 1.0.2 is affected": introduced 0, fixed 1.0.2', () => {
    const r = semverRange([{ introduced: '0' }, { fixed: '1.0.2' }]);
    expect(includedInRange('0.1.0', r)).toBe(true);
    expect(includedInRange('1.0.1', r)).toBe(true);
    expect(includedInRange('1.0.2-rc.1', r)).toBe(true);
    expect(includedInRange('1.0.2', r)).toBe(false);
    expect(includedInRange('2.0.0', r)).toBe(false);
  });

  it('multiple ranges: [1.0.0, 1.0.2) or [3.0.0, 3.2.5) and nothing else', () => {
    const r = semverRange([{ introduced: '1.0.0' }, { fixed: '1.0.2' }, { introduced: '3.0.0' }, { fixed: '3.2.5' }]);
    const expected: Record<string, boolean> = {
      '0.9.9': false,
      '1.0.0': true,
      '1.0.1': true,
      '1.0.2': false,
      '2.5.0': false,
      '3.0.0': true,
      '3.2.4': true,
      '3.2.5': false,
      '4.0.0': false,
    };
    for (const [v, want] of Object.entries(expected)) expect([v, includedInRange(v, r)]).toEqual([v, want]);
  });

  it('last_affected 2.1.214 includes 2.1.214; fixed 2.1.214 excludes it', () => {
    const last = ecoRange([{ introduced: '0' }, { last_affected: '2.1.214' }]);
    const fixed = semverRange([{ introduced: '0' }, { fixed: '2.1.214' }]);
    expect(includedInRange('2.1.214', last)).toBe(true);
    expect(includedInRange('2.1.215', last)).toBe(false);
    expect(includedInRange('2.1.214', fixed)).toBe(false);
    expect(includedInRange('2.1.213', fixed)).toBe(true);
  });

  it('limit is an exclusive upper bound on the range, and "*" means no bound', () => {
    const r = semverRange([{ introduced: '1.0.0' }, { limit: '2.0.0' }]);
    expect(includedInRange('0.9.0', r)).toBe(false);
    expect(includedInRange('1.5.0', r)).toBe(true);
    expect(includedInRange('2.0.0', r)).toBe(false);
    expect(includedInRange('2.1.0', r)).toBe(false);
    expect(includedInRange('7.0.0', semverRange([{ introduced: '1.0.0' }, { limit: '*' }]))).toBe(true);
  });

  it('evaluates events in version order, whatever order the record lists them in', () => {
    const r = ecoRange([{ fixed: '3.2.5' }, { introduced: '3.0.0' }, { fixed: '1.0.2' }, { introduced: '1.0.0' }]);
    expect(includedInRange('1.0.1', r)).toBe(true);
    expect(includedInRange('2.0.0', r)).toBe(false);
    expect(includedInRange('3.1.0', r)).toBe(true);
  });

  it('a version listed in versions[] is affected even without ranges', () => {
    expect(isAffected('1.2.3', { versions: ['1.2.3'], ranges: [] })).toBe(true);
    expect(isAffected('1.2.4', { versions: ['1.2.3'], ranges: [] })).toBe(false);
    expect(isAffected('1.2.4', { versions: ['1.2.3'], ranges: [ecoRange([{ introduced: '1.2.4' }])] })).toBe(true);
  });
});

describe('OSV event validation', () => {
  it('accepts well-formed ranges', () => {
    expect(validateRange({ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.0.2' }] })).toBeNull();
    expect(validateRange({ type: 'SEMVER', events: [{ introduced: '1.0.0' }, { limit: '*' }] })).toBeNull();
  });

  it.each([
    [{ events: [{ introduced: '1.0.0', fixed: '1.0.2' }] }, /exactly one of/],
    [{ events: [] }, /no events/],
    [{ events: [{ fixed: '1.0.2' }] }, /no introduced/],
    [
      { events: [{ introduced: '0' }, { fixed: '1.0.2' }, { last_affected: '1.0.5' }] },
      /mixes fixed and last_affected/,
    ],
    [{ events: [{ introduced: '1.x' }] }, /not a valid semantic version/],
    [{ events: [{ introduced: 1 }] }, /no version string/],
    [{ events: [{ vulnerable: '1.0.0' }] }, /exactly one of/],
  ])('rejects %j', (range, reason) => {
    expect(validateRange(range)).toMatch(reason);
  });
});

describe('parsing OSV records', () => {
  const ghsa = {
    schema_version: '1.6.0',
    id: 'GHSA-aaaa-bbbb-cccc',
    modified: '2024-03-01T10:00:00Z',
    published: '2023-01-01T00:00:00Z',
    aliases: ['CVE-2023-0001'],
    summary: 'Prototype pollution in left-thing',
    severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
    affected: [
      {
        package: { ecosystem: 'npm', name: 'left-thing' },
        ranges: [
          {
            type: 'ECOSYSTEM',
            events: [{ introduced: '0' }, { fixed: '1.2.4' }, { introduced: '2.0.0' }, { fixed: '2.0.1' }],
          },
        ],
      },
      {
        package: { ecosystem: 'PyPI', name: 'left-thing' },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: 'not semver' }] }],
      },
    ],
    database_specific: { severity: 'MODERATE' },
  };

  it('keeps npm entries, aliases, fixed versions and the severity computed from the CVSS v3 vector', () => {
    const res = parseOsvRecord(ghsa);
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    expect(res.advisory.affected).toHaveLength(1);
    expect(res.advisory.affected[0]!.fixedVersions).toEqual(['1.2.4', '2.0.1']);
    expect(res.advisory.aliases).toEqual(['CVE-2023-0001']);
    expect(res.advisory.severity).toBe('critical');
    expect(res.advisory.cvssVector).toMatch(/^CVSS:3\.1/);
    expect(res.advisory.malware).toBe(false);
  });

  it('falls back to database_specific.severity without a v3 vector', () => {
    const res = parseOsvRecord({
      ...ghsa,
      severity: [{ type: 'CVSS_V4', score: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N' }],
    });
    expect(res.ok && res.advisory.severity).toBe('medium');
    expect(res.ok && res.advisory.cvssVector).toMatch(/^CVSS:4\.0/);
  });

  it('treats MAL- records as critical malware', () => {
    const res = parseOsvRecord({
      id: 'MAL-2024-0001',
      modified: '2024-01-01T00:00:00Z',
      affected: [{ package: { ecosystem: 'npm', name: 'evil' }, versions: ['1.0.0'] }],
    });
    expect(res.ok && res.advisory.malware).toBe(true);
    expect(res.ok && res.advisory.severity).toBe('critical');
  });

  it('rejects malformed records with a reason and skips records without npm packages', () => {
    expect(parseOsvRecord({ modified: '2024-01-01T00:00:00Z' })).toMatchObject({ ok: false, error: 'missing id' });
    expect(parseOsvRecord({ id: 'X-1' })).toMatchObject({ ok: false, error: /modified/ });
    const bad = {
      ...ghsa,
      affected: [
        {
          package: { ecosystem: 'npm', name: 'x' },
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '1.0.0', fixed: '2.0.0' }] }],
        },
      ],
    };
    expect(parseOsvRecord(bad)).toMatchObject({ ok: false, id: 'GHSA-aaaa-bbbb-cccc', error: /exactly one of/ });
    expect(parseOsvRecord({ ...ghsa, affected: [ghsa.affected[1]] })).toMatchObject({ ok: false, skipped: true });
  });
});

describe('CVSS v3 base score', () => {
  it.each([
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8, 'critical'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H', 10, 'critical'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H', 7.5, 'high'],
    ['CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H', 7.8, 'high'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N', 6.1, 'medium'],
    ['CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N', 5.9, 'medium'],
    ['CVSS:3.0/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N', 1.8, 'low'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N', 0, 'info'],
  ])('%s scores %d', (vector, score, severity) => {
    expect(cvss3BaseScore(vector)).toEqual({ score, severity });
  });

  it('refuses incomplete or foreign vectors', () => {
    expect(cvss3BaseScore('CVSS:3.1/AV:N/AC:L')).toBeNull();
    expect(cvss3BaseScore('AV:N/AC:L/Au:N/C:P/I:P/A:P')).toBeNull();
    expect(cvss3BaseScore('CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N')).toBeNull();
  });
});
