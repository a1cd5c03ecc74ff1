/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Child-process entry for unit tests: runs the real program (index.ts) for one stack under
 * `pulumi.runtime.setMocks` and prints one JSON line: registered resources and stack outputs, or the
 * error. A child per stack because Node caches the imported program (one stack per process).
 * Input (env): G8OS_UNIT_STACK, G8OS_UNIT_CONFIG (JSON {key: value | {secret: value}}).
 */
import * as pulumi from "@pulumi/pulumi";

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

main().catch((err) => {
  process.stdout.write(JSON.stringify({ error: String(err) }) + "\n");
});
