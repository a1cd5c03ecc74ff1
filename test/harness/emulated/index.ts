/**
 * Stand-ins for the native providers our stacks use (their plugins cannot be downloaded here):
 * random RandomPassword / RandomId, tls PrivateKey, command local.Command / remote.Command, and
 * explicit provider resources (`pulumi:providers:*`). They produce REAL values under the
 * documented output names, honour the documented inputs and replace/update rules, and declare
 * the outputs the real schemas mark secret.
 */
import { spawn } from "child_process";
import * as crypto from "crypto";
import { containsUnknown, jsonEqual, plainOutputs, UNKNOWN } from "../../../providers/shared/dynamic";
import { redact } from "../../../providers/shared/errors";
import { shellQuote, sshFingerprint, withSsh } from "../../../providers/shared/ssh";
import { collectFailures, intInRange, nonEmptyString, FieldRule } from "../../../providers/shared/validate";
import type { Props } from "../secrets";
import type { CallContext, CheckResult, DiffResult, EngineProvider } from "../provider";
import { ECDSA_CURVES, generateKey, KeyAlgorithm } from "./keys";

/** Base for providers whose every input change means a new object (random, tls). */
abstract class ReplaceOnAnyChange implements EngineProvider {
  abstract readonly secretOutputs: readonly string[];
  abstract check(ctx: CallContext, olds: Props, news: Props): Promise<CheckResult>;
  abstract create(ctx: CallContext, news: Props): Promise<{ id: string; outputs: Props }>;

  async diff(
    _ctx: CallContext,
    _id: string,
    _oldOutputs: Props,
    news: Props,
    oldInputs: Props,
  ): Promise<DiffResult> {
    const changed = changedKeys(oldInputs, news);
    return { changes: changed.length > 0, replaces: changed, deleteBeforeReplace: false, diffs: changed };
  }

  async read(_ctx: CallContext, id: string, outputs: Props): Promise<{ id: string; outputs: Props }> {
    return { id, outputs };
  }

  async update(): Promise<Props> {
    throw new Error("internal: update called on a replace-only resource");
  }

  async delete(): Promise<void> {}
}

export function changedKeys(a: Props, b: Props): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => k !== "__provider" && !jsonEqual(a[k], b[k])).sort();
}

function withDefaults(news: Props, defaults: Props): Props {
  const out: Props = { ...defaults };
  for (const [k, v] of Object.entries(news)) if (v !== undefined && v !== null) out[k] = v;
  return out;
}

const boolean = (v: unknown): string | undefined =>
  typeof v === "boolean" ? undefined : "must be true or false";

const DEFAULT_SPECIAL = "!@#$%&*()-_=+[]{}<>:?";

class RandomPassword extends ReplaceOnAnyChange {
  readonly secretOutputs = ["result", "bcryptHash"];

  async check(_ctx: CallContext, _olds: Props, news: Props): Promise<CheckResult> {
    const numeric = news.numeric ?? news.number ?? true;
    const inputs = withDefaults(news, {
      special: true,
      upper: true,
      lower: true,
      numeric,
      number: numeric,
      minUpper: 0,
      minLower: 0,
      minNumeric: 0,
      minSpecial: 0,
    });
    const rules: FieldRule[] = [{ path: "length", value: inputs.length, check: intInRange(1, 4096) }];
    for (const f of ["special", "upper", "lower", "numeric"])
      rules.push({ path: f, value: inputs[f], check: boolean });
    for (const f of ["minUpper", "minLower", "minNumeric", "minSpecial"]) {
      rules.push({ path: f, value: inputs[f], check: intInRange(0, 4096) });
    }
    const failures = collectFailures(rules);
    if (!failures.length && !containsUnknown(inputs)) {
      const mins = ["minUpper", "minLower", "minNumeric", "minSpecial"].reduce(
        (s, f) => s + (inputs[f] as number),
        0,
      );
      if (mins > (inputs.length as number)) {
        failures.push({
          property: "length",
          reason: `must be at least the sum of the min* counts (${mins})`,
        });
      }
      if (!charSets(inputs).length) {
        failures.push({
          property: "special",
          reason: "at least one of upper, lower, numeric, special must be true",
        });
      }
    }
    return { inputs, failures };
  }

