/** command:local:Command and command:remote:Command (pulumi-command). */
import { spawn } from "child_process";
import * as crypto from "crypto";
import { containsUnknown, plainOutputs, UNKNOWN } from "../../../providers/shared/dynamic";
import { redact } from "../../../providers/shared/errors";
import { shellQuote, sshFingerprint, withSsh } from "../../../providers/shared/ssh";
import { collectFailures, intInRange, nonEmptyString, FieldRule } from "../../../providers/shared/validate";
import type { Props } from "../secrets";
import type { CallContext, CheckResult, DiffResult, EngineProvider } from "../provider";
import { changedKeys, withDefaults } from "./base";

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
export abstract class CommandBase implements EngineProvider {
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

export class LocalCommand extends CommandBase {
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

export class RemoteCommand extends CommandBase {
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
