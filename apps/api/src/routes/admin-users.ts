import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AppError, assertPasswordPolicy, createUser, getUser, listUsers, updateUser } from '@spm/db';
import { audit } from '../audit.js';
import { authErrors, UserIdParam } from '../schemas/common.js';
import { Password, RoleSchema, UserSchema, Username, userJson } from '../schemas/users.js';

/** Admin user management under /api/admin/users: list, create, change role, disable or enable, reset password. */
const adminUserRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];

  app.get(
    '/',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'List users',
        security,
        response: { 200: Type.Object({ users: Type.Array(UserSchema) }), ...authErrors() },
      },
    },
    async () => ({ users: (await listUsers(app.db)).map(userJson) }),
  );

  app.post(
    '/',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Create a user',
        security,
        body: Type.Object(
          { username: Username, password: Password, role: RoleSchema },
          { additionalProperties: false },
        ),
        response: { 201: UserSchema, ...authErrors(409) },
      },
    },
    async (request, reply) => {
      assertPasswordPolicy(request.body.password, request.body.username);
      const user = await createUser(app.db, request.body);
      await audit(request, 'user.create', { type: 'user', id: user.id }, { username: user.username, role: user.role });
      return reply.code(201).send(userJson(user));
    },
  );

  app.patch(
    '/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Change a user: role, disabled, password',
        security,
        params: Type.Object({ id: UserIdParam }),
        body: Type.Object(
          {
            role: Type.Optional(RoleSchema),
            disabled: Type.Optional(Type.Boolean()),
            password: Type.Optional(Password),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: UserSchema, ...authErrors(404, 409) },
      },
    },
    async (request) => {
      const before = await getUser(app.db, request.params.id);
      if (!before) throw new AppError('ERR_USER_NOT_FOUND', `No user with id ${request.params.id}.`, { status: 404 });
      if (request.body.password !== undefined) assertPasswordPolicy(request.body.password, before.username);
      const user = await updateUser(app.db, request.params.id, request.body);
      if (!user) throw new AppError('ERR_USER_NOT_FOUND', `No user with id ${request.params.id}.`, { status: 404 });
      const changes: Record<string, unknown> = {};
      if (request.body.role !== undefined) changes.role = { from: before.role, to: user.role };
      if (request.body.disabled !== undefined) changes.disabled = { from: before.disabled, to: user.disabled };
      if (request.body.password !== undefined) changes.password = 'reset';
      await audit(request, 'user.update', { type: 'user', id: user.id }, { username: user.username, ...changes });
      return userJson(user);
    },
  );
};

export default adminUserRoutes;
