/**
 * The engine harness: plays the Pulumi engine's part so stack programs run for real here, where
 * the `pulumi` CLI cannot be installed. The program runs in a child process under the SDK's mock
 * mode with a monitor that forwards every registration to this engine; dynamic resources go to the
 * REAL dynamic-provider host over gRPC; random/tls/command resources to faithful emulations.
 * State (secrets encrypted) lives in a JSON file between operations. See README.md in this folder.
 *
 * Test code only: never imported by product code.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DynamicProviderHost } from "./dynamic-host";
import { Deployment, DestroyTargets, Mode, Step, StepOp } from "./deployment";
import { EngineService } from "./engine-service";
import { runProgram } from "./program-runner";
import { applyProjectSchema, loadProjectSchema } from "./project-config";
import { revealSecrets } from "./secrets";
import { StateResource, StateStore } from "./state";

export type { DestroyTargets, Step, StepOp } from "./deployment";
export type { StateResource } from "./state";

export type ConfigValue = string | { secret: string };

export interface HarnessOptions {
  /** Program module to run: default "<repo>/index.ts" (the real g8os program). Test programs pass their own. */
  program?: string;
  project?: string;
  stack: string;
  /** Full keys, e.g. "g8os:telegramChatId". */
  config?: Record<string, ConfigValue>;
  /** Where state lives between invocations (JSON). Default: a fresh temp dir per Harness. */
  stateFile?: string;
  /** Extra environment for the program process and the provider host (e.g. G8OS_TRACE_FILE). */
  env?: Record<string, string>;
  /** Passphrase used to encrypt secret values in the state file. Default a fixed test passphrase. */
  passphrase?: string;
  /** Upper bound on one program run. Default 30 minutes. */
  programTimeoutMs?: number;
  /**
   * The project file whose `config:` schema is applied to `config` before every operation, as the
   * CLI does (defaults and values filled in, required keys, `secret: true`, types; see
   * project-config.ts). Default: `Pulumi.yaml` next to the program when there is one (the real
   * program gets the repo's); `false`: none.
   */
  projectFile?: string | false;
}

export interface RunResult {
  /** One per resource touched, in completion order. */
  steps: Step[];
  /** Stack outputs, secrets unwrapped to plaintext (for asserting). */
  outputs: Record<string, unknown>;
  failed: boolean;
  /** Every error message (resource failures and program errors). */
  errors: string[];
  /** Everything the program and provider host printed, plus engine Log calls. */
  log: string;
  /** `up`, `refresh`, `destroy`: the preview it ran first (absent with `skipPreview`). */
  preview?: RunResult;
}

export interface RefreshOptions {
  /**
   * `--parallel`: at most this many provider operations at once (positive integer). Default 4 per
   * CPU, the CLI's default (`defaultParallel()` in deployment.ts).
   */
  parallel?: number;
  /**
   * `--skip-preview`. Default false: like the CLI without it (pulumi/pulumi
   * pkg/cmd/pulumi/operations/refresh.go, destroy.go -> pkg/backend/apply.go
   * `PreviewThenPromptThenExecute`; `--yes` alone still previews), the operation first runs a
   * preview (`RunResult.preview`) and stops if it fails. The Automation API passes
   * `--skip-preview --yes` (sdk/nodejs/automation/stack.ts `refresh`, `destroy`).
   */
  skipPreview?: boolean;
}

export interface DestroyOptions extends DestroyTargets, RefreshOptions {}

export interface UpOptions {
  /** URNs to replace whatever their diff says (`pulumi up --replace`). */
  replace?: string[];
  /**
   * `pulumi up --skip-preview`. Default false: like the CLI (pulumi/pulumi pkg/backend/apply.go
   * `PreviewThenPromptThenExecute`), `up` first runs a preview, so every check and diff sees the
   * unknowns a preview sees, and a failed preview stops the `up` before any change.
   */
  skipPreview?: boolean;
  /** `--parallel`, as for refresh (RefreshOptions.parallel): bounds creates, updates and deletes. */
  parallel?: number;
}

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
const DEFAULT_PASSPHRASE = "g8os-harness-test-passphrase";

/** Node >= 22 (the SDK needs it): this process's if new enough, else the repo's `node` devDependency. */
function node22(): string {
  if (Number(process.versions.node.split(".")[0]) >= 22) return process.execPath;
  const local = path.join(REPO_ROOT, "node_modules", "node", "bin", "node");
  if (fs.existsSync(local)) return local;
  throw new Error("the engine harness needs Node >= 22: run `npm ci` (the `node` devDependency provides it)");
}

export class Harness {
  private readonly config: Record<string, ConfigValue>;
  private readonly store: StateStore;
  private readonly project: string;
  private readonly program: string;
  private running?: { stop(): Promise<void> }[];

