/**
 * `preview`, `up`, `refresh` and `destroy` on the engine harness, reported the way the CLI does:
 * engine events to `--event-log` (see events.ts), a text display on stdout (headings, one line per
 * step, outputs, the resource summary, as pulumi/pulumi pkg/backend/display/progress.go prints it
 * with `--color never`; not byte-identical), errors on stderr, the CLI's exit codes, and one
 * `stack history` entry per update/refresh/destroy. SIGINT cancels: see README.md.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Harness, RunResult, Step, StateResource } from "../index";
import { SIG_KEY } from "../secrets";
import { all, bool, CliError, EXIT, flag, ParsedArgs } from "./args";
import { EventSink } from "./events";
import { Backend, HistoryEntry, passphrase, Project, StackConfig } from "./workspace";

export type Kind = "preview" | "up" | "refresh" | "destroy";

const ROOT_TYPE = "pulumi:pulumi:Stack";

/** Flags the Automation API can send that the harness has no counterpart for: refused, not ignored. */
const UNSUPPORTED: Record<Kind, string[]> = {
  preview: [
    "client",
    "target",
    "replace",
    "exclude",
    "plan",
    "save-plan",
    "import-file",
    "policy-pack",
    "policy-pack-config",
    "target-dependents",
    "exclude-dependents",
    "attach-debugger",
  ],
  up: [
    "client",
    "target",
    "exclude",
    "plan",
    "policy-pack",
    "policy-pack-config",
    "target-dependents",
    "exclude-dependents",
    "continue-on-error",
    "attach-debugger",
  ],
  refresh: [
    "client",
    "target",
    "exclude",
    "target-dependents",
    "exclude-dependents",
    "clear-pending-creates",
  ],
  destroy: ["client", "exclude", "exclude-dependents", "exclude-protected", "continue-on-error", "refresh"],
};

export interface OperationContext {
  project: Project;
  backend: Backend;
  stack: string;
  args: ParsedArgs;
  out: (text: string) => void;
  err: (text: string) => void;
}

