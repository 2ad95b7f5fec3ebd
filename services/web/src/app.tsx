import { QueryClientProvider } from "@tanstack/preact-query";
import type { ComponentType } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Link, Route, Switch } from "wouter-preact";
import { queryClient } from "./api.ts";
import { WalletBar } from "./components/wallet-bar.tsx";
import { useLiveUpdates } from "./live.ts";
import { DelegatePage, DelegatesPage } from "./pages/delegates/delegates-page.tsx";
import { MyAiPage } from "./pages/my-ai/my-ai-page.tsx";
import { NewProposalPage } from "./pages/new-proposal/new-proposal-page.tsx";
import { PoliciesPage } from "./pages/policies/policies-page.tsx";
import { ProposalPage } from "./pages/proposal/proposal-page.tsx";
import { ProposalsPage } from "./pages/proposals/proposals-page.tsx";
import { WalletProvider } from "./wallet/wallet.tsx";

const nav = [
  ["/", "Proposals"],
  ["/new", "New proposal"],
  ["/delegates", "Delegates"],
  ["/policies", "Policies"],
  ["/my-ai", "My AI"],
  ["/operator", "Operator"],
] as const;

/** The operator page brings the chart library: loaded only when someone opens it. */
function OperatorRoute() {
  const [Page, setPage] = useState<ComponentType>();
  const [failed, setFailed] = useState<unknown>();
  useEffect(() => {
    import("./pages/operator/operator-page.tsx").then((m) => setPage(() => m.OperatorPage), setFailed);
  }, []);
  if (failed) return <p role="alert">The operator page could not be loaded: reload the page.</p>;
  return Page ? <Page /> : <p aria-busy="true">Loading the operator page…</p>;
}

function LiveIndicator() {
  const status = useLiveUpdates();
  const text = { connecting: "Connecting…", live: "Live updates on", reconnecting: "Live updates lost: reconnecting…" };
  return (
    <p class={`live live-${status}`} role="status" data-testid="live">
      {text[status]}
    </p>
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
        <main id="main">
          <Switch>
            <Route path="/" component={ProposalsPage} />
            <Route path="/proposals/:id">{(params) => <ProposalPage id={params.id} />}</Route>
            <Route path="/new" component={NewProposalPage} />
            <Route path="/delegates" component={DelegatesPage} />
            <Route path="/delegates/:address">{(params) => <DelegatePage address={params.address} />}</Route>
            <Route path="/policies">{() => <PoliciesPage />}</Route>
            <Route path="/policies/:model">
              {(params) => <PoliciesPage model={decodeURIComponent(params.model)} />}
            </Route>
            <Route path="/my-ai" component={MyAiPage} />
            <Route path="/operator" component={OperatorRoute} />
            <Route>
              <h1>Page not found</h1>
              <p>
                This address is not a page of the app. <Link href="/">See the proposals</Link>.
              </p>
            </Route>
          </Switch>
        </main>
      </WalletProvider>
    </QueryClientProvider>
  );
}