  constructor(private readonly opts: HarnessOptions) {
    if (!opts.stack) throw new Error('HarnessOptions.stack is required (e.g. "build-1")');
    this.project = opts.project ?? "g8os";
    this.program = path.resolve(opts.program ?? path.join(REPO_ROOT, "index.ts"));
    this.config = { ...(opts.config ?? {}) };
    const stateFile =
      opts.stateFile ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), "g8os-harness-")), "state.json");
    this.store = new StateStore(stateFile, opts.passphrase ?? DEFAULT_PASSPHRASE, this.project, opts.stack);
  }

  /** Check + diff only: never creates, updates or deletes, never writes state. */
  preview(): Promise<RunResult> {
    return this.withProgram("preview");
  }

  async up(opts: UpOptions = {}): Promise<RunResult> {
    const replace = new Set(opts.replace ?? []);
    if (opts.skipPreview) return this.withProgram("up", replace, opts.parallel);
    const preview = await this.withProgram("preview", replace, opts.parallel);
    // The CLI answers a failed preview with "error: preview failed" and changes nothing.
    if (preview.failed) return { ...preview, preview };
    return { ...(await this.withProgram("up", replace, opts.parallel)), preview };
  }

  /**
   * Reads every custom resource with the provider stored in state, after a preview (which reads
   * too, writing nothing) unless `skipPreview`.
   */
  refresh(opts: RefreshOptions = {}): Promise<RunResult> {
    return this.previewThen(opts, (dryRun) =>
      this.operate("refresh", (d) => d.refresh(), undefined, opts.parallel, dryRun),
    );
  }

  /**
   * Deletes everything, or the `target` URNs (plus their dependents with `targetDependents`,
   * else a dependent is an error, as in the CLI). No program run. A preview (no provider call)
   * first unless `skipPreview`; `parallel` bounds concurrent deletes.
   */
  destroy(opts: DestroyOptions = {}): Promise<RunResult> {
    return this.previewThen(opts, (dryRun) =>
      this.operate("destroy", (d) => d.destroy(opts), undefined, opts.parallel, dryRun),
    );
  }

  async previewOk(): Promise<RunResult> {
    return assertOk("preview", await this.preview());
  }

  async upOk(opts: UpOptions = {}): Promise<RunResult> {
    return assertOk("up", await this.up(opts));
  }

  async refreshOk(opts: RefreshOptions = {}): Promise<RunResult> {
    return assertOk("refresh", await this.refresh(opts));
  }

  async destroyOk(opts: DestroyOptions = {}): Promise<RunResult> {
    return assertOk("destroy", await this.destroy(opts));
  }

  /** The state file's resources, secrets encrypted as stored. */
  state(): StateResource[] {
    return this.store.raw();
  }

  /** Like state(), with secret values decrypted to plaintext. */
  stateDecrypted(): StateResource[] {
    return this.store.loadRevealed();
  }

  /** Raw text of the state file ("" before the first write). */
  stateText(): string {
    return this.store.text();
  }

  get stateFile(): string {
    return this.store.file;
  }

  /** Like `pulumi config set [--secret]`. */
  setConfig(key: string, value: ConfigValue): void {
    this.config[key] = value;
  }

  removeConfig(key: string): void {
    delete this.config[key];
  }

  /** Stops any provider host or engine service still running. */
  async close(): Promise<void> {
    await Promise.all((this.running ?? []).map((s) => s.stop()));
    this.running = undefined;
  }

  /** The config after the project schema (defaults applied), or the CLI's validation error. */
  private effectiveConfig(): { config: Record<string, ConfigValue>; error?: string } {
    const file =
      this.opts.projectFile === false
        ? undefined
        : (this.opts.projectFile ?? path.join(path.dirname(this.program), "Pulumi.yaml"));
    if (!file || (this.opts.projectFile === undefined && !fs.existsSync(file)))
      return { config: this.config };
    const schema = loadProjectSchema(file);
    if (schema.name !== this.project) {
      return {
        config: this.config,
        error: `${file}: the project is named "${schema.name}" but the harness runs project "${this.project}". Fix: HarnessOptions.project = "${schema.name}"`,
      };
    }
    return applyProjectSchema(schema, this.opts.stack, this.config);
  }

  private plainConfig(): { config: Record<string, string>; secretKeys: string[] } {
    const config: Record<string, string> = {};
    const secretKeys: string[] = [];
    for (const [k, v] of Object.entries(this.effectiveConfig().config)) {
      if (typeof v === "string") config[k] = v;
      else {
        config[k] = v.secret;
        secretKeys.push(k);
      }
    }
    return { config, secretKeys };
  }

  /** The CLI's preview-then-execute for refresh and destroy (`PreviewThenPromptThenExecute`). */
  private async previewThen(
    opts: RefreshOptions,
    run: (dryRun: boolean) => Promise<RunResult>,
  ): Promise<RunResult> {
    if (opts.skipPreview) return run(false);
    const preview = await run(true);
    if (preview.failed) return { ...preview, preview };
    return { ...(await run(false)), preview };
  }

  private withProgram(mode: "preview" | "up", replace?: Set<string>, parallel?: number): Promise<RunResult> {
    return this.operate(
      mode,
      async (d, engine, log) => {
        d.startDynamicHost();
        if (mode === "up") {
          await d.deleteLeftovers();
          if (d.failed) return;
        }
        const { config, secretKeys } = this.plainConfig();
        let programErrors: string[];
        try {
          programErrors = await runProgram(
            {
              repoRoot: REPO_ROOT,
              nodePath: node22(),
              init: {
                program: this.program,
                project: this.project,
                stack: this.opts.stack,
                preview: mode === "preview",
                config,
                secretKeys,
              },
              env: { ...(this.opts.env ?? {}), PULUMI_NODEJS_ENGINE: engine.address },
              timeoutMs: this.opts.programTimeoutMs ?? 30 * 60_000,
            },
            {
              register: (reg) => d.register(reg),
              registerOutputs: (urn, o) => d.registerOutputs(urn, o),
              output: log,
            },
          );
        } catch (err) {
          programErrors = [(err as Error).message];
        }
        await d.settle();
        d.programFinished(programErrors);
        await (mode === "up" ? d.finishUp() : d.finishPreview());
      },
      replace,
      parallel,
    );
  }

  /** Runs one operation with its own Engine service and (lazily) its own provider host. */
  private async operate(
    mode: Mode,
    body: (d: Deployment, engine: EngineService, log: (text: string) => void) => Promise<void>,
    replace?: Set<string>,
    parallel?: number,
    dryRun = false,
  ): Promise<RunResult> {
    if (parallel !== undefined && !(Number.isInteger(parallel) && parallel > 0))
      throw new Error(`Harness ${mode}: parallel is ${parallel}; it must be a positive integer (or unset)`);
    const logParts: string[] = [];
    const log = (text: string): void => void logParts.push(text);
    const errors: string[] = [];
    const engine = await EngineService.start((severity, message, urn) => {
      if (severity !== "debug") log(`${severity}: ${message}\n`);
      // `pulumi.log.error` fails the run, as under the CLI.
      if (severity === "error") errors.push(urn ? `${urn}: ${message}` : message);
    });
    const running: { stop(): Promise<void> }[] = [engine];
    this.running = running;
    let d: Deployment | undefined;
    try {
      // The CLI validates the config against the project schema before it starts anything.
      const schemaError = this.effectiveConfig().error;
      if (schemaError) throw new Error(schemaError);
      const { config, secretKeys } = this.plainConfig();
      d = new Deployment({
        mode,
        project: this.project,
        stack: this.opts.stack,
        store: this.store,
        replace,
        parallel,
        dryRun,
        configSecrets: secretKeys.map((k) => config[k]),
        dynamicHost: async () => {
          const host = await DynamicProviderHost.start({
            repoRoot: REPO_ROOT,
            engineAddress: engine.address,
            project: this.project,
            stack: this.opts.stack,
            config,
            env: this.opts.env ?? {},
            nodePath: node22(),
            onOutput: log,
          });
          running.push(host);
          return host;
        },
      });
      await body(d, engine, log);
    } catch (err) {
      errors.push((err as Error).message);
    } finally {
      await Promise.all(running.map((s) => s.stop()));
      if (this.running === running) this.running = undefined;
    }
    errors.unshift(...(d?.errors ?? []));
    return {
      steps: d?.steps ?? [],
      outputs: revealSecrets(d?.outputs ?? {}),
      failed: (d?.failed ?? true) || errors.length > 0,
      errors,
      log: logParts.join(""),
    };
  }
}

function assertOk(what: string, r: RunResult): RunResult {
  if (!r.failed) return r;
  throw new Error(`${what} failed:\n${r.errors.join("\n")}\n--- log tail ---\n${r.log.slice(-4000)}`);
}

/**
 * The state resource whose type equals `typeOrNameSuffix` or whose URN ends with it
 * (`::name`, `Type::name`); throws, listing what there is, when none or several match.
 */
export function findResource(state: StateResource[], typeOrNameSuffix: string): StateResource {
  const live = state.filter((r) => !r.pendingDelete);
  const hits = live.filter((r) => r.type === typeOrNameSuffix || r.urn.endsWith(typeOrNameSuffix));
  if (hits.length === 1) return hits[0];
  const known = live.map((r) => r.urn).join("\n  ");
  throw new Error(
    `${hits.length ? "several resources match" : "no resource matches"} "${typeOrNameSuffix}"; state has:\n  ${known}`,
  );
}

/** Steps with a given op (convenience for assertions). */
export function stepsWith(r: RunResult, op: StepOp): Step[] {
  return r.steps.filter((s) => s.op === op);
}
