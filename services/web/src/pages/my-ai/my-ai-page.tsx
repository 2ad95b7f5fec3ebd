import { useMutation, useQuery } from "@tanstack/preact-query";
import { useState } from "preact/hooks";
import { type IssuedKey, signInForApiKey } from "../../../../cli/sign-in.ts";
import { api, serviceUrl, withBearer } from "../../api.ts";
import { Budgets } from "../../components/budgets.tsx";
import { DecisionsTable } from "../../components/decisions-table.tsx";
import { usePageTitle } from "../../components/page-title.ts";
import { Problem } from "../../components/problem.tsx";
import { UsageTable } from "../../components/usage-table.tsx";
import { shortAddress } from "../../format.ts";
import { graphql } from "../../gql/gql.ts";
import { useSessionValue } from "../../session.ts";
import { useWallet } from "../../wallet/wallet.tsx";

const APPROVED_MODELS = graphql(`
  query WebApprovedModels { policies(first: 100, approved: true) { edges { node { modelId } } } }
`);

const MY_AI = graphql(`
  query WebMyAi($model: String!, $consumer: Address!, $purpose: String) {
    policyStatus(model: $model, consumer: $consumer, purpose: $purpose) {
      epochStart epochEnd communityPoolLeft admitted reason message
      budgets { source grantId granted used reserved left }
    }
    decisions(first: 20, filter: { consumer: $consumer }) { edges { node { ...DecisionFields } } }
    usage(consumer: $consumer) { ...UsageFields }
  }
`);

const REVOKE_API_KEY = graphql(`
  mutation WebRevokeApiKey($id: ID!) { revokeApiKey(id: $id) }
`);

/** The key this tab signed in with (kept in the tab's session only), and the keys it made. */
interface Session {
  id: string;
  key: string;
  address: string;
}

type MadeKey = Omit<IssuedKey, "key"> & { label: string; revoked: boolean };

function Snippet({ model }: { model: string }) {
  const code = `import OpenAI from "openai";

const openai = new OpenAI({
  apiKey: process.env.COMMONS_API_KEY, // your sk-commons-… key
  baseURL: "${serviceUrl}/v1",
  defaultHeaders: { "x-commons-purpose": "education" }, // a purpose the policy allows
});

const answer = await openai.chat.completions.create({
  model: "${model}",
  max_tokens: 64,
  messages: [{ role: "user", content: "Why should a community govern its AI?" }],
});
console.log(answer.choices[0].message.content);`;
  return (
    <section aria-labelledby="snippet">
      <h2 id="snippet">Call the gateway with the openai SDK</h2>
      <pre>
        <code>{code}</code>
      </pre>
    </section>
  );
}

