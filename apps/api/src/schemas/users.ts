import { Type } from '@sinclair/typebox';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, type PublicUser } from '@spm/db';
import { Timestamp } from './common.js';

export const RoleSchema = Type.Union([Type.Literal('user'), Type.Literal('approver'), Type.Literal('admin')]);
export const Username = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]*$' });
/** Length only; the rest of the password policy (`assertPasswordPolicy`) needs the username and runs in the handler. */
export const Password = Type.String({
  minLength: MIN_PASSWORD_LENGTH,
  maxLength: MAX_PASSWORD_LENGTH,
  description: `At least ${MIN_PASSWORD_LENGTH} characters, not a common password, not containing the username`,
});

export const UserSchema = Type.Object({
  id: Type.Integer(),
  username: Type.String(),
  role: RoleSchema,
  disabled: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export function userJson(u: PublicUser) {
  return {
    id: u.id,
    username: u.username,
    role: u.role,
    disabled: u.disabled,
    created_at: u.createdAt,
    updated_at: u.updatedAt,
  };
}
