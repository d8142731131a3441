import { createContext, useCallback, useContext, useMemo, type ReactNode } from 'react';
import { useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query';
import { ApiError, call } from '../api/client';
import type { User } from '../api/types';

interface Session {
  /** The signed-in user; null when signed out; undefined while the first check runs. */
  user: User | null | undefined;
  signIn(username: string, password: string): Promise<User>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

export const ME_KEY = ['auth', 'me'] as const;

/**
 * Nothing cached for one person may be shown to the next: every query but `keep` is dropped (`keep` stays
 * so the components watching it see the new value).
 */
function forgetAllBut(client: QueryClient, keep: readonly unknown[]): void {
  void client.cancelQueries({ predicate: (q) => q.queryKey[0] !== keep[0] });
  client.removeQueries({ predicate: (q) => q.queryKey[0] !== keep[0] });
  client.getMutationCache().clear();
}

/** Who is signed in, from GET /api/auth/me (the httpOnly cookie is sent by the browser; 401 means nobody). */
async function fetchMe(): Promise<User | null> {
  try {
    const me = await call<User>('/api/auth/me');
    return { id: me.id, username: me.username, role: me.role };
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const me = useQuery({ queryKey: ME_KEY, queryFn: fetchMe, staleTime: 60_000, retry: 1 });

  const signIn = useCallback(
    async (username: string, password: string) => {
      const res = await call<{ user: User }>('/api/auth/session', { method: 'POST', body: { username, password } });
      forgetAllBut(client, ME_KEY);
      client.setQueryData(ME_KEY, res.user);
      return res.user;
    },
    [client],
  );

  const signOut = useCallback(async () => {
    try {
      await call('/api/auth/session', { method: 'DELETE' });
    } finally {
      forgetAllBut(client, ME_KEY);
      client.setQueryData(ME_KEY, null);
    }
  }, [client]);

  const value = useMemo<Session>(
    () => ({ user: me.isPending ? undefined : (me.data ?? null), signIn, signOut }),
    [me.isPending, me.data, signIn, signOut],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}