function MyUsage({ session }: { session: Session }) {
  const models = useQuery({ queryKey: ["approved-models"], queryFn: () => api.request(APPROVED_MODELS) });
  const modelIds = (models.data?.policies.edges ?? []).map((e) => e.node.modelId);
  const [chosen, setChosen] = useState<string>();
  const model = chosen ?? modelIds[0];
  const [purpose, setPurpose] = useState("");
  const mine = useQuery({
    queryKey: ["my-ai", session.key, model, purpose],
    queryFn: () =>
      withBearer(session.key).request(MY_AI, {
        model: model as string,
        consumer: session.address,
        purpose: purpose.trim() || null,
      }),
    enabled: model !== undefined,
  });
  if (models.data && modelIds.length === 0) {
    return <p>No model is approved yet: once governance approves one, your budgets and calls show here.</p>;
  }
  return (
    <>
      <form class="inline" onSubmit={(e) => e.preventDefault()}>
        <label>
          Model{" "}
          <select value={model} onChange={(e) => setChosen((e.target as HTMLSelectElement).value)}>
            {modelIds.map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        </label>
        <label>
          Purpose of my calls{" "}
          <input
            value={purpose}
            placeholder="e.g. education"
            onChange={(e) => setPurpose((e.target as HTMLInputElement).value)}
          />
        </label>
      </form>
      <Problem error={models.error ?? mine.error} label="Loading your usage" />
      {mine.data ? (
        <>
          <section aria-labelledby="budgets">
            <h2 id="budgets">My budgets on {model}</h2>
            <Budgets status={mine.data.policyStatus} />
          </section>
          <section aria-labelledby="calls">
            <h2 id="calls">My recent calls and refusals</h2>
            {mine.data.decisions.edges.length === 0 ? <p>No calls yet.</p> : null}
            <DecisionsTable
              rows={mine.data.decisions.edges.map((e) => e.node)}
              caption="Latest first, every model"
              showConsumer={false}
              token={session.key}
            />
          </section>
          <section aria-labelledby="usage">
            <h2 id="usage">My usage per epoch</h2>
            <UsageTable rows={mine.data.usage} showConsumer={false} />
          </section>
        </>
      ) : null}
      {model ? <Snippet model={model} /> : null}
    </>
  );
}

/** Sign in with Ethereum for API keys; my budgets, calls and refusals; how to call the gateway. */
export function MyAiPage() {
  usePageTitle("My AI");
  const wallet = useWallet();
  const [session, setSession] = useSessionValue<Session>("commons.session");
  const [made, setMade] = useSessionValue<MadeKey[]>("commons.keys");
  const [shown, setShown] = useState<IssuedKey>();
  const [label, setLabel] = useState("");
  const [revokeId, setRevokeId] = useState("");

  const signIn = useMutation({
    mutationFn: async () => signInForApiKey(api, serviceUrl, await wallet.signer(), label || undefined),
    onSuccess: (issued) => {
      setShown(issued);
      setSession({ id: issued.id, key: issued.key, address: issued.address });
      setMade([
        ...(made ?? []),
        { id: issued.id, prefix: issued.prefix, address: issued.address, label, revoked: false },
      ]);
    },
  });
  const revoke = useMutation({
    mutationFn: async (id: string) => {
      if (!session) throw new Error("sign in first: revoking needs a live key of the same wallet");
      await withBearer(session.key).request(REVOKE_API_KEY, { id });
      return id;
    },
    onSuccess: (id) => {
      setMade((made ?? []).map((k) => (k.id === id ? { ...k, revoked: true } : k)));
      // Revoking the key this tab reads with ends the session.
      if (session?.id === id) setSession(undefined);
      setRevokeId("");
    },
  });

  return (
    <>
      <h1>My AI</h1>
      <p>
        Sign in with your wallet (Sign-In with Ethereum) to get an API key for the gateway. The key is shown once; this
        tab keeps it in its session only, to show your budgets and calls.
      </p>
      <section class="panel" aria-labelledby="keys">
        <h2 id="keys">API keys</h2>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            signIn.mutate();
          }}
        >
          <label for="key-label">Label (optional)</label>
          <input
            id="key-label"
            value={label}
            placeholder="laptop"
            onInput={(e) => setLabel((e.target as HTMLInputElement).value)}
          />
          <button type="submit" disabled={signIn.isPending}>
            Sign in with Ethereum and create a key
          </button>
        </form>
        {signIn.isPending ? <p role="status">Sign the message in your wallet…</p> : null}
        <Problem error={signIn.error} label="Signing in" />
        {shown ? (
          <div class="notice success" role="status">
            <p>
              <strong>Your new API key. Store it now: it is not shown again.</strong>
            </p>
            <code class="break" data-testid="new-key">
              {shown.key}
            </code>
            <p>
              <button type="button" onClick={() => setShown(undefined)}>
                I have stored it
              </button>
            </p>
          </div>
        ) : null}
        {made && made.length > 0 ? (
          <ul class="keys">
            {made.map((k) => (
              <li key={k.id}>
                <code>{k.prefix}…</code> {k.label ? `“${k.label}”` : ""} for {shortAddress(k.address)} (id {k.id}){" "}
                {k.revoked ? (
                  <span class="muted">revoked</span>
                ) : (
                  <button
                    type="button"
                    class="secondary"
                    disabled={revoke.isPending}
                    onClick={() => revoke.mutate(k.id)}
                  >
                    Revoke
                  </button>
                )}
              </li>
            ))}
          </ul>
        ) : null}
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (revokeId.trim()) revoke.mutate(revokeId.trim());
          }}
        >
          <label for="revoke-id">Revoke a key by its id</label>
          <input id="revoke-id" value={revokeId} onInput={(e) => setRevokeId((e.target as HTMLInputElement).value)} />
          <button type="submit" class="secondary" disabled={revoke.isPending || !revokeId.trim()}>
            Revoke
          </button>
        </form>
        <Problem error={revoke.error} label="Revoking" />
        {revoke.isSuccess ? (
          <p role="status">Key {revoke.data} is revoked: calls with it are refused (INVALID_API_KEY).</p>
        ) : null}
      </section>
      {session ? <MyUsage session={session} /> : <p>Sign in to see your budgets, calls and refusals.</p>}
    </>
  );
}