/** Runs one operation; resolves with the process exit code. */
export async function runOperation(kind: Kind, ctx: OperationContext): Promise<number> {
  const { args, backend, stack, project } = ctx;
  for (const f of UNSUPPORTED[kind]) {
    if (args.flags.has(f)) {
      const why = f === "client" ? " (inline programs; use a local program with a Pulumi.yaml)" : "";
      throw new CliError(
        `the pulumi stand-in does not support \`${kind} --${f}\`${why}; see test/harness/cli/README.md`,
        EXIT.configuration,
      );
    }
  }
  if (args.flags.has("run-program") && !bool(args, "run-program") && kind !== "destroy" && kind !== "refresh")
    throw new CliError(
      `the pulumi stand-in does not support \`${kind} --run-program=false\``,
      EXIT.configuration,
    );
  backend.requireStack(stack);
  const previewOnly = kind === "preview" || bool(args, "preview-only");
  if (!previewOnly && !bool(args, "yes") && !bool(args, "skip-preview"))
    throw new CliError(
      `--yes or --skip-preview must be passed in to proceed when running in non-interactive mode`,
      EXIT.configuration,
    );
  const parallelText = flag(args, "parallel");
  const parallel = parallelText === undefined ? undefined : Number(parallelText);
  if (parallel !== undefined && !(Number.isInteger(parallel) && parallel > 0))
    throw new CliError(`--parallel ${parallelText}: must be a positive integer`, EXIT.configuration);

  const config = new StackConfig(project, stack);
  const pass = passphrase();
  const harnessConfig = config.forHarness();
  const sink = await EventSink.open(flag(args, "event-log"));
  let release: () => void = () => undefined;
  try {
    if (!previewOnly) release = backend.lock(stack);
  } catch (err) {
    await sink.close();
    throw err;
  }
  const started = new Date();
  let cancelled = false;
  let harness: Harness | undefined;
  const onSigint = (): void => {
    if (cancelled) {
      // Second ^C: terminate at once, as the CLI does.
      release();
      process.exit(EXIT.cancelled);
    }
    cancelled = true;
    ctx.out("^C received; cancelling. If you would like to terminate immediately, press ^C again.\n");
    void harness?.close();
  };
  process.on("SIGINT", onSigint);
  const makeHarness = (stateFile: string): Harness =>
    new Harness({
      program: project.program,
      project: project.name,
      stack,
      config: harnessConfig,
      stateFile,
      passphrase: pass,
      projectFile: project.file,
    });
  try {
    harness = makeHarness(backend.stateFile(stack));
    const before = indexState(harness);
    ctx.out(`${heading(kind, previewOnly)} (${stack}):\n`);
    sink.emit({ preludeEvent: { config: preludeConfig(config) } });

    // Live progress: the harness writes its state file after every completed step, so watching it
    // shows creates/updates/replaces/deletes as they land; the rest (same, failed) comes at the end.
    const live = new Set<string>();
    let known = before;
    const h0 = harness;
    const poll = (): void => {
      let now: Map<string, Indexed>;
      try {
        now = indexState(h0);
      } catch {
        return; // mid-write or not there yet: next tick
      }
      const seen: [string, string, Indexed | undefined, Indexed | undefined][] = [];
      for (const [urn, cur] of now) {
        const old = known.get(urn);
        if (!old) seen.push(["create", urn, undefined, cur]);
        else if (old.raw.id !== cur.raw.id) seen.push(["replace", urn, old, cur]);
        else if (JSON.stringify(old.plain.outputs) !== JSON.stringify(cur.plain.outputs))
          seen.push(["update", urn, old, cur]);
      }
      for (const [urn, old] of known) if (!now.has(urn)) seen.push(["delete", urn, old, undefined]);
      known = now;
      for (const [op, urn, old, cur] of seen) {
        if (live.has(urn)) continue;
        live.add(urn);
        const type = (cur ?? old)!.type;
        emitMetadata(
          sink,
          {
            op,
            urn,
            type,
            old: stateMetadata(old),
            new: stateMetadata(cur),
            diffs: [],
            provider: (cur ?? old)!.raw.options?.provider ?? "",
          },
          undefined,
          false,
        );
        ctx.out(` ${SYMBOL[op]} ${type} ${urn.split("::").pop()} ${DONE[op][1]}\n`);
      }
    };
    const watcher = previewOnly ? undefined : setInterval(poll, 500);

    let result: RunResult | undefined;
    const results: RunResult[] = [];
    try {
      if (cancelled) {
        // ^C before anything started: nothing runs.
        result = { steps: [], outputs: {}, failed: true, errors: [], log: "" };
      } else if (kind === "preview" && bool(args, "refresh")) {
        // `preview --refresh` (automation/stack.js preview: `opts.refresh` -> `--refresh`): the
        // CLI refreshes in memory, then previews against the refreshed state, keeping nothing.
        // Here: both on a copy of the state, as the refresh preview below.
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-standin-preview-refresh-"));
        const copy = path.join(tmp, "state.json");
        if (fs.existsSync(backend.stateFile(stack))) fs.copyFileSync(backend.stateFile(stack), copy);
        const h = makeHarness(copy);
        harness = h;
        try {
          const r = await h.refresh();
          results.push(r);
          result = r.failed ? r : await h.preview();
        } finally {
          await h.close();
          fs.rmSync(tmp, { recursive: true, force: true });
        }
      } else if (kind === "preview") {
        result = await harness.preview();
      } else if (kind === "up") {
        if (bool(args, "refresh")) {
          const r = await harness.refresh();
          results.push(r);
          if (r.failed) result = r;
        }
        result ??= await harness.up({
          replace: all(args, "replace"),
          skipPreview: bool(args, "skip-preview"),
        });
      } else if (kind === "refresh") {
        if (previewOnly) {
          // A refresh preview reads every resource but keeps nothing: run it on a copy of the state.
          const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-standin-refresh-"));
          const copy = path.join(tmp, "state.json");
          if (fs.existsSync(backend.stateFile(stack))) fs.copyFileSync(backend.stateFile(stack), copy);
          const h = makeHarness(copy);
          harness = h;
          try {
            result = await h.refresh();
          } finally {
            await h.close();
            fs.rmSync(tmp, { recursive: true, force: true });
          }
        } else {
          result = await harness.refresh();
        }
      } else if (previewOnly) {
        result = previewDestroy(harness, all(args, "target"), bool(args, "target-dependents"));
      } else {
        result = await harness.destroy({
          target: args.flags.has("target") ? all(args, "target") : undefined,
          targetDependents: bool(args, "target-dependents"),
          parallel,
        });
      }
      results.push(result);
    } finally {
      if (watcher) clearInterval(watcher);
    }
    const final = result;
    const after = previewOnly ? before : indexState(harness);
    const steps = results.flatMap((r) => r.steps);
    const errors = results.flatMap((r) => r.errors);
    const log = results.map((r) => r.log).join("");
    const rootUrn = [...before.keys(), ...after.keys()].find(
      (u) => before.get(u)?.type === ROOT_TYPE || after.get(u)?.type === ROOT_TYPE,
    );

    // Steps already reported live are not repeated (counts still come from every step).
    const rest = steps.filter((st) => st.error || !live.has(st.urn));
    for (const step of rest) emitStep(sink, step, before, after, previewOnly);
    for (const line of log.split("\n").filter((l) => l.trim())) {
      sink.emit({
        diagnosticEvent: { urn: rootUrn, prefix: "", message: `${line}\n`, color: "never", severity: "info" },
      });
    }
    for (const e of errors) {
      const m = /^(urn:pulumi:\S+): ([\s\S]*)$/.exec(e);
      sink.emit({
        diagnosticEvent: {
          urn: m ? m[1] : rootUrn,
          prefix: "error: ",
          message: `${m ? m[2] : e}\n`,
          color: "never",
          severity: "error",
        },
      });
    }
    const changes = countChanges(steps, kind, previewOnly);
    const failed = final.failed && !cancelled;
    const duration = Math.round((Date.now() - started.getTime()) / 1000);
    sink.emit({
      summaryEvent: {
        maybeCorrupt: false,
        durationSeconds: duration,
        resourceChanges: changes,
        PolicyPacks: {},
        isPreview: previewOnly,
        result: cancelled ? "canceled" : failed ? "failed" : "succeeded",
      },
    });
    sink.emit({ cancelEvent: {} });

    display(
      ctx,
      {
        kind,
        previewOnly,
        steps: rest,
        errors,
        log,
        changes,
        duration,
        cancelled,
        showDiff: bool(args, "diff"),
      },
      after,
      rootUrn,
    );
    if (!previewOnly) {
      const entry: HistoryEntry = {
        version: backend.record(stack).history.length + 1,
        kind: kind === "up" ? "update" : (kind as "refresh" | "destroy"),
        startTime: started.toISOString(),
        endTime: new Date().toISOString(),
        message: flag(args, "message") ?? "",
        environment: {
          "exec.kind": flag(args, "exec-kind") ?? "cli",
          ...(flag(args, "exec-agent") ? { "exec.agent": flag(args, "exec-agent")! } : {}),
        },
        config: Object.fromEntries(
          Object.entries(config.entries(false)).map(([k, e]) => [
            k,
            { value: typeof e.value === "string" ? e.value : JSON.stringify(e.value), secret: e.secret },
          ]),
        ),
        result: failed || cancelled ? "failed" : "succeeded",
        resourceChanges: changes,
      };
      backend.addHistory(stack, entry, config.text());
    }
    if (cancelled) {
      ctx.err(`error: ${kind === "up" ? "update" : kind} canceled\n`);
      return EXIT.cancelled;
    }
    if (failed) {
      for (const e of errors) ctx.err(`error: ${e}\n`);
      return EXIT.error;
    }
    const changed = Object.entries(changes).some(([op, n]) => op !== "same" && n > 0);
    if (bool(args, "expect-no-changes") && changed) {
      ctx.err("error: no changes were expected but changes occurred\n");
      return EXIT.noChanges;
    }
    return 0;
  } finally {
    process.removeListener("SIGINT", onSigint);
    await harness?.close();
    await sink.close();
    release();
  }
}

