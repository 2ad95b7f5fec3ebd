import {
  type Action,
  type GovernorSetting,
  governorSettingFunctions,
  validateAction,
} from "../../../../chain/actions.ts";
import { AppError, isAppError } from "../../../../shared/errors.ts";
import type { ActionInput } from "../../gql/graphql.ts";

export type DraftKind = Exclude<Action["kind"], "UNKNOWN">;

/** A form's values as typed (strings), per action kind; `approved` is the one checkbox. */
export interface ActionDraft {
  kind: DraftKind;
  values: Record<string, string>;
  approved: boolean;
  /** Problems show once the person has typed into this form (or tried to send it). */
  edited: boolean;
}

export interface FieldSpec {
  name: string;
  label: string;
  type?: "text" | "number" | "datetime-local" | "select";
  hint?: string;
  options?: readonly string[];
}

export const governorSettings = Object.keys(governorSettingFunctions) as GovernorSetting[];

export const kinds: Record<DraftKind, { label: string; fields: FieldSpec[] }> = {
  SET_MODEL_POLICY: {
    label: "Approve or update a model policy",
    fields: [
      { name: "modelId", label: "Model id", hint: "printable ASCII, no spaces, e.g. demo-1" },
      { name: "maxTokensPerRequest", label: "Max tokens per request", type: "number" },
      { name: "requestsPerMinute", label: "Requests per minute per consumer", type: "number" },
      { name: "allowedPurposes", label: "Allowed purposes", hint: "comma-separated; empty: any purpose" },
      { name: "blockedTerms", label: "Blocked content terms", hint: "comma-separated" },
      { name: "guidelineUri", label: "Guideline document URI" },
      {
        name: "guidelineHash",
        label: "Guideline document hash",
        hint: "keccak-256 of the document, 0x + 64 hex digits",
      },
    ],
  },
  SUSPEND_MODEL: {
    label: "Suspend a model",
    fields: [
      { name: "modelId", label: "Model id" },
      { name: "reason", label: "Reason" },
    ],
  },
  GRANT_ALLOCATION: {
    label: "Grant compute to an address",
    fields: [
      { name: "grantee", label: "Grantee address" },
      { name: "modelId", label: "Only for model", hint: "empty: any approved model" },
      { name: "tokensPerEpoch", label: "Tokens per epoch", type: "number" },
      { name: "start", label: "Valid from", type: "datetime-local" },
      { name: "end", label: "Valid until", type: "datetime-local" },
    ],
  },
  REVOKE_ALLOCATION: { label: "Revoke a grant", fields: [{ name: "grantId", label: "Grant id", type: "number" }] },
  SET_COMMUNITY_POOL: {
    label: "Set the community pool",
    fields: [
      { name: "allowancePerAddress", label: "Allowance per address per epoch (tokens)", type: "number" },
      { name: "poolSizePerEpoch", label: "Pool size per epoch (tokens)", type: "number" },
      { name: "epochLength", label: "Epoch length (seconds)", type: "number" },
    ],
  },
  SET_POOL_ELIGIBILITY: {
    label: "Who may use the community pool",
    fields: [
      {
        name: "minVotes",
        label: "Minimum voting power at the epoch's start (token wei)",
        type: "number",
        hint: "0 opens the pool to every address; 10^18 wei is one token",
      },
    ],
  },
  UPDATE_GOVERNOR_SETTING: {
    label: "Change a governor setting",
    fields: [
      { name: "setting", label: "Setting", type: "select", options: governorSettings },
      { name: "value", label: "New value", type: "number", hint: "seconds for delays and periods; percent for quorum" },
    ],
  },
  SET_GUARDIAN: {
    label: "Appoint, replace or remove the guardian",
    fields: [
      {
        name: "guardian",
        label: "New guardian address",
        hint: "may cancel any proposal and suspend a model for a while without a vote; 0x000…000 removes the guardian",
      },
    ],
  },
  SET_GUARDIAN_SUSPENSION_PERIOD: {
    label: "How long a guardian's suspension lasts",
    fields: [
      {
        name: "period",
        label: "Suspension period (seconds)",
        type: "number",
        hint: "one hour (3600) to 30 days (2592000); a vote can confirm a suspension before it lapses",
      },
    ],
  },
};

const toLocalInput = (unix: number) =>
  new Date((unix - new Date().getTimezoneOffset() * 60) * 1000).toISOString().slice(0, 16);

/** A new form of this kind, with sensible defaults (a grant runs for 30 days from now). */
export function emptyDraft(kind: DraftKind, nowS = Math.floor(Date.now() / 1000)): ActionDraft {
  const defaults: Record<string, string> =
    kind === "GRANT_ALLOCATION"
      ? { start: toLocalInput(nowS), end: toLocalInput(nowS + 30 * 86_400) }
      : kind === "UPDATE_GOVERNOR_SETTING"
        ? { setting: "VOTING_PERIOD" }
        : {};
  return { kind, values: defaults, approved: true, edited: false };
}

function whole(index: number, field: string, text: string | undefined): bigint {
  const value = (text ?? "").trim();
  if (!/^\d+$/.test(value)) {
    throw new AppError("BAD_USER_INPUT", `actions[${index}].${field} must be a whole number`, {
      details: { index, field },
    });
  }
  return BigInt(value);
}

