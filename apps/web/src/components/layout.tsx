import { useEffect, useRef } from 'react';
import { NavLink, Outlet, useLocation } from 'react-router';
import { hasRole } from '../api/roles';
import type { User } from '../api/types';
import { useSession } from '../auth/session';
import { ADMIN_PAGES } from '../pages/admin';

const ROLE_NAMES = { user: 'Requester', approver: 'Approver', admin: 'Admin' } as const;

/** Header with the navigation a role may use, a skip link, and the page below. */
export function Layout({ user }: { user: User }) {
  const { signOut } = useSession();
  const location = useLocation();
  const main = useRef<HTMLElement>(null);

  // A new page moves focus to its content, so a screen reader announces it and Tab starts there.
  useEffect(() => {
    main.current?.focus({ preventScroll: true });
  }, [location.pathname]);

  const admin = ADMIN_PAGES.filter((p) => hasRole(user.role, p.role));
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to main content
      </a>
      <header className="site-header">
        <div className="site-header__inner">
          <NavLink to="/requests" className="brand">
            <img src="/favicon.svg" alt="" width="24" height="24" />
            <span>Secure Package Manager</span>
          </NavLink>
          <nav aria-label="Main" className="main-nav">
            <ul>
              <li>
                <NavLink to="/requests">{hasRole(user.role, 'approver') ? 'Requests' : 'My requests'}</NavLink>
              </li>
              <li>
                <NavLink to="/submit">Submit a lockfile</NavLink>
              </li>
              {hasRole(user.role, 'approver') && (
                <>
                  <li>
                    <NavLink to="/approvals">Approvals</NavLink>
                  </li>
                  <li>
                    <NavLink to="/quarantine">Quarantine</NavLink>
                  </li>
                </>
              )}
              {admin.map((p) => (
                <li key={p.path}>
                  <NavLink to={p.path}>{p.title}</NavLink>
                </li>
              ))}
            </ul>
          </nav>
          <div className="account">
            <span className="account__name">
              {user.username} <span className="account__role">({ROLE_NAMES[user.role]})</span>
            </span>
            <NavLink to="/account/tokens" className="button button--quiet">
              API tokens
            </NavLink>
            <button type="button" className="button button--quiet" onClick={() => void signOut()}>
              Sign out
            </button>
          </div>
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1} className="page">
        <Outlet />
      </main>
    </>
  );
}
