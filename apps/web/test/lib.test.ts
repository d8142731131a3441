import { describe, expect, it } from 'vitest';
import { ALL_STATUSES } from '@spm/db/vocabulary';
import { csrfToken, qs } from '../src/api/client';
import { describeLockfile } from '../src/pages/submit';
import { describeConditions } from '../src/pages/admin/policy';
import { readFindings, safeUrl, splitFindings } from '../src/lib/findings';
import { bytes, duration, relativeTime } from '../src/lib/format';
import { describeLicenseFlag, groupCounts, statusesOf, statusGroup, statusLook } from '../src/lib/status';

describe('statuses as a person reads them', () => {
  it('puts every status in exactly one group, each with a word-bearing badge look', () => {
    const groups = ['queued', 'working', 'waiting', 'published', 'rejected'] as const;
    const all = groups.flatMap((g) => statusesOf(g));
    expect(all.sort()).toEqual([...ALL_STATUSES].sort());
    for (const s of ALL_STATUSES) expect(statusLook(s).icon).not.toBe('');
    expect(statusGroup('Pending Approval')).toBe('waiting');
    expect(statusGroup('Downloading')).toBe('working');
    expect(statusGroup('Approved')).toBe('queued');
  });

  it('folds counts per status into groups', () => {
    expect(groupCounts({ Requested: 2, Downloading: 1, 'Pending Approval': 3, Published: 4, Rejected: 1 })).toEqual({
      queued: 2,
      working: 1,
      waiting: 3,
      published: 4,
      rejected: 1,
    });
  });

  it('explains licence flags, with their values', () => {
    expect(describeLicenseFlag('see-license-in:LICENSE.txt')).toContain('LICENSE.txt');
    expect(describeLicenseFlag('deprecated-id:GPL-2.0')).toBe('GPL-2.0 is a deprecated SPDX id.');
    expect(describeLicenseFlag('something-new')).toBe('something-new');
  });
});

describe('formatting', () => {
  it('says sizes in decimal units, as npm does', () => {
    expect([bytes(512), bytes(4200), bytes(1_300_000), bytes(null)]).toEqual(['512 B', '4.2 kB', '1.3 MB', '—']);
  });
  it('says durations briefly', () => {
    expect([duration(0.354), duration(4.21), duration(42), duration(245), duration(7380), duration(null)]).toEqual([
      '0.35 s',
      '4.2 s',
      '42 s',
      '4 min 5 s',
      '2 h 3 min',
      '—',
    ]);
  });
  it('says times relative to now', () => {
    const now = Date.parse('2025-01-01T12:00:00Z');
    expect(relativeTime('2025-01-01T11:59:55Z', now)).toBe('just now');
    expect(relativeTime('2025-01-01T11:55:00Z', now)).toMatch(/5 minutes ago/);
    expect(relativeTime('2024-12-30T12:00:00Z', now)).toMatch(/2 days ago/);
  });
});

describe('the API client', () => {
  it('reads the CSRF token from the readable cookie only', () => {
    expect(csrfToken('a=1; spm_csrf=abc%2Ddef; b=2')).toBe('abc-def');
    expect(csrfToken('spm_session=secret')).toBeNull();
    expect(csrfToken('')).toBeNull();
  });
  it('builds query strings, repeating lists and leaving out empty values', () => {
    expect(qs({ page: 2, status: ['A B', 'C'], q: '', sort: undefined, x: null })).toBe('?page=2&status=A+B&status=C');
    expect(qs({})).toBe('');
  });
});

describe('scan findings', () => {
  it('keeps well-formed findings, malware first, then by severity', () => {
    const f = readFindings([
      { id: 'low-1', source: 'signal', severity: 'low', title: 'l' },
      null,
      'nonsense',
      { id: 'no-title', severity: 'high' },
      { id: 'GHSA-1', source: 'osv', severity: 'high', title: 'h', line: 3.5, file: 7 },
      { id: 'MAL-1', source: 'osv', severity: 'critical', title: 'm', malware: true },
      { id: 'crit', source: 'signal', severity: 'critical', title: 'c', file: 'install.js', line: 12 },
    ]);
    expect(f.map((x) => x.id)).toEqual(['MAL-1', 'crit', 'GHSA-1', 'low-1']);
    expect(f[1]).toMatchObject({ file: 'install.js', line: 12 });
    expect(f[2]).toMatchObject({ file: undefined, line: undefined });
    const { vulnerabilities, signals } = splitFindings(f);
    expect(vulnerabilities.map((x) => x.id)).toEqual(['MAL-1', 'GHSA-1']);
    expect(signals.map((x) => x.id)).toEqual(['crit', 'low-1']);
    expect(readFindings({ not: 'an array' })).toEqual([]);
  });

  it("reads the built-in scanner's line prefix as the line", () => {
    const [f] = readFindings([
      { id: 's', source: 'signal', severity: 'high', title: 't', evidence: "line 12: exec('x')" },
    ]);
    expect(f).toMatchObject({ line: 12, evidence: "exec('x')" });
    const [g] = readFindings([
      { id: 's', source: 'signal', severity: 'high', title: 't', line: 3, evidence: 'line 9: y' },
    ]);
    expect(g).toMatchObject({ line: 3, evidence: 'line 9: y' });
  });

  it('links only to http and https addresses', () => {
    expect(safeUrl('https://osv.dev/vulnerability/GHSA-1')).toBe('https://osv.dev/vulnerability/GHSA-1');
    expect(safeUrl('javascript:alert(1)')).toBeNull();
    expect(safeUrl('data:text/html,x')).toBeNull();
    expect(safeUrl('not a url')).toBeNull();
    expect(safeUrl(null)).toBeNull();
  });
});

describe('lockfile names', () => {
  it('names every format the API reports, and does not hide one it does not know', () => {
    expect(describeLockfile('npm', 3)).toBe('package-lock.json (npm), version 3');
    expect(describeLockfile('yarn-classic', 1)).toBe('yarn.lock (Yarn 1), version 1');
    expect(describeLockfile('pnpm', 9)).toBe('pnpm-lock.yaml (6.x or 9.x), version 9');
    expect(describeLockfile('bun', 1)).toBe('bun, version 1');
  });
});

describe('policy rules as a person reads them', () => {
  it('says each condition in words, alternatives joined by "or"', () => {
    expect(describeConditions(undefined)).toBe('every package');
    expect(describeConditions({})).toBe('every package');
    expect(describeConditions({ severity_at_least: 'high', license_tier: ['avoid', 'unknown'] })).toBe(
      'severity at least: high; license tier: avoid or unknown',
    );
    expect(describeConditions({ malware: true })).toBe('malware: true');
  });
});
