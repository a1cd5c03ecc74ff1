/**
 * The `pulumi` CLI stand-in's entry point (test code; run by ./bin/pulumi). Answers the commands
 * and flags the Automation API sends (@pulumi/pulumi automation/localWorkspace.js, stack.js,
 * cmd.js) for local programs on a file backend, and runs preview/up/refresh/destroy on the engine
 * harness. What it covers and what it does not: README.md in this folder.
 */
import * as fs from "fs";
import * as os from "os";
import type { Harness } from "../index";
import { all, bool, CliError, EXIT, flag, parseArgs, ParsedArgs } from "./args";
import type * as Operations from "./operations";
import {
  Backend,
  backendUrl,
  currentStack,
  loadProject,
  login,
  passphrase,
  Project,
  selectStack,
  StackConfig,
  stackName,
} from "./workspace";

function write(text: string): void {
  process.stdout.write(text);
}

function writeErr(text: string): void {
  process.stderr.write(text);
}

/** The version `pulumi version` answers: G8OS_PULUMI_CLI_VERSION, else the installed SDK's own. */
export function standInVersion(): string {
  const v =
    process.env.G8OS_PULUMI_CLI_VERSION ||
    (require("@pulumi/pulumi/package.json") as { version: string }).version;
  return v.startsWith("v") ? v : `v${v}`;
}

interface Ctx {
  project: Project;
  backend: Backend;
}

function context(): Ctx {
  const project = loadProject(process.cwd());
  return { project, backend: new Backend(backendUrl(project), project) };
}

function resolveStack(c: Ctx, a: ParsedArgs, positional?: string): string {
  const ref = positional ?? flag(a, "stack") ?? currentStack(c.project);
  if (!ref)
    throw new CliError(
      "no stack selected; please use `pulumi stack select` or pass --stack",
      EXIT.stackNotFound,
    );
  return stackName(ref);
}

function json(v: unknown): void {
  write(JSON.stringify(v, null, 4) + "\n");
}

// The harness and the operations load only when a command needs them (each command is a process).
function operations(): typeof Operations {
  return require("./operations") as typeof Operations;
}

function harnessFor(c: Ctx, stack: string): Harness {
  const { Harness: H } = require("../index") as typeof import("../index");
  return new H({
    program: c.project.program,
    project: c.project.name,
    stack,
    stateFile: c.backend.stateFile(stack),
    passphrase: passphrase(),
    projectFile: false,
  });
}

function stackOutputs(c: Ctx, stack: string, showSecrets: boolean): Record<string, unknown> {
  const h = harnessFor(c, stack);
  const raw = h.state().find((r) => r.type === "pulumi:pulumi:Stack" && !r.parent && !r.pendingDelete);
  if (!raw) return {};
  if (!showSecrets) return operations().masked(raw.outputs, undefined) as Record<string, unknown>;
  const plain = h.stateDecrypted().find((r) => r.urn === raw.urn);
  return (plain?.outputs ?? {}) as Record<string, unknown>;
}