function heading(kind: Kind, previewOnly: boolean): string {
  if (kind === "preview") return "Previewing update";
  if (previewOnly) return `Previewing ${kind}`;
  return { up: "Updating", refresh: "Refreshing", destroy: "Destroying" }[kind];
}

interface Indexed {
  type: string;
  raw: StateResource;
  plain: StateResource;
}

function indexState(h: Harness): Map<string, Indexed> {
  const raw = h.state();
  const plain = h.stateDecrypted();
  const out = new Map<string, Indexed>();
  raw.forEach((r, i) => {
    if (!r.pendingDelete) out.set(r.urn, { type: r.type, raw: r, plain: plain[i] });
  });
  return out;
}

/** Values as the CLI shows them without --show-secrets: every secret as "[secret]". */
export function masked(raw: unknown, plain: unknown): unknown {
  if (raw && typeof raw === "object" && !Array.isArray(raw) && SIG_KEY in raw) return "[secret]";
  if (Array.isArray(raw)) return raw.map((x, i) => masked(x, (plain as unknown[] | undefined)?.[i]));
  if (raw && typeof raw === "object") {
    const p = (plain ?? {}) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, masked(v, p[k])]));
  }
  return plain === undefined ? raw : plain;
}

function stateMetadata(e: Indexed | undefined): Record<string, unknown> | undefined {
  if (!e) return undefined;
  const r = e.raw;
  return {
    type: r.type,
    urn: r.urn,
    custom: r.custom,
    id: r.id,
    parent: r.parent ?? "",
    protect: r.options?.protect ?? false,
    retainOnDelete: r.options?.retainOnDelete ?? false,
    inputs: masked(r.inputs, e.plain.inputs),
    outputs: masked(r.outputs, e.plain.outputs),
    provider: r.options?.provider ?? "",
  };
}

