/**
 * The stacks of the project directory: one per `Pulumi.<stack>.yaml` beside `Pulumi.yaml`
 * (read each time, so a re-synced project shows its new stacks without a restart).
 */
import * as fs from "fs";

/** Stack names found in `projectDir`, sorted; limited to `only` when given. */
export function projectStacks(projectDir: string, only?: readonly string[]): string[] {
  let names: string[];
  try {
    names = fs
      .readdirSync(projectDir)
      .map((f) => /^Pulumi\.([A-Za-z0-9_.-]+)\.ya?ml$/.exec(f)?.[1])
      .filter((n): n is string => !!n);
  } catch {
    return [];
  }
  const out = only ? names.filter((n) => only.includes(n)) : names;
  return [...new Set(out)].sort();
}
