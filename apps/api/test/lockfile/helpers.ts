import { expect } from 'vitest';
import { AppError } from '@spm/db';

export const SHA512 = `sha512-${Buffer.alloc(64, 1).toString('base64')}`;
export const SHA512_B = `sha512-${Buffer.alloc(64, 2).toString('base64')}`;

/** The AppError `fn` throws (fails the test when it throws nothing or something else). */
export function errorOf(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error('expected an AppError');
}

export const set = (pkgs: Array<{ name: string; version: string }>) => pkgs.map((p) => `${p.name}@${p.version}`).sort();
