import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { buildPackage, buildTar } from '@spm/testkit';
import { PermanentError, TransientError } from '../../src/errors.js';
import { classify } from '../../src/registry-target/client.js';
import { ManifestError, readTarballManifest } from '@spm/tarball';
import {
  BACKFILL_TAG,
  chooseDistTags,
  encodePackageName,
  latestNotDeprecated,
  publishBody,
  tarballFileName,
  versionDocument,
} from '../../src/registry-target/protocol.js';
import { distMatches } from '../../src/registry-target/publish.js';
import { storedTarballPath } from '../../src/stages/publish.js';

describe('npm publish protocol', () => {
  it('encodes scoped names with %2f and names tarballs by the unscoped part', () => {
    expect(encodePackageName('@acme/left-pad')).toBe('@acme%2fleft-pad');
    expect(encodePackageName('left-pad')).toBe('left-pad');
    expect(tarballFileName('@acme/left-pad', '1.0.0-beta.1')).toBe('left-pad-1.0.0-beta.1.tgz');
  });

  it('moves latest only forwards', () => {
    expect(chooseDistTags(undefined, '1.0.0')).toEqual({ latest: '1.0.0' });
    expect(chooseDistTags(undefined, '1.0.0-rc.1')).toEqual({ latest: '1.0.0-rc.1' });
    expect(chooseDistTags('1.0.0', '1.0.1')).toEqual({ latest: '1.0.1' });
    expect(chooseDistTags('1.0.0-rc.1', '1.0.0')).toEqual({ latest: '1.0.0' });
    expect(chooseDistTags('2.0.0', '1.9.9')).toEqual({ [BACKFILL_TAG]: '1.9.9' });
    expect(chooseDistTags('2.0.0', '3.0.0-beta.0')).toEqual({ [BACKFILL_TAG]: '3.0.0-beta.0' });
    expect(chooseDistTags('2.0.0', '2.0.0')).toEqual({ [BACKFILL_TAG]: '2.0.0' });
  });

  it('names as latest the newest version not deprecated (a quarantined one never)', () => {
    const d = { deprecated: 'quarantined: GHSA-x' };
    expect(latestNotDeprecated({ '1.0.0': {}, '1.1.0': d, '1.0.1-rc.1': {} })).toBe('1.0.0');
    expect(latestNotDeprecated({ '1.0.0': {}, '1.1.0': { deprecated: '' } })).toBe('1.1.0');
    expect(latestNotDeprecated({ '1.0.0': d, '2.0.0-rc.1': {} })).toBe('2.0.0-rc.1');
    expect(latestNotDeprecated({ '1.0.0': d })).toBeUndefined();
    expect(latestNotDeprecated(undefined)).toBeUndefined();
  });

  it('builds one version and one attachment of the exact bytes, without registry-managed fields', () => {
    const pkg = buildPackage({
      name: '@acme/thing',
      version: '1.0.0',
      manifest: { _resolved: 'http://evil.example.test/x', description: 'd' },
    });
    const dist = {
      integrity: pkg.integrity,
      shasum: pkg.shasum,
      tarball: 'http://registry.example.test/@acme/thing/-/thing-1.0.0.tgz',
    };
    const doc = versionDocument(pkg.manifest, pkg.name, pkg.version, dist);
    expect(doc).not.toHaveProperty('_resolved');
    expect(doc).toMatchObject({ _id: '@acme/thing@1.0.0', name: '@acme/thing', version: '1.0.0', dist });
    const body = publishBody({
      name: pkg.name,
      version: pkg.version,
      versionDoc: doc,
      distTags: { latest: '1.0.0' },
      tarball: pkg.tarball,
    });
    expect(body).toMatchObject({
      _id: '@acme/thing',
      name: '@acme/thing',
      description: 'd',
      'dist-tags': { latest: '1.0.0' },
    });
    const att = (body._attachments as Record<string, { data: string; length: number }>)['thing-1.0.0.tgz']!;
    expect(Buffer.from(att.data, 'base64').equals(pkg.tarball)).toBe(true);
    expect(att.length).toBe(pkg.tarball.length);
  });

  it('accepts a registry dist only when every hash it gives matches the bytes', () => {
    const a = buildPackage({ name: 'a', version: '1.0.0' });
    const b = buildPackage({ name: 'a', version: '1.0.0', files: { 'x.js': '1' } });
    expect(distMatches({ integrity: a.integrity, shasum: a.shasum }, a.tarball, a.shasum)).toBe(true);
    expect(distMatches({ shasum: a.shasum }, a.tarball, a.shasum)).toBe(true);
    expect(distMatches({ integrity: b.integrity, shasum: a.shasum }, a.tarball, a.shasum)).toBe(false);
    expect(distMatches({ shasum: b.shasum }, a.tarball, a.shasum)).toBe(false);
    expect(distMatches({}, a.tarball, a.shasum)).toBe(false);
    expect(distMatches(undefined, a.tarball, a.shasum)).toBe(false);
  });

  it('classifies auth and validation answers as permanent, throttling and 5xx as transient', () => {
    for (const s of [400, 401, 403, 404, 413, 422])
      expect(classify(s, 'no', 'publishing x')).toBeInstanceOf(PermanentError);
    for (const s of [408, 429, 500, 502, 503])
      expect(classify(s, 'busy', 'publishing x')).toBeInstanceOf(TransientError);
    expect(classify(401, 'bad', 'publishing x').message).toContain('TARGET_REGISTRY_TOKEN');
  });
});

