import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { detectFormat, parseLockfileText } from '../../src/lockfile/index.js';
import { errorOf } from './helpers.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');

describe('detection by content', () => {
  it('tells every format apart whatever the file was called', () => {
    expect(detectFormat(fixture('npm-v3.package-lock.json'))).toBe('npm');
    expect(detectFormat(fixture('clients/yarn1.yarn.lock'))).toBe('yarn-classic');
    expect(detectFormat(fixture('clients/yarn4.yarn.lock'))).toBe('yarn-berry');
    expect(detectFormat(fixture('clients/pnpm9.pnpm-lock.yaml'))).toBe('pnpm');
    expect(detectFormat(fixture('clients/pnpm8.pnpm-lock.yaml'))).toBe('pnpm');
  });

  it('recognises a yarn 1 lockfile without its header by its field style', () => {
    const body = fixture('clients/yarn1.yarn.lock').replace(/^#.*\n/gm, '');
    expect(detectFormat(body)).toBe('yarn-classic');
    expect(parseLockfileText(body).packages.length).toBeGreaterThan(30);
  });

  it('reads CRLF line endings and a byte order mark', () => {
    for (const name of ['clients/yarn1.yarn.lock', 'clients/yarn4.yarn.lock', 'clients/pnpm9.pnpm-lock.yaml']) {
      const crlf = `\uFEFF${fixture(name).replace(/\n/g, '\r\n')}`;
      expect(parseLockfileText(crlf).packages.length, name).toBeGreaterThan(30);
    }
  });

  it('hands anything unrecognised to the JSON parser, whose error lists the formats', () => {
    expect(detectFormat('hello')).toBe('npm');
    const e = errorOf(() => parseLockfileText('hello: world\n'));
    expect(e.code).toBe('ERR_NOT_JSON');
    expect(e.message).toContain('yarn.lock');
  });

  it('refuses a NUL character in a text lockfile', () => {
    expect(errorOf(() => parseLockfileText(`${fixture('clients/pnpm9.pnpm-lock.yaml')}\u0000`)).code).toBe(
      'ERR_LOCKFILE_CONTENT',
    );
  });
});
