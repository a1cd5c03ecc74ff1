/**
 * AppTest's inputs, declared once (resource kit: check, Args and Inputs types, secrets), and its
 * `check`: every input problem at once, each naming the field and the fix; unknown (preview)
 * values are skipped. Plain module: no Pulumi imports.
 */
import { type CheckFailure, errorMessage } from "../../providers/shared/errors";
import { containsUnknown } from "../../providers/shared/dynamic";
import {
  collectFailures,
  hostname,
  httpUrl,
  intInRange,
  nonEmptyString,
  stringList,
} from "../../providers/shared/validate";
import { declareResource, optional, required, type RuleFailure } from "../../providers/shared/resource-kit";
import type { TelegramConnection } from "../../providers/telegram/client";
import { type AppTestInputs, type AppUnderTest, KIND, type TestNode } from "./types";

const stringMap = (v: unknown): string | undefined =>
  v && typeof v === "object" && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string")
    ? undefined
    : "must be a map of strings";
const regex = (v: unknown): string | undefined => {
  if (typeof v !== "string") return "must be a regular expression (string)";
  try {
    new RegExp(v);
    return undefined;
  } catch (err) {
    return `is not a valid regular expression (${errorMessage(err)})`;
  }
};
const appName = (v: unknown): string | undefined =>
  typeof v === "string" && /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(v)
    ? undefined
    : "must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit";

/** AppTest's inputs; each doc comment is also that of the derived Args and Inputs. */
const fields = {
  /** Resource name, in every message (set by the constructor). */
  name: required<string>({ validate: nonEmptyString }),
  /** Apps tested at once on one node, 1 to 64. Default 2. */
  maxPerNode: optional<number>({ validate: intInRange(1, 64) }),
  /** Apps to test: plist (URL or CID), processes, tests, build id; may be empty. */
  apps: required<AppUnderTest[]>({
    validate: (v) => (Array.isArray(v) ? undefined : "must be a list of apps to test"),
  }),
  /** core0 v0.9.0 nodes to spread the apps over, at least one (wrapped as a secret: passwords). */
  nodes: required<TestNode[]>({
    validate: (v) =>
      Array.isArray(v) && v.length > 0 ? undefined : "must list at least one core0 node to test on",
    secret: "input",
    fix: "set nodes to a list of at least one core0 node { address, port?, password?, ipfsGateway? }",
  }),
  /** Telegram build group for per-app results and urgent failure alerts (wrapped as a secret). Default: no reports. */
  telegram: optional<TelegramConnection>({ secret: "input" }),
  /** Shown in the Telegram reports, e.g. the build run id. Default none. */
  runLabel: optional<string>(),
};

/** The field declarations' type (types.ts derives AppTestInputs from it). */
export type AppTestFields = typeof fields;

