import { Navigate, Route, Routes, useLocation } from 'react-router';
import { useSession } from './auth/session';
import { Layout } from './components/layout';
import { RequireRole } from './components/require-role';
import { Loading } from './components/feedback';
import { SignInPage } from './pages/sign-in';
import { SubmitPage } from './pages/submit';
import { RequestsPage } from './pages/requests';
import { RequestPage } from './pages/request';
import { PackagePage } from './pages/package';
import { ApprovalsPage } from './pages/approvals';
import { NotFoundPage } from './pages/not-found';
import { TokensPage } from './pages/tokens';
import { QuarantinePage } from './pages/quarantine';
import { ADMIN_PAGES } from './pages/admin';

/** Where to go after signing in: the page that sent the visitor to sign in, else the requests. */
function returnPath(state: unknown): string {
  const from = (state as { from?: { pathname?: string; search?: string } } | null)?.from;
  return from?.pathname && from.pathname !== '/signin' ? `${from.pathname}${from.search ?? ''}` : '/requests';
}

/** The routes. Pages for a role are wrapped in RequireRole; the API refuses the same calls anyway. */
export function App() {
  const { user } = useSession();
  const location = useLocation();
  if (user === undefined) return <Loading label="Loading" />;
  if (user === null) {
    return (
      <Routes>
        <Route path="/signin" element={<SignInPage />} />
        <Route path="*" element={<Navigate to="/signin" replace state={{ from: location }} />} />
      </Routes>
    );
  }
  return (
    <Routes>
      <Route path="/signin" element={<Navigate to={returnPath(location.state)} replace />} />
      <Route element={<Layout user={user} />}>
        <Route index element={<Navigate to="/requests" replace />} />
        <Route path="/submit" element={<SubmitPage />} />
        <Route path="/requests" element={<RequestsPage />} />
        <Route path="/requests/:id" element={<RequestPage />} />
        <Route path="/packages/:id" element={<PackagePage />} />
        <Route path="/account/tokens" element={<TokensPage />} />
        <Route
          path="/approvals"
          element={
            <RequireRole role="approver">
              <ApprovalsPage />
            </RequireRole>
          }
        />
        <Route
          path="/quarantine"
          element={
            <RequireRole role="approver">
              <QuarantinePage />
            </RequireRole>
          }
        />
        {ADMIN_PAGES.map((p) => (
          <Route
            key={p.path}
            path={p.path}
            element={
              <RequireRole role={p.role}>
                <p.Page />
              </RequireRole>
            }
          />
        ))}
        <Route path="/admin" element={<Navigate to={ADMIN_PAGES[0]!.path} replace />} />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}