  async create(_ctx: CallContext, news: Props): Promise<{ id: string; outputs: Props }> {
    const sets = charSets(news);
    const chars: string[] = [];
    for (const s of sets) for (let i = 0; i < s.min; i++) chars.push(pick(s.chars));
    const all = sets.map((s) => s.chars).join("");
    while (chars.length < (news.length as number)) chars.push(pick(all));
    for (let i = chars.length - 1; i > 0; i--) {
      const j = crypto.randomInt(i + 1);
      [chars[i], chars[j]] = [chars[j], chars[i]];
    }
    const result = chars.join("");
    const bcrypt = require("bcryptjs") as typeof import("bcryptjs");
    return { id: "none", outputs: { ...news, result, bcryptHash: bcrypt.hashSync(result, 10) } };
  }
}

function charSets(p: Props): { chars: string; min: number }[] {
  const special = typeof p.overrideSpecial === "string" ? p.overrideSpecial : DEFAULT_SPECIAL;
  return [
    { on: p.upper, chars: "ABCDEFGHIJKLMNOPQRSTUVWXYZ", min: p.minUpper },
    { on: p.lower, chars: "abcdefghijklmnopqrstuvwxyz", min: p.minLower },
    { on: p.numeric, chars: "0123456789", min: p.minNumeric },
    { on: p.special, chars: special, min: p.minSpecial },
  ]
    .filter((s) => s.on === true && s.chars.length > 0)
    .map((s) => ({ chars: s.chars, min: Number(s.min) || 0 }));
}

function pick(chars: string): string {
  return chars[crypto.randomInt(chars.length)];
}

class RandomId extends ReplaceOnAnyChange {
  readonly secretOutputs = [];

  async check(_ctx: CallContext, _olds: Props, news: Props): Promise<CheckResult> {
    const inputs = withDefaults(news, {});
    return {
      inputs,
      failures: collectFailures([
        { path: "byteLength", value: inputs.byteLength, check: intInRange(1, 1024) },
        {
          path: "prefix",
          value: inputs.prefix,
          check: (v) => (typeof v === "string" ? undefined : "must be a string"),
          optional: true,
        },
      ]),
    };
  }

  async create(_ctx: CallContext, news: Props): Promise<{ id: string; outputs: Props }> {
    const bytes = crypto.randomBytes(news.byteLength as number);
    const prefix = typeof news.prefix === "string" ? news.prefix : "";
    const b64Url = bytes.toString("base64url");
    return {
      id: b64Url,
      outputs: {
        ...news,
        b64Std: prefix + bytes.toString("base64"),
        b64Url: prefix + b64Url,
        hex: prefix + bytes.toString("hex"),
        dec: prefix + BigInt("0x" + bytes.toString("hex")).toString(10),
      },
    };
  }
}

class TlsPrivateKey extends ReplaceOnAnyChange {
  readonly secretOutputs = ["privateKeyOpenssh", "privateKeyPem", "privateKeyPemPkcs8"];

  async check(_ctx: CallContext, _olds: Props, news: Props): Promise<CheckResult> {
    const inputs = withDefaults(news, { rsaBits: 2048, ecdsaCurve: "P224" });
    return {
      inputs,
      failures: collectFailures([
        {
          path: "algorithm",
          value: inputs.algorithm,
          check: (v) =>
            v === "RSA" || v === "ECDSA" || v === "ED25519" ? undefined : "must be RSA, ECDSA or ED25519",
        },
        { path: "rsaBits", value: inputs.rsaBits, check: intInRange(1024, 8192) },
        {
          path: "ecdsaCurve",
          value: inputs.ecdsaCurve,
          check: (v) =>
            ECDSA_CURVES.includes(v as string) ? undefined : `must be one of ${ECDSA_CURVES.join(", ")}`,
        },
      ]),
    };
  }

  async create(_ctx: CallContext, news: Props): Promise<{ id: string; outputs: Props }> {
    const { id, ...keys } = await generateKey(
      news.algorithm as KeyAlgorithm,
      news.rsaBits as number,
      news.ecdsaCurve as string,
    );
    return { id, outputs: { ...news, ...keys } };
  }
}

/** Explicit provider resources (`new random.Provider(...)`): nothing to do but keep their config. */
class ProviderResource extends ReplaceOnAnyChange {
  readonly secretOutputs = [];

  async check(_ctx: CallContext, _olds: Props, news: Props): Promise<CheckResult> {
    return { inputs: news, failures: [] };
  }

  async create(_ctx: CallContext, news: Props): Promise<{ id: string; outputs: Props }> {
    return { id: crypto.randomUUID(), outputs: news };
  }

