import { describe, expect, it } from 'vitest';
import { run } from '../src/cli.js';
import type { Io } from '../src/commands.js';
import { classify, decide, parseFailOn, type ApiPackage } from '../src/outcome.js';
import { progressOutput } from '../src/progress.js';
import { lineOf } from '../src/sarif.js';

const request = { id: 7, application_name: 'shop', application_version: '1.0.0', package_count: 3 };
const pkg = (name: string, status: string, extra: Partial<ApiPackage> = {}): ApiPackage => ({
  package_id: name.length,
  name,
  version: '1.0.0',
  status,
  ...extra,
});

describe('the outcome of a request', () => {
  it('classifies every status', () => {
    expect(['Approved', 'Publishing', 'Published'].map(classify)).toEqual(['allowed', 'allowed', 'allowed']);
    expect(classify('Rejected')).toBe('rejected');
    expect(classify('Pending Approval')).toBe('pending');
    expect(['Requested', 'Downloading', 'Security Scanned'].map(classify)).toEqual([
      'unsettled',
      'unsettled',
      'unsettled',
    ]);
  });

  it('gives rejected (1) precedence over waiting (2), and follows --fail-on', () => {
    const all = parseFailOn(undefined) as Set<'rejected' | 'pending'>;
    const mixed = [pkg('a', 'Published'), pkg('bb', 'Rejected'), pkg('ccc', 'Pending Approval')];
    expect(decide(request, mixed, all, false)).toMatchObject({ outcome: 'rejected', exit_code: 1 });
    expect(decide(request, mixed, new Set(['pending']), false)).toMatchObject({ outcome: 'pending', exit_code: 2 });
    expect(decide(request, mixed, new Set(), false)).toMatchObject({ outcome: 'allowed', exit_code: 0 });
    expect(decide(request, [pkg('a', 'Published')], all, false)).toMatchObject({ exit_code: 0 });
    // Unsettled packages always mean "still waiting", whatever --fail-on says.
    expect(decide(request, [pkg('a', 'Downloading')], new Set(), true)).toMatchObject({
      outcome: 'timeout',
      exit_code: 2,
    });
  });

  it('says why a package waits or was rejected', () => {
    const r = decide(
      request,
      [
        pkg('a', 'Rejected', { rejection: { kind: 'policy', reason: 'licence AGPL-3.0-only is blocked' } }),
        pkg('bb', 'Pending Approval', {
          highest_severity: 'high',
          license_tier: 'avoid',
          license_expression: 'MPL-2.0',
          signals: ['install_script'],
        }),
        pkg('ccc', 'Pending Approval', { highest_severity: 'none', license_tier: 'allowed', signals: [] }),
      ],
      new Set(['rejected', 'pending']),
      false,
    );
    expect(r.packages.map((p) => p.reason)).toEqual([
      'policy: licence AGPL-3.0-only is blocked',
      'high severity; licence MPL-2.0 (avoid); signals: install_script',
      'waiting for an approver',
    ]);
  });

  it("gives the policy's own words, and counts a version in its release cooldown as waiting (exit 2)", () => {
    const held = 'waits for a person: policy v2: hold rule 3 (install-time-code): install script postinstall';
    const cooling = 'waits until 2026-12-03T10:00:00.000Z (cooldown): policy v2: younger than 72 hours';
    const r = decide(
      request,
      [
        pkg('a', 'Published'),
        pkg('bb', 'Pending Approval', { decision: held, signals: ['install-script'] }),
        pkg('ccc', 'Security Scanned', { decision: cooling, cooldown_until: '2026-12-03T10:00:00.000Z' }),
      ],
      new Set(['rejected']),
      false,
    );
    expect(r.packages.map((p) => [p.outcome, p.reason])).toEqual([
      ['allowed', ''],
      ['pending', `${held}; signals: install-script`],
      ['pending', cooling],
    ]);
    // Pending alone does not fail with --fail-on rejected; a cooldown is not "still being processed".
    expect(r).toMatchObject({ outcome: 'allowed', exit_code: 0 });
    const cooldownOnly = [pkg('ccc', 'Security Scanned', { cooldown_until: '2026-12-03T10:00:00.000Z' })];
    expect(decide(request, cooldownOnly, new Set(['pending']), false)).toMatchObject({ exit_code: 2 });
  });

  it('parses --fail-on', () => {
    expect([...(parseFailOn('rejected') as Set<string>)]).toEqual(['rejected']);
    expect([...(parseFailOn('none') as Set<string>)]).toEqual([]);
    expect(parseFailOn('rejected,sometimes')).toBe('sometimes');
  });
});