/** Checks inside the node and app lists, after the field checks. */
function appTestRules(raw: Record<string, unknown>): RuleFailure[] {
  const i = raw as Partial<AppTestInputs>;
  const failures: RuleFailure[] = [];
  const nodes = Array.isArray(i.nodes) && !containsUnknown(i.nodes) ? i.nodes : undefined;
  (nodes ?? []).forEach((n, k) => {
    failures.push(
      ...collectFailures([
        { path: `nodes[${k}].address`, value: n?.address, check: hostname },
        { path: `nodes[${k}].port`, value: n?.port, check: intInRange(1, 65535), optional: true },
        // Absent = no AUTH (a stock v0.9 node); set, it must be a real password.
        { path: `nodes[${k}].password`, value: n?.password, check: nonEmptyString, optional: true },
        { path: `nodes[${k}].ipfsGateway`, value: n?.ipfsGateway, check: httpUrl, optional: true },
      ]),
    );
  });
  if (!Array.isArray(i.apps) || containsUnknown(i.apps)) return failures;
  const seen: string[] = [];
  i.apps.forEach((a, k) => {
    const p = `apps[${k}]`;
    failures.push(
      ...collectFailures([
        { path: `${p}.app`, value: a?.app, check: appName },
        { path: `${p}.buildId`, value: a?.buildId, check: nonEmptyString },
        {
          path: `${p}.tests`,
          value: a?.tests,
          check: (v) => (Array.isArray(v) ? undefined : "must be a list"),
        },
      ]),
    );
    if (typeof a?.app === "string") {
      if (seen.includes(a.app))
        failures.push({
          property: `${p}.app`,
          reason: `app ${a.app} is listed twice`,
          fix: "list each app once in apps",
        });
      seen.push(a.app);
    }
    if (!a?.plistUrl && !a?.plistCid) {
      failures.push({
        property: `${p}.plistUrl`,
        reason: "has neither plistUrl nor plistCid",
        fix: `set ${p}.plistUrl to a file:///path or http(s):// URL of the plist, or ${p}.plistCid to its CID (with nodes[].ipfsGateway set)`,
      });
    } else if (a.plistUrl && !/^(file:\/\/\/|https?:\/\/)\S+$/.test(a.plistUrl)) {
      failures.push({
        property: `${p}.plistUrl`,
        reason: "must be a file:///path or http(s):// URL of a plist",
      });
    } else if (!a.plistUrl) {
      (nodes ?? []).forEach((n, nk) => {
        if (!n?.ipfsGateway)
          failures.push({
            property: `nodes[${nk}].ipfsGateway`,
            reason: `is required: app ${a.app} is given by plistCid, so every node fetches it through a gateway`,
            fix: `set nodes[${nk}].ipfsGateway to the IPFS gateway URL the node reaches (http(s)://...)`,
          });
      });
    }
    const procNames = (a?.processes ?? []).map((x) => x?.name);
    (a?.processes ?? []).forEach((proc, pk) => {
      failures.push(
        ...collectFailures([
          { path: `${p}.processes[${pk}].name`, value: proc?.name, check: nonEmptyString },
          { path: `${p}.processes[${pk}].command`, value: proc?.command, check: nonEmptyString },
          { path: `${p}.processes[${pk}].args`, value: proc?.args, check: stringList, optional: true },
          { path: `${p}.processes[${pk}].env`, value: proc?.env, check: stringMap, optional: true },
        ]),
      );
    });
    (Array.isArray(a?.tests) ? a.tests : []).forEach((t, tk) => {
      const tp = `${p}.tests[${tk}]`;
      failures.push(
        ...collectFailures([
          { path: `${tp}.name`, value: t?.name, check: nonEmptyString },
          { path: `${tp}.command`, value: t?.command, check: nonEmptyString },
          { path: `${tp}.args`, value: t?.args, check: stringList, optional: true },
          { path: `${tp}.env`, value: t?.env, check: stringMap, optional: true },
          {
            path: `${tp}.expectExitCode`,
            value: t?.expectExitCode,
            check: intInRange(0, 255),
            optional: true,
          },
          { path: `${tp}.expectOutput`, value: t?.expectOutput, check: regex, optional: true },
          {
            path: `${tp}.timeoutSeconds`,
            value: t?.timeoutSeconds,
            check: intInRange(1, 86400),
            optional: true,
          },
        ]),
      );
      if (t?.process !== undefined && !procNames.includes(t.process)) {
        failures.push({
          property: `${tp}.process`,
          reason: `names process ${t.process}, which app ${a.app} does not start (it starts: ${procNames.join(", ") || "none"})`,
          fix: `set ${tp}.process to one of ${p}.processes[].name, or remove it`,
        });
      }
    });
  });
  return failures;
}

/** The AppTest declaration: fields, type token build:AppTest (unchanged), leftovers secret. */
export const appTestKit = declareResource({
  kind: KIND,
  module: "build",
  type: "AppTest",
  fields,
  outputs: ["passed", "failures", "results", "telegramErrors", "leftovers"],
  secretOutputs: ["leftovers"],
  rules: appTestRules,
});

/** `check` failures for AppTest inputs; unknown (preview) values are skipped. */
export function checkAppTestInputs(i: Partial<AppTestInputs>): CheckFailure[] {
  return appTestKit.check(i).failures;
}
