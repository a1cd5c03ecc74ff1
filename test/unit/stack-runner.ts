/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Child-process entry for unit tests: runs the real program (index.ts) for one stack under
 * `pulumi.runtime.setMocks` and prints one JSON line: registered resources and stack outputs, or the
 * error. A child per stack because Node caches the imported program (one stack per process).
 * Input (env): G8OS_UNIT_STACK, G8OS_UNIT_CONFIG (JSON {key: value | {secret: value}}).
 */
import * as pulumi from "@pulumi/pulumi";
import { placeApps } from "../../components/grid/placement";

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

/** Plausible values for outputs that are not inputs, per resource type (unit tests only). */
function fakeOutputs(type: string, inputs: Record<string, any>): Record<string, unknown> {
  switch (type.split(":").pop()) {
    case "SshKeyGroup":
      return { keys: inputs.source?.keys ?? [], members: [], membersWithoutKeys: [], fingerprints: [] };
    case "Network":
      return { networkId: "8056c2e21c000001" };
    case "Member":
      return { assignedIps: ["10.147.17.10"] };
    case "ZerotierHostJoin":
      return {
        nodeId: "abcdef0123",
        interfaceName: "ztabcdefgh",
        hostKeySha256: "SHA256:" + "A".repeat(43),
        joined: true,
      };
    case "PrivateKey":
      return {
        publicKeyOpenssh:
          "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHxpRmkq1e8x8pt4iIhBPg6w9kJh6zV+q7dK0P5c7V8z\n",
        privateKeyOpenssh: "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----\n",
      };
    case "GridPlacement":
      // The engine would run the provider's check, which places the apps: the same scheduler here.
      return { ...placeApps(inputs.nodes, inputs.apps) };
    case "AppBuild":
      return { app: inputs.spec?.name, buildId: "unit-build", plist: "", plistCid: "bafyunit", files: [] };
    case "AppTest":
      return { passed: true, failures: [], results: [] };
    case "TemplatesRelease":
      return { released: [] };
    case "RandomPassword":
      return { result: "unit-test-password" };
    default:
      return {};
  }
}

type Config = Record<string, string | { secret: string }>;

/** Runs the program once for `stack` with `raw` config; resolves to the JSON the parent reads. */
async function runOne(stack: string, raw: Config, preview: boolean): Promise<Record<string, unknown>> {
  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v === "object") {
      config[k] = v.secret;
      secretKeys.push(k);
    } else config[k] = v;
  }
  pulumi.runtime.setAllConfig(config, secretKeys);
  const resources: Registered[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        resources.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: { ...args.inputs, ...fakeOutputs(args.type, args.inputs) } };
      },
      call: (args) => args.inputs,
    },
    "g8os",
    stack,
    preview,
  );
  // The program's entry (stacks/index.ts main, which index.ts exports the result of), called once
  // per run: modules stay loaded (loading them through ts-node is the slow part), every value the
  // program derives from config or the stack name is computed inside main().
  const reader = require("../../stacks/config-reader") as { keysRead(): string[] };
  const before = reader.keysRead().length;
  const keysRead = () => reader.keysRead().slice(before);
  try {
    const program = (require("../../stacks") as { main(): Record<string, unknown> }).main();
    if (preview) {
      await new Promise((r) => setTimeout(r, 50));
      return { resources, keysRead: keysRead() };
    }
    const outputs = await new Promise((resolve) => pulumi.output(program).apply(resolve));
    await new Promise((r) => setTimeout(r, 300));
    return { resources, outputs, keysRead: keysRead() };
  } catch (err) {
    // Let registrations started before the throw reach the mock, so tests can assert there were none.
    await new Promise((r) => setTimeout(r, 50));
    return {
      error: err instanceof Error ? err.message : String(err),
      errorName: err instanceof Error ? err.name : typeof err,
      // The CLI prints a RunError's message alone; anything else as "unhandled exception" + stack.
      runError: pulumi.RunError.isInstance(err),
      resources,
      keysRead: keysRead(),
    };
  }
}

/**
 * Batch mode (G8OS_UNIT_BATCH = a JSON file of [{stack, config}]): every run in this one process,
 * one JSON line each, in order. Much faster than a child per run; a run is a fresh require of the
 * program with its own config and mocks.
 */
async function batch(file: string): Promise<void> {
  const runs = JSON.parse(require("fs").readFileSync(file, "utf8")) as {
    stack: string;
    config: Config;
    preview?: boolean;
  }[];
  // A run that registered resources may still have engine calls in flight when the next run
  // replaces the mocks; their rejections ("unknown resource") belong to no run: recorded, not fatal.
  let strays: string[] = [];
  process.on("unhandledRejection", (err) => strays.push(String(err).split("\n")[0]));
  for (const run of runs) {
    strays = [];
    let line: Record<string, unknown>;
    try {
      line = await runOne(run.stack, run.config, run.preview ?? true);
    } catch (err) {
      line = { error: `runner: ${String(err)}` };
    }
    process.stdout.write(JSON.stringify({ ...line, strays }) + "\n");
  }
}

async function main(): Promise<void> {
  const stack = process.env.G8OS_UNIT_STACK ?? "build-1";
  const raw = JSON.parse(process.env.G8OS_UNIT_CONFIG ?? "{}") as Record<string, string | { secret: string }>;
  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v === "object") {
      config[k] = v.secret;
      secretKeys.push(k);
    } else config[k] = v;
  }
  pulumi.runtime.setAllConfig(config, secretKeys);
  const resources: Registered[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        resources.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: { ...args.inputs, ...fakeOutputs(args.type, args.inputs) } };
      },
      call: (args) => args.inputs,
    },
    "g8os",
    stack,
    // Not a preview: every value is known, so stack outputs resolve and can be asserted.
    false,
  );
  let reported = false;
  process.on("beforeExit", () => {
    if (!reported) process.stdout.write(JSON.stringify({ error: "stack outputs never resolved" }) + "\n");
    reported = true;
  });
  let outputs: unknown;
  try {
    const program = require("../../index");
    outputs = await new Promise((resolve) => pulumi.output(program).apply(resolve));
  } catch (err) {
    reported = true;
    // Let registrations started before the throw reach the mock, so tests can assert there were none.
    await new Promise((r) => setTimeout(r, 50));
    process.stdout.write(
      JSON.stringify({
        error: err instanceof Error ? err.message : String(err),
        errorName: err instanceof Error ? err.name : typeof err,
        // The CLI prints a RunError's message alone; anything else as "unhandled exception" + stack.
        runError: pulumi.RunError.isInstance(err),
        resources,
      }) + "\n",
    );
    return;
  }
  // Let pending registrations settle before reporting.
  await new Promise((r) => setTimeout(r, 50));
  reported = true;
  process.stdout.write(JSON.stringify({ resources, outputs }) + "\n");
}

(process.env.G8OS_UNIT_BATCH ? batch(process.env.G8OS_UNIT_BATCH) : main()).catch((err) => {
  process.stdout.write(JSON.stringify({ error: String(err) }) + "\n");
});
