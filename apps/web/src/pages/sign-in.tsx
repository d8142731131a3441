import { useState, type FormEvent } from 'react';
import { useSession } from '../auth/session';
import { ErrorMessage } from '../components/feedback';
import { useTitle } from '../lib/use-title';

export function SignInPage() {
  useTitle('Sign in');
  const { signIn } = useSession();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(username.trim(), password);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <main id="main" className="sign-in">
      <div className="sign-in__card">
        <p className="brand brand--large">
          <img src="/favicon.svg" alt="" width="32" height="32" />
          <span>Secure Package Manager</span>
        </p>
        <h1>Sign in</h1>
        <form onSubmit={submit} className="form" noValidate>
          <div className="field">
            <label htmlFor="username">Username</label>
            <input
              id="username"
              name="username"
              autoComplete="username"
              required
              value={username}
              onChange={(e) => setUsername(e.target.value)}
              autoFocus
            />
          </div>
          <div className="field">
            <label htmlFor="password">Password</label>
            <input
              id="password"
              name="password"
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </div>
          <ErrorMessage error={error} title="Could not sign in" />
          <button type="submit" className="button button--primary" disabled={busy || !username || !password}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
        <p className="muted small">
          Scripts and CI jobs use the API instead: <a href="/docs">API documentation</a>.
        </p>
      </div>
    </main>
  );
}