async function stackCommand(sub: string | undefined, rest: string[], a: ParsedArgs): Promise<number> {
  const c = context();
  switch (sub) {
    case "init": {
      const sp = flag(a, "secrets-provider");
      if (sp && sp !== "passphrase" && sp !== "default")
        throw new CliError(
          `--secrets-provider ${sp}: the pulumi stand-in has only the passphrase provider`,
          2,
        );
      const stack = resolveStack(c, a, rest[0]);
      c.backend.create(stack);
      // A passphrase is needed from the start, as with the CLI's passphrase provider.
      const cfg = new StackConfig(c.project, stack);
      cfg.entries(true);
      passphrase();
      if (!bool(a, "no-select")) selectStack(c.project, stack);
      write(`Created stack '${stack}'\n`);
      return 0;
    }
    case "select": {
      const stack = resolveStack(c, a, rest[0]);
      c.backend.requireStack(stack);
      selectStack(c.project, stack);
      return 0;
    }
    case "ls": {
      const current = currentStack(c.project);
      const list = c.backend.stacks().map((name) => {
        const rec = c.backend.record(name);
        const last = rec.history[rec.history.length - 1];
        const state = fs.existsSync(c.backend.stateFile(name))
          ? (JSON.parse(fs.readFileSync(c.backend.stateFile(name), "utf8")) as { resources: unknown[] })
          : undefined;
        return {
          name,
          current: name === current,
          ...(last ? { lastUpdate: last.endTime } : {}),
          updateInProgress: c.backend.locked(name),
          ...(state ? { resourceCount: state.resources.length } : {}),
        };
      });
      if (bool(a, "json")) json(list);
      else for (const s of list) write(`${s.name}${s.current ? "*" : ""}\n`);
      return 0;
    }
    case "rm": {
      const stack = resolveStack(c, a, rest[0]);
      c.backend.requireStack(stack);
      if (!bool(a, "yes"))
        throw new CliError("--yes must be passed in to proceed when running in non-interactive mode", 2);
      const count = harnessFor(c, stack).state().length;
      if (count > 0 && !bool(a, "force"))
        throw new CliError(
          `'${stack}' still has resources; removal rejected. Possible actions:\n- Make sure that '${stack}' is the stack that you want to destroy\n- Run \`pulumi destroy\` to delete the resources, then run \`pulumi stack rm\`\n- Run \`pulumi stack rm --force\` to override this error`,
        );
      c.backend.remove(stack);
      if (!bool(a, "preserve-config")) fs.rmSync(new StackConfig(c.project, stack).file, { force: true });
      if (currentStack(c.project) === stack) selectStack(c.project, undefined);
      write(`Stack '${stack}' has been removed!\n`);
      return 0;
    }
    case "output": {
      const stack = resolveStack(c, a);
      c.backend.requireStack(stack);
      const outs = stackOutputs(c, stack, bool(a, "show-secrets"));
      if (rest[0] !== undefined) {
        if (!(rest[0] in outs))
          throw new CliError(`current stack does not have output property '${rest[0]}'`);
        if (bool(a, "json")) json(outs[rest[0]]);
        else
          write(
            `${typeof outs[rest[0]] === "string" ? String(outs[rest[0]]) : JSON.stringify(outs[rest[0]])}\n`,
          );
      } else if (bool(a, "json")) json(outs);
      else for (const [k, v] of Object.entries(outs)) write(`${k}  ${JSON.stringify(v)}\n`);
      return 0;
    }
    case "export": {
      const stack = resolveStack(c, a);
      c.backend.requireStack(stack);
      const text = harnessFor(c, stack).stateText();
      const body = { version: 3, deployment: text ? (JSON.parse(text) as unknown) : {} };
      const out = JSON.stringify(body, null, 4) + "\n";
      const file = flag(a, "file");
      if (file) fs.writeFileSync(file, out, { mode: 0o600 });
      else write(out);
      return 0;
    }
    case "import": {
      const stack = resolveStack(c, a);
      c.backend.requireStack(stack);
      const file = flag(a, "file");
      const text = file ? fs.readFileSync(file, "utf8") : fs.readFileSync(0, "utf8");
      const body = JSON.parse(text) as {
        version?: number;
        deployment?: { version?: number; resources?: unknown };
      };
      const d = body.deployment;
      if (
        body.version !== 3 ||
        !d ||
        (Object.keys(d).length && (d.version !== 1 || !Array.isArray(d.resources)))
      )
        throw new CliError(
          `stack import: ${file ?? "stdin"} is not a deployment this stand-in exported ({version: 3, deployment: <engine-harness state file>})`,
        );
      const target = c.backend.stateFile(stack);
      if (!Object.keys(d).length) fs.rmSync(target, { force: true });
      else fs.writeFileSync(target, JSON.stringify(d, null, 2) + "\n", { mode: 0o600 });
      // The state must open with this stack's passphrase.
      harnessFor(c, stack).stateDecrypted();
      write("Import complete.\n");
      return 0;
    }
    case "history": {
      const stack = resolveStack(c, a);
      const history = [...c.backend.record(stack).history].reverse();
      const size = Number(flag(a, "page-size") ?? 0);
      const page = Math.max(1, Number(flag(a, "page") ?? 1));
      const shown = size > 0 ? history.slice((page - 1) * size, page * size) : history;
      if (bool(a, "json")) json(shown);
      else for (const h of shown) write(`${h.kind} ${h.result} ${h.startTime}\n`);
      return 0;
    }
    case "tag": {
      if (rest[0] === "ls") {
        json({});
        return 0;
      }
      throw new CliError(`the pulumi stand-in does not support \`stack tag ${rest[0] ?? ""}\``, 2);
    }
    case undefined: {
      const stack = resolveStack(c, a);
      c.backend.requireStack(stack);
      write(`Current stack is ${stack}:\n`);
      return 0;
    }
    default:
      throw new CliError(`unknown command "stack ${sub}" for the pulumi stand-in`, 2);
  }
}