  async diff(): Promise<DiffResult> {
    return { changes: false, replaces: [], deleteBeforeReplace: false, diffs: [] };
  }
}

/** Every command run is bounded: a hung command fails the step instead of the test run. */
const COMMAND_TIMEOUT_MS = 10 * 60_000;

interface CommandRun {
  stdout: string;
  stderr: string;
}

/**
 * command:local:Command and command:remote:Command: `create` on create, `update` (or `create` when
 * unset) on an input change, `delete` on delete; a change of `triggers` replaces. Outputs are the
 * inputs plus `stdout` / `stderr` (one trailing newline trimmed, as the provider does).
 */
abstract class CommandBase implements EngineProvider {
  readonly secretOutputs = [];
  protected abstract readonly kind: string;
  protected abstract exec(
    ctx: CallContext,
    inputs: Props,
    command: string,
    env: Record<string, string>,
  ): Promise<CommandRun>;

  async check(_ctx: CallContext, _olds: Props, news: Props): Promise<CheckResult> {
    const rules: FieldRule[] = ["create", "update", "delete"].map((f) => ({
      path: f,
      value: news[f],
      check: nonEmptyString,
      optional: true,
    }));
    return { inputs: withDefaults(news, { addPreviousOutputInEnv: true }), failures: collectFailures(rules) };
  }

  async diff(
    _ctx: CallContext,
    _id: string,
    _oldOutputs: Props,
    news: Props,
    oldInputs: Props,
  ): Promise<DiffResult> {
    const changed = changedKeys(oldInputs, news);
    const replaces = changed.filter((k) => k === "triggers");
    return { changes: changed.length > 0, replaces, deleteBeforeReplace: false, diffs: changed };
  }

  async create(ctx: CallContext, news: Props): Promise<{ id: string; outputs: Props }> {
    const run =
      typeof news.create === "string" ? await this.exec(ctx, news, news.create, this.env(news)) : undefined;
    return { id: `${ctx.name}${crypto.randomBytes(4).toString("hex")}`, outputs: this.outputs(news, run) };
  }

  async read(_ctx: CallContext, id: string, outputs: Props): Promise<{ id: string; outputs: Props }> {
    return { id, outputs };
  }

  async update(ctx: CallContext, _id: string, oldOutputs: Props, news: Props): Promise<Props> {
    const command = typeof news.update === "string" ? news.update : news.create;
    if (typeof command !== "string") return this.outputs(news, undefined);
    const run = await this.exec(ctx, news, command, this.env(news, oldOutputs));
    return this.outputs(news, run);
  }

  async delete(ctx: CallContext, _id: string, outputs: Props): Promise<void> {
    if (typeof outputs.delete === "string")
      await this.exec(ctx, outputs, outputs.delete, this.env(outputs, outputs));
  }

  private env(inputs: Props, previous?: Props): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries((inputs.environment as Props) ?? {})) env[k] = String(v);
    if (previous && inputs.addPreviousOutputInEnv !== false) {
      env.PULUMI_COMMAND_STDOUT = String(previous.stdout ?? "");
      env.PULUMI_COMMAND_STDERR = String(previous.stderr ?? "");
    }
    return env;
  }

  private outputs(inputs: Props, run: CommandRun | undefined): Props {
    return plainOutputs({ ...inputs, stdout: run?.stdout ?? "", stderr: run?.stderr ?? "" });
  }

  protected failure(ctx: CallContext, code: number | string, run: CommandRun): Error {
    const tail = (run.stderr || run.stdout).trim().split("\n").slice(-5).join(" | ");
    return new Error(
      redact(
        `${this.kind} "${ctx.name}": command exited with ${code}: ${tail || "(no output)"}`,
        ctx.secrets,
      ),
    );
  }
}

class LocalCommand extends CommandBase {
  protected readonly kind = "local.Command";

