/**
 * AppTest: tests built apps in core0 containers (the runner, runner.ts), reports on Telegram
 * (report.ts); a thin resource over them.
 *
 * Decisions:
 * - diff: only an app's `buildId`, plist, processes, tests or resources (its fingerprint) trigger a
 *   run; nodes, passwords, `maxPerNode` and the Telegram connection do not. An update re-runs only
 *   the apps whose fingerprint changed or that failed last time, and keeps the other results. So a
 *   no-op `up` runs nothing.
 * - A failed test fails the resource with an error naming each app and test, after recording the
 *   results (partial create): the next `up` re-runs the failed apps even if nothing changed.
 * - read returns the recorded results (a test run is history: nothing to read back); delete
 *   terminates the `leftovers` (if any) and otherwise has nothing to do.
 */
import * as pulumi from "@pulumi/pulumi";
import { InputError, OperationError, resourceLabel } from "../../providers/shared/errors";
import { containsUnknown } from "../../providers/shared/dynamic";
import { KitResource, type KitArgs } from "../../providers/shared/kit-resource";
import { type AppTestFields, appTestKit } from "./check";
import { failIfFailed, runAndReport } from "./report";
import { staleApps, terminateLeftovers } from "./runner";
import {
  type AppTestInputs,
  type AppTestLeftover,
  type AppTestOutputs,
  type AppTestResult,
  KIND,
} from "./types";

function normalise(i: AppTestInputs): AppTestInputs {
  return { ...i, apps: i.apps ?? [], nodes: i.nodes ?? [] };
}

export const appTestProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: AppTestInputs, news: AppTestInputs) {
    return appTestKit.check(news);
  },

  async diff(_id: string, olds: AppTestOutputs, news: AppTestInputs) {
    if (containsUnknown(news.apps)) return { changes: true, replaces: [], deleteBeforeReplace: false };
    const old = olds.results ?? [];
    const removed = old.some((r) => !(news.apps ?? []).some((a) => a.app === r.app));
    const changes = staleApps(old, news.apps ?? []).length > 0 || removed || olds.name !== news.name;
    return { changes, replaces: [], deleteBeforeReplace: false };
  },

  async create(inputs: AppTestInputs) {
    const i = normalise(inputs);
    const crypto = require("crypto") as typeof import("crypto");
    const id = `apptest-${i.name}-${crypto.randomUUID().slice(0, 8)}`;
    const outs = await runAndReport(i, i.apps, []);
    failIfFailed(i, id, outs);
    return { id, outs };
  },

  async read(id: string, props: AppTestOutputs) {
    return { id, props };
  },

  async update(id: string, olds: AppTestOutputs, news: AppTestInputs) {
    const i = normalise(news);
    const old = olds.results ?? [];
    const outs = await runAndReport(i, staleApps(old, i.apps), old, olds.leftovers ?? []);
    failIfFailed(i, id, outs);
    return { outs };
  },

  async delete(id: string, olds: AppTestOutputs) {
    // The containers were terminated when the tests ended, except the leftovers.
    const failed = await terminateLeftovers(olds.leftovers ?? []);
    if (failed.length > 0) {
      throw new OperationError(
        resourceLabel(KIND, olds.name ?? id),
        "delete",
        `could not terminate ${failed.map((f) => `container ${f.leftover.container} on ${f.leftover.address}:${f.leftover.port} (${f.error})`).join("; ")}`,
        "bring the node back and delete again, or terminate the container by hand and remove the resource from the state (pulumi state delete)",
      );
    }
  },
};

/** AppTest's arguments, derived from its field declarations (check.ts); `name` is the resource name. */
export type AppTestArgs = Omit<KitArgs<AppTestFields>, "name">;

/** Tests apps in core0 containers; fails (after recording the results) when any test fails. */
export class AppTest extends KitResource {
  declare readonly passed: pulumi.Output<boolean>;
  declare readonly failures: pulumi.Output<string[]>;
  declare readonly results: pulumi.Output<AppTestResult[]>;
  declare readonly telegramErrors: pulumi.Output<string[]>;
  declare readonly leftovers: pulumi.Output<AppTestLeftover[]>;

  constructor(name: string, args: AppTestArgs, opts?: pulumi.CustomResourceOptions) {
    if (!args.nodes) {
      throw new InputError(
        resourceLabel(KIND, name),
        "nodes",
        "is missing",
        "pass the core0 nodes to test on",
      );
    }
    // The kit wraps nodes and telegram as secrets, seeds the outputs, marks leftovers secret
    // (keeping the caller's additionalSecretOutputs); the token stays build:AppTest.
    super(appTestKit, appTestProvider, name, { ...args, name }, opts);
  }
}
