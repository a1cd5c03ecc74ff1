/**
 * Harness program: one BuildRun whose apps are BUILT by AppBuild on a build node over SSH (as the
 * build stack wires it in stacks/build-runs.ts), tested in core0 containers, released, reported.
 * Config (g8os:): buildTree (dir), branches (JSON), runId, buildNodeAddress, buildNodeKey (secret),
 * buildNodeHostKey (SHA256:...), workDir, logDir, ipfsApi, core0Nodes (secret JSON TestNode[]),
 * repoUrl, deployKey (secret), knownHosts, telegramBotToken (secret), telegramChatId, telegramApiRoot.
 */
import * as pulumi from "@pulumi/pulumi";
import { BuildRun } from "../../../components/build-run";
import { AppBuild, loadBuildTree } from "../../../workflows";
import type { TestNode } from "../../../workflows/app-test";

const config = new pulumi.Config("g8os");
const branches = config.requireObject<string[]>("branches");
const tree = loadBuildTree(config.require("buildTree"), { knownBranches: branches });
const buildNode = config.requireSecret("buildNodeKey").apply((key) => ({
  addresses: [{ host: config.require("buildNodeAddress") }],
  privateKeys: [key],
  hostKeySha256: config.require("buildNodeHostKey"),
}));
const ipfsApi = config.require("ipfsApi");

const appBuilds: AppBuild[] = [];
const run = new BuildRun("run", {
  runId: config.require("runId"),
  apps: tree.apps,
  buildApp: (app, opts) => {
    const build = new AppBuild(
      app.name,
      {
        spec: app,
        buildNode,
        ipfsApiUrl: ipfsApi,
        workDir: config.require("workDir"),
        logDir: config.require("logDir"),
      },
      opts,
    );
    appBuilds.push(build);
    return build;
  },
  core0Nodes: config.requireSecretObject<TestNode[]>("core0Nodes"),
  ipfsApi,
  templates: {
    repoUrl: config.require("repoUrl"),
    deployKey: config.requireSecret("deployKey"),
    knownHosts: config.require("knownHosts"),
    branches,
  },
  telegram: {
    token: config.requireSecret("telegramBotToken"),
    chatId: config.require("telegramChatId"),
    apiRoot: config.require("telegramApiRoot"),
  },
});

export = {
  released: run.released,
  testResults: run.testResults,
  builds: pulumi.all(
    appBuilds.map((b) =>
      pulumi
        .all([b.app, b.buildId, b.plist, b.files, b.buildDir])
        .apply(([app, buildId, plist, files, buildDir]) => ({ app, buildId, plist, files, buildDir })),
    ),
  ),
};
