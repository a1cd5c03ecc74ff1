/**
 * BuildRun: one build run of the build tree (seed 001, "build run's"): build every app, test the
 * apps in core0 containers in parallel across the core0 nodes, and only when every test passed
 * release the plists into the AYS templates repo (per branch, tree hash on IPFS, commit, push).
 * Reports on Telegram as it goes.
 *
 * Reading order: validate args, build (one child per app), test (AppTest), release
 * (TemplatesRelease, fed by AppTest's outputs, so a failed test means no release step at all),
 * Telegram messages. Telegram messages only ever depend on what they announce; no resource
 * depends on a message, so a Telegram outage never blocks a build or a release.
 *
 * Telegram traffic per run, within the group's ~20 messages/minute: "started" (1), all builds in
 * one message (1), the test digest (1, from AppTest's TelegramDigest), one urgent alert per failed
 * app (sent by AppTest at once, never dropped), and the release summary with hash and commits (1).
 */
import * as pulumi from "@pulumi/pulumi";
import { InputError, resourceLabel } from "../../providers/shared/errors";
import { AppTest, type AppUnderTest, type TestNode } from "../../workflows/app-test";
import { type BranchRelease, TemplatesRelease } from "../../workflows/templates-release";
import type { AppSpec } from "../../workflows/app-tree";
import { TelegramMessage } from "../../providers/telegram/message";

const KIND = "g8os:build:BuildRun";

/** What building one app yields: the outputs of part A's AppBuild resource (a subset). */
export interface AppBuildResult {
  app: pulumi.Input<string>;
  buildId: pulumi.Input<string>;
  /** The plist text. */
  plist: pulumi.Input<string>;
  /** IPFS CID of the plist (core0 nodes fetch it as `<ipfsGateway>/ipfs/<cid>`). */
  plistCid: pulumi.Input<string>;
  /** Files pushed to IPFS; only counted in the report. */
  files?: pulumi.Input<pulumi.Input<{ path: string; cid: string; size: number }>[]>;
}

/** Builds one app as a child of the run: e.g. `(app, opts) => new AppBuild(app.name, {...}, opts)`. */
export type AppBuilder = (app: AppSpec, opts: pulumi.CustomResourceOptions) => AppBuildResult;

export interface BuildRunArgs {
  /**
   * Id of this run (e.g. the CI build number or a date stamp). Keys the Telegram messages: a new
   * id announces again. Required, non-empty.
   */
  runId: pulumi.Input<string>;
  /** The build tree's apps (`loadBuildTree(dir).apps`), at least one; names unique. */
  apps: AppSpec[];
  /**
   * Builds each app on the build node and pushes its files to IPFS (part A's AppBuild). Called once
   * per app, in order, with `parent` set to this component.
   */
  buildApp: AppBuilder;
  /**
   * core0 nodes the tests spread over; each needs `ipfsGateway`. At least one. A node password,
   * when set, is secret; a node without one is reached without AUTH (a stock v0.9 node).
   */
  core0Nodes: pulumi.Input<pulumi.Input<TestNode>[]>;
  /** Apps tested at once per core0 node. Default 2. */
  maxTestsPerNode?: pulumi.Input<number>;
  /** IPFS RPC API the templates tree is added to and pinned on. */
  ipfsApi: pulumi.Input<string>;
  /** The AYS templates repo. */
  templates: {
    /** `ssh://[user@]host[:port]/path`. */
    repoUrl: pulumi.Input<string>;
    /** Deploy key with push rights (kept secret). */
    deployKey: pulumi.Input<string>;
    /** known_hosts line(s) of the git server. */
    knownHosts: pulumi.Input<string>;
    /** Branches released to; each app goes to the branches its `branches` field lists. */
    branches: string[];
  };
  /** Telegram build group (token secret). Unset = no reports. */
  telegram?: pulumi.Input<{
    token: pulumi.Input<string>;
    chatId: pulumi.Input<string | number>;
    topicId?: pulumi.Input<number>;
    apiRoot?: pulumi.Input<string>;
  }>;
}

/** A build tree test as AppTest runs it: processes from `args`, tests through `sh -c`. */
export function appUnderTest(app: AppSpec, build: { buildId: string; plistCid: string }): AppUnderTest {
  return {
    app: app.name,
    buildId: build.buildId,
    plistCid: build.plistCid,
    processes: app.processes.map((p) => ({
      name: p.name,
      command: p.args[0],
      args: p.args.slice(1),
      env: p.env,
      cwd: p.cwd,
    })),
    tests: app.tests.map((t) => ({
      name: t.name,
      command: "sh",
      args: ["-c", t.command],
      process: t.process,
      expectExitCode: t.expectExitCode,
      expectOutput: t.expectOutput,
      timeoutSeconds: t.timeoutSeconds,
    })),
    resources: app.resources,
  };
}

