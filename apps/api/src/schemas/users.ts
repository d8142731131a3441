import { Type } from '@sinclair/typebox';
import type { PublicUser } from '@spm/db';
import { Timestamp } from './common.js';

export const RoleSchema = Type.Union([Type.Literal('user'), Type.Literal('approver'), Type.Literal('admin')]);
export const Username = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]*$' });
export const Password = Type.String({ minLength: 8, maxLength: 1024 });

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
