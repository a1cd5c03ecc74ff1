/**
 * Reads `g8os:*` stack config and collects every problem before failing, so a user fixes all of them
 * in one go instead of one `pulumi up` per missing key. Each problem names the key (or file and
 * field), what is wrong and the fix. Secrets must be set with `--secret`: a secret key holding plain
 * text is an error, and no message ever shows a secret's value.
 *
 * The known keys are the ones in Pulumi.yaml's `config:` schema: a set key the schema lacks is an
 * error with a "did you mean", and reading a key the schema lacks is a program bug reported the
 * same way (test/unit/config-schema.test.ts keeps the two in step).
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { didYouMean, type Validator } from "../providers/shared/validate";

/**
 * Thrown once, with every problem found, before any resource is registered. A `pulumi.RunError`,
 * so the CLI prints the message alone (no "unhandled exception", no stack trace).
 */
export class ConfigError extends pulumi.RunError {
  constructor(
    /** One line per problem: `<key or file>: <field>: <what is wrong>. Fix: <fix>`. */
    readonly problems: string[],
  ) {
    const message =
      `g8os configuration has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` +
      problems.map((p) => `  - ${p.split("\n").join("\n    ")}`).join("\n");
    super(message);
    this.message = message;
    this.name = "ConfigError";
  }
}

/** Every key a reader was asked for in this process, in order, repeats included (tests compare it with the schema). */
const READ: string[] = [];

/** The keys read so far (a copy). */
export function keysRead(): string[] {
  return [...READ];
}

/** Path of the project file whose `config:` schema lists the known keys. */
export const PROJECT_FILE = path.join(__dirname, "..", "Pulumi.yaml");

/** The keys of Pulumi.yaml's `config:` schema (without the `g8os:` namespace). */
export function schemaKeys(file = PROJECT_FILE): string[] {
  return Object.keys(schemaDefaults(file));
}

/**
 * Each schema key's default as the CLI hands it to the program when the stack leaves the key unset:
 * primitives as text, lists as JSON (pulumi/pulumi sdk/go/common/workspace, createConfigValue).
 */
export function schemaDefaults(file = PROJECT_FILE): Record<string, string | undefined> {
  const yaml = require("js-yaml") as typeof import("js-yaml");
  const doc = yaml.load(fs.readFileSync(file, "utf8")) as
    { config?: Record<string, { default?: unknown } | null> } | undefined;
  return Object.fromEntries(
    Object.entries(doc?.config ?? {}).map(([k, v]) => {
      const d = v?.default;
      return [k, d === undefined ? undefined : typeof d === "object" ? JSON.stringify(d) : String(d)];
    }),
  );
}

/** `["a", "b"]` as the user would type it in `pulumi config set --path` / Pulumi.<stack>.yaml. */
function jsonList(items: string[]): string {
  return JSON.stringify(items);
}

export class ConfigReader {
  private readonly config: pulumi.Config;
  readonly problems: string[] = [];
  private readonly known: string[];
  private readonly defaults: Record<string, string | undefined>;

  constructor(readonly namespace = "g8os") {
    this.config = new pulumi.Config(namespace);
    this.defaults = schemaDefaults();
    this.known = Object.keys(this.defaults);
  }

  private full(key: string): string {
    return `${this.namespace}:${key}`;
  }

  /** A program reading a key the schema lacks is a bug: reported, so tests and users see it. */
  private declared(key: string): void {
    READ.push(key);
    if (!this.known.includes(key))
      this.add(
        key,
        "is read by the program but missing from Pulumi.yaml's config schema",
        `add \`${key}\` under \`config:\` in Pulumi.yaml (program bug: please report it)`,
      );
  }

