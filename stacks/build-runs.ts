/**
 * Build runs in the build stack (seed 001, "build run's"): optional, on when `g8os:buildTreeDir`
 * is set. Reads the build tree and the run's settings, then composes one BuildRun: every app built
 * on the build node (AppBuild), tested in core0 containers across the core0 nodes, released into
 * the templates repo per branch, reported on Telegram.
 */
import * as pulumi from "@pulumi/pulumi";
import { BuildRun } from "../components/build-run";
import { AppBuild } from "../providers/build/app-build";
import type { TestNode } from "../providers/build/app-test";
import { BuildTreeError, loadBuildTree, type AppSpec } from "../providers/build/tree";
import type { HostConnection } from "../providers/host";
import { httpUrl, nonEmptyString } from "../providers/shared/validate";
import type { ConfigReader } from "./config-reader";

export interface BuildRunSettings {
  /** Directory of the build tree (one YAML file per app, docs/BUILD-TREE.md). */
  treeDir: string;
  apps: AppSpec[];
  /** Id of the run: a new id re-announces on Telegram (e.g. the CI build number). */
  runId: string;
  ipfsApiUrl: string;
  /** Gateway the core0 nodes fetch plists from (`<gateway>/ipfs/<cid>`). */
  ipfsGatewayUrl: string;
  templates: { repoUrl: string; branches: string[]; knownHosts: string };
  maxTestsPerNode?: number;
}

function list(r: ConfigReader, key: string): string[] {
  const raw = pulumi.runtime.getConfig(`g8os:${key}`);
  if (raw === undefined) return [];
  try {
    const v = JSON.parse(raw) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v;
  } catch {
    // reported below
  }
  r.problem(key, 'must be a list of strings, e.g. ["master", "develop"]');
  return [];
}

/** Reads the build-run settings into the same reader (one error for every problem); undefined = off. */
export function readBuildRunSettings(r: ConfigReader): BuildRunSettings | undefined {
  const treeDir = r.string("buildTreeDir");
  if (treeDir === undefined) return undefined;
  const branches = list(r, "templatesBranches");
  if (branches.length === 0)
    r.problem("templatesBranches", 'must list the templates repo branches, e.g. ["master"]');
  const settings: BuildRunSettings = {
    treeDir,
    apps: [],
    runId: r.string("buildRunId", { default: "1", check: nonEmptyString })!,
    ipfsApiUrl:
      r.string("ipfsApiUrl", { required: true, example: "http://10.147.17.2:5001", check: httpUrl }) ?? "",
    ipfsGatewayUrl:
      r.string("ipfsGatewayUrl", { required: true, example: "http://10.147.17.2:8080", check: httpUrl }) ??
      "",
    templates: {
      repoUrl:
        r.string("templatesRepoUrl", {
          required: true,
          example: "ssh://git@git.example.com/gig/ays_templates.git",
        }) ?? "",
      branches,
      knownHosts:
        r.string("templatesKnownHosts", {
          required: true,
          example: '"git.example.com ssh-ed25519 AAAA..."',
        }) ?? "",
    },
  };
  try {
    settings.apps = loadBuildTree(treeDir, { knownBranches: branches }).apps;
  } catch (err) {
    if (err instanceof BuildTreeError)
      r.problem("buildTreeDir", `points at a build tree with problems:\n${err.message}`);
    else throw err;
  }
  return settings;
}

export interface BuildRunDeps {
  /** The build node (ZeroTier address + deploy key). */
  buildNode: pulumi.Input<HostConnection>;
  /** core0 nodes the tests spread over. */
  core0Nodes: pulumi.Input<pulumi.Input<TestNode>[]>;
  /** Key with push rights on the templates repo: the stack's deploy key. */
  deployKey: pulumi.Input<string>;
  telegram?: pulumi.Input<{
    token: pulumi.Input<string>;
    chatId: pulumi.Input<string>;
    topicId?: pulumi.Input<number>;
    apiRoot?: pulumi.Input<string>;
  }>;
}

/** One BuildRun over the build tree. */
export function buildRun(name: string, s: BuildRunSettings, deps: BuildRunDeps): BuildRun {
  return new BuildRun(name, {
    runId: s.runId,
    apps: s.apps,
    buildApp: (app, opts) =>
      new AppBuild(
        `${name}-${app.name}`,
        { spec: app, buildNode: deps.buildNode, ipfsApiUrl: s.ipfsApiUrl },
        opts,
      ),
    core0Nodes: deps.core0Nodes,
    maxTestsPerNode: s.maxTestsPerNode,
    ipfsApi: s.ipfsApiUrl,
    templates: {
      repoUrl: s.templates.repoUrl,
      deployKey: deps.deployKey,
      knownHosts: s.templates.knownHosts,
      branches: s.templates.branches,
    },
    telegram: deps.telegram,
  });
}
