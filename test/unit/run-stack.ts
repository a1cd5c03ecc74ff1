/** Runs index.ts for one stack under mocks in a child process (see stack-runner.ts). */
import { execFileSync } from "child_process";
import * as path from "path";
import { TS_REGISTER } from "../ts-register-path";

export interface StackRun {
  resources?: { type: string; name: string; inputs: Record<string, unknown> }[];
  outputs?: Record<string, unknown>;
  error?: string;
  /** The thrown error's name (ConfigError, StackSelectionError...). */
  errorName?: string;
  /** True when the program threw a pulumi.RunError (printed by the CLI without a stack trace). */
  runError?: boolean;
  /** The g8os: keys the program read (stacks/config-reader keysRead), batch runs only. */
  keysRead?: string[];
}

/** One run of a batch: a stack name and its config (preview: the default, values may be unknown). */
export interface BatchRun {
  stack: string;
  config: Record<string, string | { secret: string }>;
  /** Default true: run as a preview, where only what the program knows up front can be checked. */
  preview?: boolean;
}

/**
 * Runs many stacks in one child process (stack-runner.ts batch mode), in order; one StackRun each.
 * The child re-requires the program per run, so runs do not share state.
 */
export function runStacksUnderMocks(runs: BatchRun[]): StackRun[] {
  const fs = require("fs") as typeof import("fs");
  const os = require("os") as typeof import("os");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-batch-"));
  const file = path.join(dir, "runs.json");
  fs.writeFileSync(file, JSON.stringify(runs));
  try {
    const out = execFileSync(process.execPath, ["-r", TS_REGISTER, path.join(__dirname, "stack-runner.ts")], {
      env: { ...process.env, G8OS_UNIT_BATCH: file },
      encoding: "utf8",
      timeout: 300_000,
      maxBuffer: 512 * 1024 * 1024,
    });
    const lines = out
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("{"));
    return lines.map((l) => JSON.parse(l) as StackRun);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function runStackUnderMocks(
  stack: string,
  config: Record<string, string | { secret: string }>,
): StackRun {
  const out = execFileSync(process.execPath, ["-r", TS_REGISTER, path.join(__dirname, "stack-runner.ts")], {
    env: { ...process.env, G8OS_UNIT_STACK: stack, G8OS_UNIT_CONFIG: JSON.stringify(config) },
    encoding: "utf8",
    timeout: 60_000,
    // Dynamic resources carry their serialized provider in their inputs: a stack with VMs prints MBs.
    maxBuffer: 256 * 1024 * 1024,
  });
  const line = out.trim().split("\n").pop() ?? "{}";
  return JSON.parse(line) as StackRun;
}
