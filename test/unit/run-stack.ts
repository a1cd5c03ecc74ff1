/** Runs index.ts for one stack under mocks in a child process (see stack-runner.ts). */
import { execFileSync } from "child_process";
import * as path from "path";

export interface StackRun {
  resources?: { type: string; name: string; inputs: Record<string, unknown> }[];
  outputs?: Record<string, unknown>;
  error?: string;
  /** The thrown error's name (ConfigError, StackSelectionError...). */
  errorName?: string;
  /** True when the program threw a pulumi.RunError (printed by the CLI without a stack trace). */
  runError?: boolean;
}

export function runStackUnderMocks(
  stack: string,
  config: Record<string, string | { secret: string }>,
): StackRun {
  const out = execFileSync(
    process.execPath,
    ["-r", "ts-node/register/transpile-only", path.join(__dirname, "stack-runner.ts")],
    {
      env: { ...process.env, G8OS_UNIT_STACK: stack, G8OS_UNIT_CONFIG: JSON.stringify(config) },
      encoding: "utf8",
      timeout: 60_000,
      // Dynamic resources carry their serialized provider in their inputs: a stack with VMs prints MBs.
      maxBuffer: 256 * 1024 * 1024,
    },
  );
  const line = out.trim().split("\n").pop() ?? "{}";
  return JSON.parse(line) as StackRun;
}
