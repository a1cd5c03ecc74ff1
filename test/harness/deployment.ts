/**
 * One engine operation (preview, up, refresh, destroy) over one stack's state: turns resource
 * registrations into check/diff/create/update/replace/delete steps the way the Pulumi engine does,
 * records steps and errors, and keeps the state file current after every completed step.
 */
import * as os from "os";
import { jsonEqual } from "../../providers/shared/dynamic";
import { changedKeys, emulatedProvider, EMULATED_TYPES } from "./emulated";
import { EngineProvider, ResourceInitError, CallContext } from "./provider";
import type { Registration } from "./program-runner";
import {
  containsSecret,
  isSecret,
  makeSecret,
  Props,
  revealSecrets,
  secretStrings,
  UNKNOWN,
} from "./secrets";
import {
  deleteInReverseOrder,
  dependencyOrder,
  ResourceOptionsState,
  StateResource,
  StateStore,
  withDependents,
} from "./state";

export type StepOp =
  "create" | "update" | "replace" | "delete" | "same" | "refresh-update" | "refresh-delete";

/** How one property changes, as the CLI prints it (`~` update, `+` add, `-` delete; `-replace`: forces a replace). */
export type PropertyDiffKind =
  "add" | "update" | "delete" | "add-replace" | "update-replace" | "delete-replace";

export interface Step {
  urn: string;
  type: string;
  op: StepOp;
  /** Changed properties: the provider's `diffs` when it gives them, else the keys of `detailedDiff`. */
  diffs: string[];
  /**
   * update/replace: each changed property and how (see `detailedDiff()`), as `pulumi preview
   * --diff` shows it for a provider without a detailed diff (dynamic providers have none).
   */
  detailedDiff?: Record<string, PropertyDiffKind>;
  error?: string;
}

export type Mode = "preview" | "up" | "refresh" | "destroy";

export interface DeploymentOptions {
  mode: Mode;
  project: string;
  stack: string;
  store: StateStore;
  /** URNs to replace whatever the diff says (`up --replace`). */
  replace?: Set<string>;
  /**
   * refresh/destroy: the preview the CLI runs first. Refresh still calls Read; destroy calls no
   * provider; neither writes state.
   */
  dryRun?: boolean;
  /** Starts (once) the dynamic-provider host for this operation. */
  dynamicHost: () => Promise<EngineProvider>;
  /** Secret config values: kept out of every error message, like secret inputs and outputs. */
  configSecrets?: string[];
  /**
   * At most this many provider operations (create, update, delete, read) at once, as the CLI's
   * `--parallel`. Default `defaultParallel()`: 4 per CPU, the CLI's own default.
   */
  parallel?: number;
}

/**
 * The CLI's `--parallel` default: 4 times GOMAXPROCS, i.e. 4 per CPU (pulumi/pulumi
 * pkg/cmd/pulumi/operations/up.go `defaultParallel`; PULUMI_PARALLEL overrides it there, not here).
 * It is not unbounded: `Options.InfiniteParallelism` (pkg/resource/deploy/deployment.go) only
 * holds for `--parallel` math.MaxInt32.
 */
export function defaultParallel(): number {
  return os.availableParallelism() * 4;
}

export interface DestroyTargets {
  /** URNs to destroy (`--target`). */
  target?: string[];
  /** Also destroy whatever depends on a target (`--target-dependents`); else such a dependent is an error. */
  targetDependents?: boolean;
}

const ROOT_STACK_TYPE = "pulumi:pulumi:Stack";
const SKIPPED = "skipped: an earlier resource failed, so the engine started no new steps";

/** A failed step: the op it attempted and every message (a check can fail on several properties). */
class StepFailure extends Error {
  constructor(
    readonly messages: string[],
    /** State to record despite the failure (a partially created resource). */
    readonly partial?: StateResource,
  ) {
    super(messages.join("; "));
  }
}

