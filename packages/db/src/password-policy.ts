import { AppError } from './errors.js';

/** The shortest password accepted (NIST SP 800-63B asks for at least 8; 12 resists offline guessing far better). */
export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 1024;

// Long passwords that still top the breach lists (lower case); a short list, not a dictionary: length and
// the username rule do most of the work, this catches the obvious keyboard and word patterns.
const COMMON = new Set([
  '123456789012',
  '1234567890123',
  '12345678901234',
  '123456123456',
  '111111111111',
  '000000000000',
  'password1234',
  'password12345',
  'password123456',
  'passwordpassword',
  'password123!',
  'qwertyuiopas',
  'qwertyuiop123',
  'qwerty123456',
  '1q2w3e4r5t6y',
  '1qaz2wsx3edc',
  'qazwsxedcrfv',
  'iloveyou1234',
  'welcome12345',
  'administrator',
  'administrator1',
  'letmein12345',
  'changeme1234',
  'abcdefghijkl',
  'abc123abc123',
  'asdfghjkl123',
  'zaq12wsxcde3',
  'princess1234',
  'football1234',
  'baseball1234',
  'trustno1trustno1',
]);

/**
 * Why `password` is not acceptable for `username`, or null when it is: at least MIN_PASSWORD_LENGTH
 * characters, not one character repeated, not on the list of common passwords, and neither equal to nor
 * containing the username (case-insensitive). Pure; never throws.
 */
export function passwordProblem(password: string, username: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) return `it must be at least ${MIN_PASSWORD_LENGTH} characters long`;
  if (password.length > MAX_PASSWORD_LENGTH) return `it must be at most ${MAX_PASSWORD_LENGTH} characters long`;
  const lower = password.toLowerCase();
  const name = username.trim().toLowerCase();
  if (name.length > 0 && (lower === name || (name.length >= 3 && lower.includes(name)))) {
    return 'it must not be or contain the username';
  }
  if (/^(.)\1*$/su.test(password)) return 'it must not be one character repeated';
  if (COMMON.has(lower.replace(/\s+/g, ''))) return 'it is one of the most common passwords';
  return null;
}

/** Throws 400 ERR_WEAK_PASSWORD naming the rule when `passwordProblem` finds one. */
export function assertPasswordPolicy(password: string, username: string): void {
  const problem = passwordProblem(password, username);
  if (problem !== null) {
    throw new AppError('ERR_WEAK_PASSWORD', `The password is not accepted: ${problem}.`, { status: 400 });
  }
}
