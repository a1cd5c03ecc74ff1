/**
 * AppTest's data: what to test (apps, processes, tests), where (core0 nodes), and what a run
 * records (results per app and test, leftover containers). The inputs are declared once, as kit
 * fields, in check.ts. Plain module: no Pulumi imports.
 */
import { resourceLabel } from "../../providers/shared/errors";
import type { KitInputs } from "../../providers/shared/resource-kit";
import type { AppTestFields } from "./check";
import { sha256 } from "../../providers/shared/hash";

/** A process the app runs in its container (a daemon, or a setup step that ends with exit 0). */
export interface ContainerProcess {
  /** Unique within the app; tests refer to it in `process`. */
  name: string;
  /** Program (path inside the container, or on its PATH). */
  command: string;
  /** Arguments. Default none. */
  args?: string[];
  /** Replaces the whole environment (core0 v0.9.0). Default: coreX's PATH only. */
  env?: Record<string, string>;
  /** Working directory inside the container root. */
  cwd?: string;
}

/** One test of an app: a program run in the app's container and what its result must be. */
export interface AppTestCase {
  /** Unique within the app; shown in results and failures. */
  name: string;
  /** Program and arguments, e.g. `{ command: "sh", args: ["-c", "redis-cli ping"] }`. */
  command: string;
  /** Arguments. Default none. */
  args?: string[];
  /** Replaces the whole environment (core0 v0.9.0). Default: coreX's PATH only. */
  env?: Record<string, string>;
  /** Working directory inside the container root. Default `/`. */
  cwd?: string;
  /** Name of a process (see ContainerProcess) that must still be running when the test ends. */
  process?: string;
  /** Exit code the test must end with. Default 0. */
  expectExitCode?: number;
  /** Regular expression (JavaScript syntax) that stdout + stderr (trailing newlines dropped) must match. */
  expectOutput?: string;
  /** Seconds before core0 kills the test (state TIMEOUT = failed). Default 60. */
  timeoutSeconds?: number;
}

/** An app to test: where its root filesystem comes from, what to start, what to check. */
export interface AppUnderTest {
  /** App name (1-63 letters, digits, `.`, `_`, `-`); unique in the run. */
  app: string;
  /** The build that made the plist; a new id re-runs the tests. */
  buildId: string;
  /** URL core0 fetches the plist from (`file:///...` on the node, or http(s)). */
  plistUrl?: string;
  /** Or the plist's IPFS CID: the URL is then `<node ipfsGateway>/ipfs/<cid>` on each node. */
  plistCid?: string;
  /** Started (dispatched) in order before the tests. Default none. */
  processes?: ContainerProcess[];
  /** Run one after another in the app's container; may be empty. */
  tests: AppTestCase[];
  /** What the app needs; informative (core0 v0.9 sets no container limits). */
  resources?: { memoryMb?: number; cpu?: number };
}

/** A core0 node the tests may use. `password`, when set, is secret. */
export interface TestNode {
  /** Node address (ZeroTier IP or host name) of its redis. */
  address: string;
  /** The node's redis port, 1 to 65535. Default 6379. */
  port?: number;
  /**
   * The node redis password (secret, redacted from every message), non-empty when set. Default
   * none: connect without AUTH, as to a stock Zero-OS v0.9 node, whose redis has no password
   * unless its image or boot configuration sets one.
   */
  password?: string;
  /** HTTP(S) IPFS gateway the node reaches, for apps given by `plistCid`. */
  ipfsGateway?: string;
}

/** What AppTest's provider receives: derived from its field declarations (check.ts). */
export type AppTestInputs = KitInputs<AppTestFields>;

/** The outcome of one test. */
export interface TestCaseResult {
  /** The test's name. */
  name: string;
  /** Whether every expectation held. */
  passed: boolean;
  /** Run time as core0 reports it (`time`), else measured here. */
  durationMs: number;
  /** Exit code, or -1 when unknown (no result, or core0 did not report one). */
  exitCode: number;
  /** core0 job state (SUCCESS, ERROR, TIMEOUT...) or NO_RESULT. */
  state: string;
  /** Last lines of stdout + stderr. */
  outputTail: string;
  /** Why it failed; empty when passed. */
  reason: string;
}

/** The outcome of one app: its container, its processes, its tests. */
export interface AppTestResult {
  /** The app's name. */
  app: string;
  /** The build that was tested. */
  buildId: string;
  /** sha256 of what decides whether the app must be tested again. */
  fingerprint: string;
  /** `address:port` of the node it ran on. */
  node: string;
  /** The container id `corex.create` answered on that node; 0 when none was created (or recovered). */
  container: number;
  /** No error and every test passed. */
  passed: boolean;
  /** Failures other than tests (container, process start, cleanup), as `<what>: <reason>`. */
  errors: string[];
  /** One per test, in the app's order. */
  tests: TestCaseResult[];
  /** From create to terminate, ms. */
  durationMs: number;
}

/** A container a run could not terminate: the next update or the delete terminates it. */
export interface AppTestLeftover {
  /** Node address. */
  address: string;
  /** Node redis port. */
  port: number;
  /** Node redis password, when the node has one (the whole `leftovers` output is a Pulumi secret). */
  password?: string;
  /** Container id on that node. */
  container: number;
}

/** What AppTest records. */
export interface AppTestOutputs {
  /** Resource name. */
  name: string;
  /** Every app passed. */
  passed: boolean;
  /** Every failure as `<app>/<test>: <reason>`. */
  failures: string[];
  /** One per app, in the order of the `apps` input. */
  results: AppTestResult[];
  /** Telegram sends that failed (the tests are not failed by them). */
  telegramErrors: string[];
  /** Containers not terminated yet (secret: holds node passwords); empty when all are gone. */
  leftovers: AppTestLeftover[];
}

/** The resource kind, in every message. */
export const KIND = "AppTest";

/** `AppTest <name>`, for messages. */
export function label(i: { name?: unknown }): string {
  return resourceLabel(KIND, typeof i.name === "string" ? i.name : "?");
}

/** What decides whether an app must be tested again. */
export function appFingerprint(a: AppUnderTest): string {
  return sha256(
    JSON.stringify({
      buildId: a.buildId,
      plistUrl: a.plistUrl ?? "",
      plistCid: a.plistCid ?? "",
      processes: a.processes ?? [],
      tests: a.tests,
      resources: a.resources ?? {},
    }),
  );
}

/** `address:port` of a node, for results and messages. */
export function nodeName(n: TestNode): string {
  return `${n.address}:${n.port ?? 6379}`;
}

/** The URL `node` fetches `app`'s plist from. */
export function plistUrlOn(app: AppUnderTest, node: TestNode): string {
  if (app.plistUrl) return app.plistUrl;
  return `${(node.ipfsGateway ?? "").replace(/\/+$/, "")}/ipfs/${app.plistCid}`;
}