  protected exec(
    ctx: CallContext,
    inputs: Props,
    command: string,
    env: Record<string, string>,
  ): Promise<CommandRun> {
    const interpreter =
      Array.isArray(inputs.interpreter) && inputs.interpreter.length
        ? (inputs.interpreter as string[])
        : ["/bin/sh", "-c"];
    return new Promise((resolve, reject) => {
      const child = spawn(interpreter[0], [...interpreter.slice(1), command], {
        cwd: typeof inputs.dir === "string" ? inputs.dir : undefined,
        env: { ...process.env, ...env },
        stdio: ["pipe", "pipe", "pipe"],
        timeout: COMMAND_TIMEOUT_MS,
      });
      const run = { stdout: "", stderr: "" };
      child.stdout.setEncoding("utf8").on("data", (d: string) => (run.stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (run.stderr += d));
      child.on("error", (err) =>
        reject(new Error(redact(`${this.kind} "${ctx.name}": ${err.message}`, ctx.secrets))),
      );
      child.on("close", (code, signal) => {
        const trimmed = { stdout: run.stdout.replace(/\n$/, ""), stderr: run.stderr.replace(/\n$/, "") };
        if (code === 0) resolve(trimmed);
        else reject(this.failure(ctx, signal ? `signal ${signal}` : `status ${code}`, trimmed));
      });
      // A command that exits without reading its stdin closes the pipe: not an error.
      child.stdin.on("error", () => undefined);
      child.stdin.end(typeof inputs.stdin === "string" ? inputs.stdin : "");
    });
  }
}

class RemoteCommand extends CommandBase {
  protected readonly kind = "remote.Command";

  async check(ctx: CallContext, olds: Props, news: Props): Promise<CheckResult> {
    const r = await super.check(ctx, olds, news);
    // In a preview the whole `connection` can be unknown (its host is another resource's output):
    // every field is then unknown, and unknown values are checked at `up` time, not failed now.
    const whole = containsUnknown(news.connection) && typeof news.connection === "string";
    const c = (whole ? {} : (news.connection ?? {})) as Props;
    const field = (k: string): unknown => (whole ? UNKNOWN : c[k]);
    r.failures.push(
      ...collectFailures([
        { path: "connection.host", value: field("host"), check: nonEmptyString },
        { path: "connection.port", value: field("port"), check: intInRange(1, 65535), optional: true },
        {
          path: "connection.privateKey",
          value: field("privateKey"),
          check: (v) =>
            typeof v === "string" && v.includes("PRIVATE KEY")
              ? undefined
              : "must be a PEM/OpenSSH private key (the harness emulates key authentication only, not passwords or agents)",
        },
      ]),
    );
    return r;
  }

  protected async exec(
    ctx: CallContext,
    inputs: Props,
    command: string,
    env: Record<string, string>,
  ): Promise<CommandRun> {
    const c = inputs.connection as Props;
    const hostKey = typeof c.hostKey === "string" ? c.hostKey.trim().split(/\s+/)[1] : undefined;
    const exports = Object.entries(env)
      .map(([k, v]) => `export ${k}=${shellQuote(v)}; `)
      .join("");
    const r = await withSsh(
      {
        host: c.host as string,
        port: (c.port as number) ?? 22,
        user: (c.user as string) ?? "root",
        privateKey: c.privateKey as string,
        hostKeySha256: hostKey ? sshFingerprint(Buffer.from(hostKey, "base64")) : undefined,
        connectTimeoutMs: typeof c.perDialTimeout === "number" ? c.perDialTimeout * 1000 : undefined,
      },
      {
        label: `${this.kind} "${ctx.name}"`,
        attempts: typeof c.dialErrorLimit === "number" ? Math.max(1, c.dialErrorLimit) : 3,
      },
      (s) =>
        s.exec(exports + command, {
          stdin: typeof inputs.stdin === "string" ? inputs.stdin : undefined,
          write: true,
          check: false,
          step: "run command",
          secrets: ctx.secrets,
        }),
    );
    const run = { stdout: r.stdout.replace(/\n$/, ""), stderr: r.stderr.replace(/\n$/, "") };
    if (r.code !== 0) throw this.failure(ctx, `status ${r.code}`, run);
    return run;
  }
}

const EMULATED: Record<string, EngineProvider> = {
  "random:index/randomPassword:RandomPassword": new RandomPassword(),
  "random:index/randomId:RandomId": new RandomId(),
  "tls:index/privateKey:PrivateKey": new TlsPrivateKey(),
  "command:local:Command": new LocalCommand(),
  "command:remote:Command": new RemoteCommand(),
};

const providerResource = new ProviderResource();

/** The stand-in for a non-dynamic resource type, or undefined when the harness has none. */
export function emulatedProvider(type: string): EngineProvider | undefined {
  if (type.startsWith("pulumi:providers:")) return providerResource;
  return EMULATED[type];
}

export const EMULATED_TYPES = Object.keys(EMULATED);
