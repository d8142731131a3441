import { useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { ROLES } from '@spm/db/vocabulary';
import { call } from '../../api/client';
import { keys, useUsers } from '../../api/queries';
import type { AdminUser } from '../../api/types';
import { useSession } from '../../auth/session';
import { Badge } from '../../components/badges';
import { Dialog } from '../../components/dialog';
import { ErrorMessage, Loading } from '../../components/feedback';
import { TableRegion } from '../../components/table';
import { Time } from '../../components/time';
import { useTitle } from '../../lib/use-title';

type Patch = { role?: string; disabled?: boolean; password?: string };

export function UsersPage() {
  useTitle('Users');
  const { user: me } = useSession();
  const client = useQueryClient();
  const users = useUsers();
  const [message, setMessage] = useState('');
  const [resetting, setResetting] = useState<AdminUser | null>(null);

  const update = useMutation({
    mutationFn: (v: { id: number; patch: Patch }) =>
      call<AdminUser>(`/api/admin/users/${v.id}`, { method: 'PATCH', body: v.patch }),
    onSuccess: (u, v) => {
      client.setQueryData<{ users: AdminUser[] }>(keys.users, (old) =>
        old ? { users: old.users.map((x) => (x.id === u.id ? u : x)) } : old,
      );
      setMessage(
        v.patch.password
          ? `${u.username}'s password was reset.`
          : v.patch.disabled !== undefined
            ? `${u.username} is ${u.disabled ? 'disabled' : 'enabled'}.`
            : `${u.username} is now ${u.role}.`,
      );
      setResetting(null);
    },
  });

  return (
    <>
      <h1>Users</h1>
      <p className="lead">
        Requesters submit lockfiles and see their own requests; approvers also decide on packages; admins also manage
        policy, users and operations. A change applies to the person's next action.
      </p>
      <CreateUser
        onCreated={(u) => (
          setMessage(`${u.username} was created as ${u.role}.`),
          void client.invalidateQueries({ queryKey: keys.users })
        )}
      />
      <p role="status" className="status-line">
        {message}
      </p>
      <ErrorMessage error={users.error ?? (resetting ? null : update.error)} title="The user could not be changed" />
      {users.isPending ? (
        <Loading label="Loading users" />
      ) : (
        <TableRegion label="Users">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Username</th>
                <th scope="col">Role</th>
                <th scope="col">Account</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {users.data?.users.map((u) => (
                <tr key={u.id}>
                  <td>
                    {u.username}
                    {u.id === me?.id && <span className="muted small"> (you)</span>}
                  </td>
                  <td>
                    <select
                      aria-label={`Role of ${u.username}`}
                      value={u.role}
                      disabled={update.isPending}
                      onChange={(e) => update.mutate({ id: u.id, patch: { role: e.target.value } })}
                    >
                      {ROLES.map((r) => (
                        <option key={r} value={r}>
                          {r}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>
                    {u.disabled ? (
                      <Badge tone="danger" icon="✕">
                        disabled
                      </Badge>
                    ) : (
                      <Badge tone="success" icon="✓">
                        enabled
                      </Badge>
                    )}
                  </td>
                  <td>
                    <Time iso={u.created_at} />
                  </td>
                  <td className="row-actions">
                    <button
                      type="button"
                      className="button button--quiet"
                      disabled={update.isPending || u.id === me?.id}
                      onClick={() => update.mutate({ id: u.id, patch: { disabled: !u.disabled } })}
                    >
                      {u.disabled ? 'Enable' : 'Disable'}
                      <span className="visually-hidden"> {u.username}</span>
                    </button>
                    <button
                      type="button"
                      className="button button--quiet"
                      onClick={() => {
                        update.reset();
                        setResetting(u);
                      }}
                    >
                      Reset password<span className="visually-hidden"> of {u.username}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableRegion>
      )}
      <Dialog
        open={resetting !== null}
        title={`New password for ${resetting?.username ?? ''}`}
        onClose={() => setResetting(null)}
      >
        <PasswordForm
          busy={update.isPending}
          onSubmit={(password) => resetting && update.mutate({ id: resetting.id, patch: { password } })}
          onCancel={() => setResetting(null)}
        />
        <ErrorMessage error={update.error} title="The password was not changed" />
      </Dialog>
    </>
  );
}

function PasswordForm({ busy, onSubmit, onCancel }: { busy: boolean; onSubmit(p: string): void; onCancel(): void }) {
  const [password, setPassword] = useState('');
  return (
    <form
      className="form"
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit(password);
      }}
    >
      <div className="field">
        <label htmlFor="reset-password">New password</label>
        <input
          id="reset-password"
          type="password"
          autoComplete="new-password"
          minLength={12}
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          autoFocus
        />
      </div>
      <div className="actions">
        <button type="submit" className="button button--primary" disabled={busy || password.length === 0}>
          Set password
        </button>
        <button type="button" className="button button--quiet" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function CreateUser({ onCreated }: { onCreated(u: AdminUser): void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<string>('user');
  const create = useMutation({
    mutationFn: () =>
      call<AdminUser>('/api/admin/users', { method: 'POST', body: { username: username.trim(), password, role } }),
    onSuccess: (u) => {
      setUsername('');
      setPassword('');
      onCreated(u);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <details className="panel disclosure">
      <summary>Create a user</summary>
      <form className="form" onSubmit={submit}>
        <div className="field-row">
          <div className="field">
            <label htmlFor="u-name">Username</label>
            <input
              id="u-name"
              required
              autoComplete="off"
              value={username}
              onChange={(e) => setUsername(e.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor="u-password">Password</label>
            <input
              id="u-password"
              type="password"
              autoComplete="new-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor="u-role">Role</label>
            <select id="u-role" value={role} onChange={(e) => setRole(e.target.value)}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </div>
        </div>
        <ErrorMessage error={create.error} title="Not created" />
        <button
          type="submit"
          className="button button--primary"
          disabled={create.isPending || !username.trim() || !password}
        >
          Create
        </button>
      </form>
    </details>
  );
}
