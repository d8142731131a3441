import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransientError } from '../../src/errors.js';
import { dedupeFindings } from '../../src/scan/merge.js';
import { mapTrivyReport, trivyOptions, trivyScan } from '../../src/scan/trivy.js';
import type { Finding } from '../../src/scan/types.js';

const fake = fileURLToPath(new URL('./fixtures/fake-trivy.mjs', import.meta.url));
const saved = { ...process.env };
let dir: string;
let pkgDir: string;
let log: string;

const config = {
  trivyBin: null,
  trivyServerUrl: 'http://trivy.test:4954/',
  trivyToken: 's3cret-token',
  trivyTimeoutSeconds: 30,
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spm-trivy-test-'));
  await mkdir(join(dir, 'bin'));
  await symlink(fake, join(dir, 'bin', 'trivy'));
  pkgDir = join(dir, 'package');
  await mkdir(pkgDir);
  await writeFile(join(pkgDir, 'package.json'), '{"name":"vuln-pkg","version":"1.2.3"}');
  log = join(dir, 'args.log');
  process.env.PATH = `${join(dir, 'bin')}${delimiter}${process.env.PATH}`;
  process.env.FAKE_TRIVY_LOG = log;
  process.env.FAKE_TRIVY_SERVER = 'http://trivy.test:4954';
  process.env.FAKE_TRIVY_TOKEN = 's3cret-token';
});

afterAll(async () => {
  process.env = saved;
  await rm(dir, { recursive: true, force: true });
});

describe('Trivy adapter (fake trivy first on PATH)', () => {
  it('is off unless a server or a binary is configured', () => {
    expect(trivyOptions({ ...config, trivyServerUrl: null })).toBeNull();
    expect(trivyOptions({ ...config, trivyServerUrl: null, trivyBin: '/opt/trivy' })).toMatchObject({
      bin: '/opt/trivy',
      serverUrl: null,
    });
  });

  it('runs trivy rootfs in client/server mode with the token, records the version and maps the report', async () => {
    process.env.FAKE_TRIVY_MODE = 'ok';
    const res = await trivyScan(trivyOptions(config)!, pkgDir);
    expect(res.version).toBe('0.58.1');
    expect(res.findings).toEqual([
      expect.objectContaining({
        id: 'CVE-2099-0001',
        source: 'trivy',
        severity: 'high',
        fixedVersions: ['1.2.4'],
        file: 'package.json',
        evidence: 'vuln-pkg@1.2.3',
        url: 'https://advisories.example.test/CVE-2099-0001',
      }),
      expect.objectContaining({
        id: 'GHSA-9x9x-8y8y-7z7z',
        severity: 'medium',
        fixedVersions: ['4.17.21', '3.10.2'],
        file: 'node_modules/bundled-dep/package.json',
      }),
    ]);
    const calls = (await readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as string[]);
    expect(calls).toContainEqual(['--version', '--format', 'json']);
    expect(calls).toContainEqual([
      'rootfs',
      '--format',
      'json',
      '--scanners',
      'vuln',
      '--quiet',
      '--server',
      'http://trivy.test:4954',
      '--token',
      's3cret-token',
      pkgDir,
    ]);
  });

  it('merges a Trivy finding with the built-in one for the same vulnerability', async () => {
    process.env.FAKE_TRIVY_MODE = 'ok';
    const { findings } = await trivyScan(trivyOptions(config)!, pkgDir);
    const builtin: Finding = {
      id: 'GHSA-aaaa-bbbb-cccc',
      source: 'osv',
      severity: 'high',
      title: 'command injection',
      explanation: '…',
      aliases: ['CVE-2099-0001'],
      fixedVersions: ['1.2.4'],
    };
    const merged = dedupeFindings([builtin, ...findings]);
    expect(merged).toHaveLength(2);
    expect(merged[0]).toMatchObject({
      id: 'GHSA-aaaa-bbbb-cccc',
      source: 'osv',
      aliases: ['CVE-2099-0001'],
      alsoReportedBy: ['trivy'],
    });
  });

  it.each([
    ['crash', /exit code 1: FATAL: failed to connect/],
    ['garbage', /unreadable report/],
  ])('treats a %s as a transient scanner failure', async (mode, reason) => {
    process.env.FAKE_TRIVY_MODE = mode;
    const err = await trivyScan(trivyOptions(config)!, pkgDir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as Error).message).toMatch(reason);
  });

  it('kills a scan that runs past its timeout (transient)', async () => {
    process.env.FAKE_TRIVY_MODE = 'hang';
    const err = await trivyScan({ ...trivyOptions(config)!, timeoutMs: 800 }, pkgDir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as Error).message).toMatch(/timed out after 800 ms/);
  });

  it('stops when the job is cancelled, without calling it a scanner failure', async () => {
    process.env.FAKE_TRIVY_MODE = 'hang';
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('shutdown')), 300);
    const err = await trivyScan(trivyOptions(config)!, pkgDir, ac.signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(TransientError);
  });

  it('accepts reports without Results or with null Vulnerabilities, and refuses other schemas', () => {
    expect(mapTrivyReport({ SchemaVersion: 2 })).toEqual([]);
    expect(mapTrivyReport({ SchemaVersion: 2, Results: null })).toEqual([]);
    expect(mapTrivyReport({ SchemaVersion: 2, Results: [{ Target: 'x', Vulnerabilities: null }] })).toEqual([]);
    expect(() => mapTrivyReport({ SchemaVersion: 1, Results: [] })).toThrow(/schema/);
  });
});
