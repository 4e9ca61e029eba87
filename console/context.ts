import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Api } from './api.js';
import type { Key, Scope } from './types.js';

export interface Session {
  api: Api;
  me: Key;
  /** What the key may do: the console offers nothing else. */
  can(scope: Scope): boolean;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in console');
  return s;
}
