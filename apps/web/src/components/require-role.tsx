import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { hasRole, type Role } from '../api/roles';
import { useSession } from '../auth/session';
import { useTitle } from '../lib/use-title';

/**
 * Shows a page only to a role that may use it; others see why not. This is for the person: the API
 * checks the role on every call whatever the page shows.
 */
export function RequireRole({ role, children }: { role: Role; children: ReactNode }) {
  const { user } = useSession();
  if (hasRole(user?.role, role)) return <>{children}</>;
  return <Forbidden role={role} />;
}

function Forbidden({ role }: { role: Role }) {
  useTitle('Not allowed');
  return (
    <section aria-labelledby="forbidden-title" className="panel">
      <h1 id="forbidden-title">Not allowed</h1>
      <p>
        This page needs the <strong>{role}</strong> role. Ask an administrator if you should have it.
      </p>
      <p>
        <Link to="/requests">Go to your requests</Link>
      </p>
    </section>
  );
}
