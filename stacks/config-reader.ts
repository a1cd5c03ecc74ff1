/**
 * Reads `g8os:*` stack config and collects every problem before failing, so a user fixes all of them
 * in one go instead of one `pulumi up` per missing key. Each problem names the key and the command
 * that fixes it. Secrets must be set with `--secret`: a secret key holding plain text is an error.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Validator } from "../providers/shared/validate";

/** Thrown once, with every problem found, before any resource is registered. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `g8os configuration has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

export class ConfigReader {
  private readonly config: pulumi.Config;
  readonly problems: string[] = [];

  constructor(readonly namespace = "g8os") {
    this.config = new pulumi.Config(namespace);
  }

  private full(key: string): string {
    return `${this.namespace}:${key}`;
  }

  private isSecret(key: string): boolean {
    const rt = pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean };
    return rt.isConfigSecret ? rt.isConfigSecret(this.full(key)) : true;
  }

  /** A plain string; `example` goes into the fix when it is missing. */
  string(key: string, opts: { required: true; example: string; check?: Validator }): string;
  string(
    key: string,
    opts?: { required?: false; example?: string; check?: Validator; default?: string },
  ): string | undefined;
  string(
    key: string,
    opts: { required?: boolean; example?: string; check?: Validator; default?: string } = {},
  ): string | undefined {
    const v = this.config.get(key);
    if (v === undefined || v === "") {
      if (opts.required) {
        this.problems.push(
          `${this.full(key)} is required. Fix: \`pulumi config set ${this.full(key)} ${opts.example ?? "<value>"}\``,
        );
      }
      return opts.default;
    }
    const reason = opts.check?.(v);
    if (reason)
      this.problems.push(`${this.full(key)} ${reason}. Fix: \`pulumi config set ${this.full(key)} <value>\``);
    return v;
  }

  /** A JSON object (set with `pulumi config set --path` or as YAML in Pulumi.<stack>.yaml). */
  object<T>(key: string, opts: { required: true; example: string }): T | undefined;
  object<T>(key: string, opts?: { required?: false; example?: string }): T | undefined;
  object<T>(key: string, opts: { required?: boolean; example?: string } = {}): T | undefined {
    let v: T | undefined;
    try {
      v = this.config.getObject<T>(key);
    } catch {
      this.problems.push(
        `${this.full(key)} is not valid JSON/YAML. Fix: set it as a YAML mapping in Pulumi.<stack>.yaml`,
      );
      return undefined;
    }
    if (v === undefined && opts.required) {
      this.problems.push(
        `${this.full(key)} is required. Fix: add it to Pulumi.<stack>.yaml, e.g. ${opts.example ?? "{...}"}`,
      );
    }
    if (v !== undefined && (typeof v !== "object" || v === null || Array.isArray(v))) {
      this.problems.push(`${this.full(key)} must be a mapping (key: value), not ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }

  /**
   * A secret: must exist (when required) and must have been set with `--secret`.
   * Returns an Output marked secret; its plaintext never passes through this module.
   */
  secret(key: string, opts: { required: true; what: string }): pulumi.Output<string>;
  secret(key: string, opts: { required?: false; what: string }): pulumi.Output<string> | undefined;
  secret(key: string, opts: { required?: boolean; what: string }): pulumi.Output<string> | undefined {
    // Read the raw value's presence through the runtime: `config.get` on a secret logs a warning.
    const set = pulumi.runtime.getConfig(this.full(key)) !== undefined;
    if (!set) {
      if (opts.required) {
        this.problems.push(
          `${this.full(key)} (${opts.what}) is required. Fix: \`pulumi config set --secret ${this.full(key)} <value>\``,
        );
      }
      return undefined;
    }
    if (!this.isSecret(key)) {
      this.problems.push(
        `${this.full(key)} (${opts.what}) is stored in plain text. Fix: \`pulumi config set --secret ${this.full(key)} <value>\``,
      );
    }
    return this.config.requireSecret(key);
  }

  /** Records a problem found by the caller's own cross-field checks. */
  problem(key: string, message: string): void {
    this.problems.push(`${this.full(key)} ${message}`);
  }

  /** Throws one ConfigError listing every problem, if any were found. */
  done(): void {
    if (this.problems.length > 0) throw new ConfigError([...this.problems]);
  }
}