function validate(name: string, args: BuildRunArgs): void {
  const lbl = resourceLabel("BuildRun", name);
  if (!args.runId)
    throw new InputError(lbl, "runId", "is missing", "pass an id for this run, e.g. the CI build number");
  if (!Array.isArray(args.apps) || args.apps.length === 0) {
    throw new InputError(lbl, "apps", "is empty", "load the build tree (loadBuildTree) and pass its apps");
  }
  const names = args.apps.map((a) => a.name);
  const twice = names.find((n, k) => names.indexOf(n) !== k);
  if (twice)
    throw new InputError(lbl, "apps", `app ${twice} is listed twice`, "give every app a unique name");
  if (typeof args.buildApp !== "function") {
    throw new InputError(lbl, "buildApp", "is missing", "pass a function creating the app's AppBuild");
  }
  const branches = args.templates?.branches ?? [];
  if (branches.length === 0) {
    throw new InputError(
      lbl,
      "templates.branches",
      "is empty",
      "list the templates repo branches, e.g. [master]",
    );
  }
  for (const a of args.apps) {
    const unknown = a.branches.filter((b) => !branches.includes(b));
    if (unknown.length > 0) {
      throw new InputError(
        lbl,
        `apps[${a.name}].branches`,
        `names ${unknown.join(", ")}, not in templates.branches (${branches.join(", ")})`,
        "add the branch to templates.branches or remove it from the app",
      );
    }
    if (a.templates.length === 0) {
      throw new InputError(lbl, `apps[${a.name}].templates`, "is empty", "list the app's template dirs");
    }
  }
}

function summaryText(runId: string, released: BranchRelease[], repoUrl: string): string {
  return [
    `🚀 Build run ${runId} released to ${repoUrl}`,
    ...released.map(
      (b) =>
        `• ${b.branch}: ${b.committed ? "commit" : "unchanged at"} ${b.commit.slice(0, 12)}, templates hash ${b.rootCid}`,
    ),
    "Browse the templates from nothing but the hash: ipfs ls /ipfs/<hash>",
  ].join("\n");
}

export class BuildRun extends pulumi.ComponentResource {
  /** Per app test results (AppTest `results`). */
  readonly testResults: pulumi.Output<unknown[]>;
  /** Per branch: commit, root CID, whether this run committed. */
  readonly released: pulumi.Output<BranchRelease[]>;
  /** The build outputs of each app, in the order of `apps`. */
  readonly builds: AppBuildResult[];

  constructor(name: string, args: BuildRunArgs, opts?: pulumi.ComponentResourceOptions) {
    super(KIND, name, {}, opts);
    validate(name, args);
    const child = { parent: this };
    const telegram = args.telegram;

    const announce = (suffix: string, text: pulumi.Input<string>, deps: pulumi.Resource[] = []): void => {
      if (!telegram) return;
      new TelegramMessage(
        `${name}-${suffix}`,
        { connection: telegram, text, key: args.runId },
        { ...child, dependsOn: deps },
      );
    };

    announce(
      "started",
      pulumi.interpolate`🔨 Build run ${args.runId} started: ${args.apps.length} app(s) (${args.apps
        .map((a) => a.name)
        .join(", ")}), templates branches ${args.templates.branches.join(", ")}`,
    );

    // Build: one child per app (part A's AppBuild through `buildApp`).
    this.builds = args.apps.map((app) => args.buildApp(app, child));
    announce(
      "built",
      pulumi
        .all([
          args.runId,
          pulumi.all(this.builds.map((b) => pulumi.all([b.app, b.buildId, b.plistCid, b.files ?? []]))),
        ])
        .apply(([runId, rows]) =>
          [
            `📦 Build run ${runId}: ${rows.length} app(s) built`,
            ...rows.map(
              ([app, id, cid, files]) => `• ${app} (build ${id}): ${files.length} file(s), plist ${cid}`,
            ),
          ].join("\n"),
        ),
    );

    // Test: in parallel across the core0 nodes; failures alert the group at once (AppTest).
    const apps = pulumi
      .all(this.builds.map((b) => pulumi.all([b.buildId, b.plistCid])))
      .apply((rows) =>
        rows.map(([buildId, plistCid], k) => appUnderTest(args.apps[k], { buildId, plistCid })),
      );
    const tests = new AppTest(
      `${name}-tests`,
      { apps, nodes: args.core0Nodes, maxPerNode: args.maxTestsPerNode, telegram, runLabel: args.runId },
      child,
    );

    // Release: its inputs come from the tests' outputs, so it only runs once every test passed.
    const release = new TemplatesRelease(
      `${name}-release`,
      {
        repoUrl: args.templates.repoUrl,
        deployKey: args.templates.deployKey,
        knownHosts: args.templates.knownHosts,
        branches: args.templates.branches,
        ipfsApi: args.ipfsApi,
        tests: { passed: tests.passed, failures: tests.failures },
        apps: pulumi.all(this.builds.map((b) => pulumi.all([b.buildId, b.plist]))).apply((rows) =>
          rows.map(([buildId, plist], k) => ({
            app: args.apps[k].name,
            buildId,
            plist,
            dirs: args.apps[k].templates,
            branches: args.apps[k].branches,
          })),
        ),
        message: pulumi.interpolate`g8os build run ${args.runId}: plists for ${args.apps.map((a) => a.name).join(", ")}`,
      },
      child,
    );
    announce(
      "released",
      pulumi
        .all([args.runId, release.released, args.templates.repoUrl])
        .apply(([runId, released, repoUrl]) => summaryText(runId, released, repoUrl)),
      [release],
    );

    this.testResults = tests.results as pulumi.Output<unknown[]>;
    this.released = release.released;
    this.registerOutputs({ testResults: this.testResults, released: this.released });
  }
}
