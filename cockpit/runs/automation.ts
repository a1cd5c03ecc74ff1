/**
 * The production engine: the Pulumi Automation API (`@pulumi/pulumi/automation`) with a
 * `LocalWorkspace` over the project directory, the `pulumi` CLI found under `pulumiRoot`
 * (`PulumiCommand.get({ root })` runs `<root>/bin/pulumi`), a local file backend and the stack's
 * passphrase given to the CLI as a file path (`PULUMI_CONFIG_PASSPHRASE_FILE`), so the passphrase
 * itself never passes through the cockpit's environment or arguments.
 */
import type { Stack } from "@pulumi/pulumi/automation";
import { OperationError } from "../../providers/shared/errors";
import type { EngineOp, EngineResult, EngineRunOptions, StackEngine, StateResource } from "./engine";

/** How the Automation API engine reaches the CLI, the project and the state. */
export interface AutomationEngineOptions {
  /** The project directory (holds `Pulumi.yaml` and `Pulumi.<stack>.yaml`). */
  projectDir: string;
  /** Directory with `bin/pulumi` (the pinned CLI); required. */
  pulumiRoot: string;
  /** Skip the SDK's minimum-version check of the CLI (only for a CLI that reports no usable version). Default false. */
  skipVersionCheck?: boolean;
  /** The state backend, e.g. `file:///var/lib/cockpit/state`; required. */
  backendUrl: string;
  /** A file holding the stack passphrase, readable only by the service user; required. */
  passphraseFile: string;
  /** `PULUMI_HOME` for the CLI (plugins, credentials); default: the CLI's own default. */
  pulumiHome?: string;
}

export class AutomationEngine implements StackEngine {
  constructor(private readonly opts: AutomationEngineOptions) {}

  private async stack(stackName: string): Promise<Stack> {
    const { LocalWorkspace, PulumiCommand, StackNotFoundError } = require("@pulumi/pulumi/automation");
    const pulumiCommand = await PulumiCommand.get({
      root: this.opts.pulumiRoot,
      skipVersionCheck: this.opts.skipVersionCheck === true,
    });
    const envVars: Record<string, string> = {
      PULUMI_BACKEND_URL: this.opts.backendUrl,
      PULUMI_CONFIG_PASSPHRASE_FILE: this.opts.passphraseFile,
      PULUMI_SKIP_UPDATE_CHECK: "true",
    };
    // selectStack, not createOrSelectStack: a stack whose state is missing must fail loudly;
    // creating an empty one would make the next `up` build a second environment beside the first.
    try {
      return await LocalWorkspace.selectStack(
        { stackName, workDir: this.opts.projectDir },
        {
          workDir: this.opts.projectDir,
          pulumiCommand,
          envVars,
          ...(this.opts.pulumiHome ? { pulumiHome: this.opts.pulumiHome } : {}),
        },
      );
    } catch (err) {
      if (err instanceof StackNotFoundError) {
        throw new OperationError(
          `stack "${stackName}"`,
          "select",
          `the backend ${this.opts.backendUrl} has no state for it`,
          "hand the state over from the bootstrap machine (pulumi stack export/import) before running it here",
        );
      }
      throw err;
    }
  }

  async run(stackName: string, op: EngineOp, o: EngineRunOptions): Promise<EngineResult> {
    const stack = await this.stack(stackName);
    const common = {
      onOutput: o.onOutput,
      onEvent: o.onEvent,
      signal: o.signal,
      color: "never" as const,
      ...(o.target && o.target.length > 0 ? { target: o.target } : {}),
    };
    switch (op) {
      case "preview": {
        const r = await stack.preview({ ...common, ...(o.refresh ? { refresh: true } : {}) });
        return { changes: numbers(r.changeSummary) };
      }
      case "drift": {
        // `refresh --preview-only` (automation/stack.js previewRefresh): reads, keeps nothing.
        const r = await stack.previewRefresh(common);
        return { changes: numbers(r.changeSummary) };
      }
      case "up": {
        const r = await stack.up({ ...common, ...(o.refresh ? { refresh: true } : {}) });
        return { changes: numbers(r.summary.resourceChanges) };
      }
      case "refresh": {
        const r = await stack.refresh(common);
        return { changes: numbers(r.summary.resourceChanges) };
      }
      case "destroy": {
        if (!o.target || o.target.length !== 1) {
          throw new OperationError(
            `stack "${stackName}"`,
            "destroy",
            "a destroy needs exactly one target URN",
            "pass target",
          );
        }
        const r = await stack.destroy(common);
        return { changes: numbers(r.summary.resourceChanges) };
      }
    }
  }

  async resources(stackName: string): Promise<StateResource[]> {
    const stack = await this.stack(stackName);
    const exported = await stack.exportStack();
    const resources = (exported.deployment?.resources ?? []) as Array<Record<string, unknown>>;
    return resources.map((r) => ({
      urn: String(r.urn ?? ""),
      type: String(r.type ?? ""),
      id: typeof r.id === "string" ? r.id : "",
      parent: typeof r.parent === "string" ? r.parent : "",
    }));
  }
}

function numbers(m: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (m && typeof m === "object") {
    for (const [k, v] of Object.entries(m as Record<string, unknown>)) if (typeof v === "number") out[k] = v;
  }
  return out;
}