export class Deployment {
  readonly steps: Step[] = [];
  readonly errors: string[] = [];
  /** Stack outputs in wire form (secrets tagged). */
  outputs: Props = {};
  private live: StateResource[];
  private readonly old = new Map<string, StateResource>();
  private readonly registered = new Set<string>();
  private readonly replacedOld: StateResource[] = [];
  private readonly inflight = new Set<Promise<unknown>>();
  private rootUrn?: string;
  /** After the first failed step no new steps start (in-flight ones finish), as in the engine. */
  private cancelled = false;
  private programFailed = false;
  private host?: Promise<EngineProvider>;
  /**
   * Dependents a delete-before-replace deleted first, with the replace keys that condemned them
   * (the engine's `dependentReplaceKeys`): when the program registers one again it is created, a
   * replace; when it does not, it is gone.
   */
  private readonly condemned = new Map<string, string[]>();
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly o: DeploymentOptions) {
    this.live = o.store.load();
    for (const r of this.live) if (!r.pendingDelete) this.old.set(r.urn, r);
  }

  get failed(): boolean {
    return this.cancelled || this.programFailed || this.errors.length > 0;
  }

  // ---- registrations from the program -------------------------------------------------------

  /** Handles one RegisterResource; resolves with what the SDK gets back, rejects when the step failed. */
  register(reg: Registration): Promise<{ urn: string; id: string; object: Props }> {
    const urn = this.urnFor(reg);
    const p = this.registerAt(urn, reg);
    this.inflight.add(p);
    void p.then(
      () => this.inflight.delete(p),
      () => this.inflight.delete(p),
    );
    return p;
  }

  registerOutputs(urn: string, outputs: Props): void {
    const entry = this.live.find((r) => r.urn === urn && !r.pendingDelete);
    if (entry) entry.outputs = outputs;
    if (urn === this.rootUrn) this.outputs = outputs;
    this.save();
  }

  /** Waits for every step still running (a crashed program leaves some behind). */
  async settle(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  /** Records the program's own errors, minus echoes of step failures already reported. */
  programFinished(programErrors: string[]): void {
    for (const e of programErrors) {
      if (e.includes(SKIPPED) || this.errors.some((known) => e.includes(known))) continue;
      this.errors.push(e);
      this.programFailed = true;
    }
  }

  /** `up` tail: delete old halves of replacements and resources the program no longer has. */
  async finishUp(): Promise<void> {
    if (this.failed) return;
    const gone = this.live.filter((r) => !r.pendingDelete && !this.registered.has(r.urn));
    // The old half of a replacement is part of its "replace" step, not a step of its own.
    await deleteInReverseOrder([...this.replacedOld, ...gone], (r) =>
      this.deleteResource(r, !r.pendingDelete),
    );
  }

  /** Preview tail: report what `up` would delete, in the order it would. */
  async finishPreview(): Promise<void> {
    if (this.failed) return;
    const gone = this.live.filter((r) => !r.pendingDelete && !this.registered.has(r.urn));
    await deleteInReverseOrder(gone, async (r) => {
      this.step(r, "delete", []);
      return true;
    });
  }

  /** `up` head: old halves of replacements a failed `up` left behind go first, as in the engine. */
  async deleteLeftovers(): Promise<void> {
    const leftovers = this.live.filter((r) => r.pendingDelete);
    await deleteInReverseOrder(leftovers, (r) => this.deleteResource(r, true));
    if (leftovers.some((r) => this.live.includes(r))) this.cancelled = true;
  }

  private urnFor(reg: Registration): string {
    let type = reg.type;
    if (reg.parent) {
      const parentType = reg.parent.split("::")[2];
      // The root stack's type is not part of its children's URNs.
      if (parentType && parentType !== ROOT_STACK_TYPE) type = `${parentType}$${type}`;
    }
    return `urn:pulumi:${this.o.stack}::${this.o.project}::${type}::${reg.name}`;
  }

  private async registerAt(
    urn: string,
    reg: Registration,
  ): Promise<{ urn: string; id: string; object: Props }> {
    if (this.registered.has(urn)) {
      const msg = `${urn}: duplicate resource URN: two resources of type ${reg.type} are named "${reg.name}". Fix: give each a unique name.`;
      this.errors.push(msg);
      this.cancelled = true;
      throw new Error(msg);
    }
    this.registered.add(urn);
    if (this.cancelled) throw new Error(SKIPPED);
    if (!reg.custom) return this.registerComponent(urn, reg);
    const attempted: Attempt = {
      op: this.old.has(urn) ? "update" : "create",
      diffs: [],
    };
    try {
      const entry = await this.registerCustom(urn, reg, attempted);
      return { urn, id: entry.id, object: entry.outputs };
    } catch (err) {
      const failure =
        err instanceof StepFailure ? err : new StepFailure([`${urn}: ${(err as Error).message}`]);
      if (failure.partial && this.o.mode !== "preview") {
        this.setLive(failure.partial);
        this.save();
      }
      const messages = failure.messages.map((m) => this.redact(m));
      this.errors.push(...messages);
      this.steps.push({
        urn,
        type: reg.type,
        op: attempted.op,
        diffs: attempted.diffs,
        ...(attempted.op === "update" || attempted.op === "replace"
          ? { detailedDiff: attempted.detailedDiff }
          : {}),
        error: messages.join("; "),
      });
      this.cancelled = true;
      // What the program sees (and may echo in its own errors) is the redacted text.
      throw new Error(messages.join("; "));
    }
  }

  private registerComponent(urn: string, reg: Registration): { urn: string; id: string; object: Props } {
    const old = this.old.get(urn);
    if (reg.type === ROOT_STACK_TYPE && !reg.parent) this.rootUrn = urn;
    const entry: StateResource = {
      ...this.base(urn, reg),
      id: "",
      inputs: reg.object,
      outputs: old?.outputs ?? {},
    };
    this.setLive(entry);
    this.save();
    this.step(entry, old ? "same" : "create", []);
    return { urn, id: "", object: reg.object };
  }

  private async registerCustom(urn: string, reg: Registration, attempted: Attempt): Promise<StateResource> {
    if (reg.importId) {
      throw new StepFailure([`${urn}: import (id "${reg.importId}") is not supported by the engine harness`]);
    }
    const provider = await this.providerFor(reg.type);
    const old = this.old.get(urn);
    const news = old ? applyIgnoreChanges(old.inputs, reg.object, reg.ignoreChanges) : reg.object;
    const ctx: CallContext = {
      urn,
      type: reg.type,
      name: reg.name,
      secrets: [...secretStrings(news), ...(old ? secretStrings(old.outputs) : [])],
    };
    const oldInputs = old ? revealSecrets(old.inputs) : {};
    const checked = await provider.check(ctx, oldInputs, revealSecrets(news));
    if (checked.failures.length) {
      throw new StepFailure(checked.failures.map((f) => `${urn}: check failed: ${f.property}: ${f.reason}`));
    }
    // The provider saw plaintext; whatever went in secret stays secret.
    const inputs = remark(checked.inputs, (k) => containsSecret(news[k]));
    const base = { ...this.base(urn, reg), inputs };

    if (!old) return this.create(ctx, provider, reg, base, checked.inputs);

    const oldOutputs = revealSecrets(old.outputs);
    const condemnedKeys = this.condemned.get(urn);
    if (condemnedKeys) {
      // Deleted already, because it depended on a delete-before-replace resource: the engine
      // replaces it without a Diff (step_generator.go, `recreating` in generateSteps and
      // ContinueStepsFromDiff), naming the keys that condemned it.
      const detailed = detailedDiff(oldInputs, checked.inputs, oldOutputs, condemnedKeys, []);
      Object.assign(attempted, { op: "replace", diffs: condemnedKeys, detailedDiff: detailed });
      return this.create(ctx, provider, reg, base, checked.inputs, "replace", condemnedKeys, detailed);
    }
    const diff = await provider.diff(ctx, old.id, oldOutputs, checked.inputs, oldInputs);
    const inputDiff = changedKeys(oldInputs, checked.inputs);
    const changes =
      diff.changes ?? (inputDiff.length > 0 || !jsonEqual(oldInputs.__provider, checked.inputs.__provider));
    const provisional = changes
      ? detailedDiff(oldInputs, checked.inputs, oldOutputs, diff.replaces, diff.diffs)
      : {};
    // replaceOnChanges applies to the engine's ChangedKeys (pkg/resource/deploy/step_generator.go
    // `applyReplaceOnChanges`): the provider's `diffs`, or the input diff the engine computes itself
    // when the provider's answer is "unknown" (`diffResource`). A dynamic provider that answers
    // `changes` sends no diffs (the host drops them), so there replaceOnChanges does nothing.
    const engineChanged = diff.changes === undefined ? Object.keys(provisional) : diff.diffs;
    const replaces = [...diff.replaces, ...engineChanged.filter((k) => matchesAny(k, reg.replaceOnChanges))];
    const detailed = changes ? detailedDiff(oldInputs, checked.inputs, oldOutputs, replaces, diff.diffs) : {};
    const diffs = changes ? (diff.diffs.length ? diff.diffs : Object.keys(detailed).sort()) : [];
    // A resource a delete-before-replace deleted in an earlier, failed `up` is created again
    // whatever its diff says (step_generator.go: `old.PendingReplacement` forces the replace).
    const op: StepOp =
      this.o.replace?.has(urn) || old.pendingReplacement
        ? "replace"
        : changes && replaces.length
          ? "replace"
          : changes || old.pendingCreate
            ? "update"
            : "same";
    attempted.op = op;
    attempted.diffs = diffs;
    attempted.detailedDiff = detailed;

    if (op === "same") {
      const entry: StateResource = { ...base, id: old.id, outputs: old.outputs };
      this.setLive(entry);
      this.save();
      this.step(entry, "same", []);
      return entry;
    }
    // Delete-before-replace when the option or the provider asks, else create-before-delete.
    const deleteFirst = old.pendingReplacement || (reg.deleteBeforeReplace ?? diff.deleteBeforeReplace);
    if (op === "replace" && deleteFirst) await this.condemnDependents(old);
    if (this.o.mode === "preview") {
      // Providers without preview support get no Create/Update in a preview: outputs that are
      // not inputs are unknown until `up`.
      const outputs: Props = { ...inputs };
      for (const k of Object.keys(old.outputs)) if (!(k in outputs)) outputs[k] = UNKNOWN;
      const entry: StateResource = { ...base, id: op === "replace" ? "" : old.id, outputs };
      this.step(entry, op, diffs, detailed);
      return entry;
    }
    if (op === "update") {
      let outs: Props;
      try {
        outs = await this.slot(() =>
          provider.update(ctx, old.id, revealSecrets(old.outputs), checked.inputs, oldInputs),
        );
      } catch (err) {
        throw this.initFailure(err, `${urn}: update failed`, { ...base, id: old.id }, reg, provider, inputs);
      }
      const entry: StateResource = {
        ...base,
        id: old.id,
        outputs: this.markOutputs(outs, inputs, reg, provider),
      };
      this.setLive(entry);
      this.save();
      this.step(entry, "update", diffs, detailed);
      return entry;
    }
    if (deleteFirst && !old.pendingReplacement) {
      if (!(await this.deleteReplaced(old)))
        throw new StepFailure([`${urn}: replace stopped: deleting the old resource failed`]);
    }
    // The old half stays in state, marked for deletion, from the moment the new one exists.
    const oldHalf: StateResource = { ...old, pendingDelete: true };
    if (!deleteFirst) this.live.push(oldHalf);
    try {
      const entry = await this.create(ctx, provider, reg, base, checked.inputs, "replace", diffs, detailed);
      if (!deleteFirst) this.replacedOld.push(oldHalf);
      return entry;
    } catch (err) {
      const newHalfExists = err instanceof StepFailure && !!err.partial;
      if (!deleteFirst && !newHalfExists) this.live = this.live.filter((r) => r !== oldHalf);
      throw err;
    }
  }

  private async create(
    ctx: CallContext,
    provider: EngineProvider,
    reg: Registration,
    base: Omit<StateResource, "id" | "outputs">,
    checkedInputs: Props,
    op: StepOp = "create",
    diffs: string[] = [],
    detailed?: Record<string, PropertyDiffKind>,
  ): Promise<StateResource> {
    if (this.o.mode === "preview") {
      const entry: StateResource = { ...base, id: "", outputs: { ...base.inputs } };
      this.step(entry, op, diffs, detailed);
      return entry;
    }
    let created: { id: string; outputs: Props };
    try {
      created = await this.slot(() => provider.create(ctx, checkedInputs));
    } catch (err) {
      throw this.initFailure(
        err,
        `${ctx.urn}: create failed`,
        { ...base, id: "" },
        reg,
        provider,
        base.inputs,
      );
    }
    if (!created.id) throw new StepFailure([`${ctx.urn}: create failed: the provider returned an empty id`]);
    const entry: StateResource = {
      ...base,
      id: created.id,
      outputs: this.markOutputs(created.outputs, base.inputs, reg, provider),
    };
    this.setLive(entry);
    this.save();
    this.step(entry, op, diffs, detailed);
    return entry;
  }

  /** A create/update error; one with init-failure details records the object as pending. */
  private initFailure(
    err: unknown,
    what: string,
    base: Omit<StateResource, "outputs">,
    reg: Registration,
    provider: EngineProvider,
    inputs: Props,
  ): StepFailure {
    if (!(err instanceof ResourceInitError)) return new StepFailure([`${what}: ${(err as Error).message}`]);
    const partial: StateResource = {
      ...base,
      id: err.id || base.id,
      outputs: this.markOutputs(err.properties, inputs, reg, provider),
      pendingCreate: true,
    };
    const reasons = err.reasons.filter((r) => r !== err.message);
    return new StepFailure(
      [
        `${what} half-way (recorded as pending, id "${err.id}"; the next up finishes it): ${[err.message, ...reasons].join("; ")}`,
      ],
      partial,
    );
  }

  /** Tags outputs secret: asked for, declared by the provider, same-named secret input, or returned secret. */
  private markOutputs(outputs: Props, inputs: Props, reg: Registration, provider: EngineProvider): Props {
    const declared = new Set([...reg.additionalSecretOutputs, ...provider.secretOutputs]);
    return remark(outputs, (k, v) => declared.has(k) || containsSecret(inputs[k]) || isSecret(v));
  }

  // ---- refresh and destroy -------------------------------------------------------------------

  async refresh(): Promise<void> {
    // A pending-replacement resource is gone already: the engine's RefreshStep leaves it as it is.
    const customs = this.live.filter((r) => r.custom && !r.pendingDelete && !r.pendingReplacement);
    await Promise.all(
      customs.map(async (r) => {
        try {
          const provider = await this.providerFor(r.type);
          const ctx = this.ctxFor(r);
          const read = await this.slot(() =>
            provider.read(ctx, r.id, revealSecrets(r.outputs), revealSecrets(r.inputs)),
          );
          if (!read.id) {
            this.live = this.live.filter((x) => x !== r);
            this.save();
            this.step(r, "refresh-delete", []);
            return;
          }
          const wasSecret = (props: Props) => (k: string) =>
            containsSecret(props[k]) ||
            provider.secretOutputs.includes(k) ||
            r.options.additionalSecretOutputs.includes(k);
          const changed = changedKeys(revealSecrets(r.outputs), read.outputs);
          const entry: StateResource = {
            ...r,
            id: read.id,
            outputs: remark(read.outputs, wasSecret(r.outputs)),
            inputs: read.inputs ? remark(read.inputs, wasSecret(r.inputs)) : r.inputs,
          };
          this.live = this.live.map((x) => (x === r ? entry : x));
          this.save();
          this.step(entry, changed.length ? "refresh-update" : "same", changed);
        } catch (err) {
          const msg = this.redact(`${r.urn}: refresh failed: ${(err as Error).message}`);
          this.errors.push(msg);
          this.steps.push({ urn: r.urn, type: r.type, op: "refresh-update", diffs: [], error: msg });
        }
      }),
    );
  }

  /**
   * Deletes everything, or the targets, dependents first. As in the engine (pulumi/pulumi
   * pkg/resource/deploy/step_generator.go `determineAllowedResourcesToDeleteFromTargets`,
   * `getTargetDependents`): the targets' dependents (dependencies, property dependencies,
   * `dependsOn`, children, transitively) go too, but only with `targetDependents`; without it each
   * one is an error (diag 2014) and nothing is deleted.
   */
  async destroy(opts: DestroyTargets = {}): Promise<void> {
    const targets = opts.target ?? [];
    let doomed = this.live;
    if (targets.length) {
      const unknown = targets.filter((t) => !this.live.some((r) => r.urn === t));
      if (unknown.length) {
        this.errors.push(
          `destroy --target: not in the stack's state: ${unknown.join(", ")}. Fix: pass URNs from state().`,
        );
        return;
      }
      const set = withDependents(this.live, new Set(targets));
      const untargeted = [...set].filter((u) => !targets.includes(u));
      if (untargeted.length && !opts.targetDependents) {
        for (const u of untargeted) {
          this.errors.push(
            `Resource '${u}' will be destroyed but was not specified in --target list.\n` +
              "Either include resource in --target list or pass --target-dependents to proceed.",
          );
        }
        return;
      }
      doomed = this.live.filter((r) => set.has(r.urn));
    }
    await deleteInReverseOrder([...doomed], (r) => this.deleteResource(r, true));
  }

  // ---- shared ------------------------------------------------------------------------------

  /** Deletes one resource with the provider stored in its state; false (and an error) if it failed. */
  private async deleteResource(r: StateResource, recordStep: boolean): Promise<boolean> {
    try {
      if (r.options.protect) {
        throw new Error(
          "the resource is protected (protect: true). Fix: remove the protect option and run up, then delete it",
        );
      }
      // A pending-replacement resource was deleted already; only its state entry goes.
      if (r.custom && !r.options.retainOnDelete && !r.pendingReplacement && !this.o.dryRun) {
        const provider = await this.providerFor(r.type);
        await this.slot(() =>
          provider.delete(this.ctxFor(r), r.id, revealSecrets(r.outputs), revealSecrets(r.inputs)),
        );
      }
      this.live = this.live.filter((x) => x !== r);
      this.save();
      if (recordStep) this.step(r, "delete", []);
      return true;
    } catch (err) {
      const msg = this.redact(`${r.urn}: delete failed: ${(err as Error).message}`);
      this.errors.push(msg);
      this.steps.push({ urn: r.urn, type: r.type, op: "delete", diffs: [], error: msg });
      this.cancelled = true;
      return false;
    }
  }

  /**
   * The first half of a delete-before-replace: deletes the resource but keeps it in state marked
   * `pendingReplacement` (step.go `DeleteStep.Apply` sets `PendingReplacement` only after the
   * provider's Delete succeeded), so an `up` that fails before the create still knows it. Preview:
   * no provider call, no state.
   */
  private async deleteReplaced(r: StateResource): Promise<boolean> {
    if (this.o.mode === "preview") return true;
    try {
      if (r.custom && !r.options.retainOnDelete) {
        const provider = await this.providerFor(r.type);
        await this.slot(() =>
          provider.delete(this.ctxFor(r), r.id, revealSecrets(r.outputs), revealSecrets(r.inputs)),
        );
      }
      this.live = this.live.map((x) => (x === r ? { ...r, pendingReplacement: true } : x));
      this.save();
      return true;
    } catch (err) {
      const msg = this.redact(`${r.urn}: delete failed: ${(err as Error).message}`);
      this.errors.push(msg);
      this.steps.push({ urn: r.urn, type: r.type, op: "delete", diffs: [], error: msg });
      this.cancelled = true;
      return false;
    }
  }

  /**
   * Before a delete-before-replace deletes `root`, the engine deletes every dependent that the
   * change would replace, last dependent first (pulumi/pulumi pkg/resource/deploy/step_generator.go,
   * the `deleteBeforeReplace` branch of `continueStepsFromDiff`, and `calculateDependentReplacements`):
   * walking the OLD state's dependents of `root` in dependency order (dependencies, property
   * dependencies, provider; not parent: `graph.DependingOn(..., includeChildren=false)`), skipping
   * resources the program registered already, a custom resource is condemned when its provider is
   * condemned, or when the provider's Diff, with every input that has a property dependency on a
   * condemned resource set unknown, answers "replace" (`replaceOnChanges` applied). Components
   * never are. A protected one fails the replace before anything is deleted.
   */
  private async condemnDependents(root: StateResource): Promise<void> {
    const replaceSet = new Set([root.urn]);
    const reached = new Set([root.urn]);
    const doomed: StateResource[] = [];
    for (const d of dependencyOrder(this.live.filter((r) => !r.pendingDelete))) {
      if (d.urn === root.urn || this.registered.has(d.urn)) continue;
      const provider = d.options.provider ? providerUrn(d.options.provider) : undefined;
      const edges = [
        ...d.dependencies,
        ...d.options.dependsOn,
        ...Object.values(d.propertyDependencies).flat(),
      ];
      if (!edges.some((e) => reached.has(e)) && !(provider && reached.has(provider))) continue;
      reached.add(d.urn);
      if (this.condemned.has(d.urn) || d.pendingReplacement) {
        replaceSet.add(d.urn);
        continue;
      }
      const keys = await this.replaceKeysIfCondemned(d, replaceSet, provider);
      if (!keys) continue;
      replaceSet.add(d.urn);
      doomed.push(d);
      this.condemned.set(d.urn, keys);
    }
    const guarded = doomed.find((d) => d.options.protect);
    if (guarded) {
      throw new StepFailure([
        `${root.urn}: unable to replace resource "${guarded.urn}" as part of replacing "${root.urn}" as it is ` +
          "marked for protection (protect: true). Fix: remove the protect option from it and run up",
      ]);
    }
    for (const d of doomed.reverse()) {
      if (!(await this.deleteReplaced(d)))
        throw new StepFailure([`${root.urn}: replace stopped: deleting its dependent ${d.urn} failed`]);
    }
  }

  /** `calculateDependentReplacements` `requiresReplacement`: the replace keys, or undefined. */
  private async replaceKeysIfCondemned(
    d: StateResource,
    replaceSet: Set<string>,
    providerRef: string | undefined,
  ): Promise<string[] | undefined> {
    if (!d.custom) return undefined;
    if (providerRef && replaceSet.has(providerRef)) return [];
    const oldInputs = revealSecrets(d.inputs);
    const inputsForDiff: Props = {};
    let touched = false;
    for (const [k, v] of Object.entries(oldInputs)) {
      const hit = (d.propertyDependencies[k] ?? []).some((u) => replaceSet.has(u));
      touched ||= hit;
      inputsForDiff[k] = hit ? UNKNOWN : v;
    }
    if (!touched) return undefined;
    const provider = await this.providerFor(d.type);
    const diff = await provider.diff(
      this.ctxFor(d),
      d.id,
      revealSecrets(d.outputs),
      inputsForDiff,
      oldInputs,
    );
    if (diff.changes === false) return undefined;
    const changed = diff.changes === undefined ? changedKeys(oldInputs, inputsForDiff) : diff.diffs;
    const replaces = [...diff.replaces, ...changed.filter((k) => matchesAny(k, d.options.replaceOnChanges))];
    return replaces.length ? [...new Set(replaces)] : undefined;
  }

  /** Runs one provider operation within the `parallel` bound (the engine's step workers). */
  private async slot<T>(operation: () => Promise<T>): Promise<T> {
    const limit = this.o.parallel ?? defaultParallel();
    while (this.active >= limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await operation();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  /**
   * Starts the provider host now, in parallel with the program (it takes a second to load the
   * SDK). A start failure surfaces when a resource needs the host.
   */
  startDynamicHost(): void {
    this.host ??= this.o.dynamicHost();
    this.host.catch(() => undefined);
  }

  /**
   * What the engine does to a provider's error before it shows it: only the stack's secret CONFIG
   * values become "[secret]" (pkg/engine/events.go `makeEventEmitter` registers them with
   * `logging.AddGlobalSecretFilter`; diag events go through `logging.FilterString`). Secret resource
   * inputs and outputs are not filtered: keeping them out of error text is the provider's job.
   */
  private redact(message: string): string {
    return engineSecretFilter(message, this.o.configSecrets ?? []);
  }

  private ctxFor(r: StateResource): CallContext {
    const name = r.urn.slice(r.urn.lastIndexOf("::") + 2);
    return {
      urn: r.urn,
      type: r.type,
      name,
      secrets: [...secretStrings(r.inputs), ...secretStrings(r.outputs)],
    };
  }

  private providerFor(type: string): Promise<EngineProvider> {
    if (type.startsWith("pulumi-nodejs:dynamic")) {
      this.host ??= this.o.dynamicHost();
      return this.host;
    }
    const emulated = emulatedProvider(type);
    if (emulated) return Promise.resolve(emulated);
    return Promise.reject(
      new Error(
        `resource type ${type} is not emulated by the engine harness (it runs dynamic providers and ` +
          `${EMULATED_TYPES.join(", ")}). Fix: add an emulation in test/harness/emulated/`,
      ),
    );
  }

  private base(urn: string, reg: Registration): Omit<StateResource, "id" | "outputs" | "inputs"> {
    const implicit = new Set(Object.values(reg.propertyDependencies).flat());
    const options: ResourceOptionsState = {
      dependsOn: reg.dependencies.filter((d) => !implicit.has(d)),
      protect: reg.protect,
      ignoreChanges: reg.ignoreChanges,
      replaceOnChanges: reg.replaceOnChanges,
      additionalSecretOutputs: reg.additionalSecretOutputs,
    };
    if (reg.deleteBeforeReplace !== undefined) options.deleteBeforeReplace = reg.deleteBeforeReplace;
    if (reg.provider) options.provider = reg.provider;
    if (reg.retainOnDelete) options.retainOnDelete = true;
    const base: Omit<StateResource, "id" | "outputs" | "inputs"> = {
      urn,
      type: reg.type,
      custom: reg.custom,
      dependencies: reg.dependencies,
      propertyDependencies: reg.propertyDependencies,
      options,
    };
    if (reg.parent) base.parent = reg.parent;
    return base;
  }

  /** Puts `entry` in place of the live (not pending-delete) resource with its URN, or appends it. */
  private setLive(entry: StateResource): void {
    const i = this.live.findIndex((r) => r.urn === entry.urn && !r.pendingDelete);
    if (i >= 0) this.live[i] = entry;
    else this.live.push(entry);
  }

  private save(): void {
    if (this.o.mode !== "preview" && !this.o.dryRun) this.o.store.save(this.live);
  }

  private step(
    r: { urn: string; type: string },
    op: StepOp,
    diffs: string[],
    detailed?: Record<string, PropertyDiffKind>,
  ): void {
    const step: Step = { urn: r.urn, type: r.type, op, diffs };
    if (detailed && (op === "update" || op === "replace")) step.detailedDiff = detailed;
    this.steps.push(step);
  }
}

/**
 * pulumi/pulumi sdk/go/common/util/logging/log.go `replacements` + `FilterString`: each secret of
 * 3 or more characters (and not "true"/"false") becomes `replacement`, also in its JSON-escaped form.
 */
export function engineSecretFilter(message: string, secrets: string[], replacement = "[secret]"): string {
  const needles: string[] = [];
  for (const sec of secrets) {
    if (sec.length < 3 || /^(true|false)$/i.test(sec)) continue;
    needles.push(sec);
    const escaped = JSON.stringify(sec).slice(1, -1);
    if (escaped !== sec) needles.push(escaped);
  }
  let out = message;
  // Longest first, so a secret that contains another is replaced whole.
  for (const n of [...new Set(needles)].sort((a, b) => b.length - a.length))
    out = out.split(n).join(replacement);
  return out;
}

/** What registerCustom attempted, for the step a failure records. */
interface Attempt {
  op: StepOp;
  diffs: string[];
  detailedDiff?: Record<string, PropertyDiffKind>;
}

/**
 * The property diff the CLI shows for a provider without a detailed diff (pulumi/pulumi
 * pkg/backend/display/rows.go `getDiffInfo`: old inputs vs new inputs, internal `__` keys left
 * out), each marked `-replace` when it is a replace key. When the inputs are equal but the provider
 * still reports changes (it diffs the old OUTPUTS: drift found by refresh), the CLI lists no field;
 * the harness then names the input keys whose new value differs from the old output (or is
 * unknown), plus the provider's `diffs`/`replaces`, so a step never says "update" without a field.
 */
export function detailedDiff(
  oldInputs: Props,
  news: Props,
  oldOutputs: Props,
  replaces: string[],
  providerDiffs: string[],
): Record<string, PropertyDiffKind> {
  const out: Record<string, PropertyDiffKind> = {};
  const keys = [...new Set([...Object.keys(oldInputs), ...Object.keys(news)])].filter(
    (k) => !k.startsWith("__"),
  );
  for (const k of keys) {
    if (jsonEqual(oldInputs[k], news[k])) continue;
    out[k] = oldInputs[k] === undefined ? "add" : news[k] === undefined ? "delete" : "update";
  }
  if (!Object.keys(out).length) {
    for (const k of Object.keys(news).filter((x) => !x.startsWith("__"))) {
      if (news[k] === UNKNOWN || !jsonEqual(oldOutputs[k], news[k])) out[k] = "update";
    }
  }
  for (const k of [...providerDiffs, ...replaces]) out[k.split(".")[0]] ??= "update";
  const replaced = (k: string) => replaces.some((r) => r === k || r.startsWith(`${k}.`));
  for (const [k, kind] of Object.entries(out)) {
    if (replaced(k)) out[k] = `${kind}-replace` as PropertyDiffKind;
  }
  const sorted: Record<string, PropertyDiffKind> = {};
  for (const k of Object.keys(out).sort()) sorted[k] = out[k];
  return sorted;
}

/** Copy of `props` with the keys `isSecret(key, value)` picks wrapped as secrets. */
function remark(props: Props, secret: (key: string, value: unknown) => boolean): Props {
  const out: Props = {};
  for (const [k, v] of Object.entries(props)) out[k] = secret(k, v) ? makeSecret(v) : v;
  return out;
}

/** `ignoreChanges`: the old input value wins at each listed path (`a` or `a.b.c`). */
function applyIgnoreChanges(oldInputs: Props, news: Props, paths: string[]): Props {
  if (!paths.length) return news;
  const out = JSON.parse(JSON.stringify(news)) as Props;
  for (const p of paths) {
    const keys = p.split(".");
    let from: unknown = oldInputs;
    let to: Props = out;
    for (let i = 0; i < keys.length - 1; i++) {
      from = from && typeof from === "object" ? (from as Props)[keys[i]] : undefined;
      if (!to[keys[i]] || typeof to[keys[i]] !== "object") to[keys[i]] = {};
      to = to[keys[i]] as Props;
    }
    const last = keys[keys.length - 1];
    const oldValue = from && typeof from === "object" ? (from as Props)[last] : undefined;
    if (oldValue === undefined) delete to[last];
    else to[last] = oldValue;
  }
  return out;
}

/** The URN of a provider reference `<urn>::<id>`. */
function providerUrn(ref: string): string {
  return ref.slice(0, ref.lastIndexOf("::"));
}

/** `replaceOnChanges` entries: `*`, a property, or a path prefix of one. */
function matchesAny(key: string, patterns: string[]): boolean {
  return patterns.some((p) => p === "*" || p === key || p.startsWith(`${key}.`) || key.startsWith(`${p}.`));
}
