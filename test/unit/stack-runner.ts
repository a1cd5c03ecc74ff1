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
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    "g8os",
    stack,
    true,
  );
  let outputs: unknown;
  try {
    const program = require("../../index");
    outputs = await new Promise((resolve) => pulumi.output(program).apply(resolve));
  } catch (err) {
    process.stdout.write(JSON.stringify({ error: err instanceof Error ? err.message : String(err) }) + "\n");
    return;
  }
  // Let pending registrations settle before reporting.
  await new Promise((r) => setTimeout(r, 50));
  process.stdout.write(JSON.stringify({ resources, outputs }) + "\n");
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ error: String(err) }) + "\n");
});
