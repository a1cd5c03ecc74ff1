/**
 * Command-line parsing for the `pulumi` stand-in: the flags the Automation API sends
 * (@pulumi/pulumi automation/localWorkspace.js, stack.js, cmd.js), cobra-style (`--f v`, `--f=v`,
 * `-s v`, `--` ends the flags). An unknown flag is an error, as in the CLI.
 */
export class CliError extends Error {
  constructor(
    message: string,
    /** Process exit code, as pulumi/pulumi pkg/cmd/pulumi/cmd/exit_codes.go maps the error. */
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Exit codes of pulumi/pulumi pkg/cmd/pulumi/cmd/exit_codes.go (at 1b5949891b). */
export const EXIT = {
  error: 1,
  configuration: 2,
  stackNotFound: 6,
  noChanges: 7,
  cancelled: 8,
} as const;

/** Flags that take a value (everything else is boolean). Short forms map to long ones. */
const VALUED = new Set([
  "stack",
  "secrets-provider",
  "event-log",
  "exec-kind",
  "exec-agent",
  "message",
  "target",
  "replace",
  "exclude",
  "parallel",
  "color",
  "config-file",
  "client",
  "file",
  "page-size",
  "page",
  "verbose",
  "tracing",
  "plan",
  "save-plan",
  "import-file",
  "policy-pack",
  "policy-pack-config",
  "cwd",
  "json-value",
]);
const BOOLEAN = new Set([
  "yes",
  "skip-preview",
  "non-interactive",
  "json",
  "show-secrets",
  "secret",
  "plaintext",
  "path",
  "diff",
  "refresh",
  "expect-no-changes",
  "target-dependents",
  "exclude-dependents",
  "exclude-protected",
  "continue-on-error",
  "force",
  "preserve-config",
  "no-select",
  "preview-only",
  "local",
  "debug",
  "logflow",
  "logtostderr",
  "suppress-outputs",
  "suppress-progress",
  "all",
  "help",
  "run-program",
  "clear-pending-creates",
  "attach-debugger",
  "remove",
]);
const SHORT: Record<string, string> = {
  s: "stack",
  y: "yes",
  j: "json",
  m: "message",
  t: "target",
  p: "parallel",
  f: "force",
  l: "local",
  v: "verbose",
  C: "cwd",
};

export interface ParsedArgs {
  /** Words before/among the flags, in order (command words first, then arguments). */
  words: string[];
  /** Every flag's values in order ("true"/"false" for booleans). */
  flags: Map<string, string[]>;
}

/** `extraValued`: flags that take a value in this command only (`config set-all --secret k=v`). */
export function parseArgs(argv: string[], extraValued: string[] = []): ParsedArgs {
  const words: string[] = [];
  const flags = new Map<string, string[]>();
  const add = (k: string, v: string): void => void flags.set(k, [...(flags.get(k) ?? []), v]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      words.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith("-") || a === "-") {
      words.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    let name = a.startsWith("--") ? a.slice(2, eq > 0 ? eq : undefined) : a.slice(1, eq > 0 ? eq : undefined);
    if (!a.startsWith("--")) {
      const long = SHORT[name];
      if (!long) throw new CliError(`unknown shorthand flag: '${name}' in ${a}`, EXIT.configuration);
      name = long;
    }
    const inline = eq > 0 ? a.slice(eq + 1) : undefined;
    if (VALUED.has(name) || extraValued.includes(name)) {
      if (inline !== undefined) add(name, inline);
      else if (i + 1 < argv.length) add(name, argv[++i]);
      else throw new CliError(`flag needs an argument: --${name}`, EXIT.configuration);
    } else if (BOOLEAN.has(name)) {
      if (inline !== undefined && inline !== "true" && inline !== "false")
        throw new CliError(
          `invalid argument "${inline}" for "--${name}" flag: want true or false`,
          EXIT.configuration,
        );
      add(name, inline ?? "true");
    } else {
      throw new CliError(`unknown flag: --${name}`, EXIT.configuration);
    }
  }
  return { words, flags };
}

export function flag(a: ParsedArgs, name: string): string | undefined {
  const v = a.flags.get(name);
  return v ? v[v.length - 1] : undefined;
}

export function bool(a: ParsedArgs, name: string): boolean {
  return flag(a, name) === "true";
}

export function all(a: ParsedArgs, name: string): string[] {
  return a.flags.get(name) ?? [];
}