describe('SARIF locations', () => {
  it('finds the lockfile line that names a package', () => {
    const npm =
      '{\n  "packages": {\n    "node_modules/a": {\n      "version": "2.0.0"\n    },\n    "node_modules/b/node_modules/a": {\n      "version": "1.0.0"\n    }\n  }\n}';
    expect(lineOf(npm, 'a', '1.0.0')).toBe(6);
    expect(lineOf(npm, 'a', '2.0.0')).toBe(3);
    const yarn = '# yarn lockfile v1\n\n"@scope/x@^1.0.0":\n  version "1.2.0"\n';
    expect(lineOf(yarn, '@scope/x', '1.2.0')).toBe(3);
    expect(lineOf('packages:\n  left-pad@1.3.0:\n', 'left-pad', '1.3.0')).toBe(2);
    expect(lineOf('{}', 'absent', '1.0.0')).toBe(1);
  });
});

describe('progress output', () => {
  const counts = { total: 10, settled: 4, pending: 2, rejected: 1, published: 1, percent: 55 };
  it('redraws one line with a bar on a terminal', () => {
    let out = '';
    const p = progressOutput({ isTTY: true, columns: 200, write: (s: string) => (out += s) });
    p.update(counts, 65);
    p.done();
    expect(out).toContain('\r\x1b[2K[#############-----------]  55%  4/10 settled');
    expect(out).toContain('1:05');
    expect(out.endsWith('\r\x1b[2K')).toBe(true);
  });
  it('prints a plain line only when the counts change elsewhere', () => {
    let out = '';
    const p = progressOutput({ write: (s: string) => (out += s) });
    p.update(counts, 1);
    p.update(counts, 3);
    p.update({ ...counts, settled: 5 }, 5);
    expect(out.split('\n').filter(Boolean)).toEqual([
      '[0:01] 55% 4/10 settled · 1 published · 2 waiting for a person · 1 rejected · 6 in progress',
      '[0:05] 55% 5/10 settled · 1 published · 2 waiting for a person · 1 rejected · 5 in progress',
    ]);
  });
});

describe('the command line', () => {
  const io = (): Io & { out: string; err: string } => {
    const self = {
      env: {},
      cwd: '/',
      out: '',
      err: '',
      stdout: { write: (s: string) => (self.out += s) },
      stderr: { write: (s: string) => (self.err += s) },
      readStdin: async () => '',
    };
    return self;
  };
  it('refuses options a command does not take, and unknown ones, with exit 3', async () => {
    const a = io();
    expect(await run(['report', 'x@1', '--wait'], a)).toBe(3);
    expect(a.err).toContain('spm report does not take --wait. (ERR_USAGE)');
    const b = io();
    expect(await run(['status', '1', '--frobnicate'], b)).toBe(3);
    expect(b.err).toContain('ERR_USAGE');
    const c = io();
    expect(await run(['submit', '--timeout=-5'], c)).toBe(3);
    expect(c.err).toContain('--timeout takes seconds');
  });
  it('prints its version and help with exit 0', async () => {
    const a = io();
    expect(await run(['--version'], a)).toBe(0);
    expect(a.out).toBe('0.1.0\n');
    const b = io();
    expect(await run(['--help'], b)).toBe(0);
    expect(b.out).toContain('3  usage, connection or server error');
  });
});