function unixOf(index: number, field: string, text: string | undefined): number {
  const time = new Date(text ?? "").getTime();
  if (Number.isNaN(time)) {
    throw new AppError("BAD_USER_INPUT", `actions[${index}].${field} must be a date and time`, {
      details: { index, field },
    });
  }
  return Math.floor(time / 1000);
}

const list = (text: string | undefined) =>
  (text ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/** The typed action a form describes; throws the same coded errors as validateAction for bad numbers. */
export function actionOf(draft: ActionDraft, index: number): Action {
  const v = draft.values;
  const text = (name: string) => (v[name] ?? "").trim();
  switch (draft.kind) {
    case "SET_MODEL_POLICY":
      return {
        kind: draft.kind,
        modelId: text("modelId"),
        approved: draft.approved,
        maxTokensPerRequest: Number(whole(index, "maxTokensPerRequest", v.maxTokensPerRequest)),
        requestsPerMinute: Number(whole(index, "requestsPerMinute", v.requestsPerMinute)),
        allowedPurposes: list(v.allowedPurposes),
        blockedTerms: list(v.blockedTerms),
        guidelineUri: text("guidelineUri"),
        guidelineHash: text("guidelineHash"),
      };
    case "SUSPEND_MODEL":
      return { kind: draft.kind, modelId: text("modelId"), reason: v.reason ?? "" };
    case "GRANT_ALLOCATION":
      return {
        kind: draft.kind,
        grantee: text("grantee"),
        modelId: text("modelId"),
        tokensPerEpoch: whole(index, "tokensPerEpoch", v.tokensPerEpoch),
        start: unixOf(index, "start", v.start),
        end: unixOf(index, "end", v.end),
      };
    case "REVOKE_ALLOCATION":
      return { kind: draft.kind, grantId: whole(index, "grantId", v.grantId) };
    case "SET_COMMUNITY_POOL":
      return {
        kind: draft.kind,
        allowancePerAddress: whole(index, "allowancePerAddress", v.allowancePerAddress),
        poolSizePerEpoch: whole(index, "poolSizePerEpoch", v.poolSizePerEpoch),
        epochLength: Number(whole(index, "epochLength", v.epochLength)),
      };
    case "SET_POOL_ELIGIBILITY":
      return { kind: draft.kind, minVotes: whole(index, "minVotes", v.minVotes) };
    case "UPDATE_GOVERNOR_SETTING":
      return {
        kind: draft.kind,
        setting: (v.setting ?? "VOTING_PERIOD") as GovernorSetting,
        value: whole(index, "value", v.value),
      };
    case "SET_GUARDIAN":
      return { kind: draft.kind, guardian: text("guardian") };
    case "SET_GUARDIAN_SUSPENSION_PERIOD":
      return { kind: draft.kind, period: Number(whole(index, "period", v.period)) };
  }
}

export interface DraftCheck {
  action?: Action;
  /** The form field the problem is about, and the problem in words. */
  problem?: { field: string; message: string };
}

/** Reads a form and checks it with the service's own rules (validateAction), as the person types. */
export function checkDraft(draft: ActionDraft, index: number): DraftCheck {
  try {
    const action = actionOf(draft, index);
    validateAction(action, index);
    return { action };
  } catch (error) {
    if (!isAppError(error, "BAD_USER_INPUT")) throw error;
    const field = String(error.details?.field ?? "").replace(/\[\d+\]$/, "");
    return { problem: { field, message: error.message.replace(/^actions\[\d+\]\.\S+\s*/, "") } };
  }
}

/** draftProposal's ActionInput for a checked action (uint256 values travel as decimal strings). */
export function actionInput(action: Action): ActionInput {
  switch (action.kind) {
    case "SET_MODEL_POLICY": {
      const { kind: _, ...rules } = action;
      return { setModelPolicy: rules };
    }
    case "SUSPEND_MODEL":
      return { suspendModel: { modelId: action.modelId, reason: action.reason } };
    case "GRANT_ALLOCATION":
      return {
        grantAllocation: {
          grantee: action.grantee,
          modelId: action.modelId,
          tokensPerEpoch: String(action.tokensPerEpoch),
          start: action.start,
          end: action.end,
        },
      };
    case "REVOKE_ALLOCATION":
      return { revokeAllocation: { grantId: String(action.grantId) } };
    case "SET_COMMUNITY_POOL":
      return {
        setCommunityPool: {
          allowancePerAddress: String(action.allowancePerAddress),
          poolSizePerEpoch: String(action.poolSizePerEpoch),
          epochLength: action.epochLength,
        },
      };
    case "SET_POOL_ELIGIBILITY":
      return { setPoolEligibility: { minVotes: String(action.minVotes) } };
    case "UPDATE_GOVERNOR_SETTING":
      return { updateGovernorSetting: { setting: action.setting, value: String(action.value) } };
    case "SET_GUARDIAN":
      return { setGuardian: { guardian: action.guardian } };
    case "SET_GUARDIAN_SUSPENSION_PERIOD":
      return { setGuardianSuspensionPeriod: { period: action.period } };
    case "UNKNOWN":
      throw new AppError("BAD_USER_INPUT", "a call this app cannot read cannot be proposed from the form");
  }
}
