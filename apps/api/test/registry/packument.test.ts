import { describe, expect, it } from 'vitest';
import {
  abbreviatePackument,
  buildPackument,
  latestVersion,
  tarballFileName,
  versionFromFileName,
} from '../../src/registry/packument.js';

describe('built-in registry packuments', () => {
  it('picks the highest release as latest, a prerelease only when there is no release', () => {
    expect(latestVersion(['1.0.0', '1.10.0', '1.9.0', '2.0.0-rc.1'])).toBe('1.10.0');
    expect(latestVersion(['2.0.0-rc.1', '2.0.0-beta.3'])).toBe('2.0.0-rc.1');
    expect(latestVersion([])).toBeUndefined();
  });

  it('keeps a quarantined version listed but deprecated with its message, and never points latest at it', () => {
    const v = (version: string, quarantine: string | null = null) => ({
      version,
      integrity: 'sha512-x',
      shasum: 'ab',
      publishedAt: new Date('2025-01-02T00:00:00Z'),
      manifest: { name: 'p', version },
      quarantine,
    });
    const full = buildPackument('p', [v('1.0.0'), v('1.1.0', 'p@1.1.0 is quarantined: advisory GHSA-1')], (x) => x);
    expect(full['dist-tags']).toEqual({ latest: '1.0.0' });
    const versions = full.versions as Record<string, { deprecated?: string }>;
    expect(versions['1.1.0']!.deprecated).toBe('p@1.1.0 is quarantined: advisory GHSA-1');
    expect(versions['1.0.0']!.deprecated).toBeUndefined();
    const abbreviated = abbreviatePackument(full).versions as Record<string, { deprecated?: string }>;
    expect(abbreviated['1.1.0']!.deprecated).toContain('GHSA-1');
    expect(buildPackument('p', [v('1.1.0', 'q')], (x) => x)['dist-tags']).toEqual({});
  });

  it('maps tarball file names to versions of the right package only', () => {
    expect(tarballFileName('@s/pkg', '1.0.0')).toBe('pkg-1.0.0.tgz');
    expect(versionFromFileName('@s/pkg', 'pkg-1.0.0-beta.2.tgz')).toBe('1.0.0-beta.2');
    expect(versionFromFileName('pkg', 'other-1.0.0.tgz')).toBeNull();
    expect(versionFromFileName('pkg', 'pkg-1.0.0.tar')).toBeNull();
    expect(versionFromFileName('pkg', 'pkg-.tgz')).toBeNull();
  });

  it('drops registry-managed fields from the tarball manifest and keeps install fields when abbreviated', () => {
    const full = buildPackument(
      'p',
      [
        {
          version: '1.0.0',
          integrity: 'sha512-x',
          shasum: 'ab',
          publishedAt: new Date('2025-01-02T00:00:00Z'),
          manifest: {
            name: 'p',
            version: '1.0.0',
            _from: 'x',
            description: 'd',
            bin: { p: 'cli.js' },
            scripts: { install: 'node-gyp rebuild' },
          },
        },
      ],
      (v) => `http://registry.example.test/registry/p/-/p-${v}.tgz`,
    );
    const v = (full.versions as Record<string, Record<string, unknown>>)['1.0.0']!;
    expect(v).not.toHaveProperty('_from');
    expect(v).toMatchObject({ _id: 'p@1.0.0', hasInstallScript: true, description: 'd' });
    expect(full).toMatchObject({
      'dist-tags': { latest: '1.0.0' },
      description: 'd',
      time: { created: '2025-01-02T00:00:00.000Z' },
    });
    const small = abbreviatePackument(full);
    expect(small).toEqual({
      name: 'p',
      modified: '2025-01-02T00:00:00.000Z',
      'dist-tags': { latest: '1.0.0' },
      versions: {
        '1.0.0': {
          name: 'p',
          version: '1.0.0',
          bin: { p: 'cli.js' },
          hasInstallScript: true,
          dist: {
            integrity: 'sha512-x',
            shasum: 'ab',
            tarball: 'http://registry.example.test/registry/p/-/p-1.0.0.tgz',
          },
        },
      },
    });
  });
});