/** Harness step ops → the engine's OpType (sdk/go/common/apitype/events.go; automation/stack.d.ts). */
function opType(op: Step["op"]): string {
  if (op === "refresh-update") return "update";
  if (op === "refresh-delete") return "delete";
  return op;
}

function emitStep(
  sink: EventSink,
  step: Step,
  before: Map<string, Indexed>,
  after: Map<string, Indexed>,
  planning: boolean,
): void {
  const metadata = {
    op: opType(step.op),
    urn: step.urn,
    type: step.type,
    old: stateMetadata(before.get(step.urn)),
    new:
      step.op === "delete" || step.op === "refresh-delete" ? undefined : stateMetadata(after.get(step.urn)),
    diffs: step.diffs,
    detailedDiff: step.detailedDiff
      ? Object.fromEntries(
          Object.entries(step.detailedDiff).map(([k, kind]) => [k, { diffKind: kind, inputDiff: true }]),
        )
      : undefined,
    provider: after.get(step.urn)?.raw.options?.provider ?? before.get(step.urn)?.raw.options?.provider ?? "",
  };
  emitMetadata(sink, metadata, step.error, planning);
}

function emitMetadata(
  sink: EventSink,
  metadata: Record<string, unknown>,
  error: string | undefined,
  planning: boolean,
): void {
  sink.emit({ resourcePreEvent: { metadata, planning: planning || undefined } });
  if (error) sink.emit({ resOpFailedEvent: { metadata, status: 1, steps: 1 } });
  else sink.emit({ resOutputsEvent: { metadata, planning: planning || undefined } });
}

function countChanges(steps: Step[], kind: Kind, previewOnly: boolean): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of steps) {
    if (s.error && !previewOnly) continue;
    const op = opType(s.op);
    out[op] = (out[op] ?? 0) + 1;
  }
  void kind;
  return out;
}

function previewConfigValue(v: string | { secret: string }): string {
  return typeof v === "string" ? v : "[secret]";
}

function preludeConfig(config: StackConfig): Record<string, string> {
  return Object.fromEntries(Object.entries(config.forHarness()).map(([k, v]) => [k, previewConfigValue(v)]));
}

