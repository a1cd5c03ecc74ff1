/**
 * Harness program: one BuildRun. The apps' builds are given pre-made (files already in IPFS, plist
 * written: what part A's AppBuild outputs), so this exercises testing, release and reports.
 * Config (g8os:): runId, apps (JSON AppSpec[]), builds (JSON, AppBuild outputs per app),
 * core0Nodes (secret JSON TestNode[]), ipfsApi, repoUrl, deployKey (secret), knownHosts,
 * branches (JSON), telegramBotToken (secret), telegramChatId, telegramApiRoot.
 */
import * as pulumi from "@pulumi/pulumi";
import { BuildRun } from "../../../components/build-run";
import type { TestNode } from "../../../workflows/app-test";
import type { AppSpec } from "../../../workflows/app-tree";
import type { BuiltApp } from "./fixtures";

const config = new pulumi.Config("g8os");
const builds = config.requireObject<BuiltApp[]>("builds");

const run = new BuildRun("run", {
  runId: config.require("runId"),
  apps: config.requireObject<AppSpec[]>("apps"),
  buildApp: (app) => {
    const b = builds.find((x) => x.app === app.name);
    if (!b) throw new Error(`test program: no build for ${app.name}`);
    return b;
  },
  core0Nodes: config.requireSecretObject<TestNode[]>("core0Nodes"),
  ipfsApi: config.require("ipfsApi"),
  templates: {
    repoUrl: config.require("repoUrl"),
    deployKey: config.requireSecret("deployKey"),
    knownHosts: config.require("knownHosts"),
    branches: config.requireObject<string[]>("branches"),
  },
  telegram: {
    token: config.requireSecret("telegramBotToken"),
    chatId: config.require("telegramChatId"),
    apiRoot: config.require("telegramApiRoot"),
  },
});

export = { released: run.released, testResults: run.testResults };