function configCommand(sub: string | undefined, rest: string[], a: ParsedArgs): number {
  const c = context();
  const stack = resolveStack(c, a);
  c.backend.requireStack(stack);
  const cfg = new StackConfig(c.project, stack);
  const usePath = bool(a, "path");
  switch (sub) {
    case undefined: {
      const entries = cfg.entries(bool(a, "show-secrets"));
      if (bool(a, "json")) json(entries);
      else
        for (const [k, e] of Object.entries(entries))
          write(`${k}  ${typeof e.value === "string" ? e.value : JSON.stringify(e.value)}\n`);
      return 0;
    }
    case "get": {
      const key = rest[0];
      if (!key) throw new CliError("config get: a key is required", 2);
      const e = cfg.get(key, usePath);
      if (!e) throw new CliError(`configuration key '${key}' not found for stack '${stack}'`);
      const value = typeof e.value === "string" ? e.value : JSON.stringify(e.value);
      if (bool(a, "json"))
        json({ value, secret: e.secret, objectValue: typeof e.value === "string" ? undefined : e.value });
      else write(`${value}\n`);
      return 0;
    }
    case "set": {
      const [key, value] = rest;
      if (!key || value === undefined)
        throw new CliError("config set: a key and a value are required (the stand-in never prompts)", 2);
      if (bool(a, "secret") && bool(a, "plaintext"))
        throw new CliError("only one of --secret and --plaintext may be given", 2);
      cfg.set(key, value, bool(a, "secret"), usePath);
      cfg.save();
      return 0;
    }
    case "set-all": {
      // `set-all --json <doc>` (automation setAllConfigJson): the `config --json` shape.
      const doc = flag(a, "json");
      if (doc !== undefined) {
        let parsed: Record<string, { value?: unknown; objectValue?: unknown; secret?: boolean }>;
        try {
          parsed = JSON.parse(doc) as typeof parsed;
        } catch (err) {
          throw new CliError(`config set-all --json: not JSON (${(err as Error).message})`, 2);
        }
        for (const [k, e] of Object.entries(parsed))
          cfg.setJson(cfg.fullKey(k), e.objectValue ?? e.value, !!e.secret);
      }
      for (const [which, secret] of [
        ["plaintext", false],
        ["secret", true],
      ] as const) {
        for (const kv of all(a, which)) {
          const eq = kv.indexOf("=");
          if (eq <= 0) throw new CliError(`config set-all --${which} ${kv}: expected key=value`, 2);
          cfg.set(kv.slice(0, eq), kv.slice(eq + 1), secret, usePath);
        }
      }
      cfg.save();
      return 0;
    }
    case "rm": {
      if (!rest[0]) throw new CliError("config rm: a key is required", 2);
      cfg.remove(rest[0], usePath);
      cfg.save();
      return 0;
    }
    case "rm-all": {
      for (const k of rest) cfg.remove(k, usePath);
      cfg.save();
      return 0;
    }
    case "refresh": {
      const last = c.backend.record(stack).lastConfig;
      if (last === undefined)
        throw new CliError(`stack '${stack}' has no update yet, so there is no config to restore`);
      if (fs.existsSync(cfg.file) && !bool(a, "force"))
        throw new CliError(`${cfg.file} exists; pass --force to overwrite it`, 2);
      cfg.restore(last);
      return 0;
    }
    default:
      throw new CliError(`the pulumi stand-in does not support \`config ${sub}\``, 2);
  }
}

export async function main(argv: string[]): Promise<number> {
  // `set-all --plaintext k=v`, `--secret k=v` and `--json <doc>` carry values, unlike `config set --secret`.
  const setAll = argv[0] === "config" && argv[1] === "set-all";
  const a = parseArgs(argv, setAll ? ["plaintext", "secret", "json"] : []);
  const [cmd, sub, ...rest] = a.words;
  if (bool(a, "help") || cmd === "help") {
    write("pulumi stand-in (test/harness/cli): see test/harness/cli/README.md\n");
    return 0;
  }
  switch (cmd) {
    case "version":
      write(`${standInVersion()}\n`);
      return 0;
    case "login": {
      const url = bool(a, "local") ? `file://${os.homedir()}` : sub;
      if (!url)
        throw new CliError("login: pass --local or a file:// URL (the stand-in has no cloud backend)", 2);
      login(url);
      write(`Logged in to ${os.hostname()} as ${os.userInfo().username} (${url})\n`);
      return 0;
    }
    case "logout": {
      fs.rmSync(`${process.env.PULUMI_HOME || `${os.homedir()}/.pulumi`}/credentials.json`, { force: true });
      return 0;
    }
    case "whoami": {
      const url = backendUrl(loadProjectOrUndefined());
      const user = os.userInfo().username;
      if (bool(a, "json")) json({ user, organizations: [], url });
      else write(`${user}\n`);
      return 0;
    }
    case "stack":
      return stackCommand(sub, rest, a);
    case "config":
      return configCommand(sub, rest, a);
    case "preview":
    case "up":
    case "update":
    case "refresh":
    case "destroy": {
      const c = context();
      if (sub !== undefined) throw new CliError(`${cmd}: unexpected argument '${sub}'`, 2);
      const kind = cmd === "update" ? "up" : cmd;
      return operations().runOperation(kind, {
        ...c,
        stack: resolveStack(c, a),
        args: a,
        out: write,
        err: writeErr,
      });
    }
    case "plugin":
      if (sub === "ls") {
        if (bool(a, "json")) json([]);
        return 0;
      }
      throw new CliError(
        `the pulumi stand-in does not support \`plugin ${sub ?? ""}\` (no plugins: dynamic providers run in-process)`,
        2,
      );
    case "install":
      // Nothing to install: programs run with the repository's node_modules.
      return 0;
    default:
      throw new CliError(
        `unknown command "${cmd ?? ""}" for the pulumi stand-in; see test/harness/cli/README.md`,
        2,
      );
  }
}

function loadProjectOrUndefined(): Project | undefined {
  try {
    return loadProject(process.cwd());
  } catch {
    return undefined;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      const e = err as Error;
      process.stderr.write(`error: ${e.message}\n`);
      process.exit(err instanceof CliError ? err.exitCode : EXIT.error);
    },
  );
}
