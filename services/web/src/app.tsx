import { QueryClientProvider } from "@tanstack/preact-query";
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { Link, Route, Switch, useLocation } from "wouter-preact";
import { queryClient } from "./api.ts";
import { lazyPage } from "./components/lazy-page.tsx";
import { WalletBar } from "./components/wallet-bar.tsx";
import { useLiveUpdates } from "./live.ts";
import { ProposalsPage } from "./pages/proposals/proposals-page.tsx";
import { WalletProvider } from "./wallet/wallet.tsx";

const nav = [
  ["/", "Proposals"],
  ["/new", "New proposal"],
  ["/delegates", "Delegates"],
  ["/policies", "Policies"],
  ["/my-ai", "My AI"],
  ["/notifications", "Notifications"],
  ["/operator", "Operator"],
] as const;

// The Proposals page comes with the first download; every other page (and ethers, which they need)
// loads when it is first opened.
const ProposalPage = lazyPage(() => import("./pages/proposal/proposal-page.tsx").then((m) => m.ProposalPage));
const NewProposalPage = lazyPage(() =>
  import("./pages/new-proposal/new-proposal-page.tsx").then((m) => m.NewProposalPage),
);
const DelegatesPage = lazyPage(() => import("./pages/delegates/delegates-page.tsx").then((m) => m.DelegatesPage));
const DelegatePage = lazyPage(() => import("./pages/delegates/delegates-page.tsx").then((m) => m.DelegatePage));
const PoliciesPage = lazyPage(() => import("./pages/policies/policies-page.tsx").then((m) => m.PoliciesPage));
const MyAiPage = lazyPage(() => import("./pages/my-ai/my-ai-page.tsx").then((m) => m.MyAiPage));
const NotificationsPage = lazyPage(() =>
  import("./pages/notifications/notifications-page.tsx").then((m) => m.NotificationsPage),
);
const OperatorPage = lazyPage(() => import("./pages/operator/operator-page.tsx").then((m) => m.OperatorPage));

function LiveIndicator() {
  const status = useLiveUpdates();
  const text = { connecting: "Connecting…", live: "Live updates on", reconnecting: "Live updates lost: reconnecting…" };
  return (
    <p class={`live live-${status}`} role="status" data-testid="live">
      {text[status]}
    </p>
  );
}

/**
 * After a navigation inside the app, keyboard and screen-reader users start at the new page's content
 * (as after a page load), and the page starts at its top.
 */
function useFocusOnNavigation() {
  const [location] = useLocation();
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    window.scrollTo(0, 0);
    document.getElementById("main")?.focus();
  }, [location]);
}

function Main({ children }: { children: ComponentChildren }) {
  useFocusOnNavigation();
  return (
    <main id="main" tabIndex={-1}>
      {children}
    </main>
  );
}

export function App() {
  return (
    <QueryClientProvider client={queryClient}>
      <WalletProvider>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header>
          <div class="brand">
            <Link href="/" className="brand-name">
              AI Commons
            </Link>
            <LiveIndicator />
          </div>
          <nav aria-label="Main">
            <ul>
              {nav.map(([href, label]) => (
                <li key={href}>
                  <Link href={href} className={(active: boolean) => (active ? "active" : "")}>
                    {label}
                  </Link>
                </li>
              ))}
            </ul>
          </nav>
          <WalletBar />
        </header>
        <Main>
          <Switch>
            <Route path="/" component={ProposalsPage} />
            <Route path="/proposals/:id">{(params) => <ProposalPage id={params.id} />}</Route>
            <Route path="/new">{() => <NewProposalPage />}</Route>
            <Route path="/delegates">{() => <DelegatesPage />}</Route>
            <Route path="/delegates/:address">{(params) => <DelegatePage address={params.address} />}</Route>
            <Route path="/policies">{() => <PoliciesPage />}</Route>
            <Route path="/policies/:model">
              {(params) => <PoliciesPage model={decodeURIComponent(params.model)} />}
            </Route>
            <Route path="/my-ai">{() => <MyAiPage />}</Route>
            <Route path="/notifications">{() => <NotificationsPage />}</Route>
            <Route path="/operator">{() => <OperatorPage />}</Route>
            <Route>
              <h1>Page not found</h1>
              <p>
                This address is not a page of the app. <Link href="/">See the proposals</Link>.
              </p>
            </Route>
          </Switch>
        </Main>
      </WalletProvider>
    </QueryClientProvider>
  );
}
