/** The shell: sign-in gate, navigation by what the key may do, and the page of the current route. */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { createApi } from './api.js';
import { SessionContext, useSession as useSessionValue, type Session } from './context.js';
import { AnalyticsPage } from './pages/analytics.js';
import { AuditPage } from './pages/audit.js';
import { PolicyPage } from './pages/policy.js';
import { ReviewPage } from './pages/review.js';
import { JobsPage } from './pages/jobs.js';
import { KeysPage } from './pages/keys.js';
import { LinkFormPage } from './pages/link-form.js';
import { LinksPage } from './pages/links.js';
import { SignIn } from './pages/sign-in.js';
import { WebhooksPage } from './pages/webhooks.js';
import { useRoute } from './route.js';
import { session, SessionExpired } from './session.js';
import type { Key, Scope } from './types.js';

interface NavItem {
  hash: string;
  label: string;
  scope: Scope;
}

const NAV: NavItem[] = [
  { hash: 'links', label: 'Links', scope: 'links:read' },
  { hash: 'analytics', label: 'Analytics', scope: 'analytics:read' },
  { hash: 'jobs', label: 'Bulk jobs', scope: 'links:read' },
  { hash: 'webhooks', label: 'Webhooks', scope: 'webhooks:read' },
  { hash: 'keys', label: 'Keys', scope: 'keys:admin' },
  { hash: 'review', label: 'Review', scope: 'links:approve' },
  { hash: 'policy', label: 'Policy', scope: 'policies:write' },
  { hash: 'audit', label: 'Audit log', scope: 'audit:read' },
];

/** Why the sign-in page shows again, and how to fill it in. */
interface SignInState {
  message: string | null;
  /** After an expired OAuth session: that client, to ask for its secret only. */
  clientId: string | null;
}

export function App() {
  const [signedIn, setSignedIn] = useState(() => session.load() !== null);
  const [me, setMe] = useState<Key | null>(null);
  const [again, setAgain] = useState<SignInState>({ message: null, clientId: null });
  const signOut = (why: SignInState = { message: null, clientId: null }) => {
    session.signOut();
    setSignedIn(false);
    setMe(null);
    setAgain(why);
  };
  const api = useMemo(
    () =>
      signedIn
        ? createApi(session.bearer, (err) =>
            signOut(err instanceof SessionExpired || err.code === 'token_expired'
              ? { message: 'The OAuth session expired: enter the client secret again.', clientId: err instanceof SessionExpired ? err.clientId : null }
              : { message: 'Signed out: the key or client is no longer valid.', clientId: null }),
          )
        : null,
    [signedIn],
  );

  useEffect(() => {
    if (!api || me) return;
    api.get<Key>('/v1/keys/me').then(setMe, (err: Error) => {
      if (session.load()) signOut({ message: err.message, clientId: null });
    });
  }, [api]);

  if (!signedIn || !api) {
    return (
      <SignIn
        error={again.message}
        clientId={again.clientId}
        onSignedIn={(who) => {
          setAgain({ message: null, clientId: null });
          setMe(who);
          setSignedIn(true);
        }}
      />
    );
  }
  if (!me) return <p class="loading">Signing in…</p>;
  const value: Session = { api, me, can: (s) => me.scopes.includes(s) };
  return (
    <SessionContext.Provider value={value}>
      <Shell onSignOut={() => signOut()} />
    </SessionContext.Provider>
  );
}

function Shell({ onSignOut }: { onSignOut: () => void }) {
  const route = useRoute();
  const { me, can } = useSessionValue();
  const nav = NAV.filter((n) => can(n.scope));
  const page = route.parts[0] ?? nav[0]?.hash ?? 'links';
  return (
    <>
      {/* routes live in the hash: the skip link moves focus itself instead of navigating to #main */}
      <a
        class="skip"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <span class="brand">linkplane</span>
        <nav aria-label="Sections">
          {nav.map((n) => (
            <a href={`#/${n.hash}`} aria-current={page === n.hash ? 'page' : undefined}>
              {n.label}
            </a>
          ))}
        </nav>
        <span class="who" title={me.scopes.join(', ')}>
          {me.name} · {me.role}
          {me.domains ? ` · ${me.domains.join(', ')}` : ''}
        </span>
        <button type="button" class="secondary" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Page page={page} parts={route.parts} query={route.query} />
      </main>
    </>
  );
}

function Page({ page, parts, query }: { page: string; parts: string[]; query: URLSearchParams }) {
  const { can } = useSessionValue();
  const [, id, sub] = parts;
  const view = (() => {
    if (page === 'links') {
      if (id === 'new') return can('links:write') && <LinkFormPage id={null} />;
      if (id && sub === 'edit') return can('links:write') && <LinkFormPage id={id} />;
      if (id && sub === 'stats') return can('analytics:read') && <AnalyticsPage linkId={id} />;
      return !id && can('links:read') && <LinksPage query={query} />;
    }
    if (id) return null;
    if (page === 'analytics') return can('analytics:read') && <AnalyticsPage linkId={null} />;
    if (page === 'jobs') return can('links:read') && <JobsPage />;
    if (page === 'webhooks') return can('webhooks:read') && <WebhooksPage />;
    if (page === 'keys') return can('keys:admin') && <KeysPage />;
    if (page === 'audit') return can('audit:read') && <AuditPage />;
    if (page === 'review') return can('links:approve') && <ReviewPage />;
    if (page === 'policy') return can('links:read') && <PolicyPage />;
    return null;
  })();
  return (
    view || (
      <section>
        <h1>Not here</h1>
        <p>This page does not exist or this key may not open it.</p>
      </section>
    )
  );
}