/** What `destroy --preview-only` would delete: every resource, or the targets (and dependents). */
function previewDestroy(h: Harness, target: string[], targetDependents: boolean): RunResult {
  const state = h.state().filter((r) => !r.pendingDelete);
  let chosen = state;
  const errors: string[] = [];
  if (target.length) {
    const set = new Set(target);
    let grew = true;
    while (grew) {
      grew = false;
      for (const r of state) {
        if (set.has(r.urn)) continue;
        const deps = [
          r.parent ?? "",
          ...r.dependencies,
          ...(r.options?.dependsOn ?? []),
          ...Object.values(r.propertyDependencies ?? {}).flat(),
        ];
        if (deps.some((d) => set.has(d))) {
          if (!targetDependents) {
            errors.push(
              `${r.urn}: it depends on a resource being destroyed and is not targeted; add --target-dependents or target it too`,
            );
            continue;
          }
          set.add(r.urn);
          grew = true;
        }
      }
    }
    chosen = state.filter((r) => set.has(r.urn));
  }
  return {
    steps: errors.length
      ? []
      : chosen.reverse().map((r) => ({ urn: r.urn, type: r.type, op: "delete" as const, diffs: [] })),
    outputs: {},
    failed: errors.length > 0,
    errors,
    log: "",
  };
}

const SYMBOL: Record<string, string> = {
  create: "+ ",
  update: "~ ",
  replace: "+-",
  delete: "- ",
  same: "  ",
  "refresh-update": "~ ",
  "refresh-delete": "- ",
};
const DONE: Record<string, [string, string]> = {
  create: ["create", "created"],
  update: ["update", "updated"],
  replace: ["replace", "replaced"],
  delete: ["delete", "deleted"],
  same: ["", ""],
  "refresh-update": ["update", "updated"],
  "refresh-delete": ["delete", "deleted"],
};

interface DisplayInput {
  kind: Kind;
  previewOnly: boolean;
  steps: Step[];
  errors: string[];
  log: string;
  changes: Record<string, number>;
  duration: number;
  cancelled: boolean;
  showDiff: boolean;
}

function display(
  ctx: OperationContext,
  d: DisplayInput,
  after: Map<string, Indexed>,
  rootUrn?: string,
): void {
  const lines: string[] = [];
  for (const s of d.steps) {
    const name = s.urn.split("::").pop();
    const verb = s.error
      ? `**${d.previewOnly ? DONE[s.op][0] : "failed"}**`
      : DONE[s.op][d.previewOnly ? 0 : 1];
    lines.push(` ${SYMBOL[s.op]} ${s.type} ${name} ${verb}`.trimEnd());
    if (d.showDiff && s.detailedDiff)
      for (const [k, kind] of Object.entries(s.detailedDiff))
        lines.push(
          `      ${kind.startsWith("add") ? "+" : kind.startsWith("delete") ? "-" : "~"} ${k}${kind.endsWith("replace") ? " (forces replacement)" : ""}`,
        );
  }
  if (d.errors.length || d.log.trim()) {
    lines.push("", "Diagnostics:");
    if (d.log.trim()) {
      lines.push(`  ${ROOT_TYPE} (${rootUrn?.split("::").pop() ?? ctx.stack}):`);
      for (const l of d.log.split("\n").filter((x) => x.trim())) lines.push(`    ${l}`);
    }
    for (const e of d.errors) lines.push(`    error: ${e}`);
  }
  const root = rootUrn ? after.get(rootUrn) : undefined;
  if (root && !d.previewOnly && d.kind !== "destroy") {
    const outs = masked(root.raw.outputs, root.plain.outputs) as Record<string, unknown>;
    if (Object.keys(outs).length) {
      lines.push("", "Outputs:");
      for (const [k, v] of Object.entries(outs)) lines.push(`    ${k}: ${JSON.stringify(v)}`);
    }
  }
  lines.push("", "Resources:");
  const verbs = d.previewOnly
    ? { create: "to create", update: "to update", replace: "to replace", delete: "to delete" }
    : { create: "created", update: "updated", replace: "replaced", delete: "deleted" };
  for (const [op, word] of Object.entries(verbs)) {
    const n = d.changes[op];
    if (n) lines.push(`    ${SYMBOL[op].trim()} ${n} ${word}`);
  }
  if (d.changes.same) lines.push(`    ${d.changes.same} unchanged`);
  lines.push("", `Duration: ${d.duration}s`, "");
  ctx.out(lines.join("\n") + "\n");
}
