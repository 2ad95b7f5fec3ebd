import { useQuery } from "@tanstack/preact-query";
import { api } from "../../api.ts";
import { ImpactDiffView, ReplayView, ShadowView, SimulationView } from "../../components/impact.tsx";
import { Problem } from "../../components/problem.tsx";
import { graphql } from "../../gql/gql.ts";

// Two requests: the fork simulation takes seconds and may time out; the diff, replay and shadow do not wait for it.
const PROPOSAL_IMPACT = graphql(`
  query WebProposalImpact($proposalId: BigInt!) {
    proposalImpact(proposalId: $proposalId) {
      indexedBlock
      diff { ...WebImpactDiff }
      replay { ...WebImpactReplay }
      shadow { ...WebImpactShadow }
    }
  }
`);

const PROPOSAL_SIMULATION = graphql(`
  query WebProposalSimulation($proposalId: BigInt!) {
    proposalImpact(proposalId: $proposalId) { simulation { ...WebImpactSimulation } }
  }
`);

/** What the proposal will do, loaded with this module once the rest of the page is shown. */
export function ImpactSection({ proposalId, state }: { proposalId: string; state: string }) {
  // The state is in the keys: the shadow figures start when it is queued.
  const impact = useQuery({
    queryKey: ["proposal-impact", proposalId, state],
    queryFn: () => api.request(PROPOSAL_IMPACT, { proposalId }),
    staleTime: 30_000,
    refetchInterval: state === "QUEUED" ? 15_000 : false,
  });
  const simulation = useQuery({
    queryKey: ["proposal-simulation", proposalId],
    queryFn: () => api.request(PROPOSAL_SIMULATION, { proposalId }),
    staleTime: 60_000,
  });
  const data = impact.data?.proposalImpact;
  const simulated = simulation.data?.proposalImpact.simulation;
  return (
    <section aria-labelledby="impact" data-testid="impact">
      <h2 id="impact">What it will do</h2>
      {data ? (
        <p class="muted">Against the policies in force, as indexed at block {data.indexedBlock}.</p>
      ) : impact.error ? (
        <Problem error={impact.error} label="Working out what it will do" />
      ) : (
        <p aria-busy="true">Comparing with the policies in force and deciding the last week's calls again…</p>
      )}
      {data ? <ImpactDiffView diff={data.diff} /> : null}
      {simulated ? (
        <SimulationView simulation={simulated} />
      ) : simulation.error ? (
        <Problem error={simulation.error} label="Executing it on a copy of the chain" />
      ) : (
        <p aria-busy="true">Executing it on a copy of the chain…</p>
      )}
      {data ? (
        <>
          <ReplayView replay={data.replay} />
          <ShadowView shadow={data.shadow} />
        </>
      ) : null}
    </section>
  );
}
