/**
 * Build runs in the build stack (seed 001, "build run's"): optional, on when `g8os:buildTreeDir`
 * is set. Reads the build tree and the run's settings, then composes one BuildRun: every app built
 * on the build node (AppBuild), tested in core0 containers across the core0 nodes, released into
 * the templates repo per branch, reported on Telegram.
 */
import * as pulumi from "@pulumi/pulumi";
import { BuildRun } from "../components/build-run";
import { AppBuild } from "../workflows/app-build";
import type { TestNode } from "../workflows/app-test";
import { BuildTreeError, loadBuildTree, type AppSpec } from "../workflows/app-tree";
import type { HostConnection } from "../providers/host";
import { httpUrl, nonEmptyString, opensshPublicKey, type Validator } from "../providers/shared/validate";
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

/** A gateway base URL: http(s), and not already ending in /ipfs (the stack appends /ipfs/<cid>). */
const gatewayBase: Validator = (v) =>
  httpUrl(v) ??
  (/\/ipfs\/?$/.test(new URL(v as string).pathname)
    ? "ends in /ipfs/, but plists are fetched from <gateway>/ipfs/<cid>: give the gateway's base URL"
    : undefined);

/** A git remote the deploy key can push to: ssh://, git@host:path, or file:// (tests). */
const gitRemote: Validator = (v) =>
  typeof v === "string" && (/^(ssh|file):\/\/\S+$/.test(v) || /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:\S+$/.test(v))
    ? undefined
    : "is not an SSH git URL (ssh://git@host/path.git or git@host:path.git)";

/** known_hosts lines: `<host[,host...]> <key type> <base64> [comment]`, each key parsed. */
const knownHostsText: Validator = (v) => {
  if (typeof v !== "string") return "must be known_hosts text";
  const lines = v.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"));
  if (lines.length === 0) return "holds no known_hosts line";
  for (const [i, line] of lines.entries()) {
    const [hosts, ...key] = line.trim().split(/\s+/);
    const why =
      hosts && key.length >= 2
        ? opensshPublicKey(2048)(key.join(" "))
        : "is not `<host> <key type> <base64 key>`";
    if (why) return `line ${i + 1} ${why}`;
  }
  return undefined;
};

/** Reads the build-run settings into the same reader (one error for every problem); undefined = off. */
export function readBuildRunSettings(r: ConfigReader): BuildRunSettings | undefined {
  const treeDir = r.string("buildTreeDir");
  if (treeDir === undefined) return undefined;
  const branches =
    r.list("templatesBranches", {
      example: ["master"],
      check: (b) =>
        typeof b === "string" && /^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(b) && !b.includes("..")
          ? undefined
          : "is not a git branch name",
    }) ?? [];
  if (branches.length === 0 && !r.isSet("templatesBranches"))
    r.add(
      "templatesBranches",
      "is required with buildTreeDir",
      `\`pulumi config set g8os:templatesBranches '["master"]'\``,
    );
  const settings: BuildRunSettings = {
    treeDir,
    apps: [],
    runId: r.string("buildRunId", { default: "1", check: nonEmptyString })!,
    ipfsApiUrl:
      r.string("ipfsApiUrl", { required: true, example: "http://10.147.17.2:5001", check: httpUrl }) ?? "",
    ipfsGatewayUrl:
      r.string("ipfsGatewayUrl", {
        required: true,
        example: "http://10.147.17.2:8080",
        check: gatewayBase,
      }) ?? "",
    templates: {
      repoUrl:
        r.string("templatesRepoUrl", {
          required: true,
          example: "ssh://git@git.example.com/gig/ays_templates.git",
          check: gitRemote,
        }) ?? "",
      branches,
      knownHosts:
        r.string("templatesKnownHosts", {
          required: true,
          example: '"git.example.com ssh-ed25519 AAAA..."',
          check: knownHostsText,
        }) ?? "",
    },
  };
  try {
    settings.apps = loadBuildTree(treeDir, { knownBranches: branches }).apps;
  } catch (err) {
    // One line per file problem, each saying which key pointed at the tree.
    if (err instanceof BuildTreeError)
      r.addLines(
        err.problems.map(
          (p) => `${p.file} (build tree of g8os:buildTreeDir): ${p.field}: ${p.problem}. Fix: ${p.fix}`,
        ),
      );
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