describe('reading package.json from a tarball', () => {
  it('reads the tarball’s own package.json in memory', async () => {
    const pkg = buildPackage({ name: 'm', version: '1.2.3', manifest: { dependencies: { x: '^1.0.0' } } });
    expect(await readTarballManifest(pkg.tarball)).toMatchObject({
      name: 'm',
      version: '1.2.3',
      dependencies: { x: '^1.0.0' },
    });
  });

  it('accepts another top folder, as old packages have, and reads the copy npm installs (the last)', async () => {
    const other = gzipSync(
      buildTar([{ path: 'node-thing/package.json', content: '{"name":"old","version":"0.1.0"}' }]),
    );
    expect(await readTarballManifest(other)).toMatchObject({ name: 'old' });
    const both = gzipSync(
      buildTar([
        { path: 'other/package.json', content: '{"name":"wrong"}' },
        { path: 'package/package.json', content: '{"name":"right"}' },
      ]),
    );
    expect(await readTarballManifest(both)).toMatchObject({ name: 'right' });
    const reversed = gzipSync(
      buildTar([
        { path: 'package/package.json', content: '{"name":"first"}' },
        { path: 'other/package.json', content: '{"name":"last"}' },
      ]),
    );
    expect(await readTarballManifest(reversed)).toMatchObject({ name: 'last' });
  });

  it('fails clearly on a missing or broken package.json and on garbage', async () => {
    await expect(readTarballManifest(gzipSync(buildTar([{ path: 'package/index.js', content: '1' }])))).rejects.toThrow(
      /has no package.json/,
    );
    await expect(
      readTarballManifest(gzipSync(buildTar([{ path: 'package/package.json', content: '{nope' }]))),
    ).rejects.toThrow(ManifestError);
    await expect(
      readTarballManifest(gzipSync(buildTar([{ path: 'package/package.json', content: '[1]' }]))),
    ).rejects.toThrow(/not a JSON object/);
    await expect(readTarballManifest(Buffer.from('definitely not a tarball'))).rejects.toThrow(ManifestError);
  });
});

describe('stored tarball path', () => {
  it('stays inside the cache directory', () => {
    const hex = 'ab'.repeat(64);
    expect(storedTarballPath('/cache', `sha512/ab/${hex}.tgz`)).toBe(`/cache/sha512/ab/${hex}.tgz`);
    expect(() => storedTarballPath('/cache', `sha512/ab/../../${hex}.tgz`)).toThrow(PermanentError);
    expect(() => storedTarballPath('/cache', '../etc/passwd')).toThrow(PermanentError);
    expect(() => storedTarballPath('/cache', '/etc/passwd')).toThrow(PermanentError);
  });
});