  private isSecret(key: string): boolean {
    const rt = pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean };
    return rt.isConfigSecret ? rt.isConfigSecret(this.full(key)) : true;
  }

  /**
   * The raw text of a key, or undefined when unset (never logs, also for secrets). A value equal to
   * the schema default counts as unset: it is what the CLI passes for a key the stack leaves unset.
   */
  private raw(key: string): string | undefined {
    const v = pulumi.runtime.getConfig(this.full(key));
    return v === this.defaults[key] ? undefined : v;
  }

  /** True when the key is set at all (even to ""). */
  isSet(key: string): boolean {
    this.declared(key);
    return this.raw(key) !== undefined;
  }

  /**
   * A plain string; `example` goes into the fix when it is missing. A key set to "" (or blanks) is a
   * problem, never silently the default.
   */
  string(key: string, opts: { required: true; example: string; check?: Validator }): string;
  string(
    key: string,
    opts?: { required?: false; example?: string; check?: Validator; default?: string },
  ): string | undefined;
  string(
    key: string,
    opts: { required?: boolean; example?: string; check?: Validator; default?: string } = {},
  ): string | undefined {
    this.declared(key);
    const v = this.raw(key);
    const setCmd = `\`pulumi config set ${this.full(key)} ${opts.example ?? "<value>"}\``;
    if (v === undefined) {
      if (opts.required) this.add(key, "is required", setCmd);
      return opts.default;
    }
    if (v.trim() === "") {
      this.add(
        key,
        "is set but empty",
        opts.required || opts.default === undefined
          ? setCmd
          : `${setCmd}, or \`pulumi config rm ${this.full(key)}\` for the default (${JSON.stringify(opts.default)})`,
      );
      return opts.default;
    }
    const reason = opts.check?.(v);
    if (reason) this.add(key, `${JSON.stringify(v)} ${reason}`, setCmd);
    return v;
  }

  /**
   * A list of strings, read from the raw config text (JSON), so a bad value is a problem in this
   * report instead of an exception from `getObject` that hides every other problem. A plain string
   * gets a fix showing the JSON form. `check` runs on each item; problems name `key[i]`.
   */
  list(key: string, opts: { example: string[]; check?: Validator }): string[] | undefined {
    this.declared(key);
    const raw = this.raw(key);
    if (raw === undefined) return undefined;
    const fix = (items: string[]) =>
      `write it as a JSON list: \`pulumi config set ${this.full(key)} '${jsonList(items)}'\` (or \`${this.full(key)}: ${jsonList(items)}\` in Pulumi.<stack>.yaml)`;
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch {
      const items = raw
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "");
      this.add(
        key,
        `is the plain string ${JSON.stringify(raw)}, not a list`,
        fix(items.length ? items : opts.example),
      );
      return undefined;
    }
    if (!Array.isArray(v)) {
      this.add(key, `is ${JSON.stringify(v)}, not a list`, fix(typeof v === "string" ? [v] : opts.example));
      return undefined;
    }
    let ok = true;
    v.forEach((item, i) => {
      if (typeof item !== "string") {
        ok = false;
        this.add(
          `${key}[${i}]`,
          `is ${JSON.stringify(item)}, not a string`,
          `quote it: ${jsonList([String(item)])}`,
        );
        return;
      }
      const reason = opts.check?.(item);
      if (reason)
        this.add(
          `${key}[${i}]`,
          `${JSON.stringify(item)} ${reason}`,
          `correct it, e.g. ${jsonList(opts.example)}`,
        );
    });
    return ok ? (v as string[]) : undefined;
  }

  /**
   * A secret: must exist (when required) and must have been set with `--secret`.
   * Returns an Output marked secret. `check` runs on the plaintext at preview (its reason must not
   * quote the value); the plaintext itself never leaves this method.
   */
  secret(key: string, opts: { required: true; what: string; check?: Validator }): pulumi.Output<string>;
  secret(
    key: string,
    opts: { required?: false; what: string; check?: Validator },
  ): pulumi.Output<string> | undefined;
  secret(
    key: string,
    opts: { required?: boolean; what: string; check?: Validator },
  ): pulumi.Output<string> | undefined {
    this.declared(key);
    // Read the raw value through the runtime: `config.get` on a secret logs a warning.
    const raw = this.raw(key);
    const setCmd = `\`pulumi config set --secret ${this.full(key)} <value>\``;
    if (raw === undefined || raw === "") {
      if (opts.required)
        this.add(key, `(${opts.what}) ${raw === "" ? "is set but empty" : "is required"}`, setCmd);
      return undefined;
    }
    if (!this.isSecret(key)) this.add(key, `(${opts.what}) is stored in plain text`, setCmd);
    const reason = opts.check?.(raw);
    if (reason) this.add(key, `(${opts.what}) ${reason}`, setCmd);
    return this.config.requireSecret(key);
  }

  /**
   * Records a problem: `key` (may carry an index, `zerotierPools[1]`), what is wrong, the fix.
   * The line reads `g8os:<key>: <problem>. Fix: <fix>`.
   */
  add(key: string, problem: string, fix: string): void {
    this.problems.push(`${this.full(key)}: ${problem}. Fix: ${fix}`);
  }

  /** Records problems already formatted by a file loader (`<file>: <field>: <problem>. Fix: ...`). */
  addLines(lines: string[]): void {
    this.problems.push(...lines);
  }

  /** Every `g8os:` key that is set but not in the schema: an error, with the nearest known key. */
  checkUnknownKeys(): void {
    const prefix = `${this.namespace}:`;
    for (const full of Object.keys(pulumi.runtime.allConfig())) {
      if (!full.startsWith(prefix)) continue;
      const key = full.slice(prefix.length);
      if (this.known.includes(key)) continue;
      const near = didYouMean(key, this.known);
      this.add(
        key,
        `is not a g8os setting${near ? ` (did you mean ${this.full(near)}?)` : ""}`,
        near
          ? `\`pulumi config rm ${full}\` and set ${this.full(near)} instead`
          : `\`pulumi config rm ${full}\` (known keys: Pulumi.yaml \`config:\`)`,
      );
    }
  }

  /** Throws one ConfigError listing every problem, if any were found. */
  done(): void {
    if (this.problems.length > 0) throw new ConfigError([...this.problems]);
  }
}
