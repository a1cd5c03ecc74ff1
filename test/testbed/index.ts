/**
 * The testbed API for tests: N test hosts (network namespaces with their own sshd, /root, /etc/ufw)
 * on a "public" bridge, a bridge reserved for the ZeroTier stand-in, and the registered services.
 * Layout and rules: test/testbed/README.md.
 */
import * as fs from "fs";
import { InputError, OperationError } from "../../providers/shared/errors";
import { pollUntil } from "../../providers/shared/retry";
import {
  clearHostDir,
  ensureBootstrapKey,
  ensureSystemDirs,
  hostAddress,
  hostName,
  hostPaths,
  parseHostCount,
  prepareFreshHostDir,
  readBootstrapKey,
  removeSystemDirs,
  sshdPid,
  startSshd,
  stopHostProcesses,
  strayTestbedProcesses,
  tcpReachable,
  testHost,
  SSH_PORT,
  hostIndex,
} from "./hosts";
import {
  ensureBridges,
  ensureHostNetwork,
  ensureIsolation,
  linkExists,
  namespaceExists,
  removeBridges,
  removeHostNetwork,
  removeIsolation,
  runNetnsIsMount,
  testbedNamespaces,
} from "./network";
import { missingToolsProblem } from "../../scripts/debian-packages";
import { skipOrFail } from "../skip-policy";
import { run, SESSION_ENV, signal } from "./proc";
import {
  readState,
  removeState,
  STATE_DIR,
  takeLease,
  withTestbedLock,
  writeState,
  HOSTS_DIR,
  TestbedState,
} from "./state";
import {
  ExecResult,
  HostExecOptions,
  PUBLIC_BRIDGE,
  ServiceStatus,
  Testbed,
  TestbedService,
  TestHost,
  ZT_BRIDGE,
} from "./types";

export * from "./types";
export { parseHostCount } from "./hosts";
export { otherLeaseHolders } from "./state";

export interface EnsureOptions {
  /** At least this many hosts (more stay if already up). Default G8OS_TESTBED_HOSTS, else 4. */
  hosts?: number;
  /** Which registered services to bring up (by name). Default all of test/testbed/services.ts. */
  services?: string[];
}

export interface TestbedStatus {
  up: boolean;
  hosts: { name: string; sshUp: boolean }[];
  services: ({ name: string } & ServiceStatus)[];
}

export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

export const NOT_ROOT_MESSAGE =
  "the g8os testbed needs root: it creates network namespaces, bridges, bind mounts and iptables rules. " +
  "Run it as root (e.g. `sudo npm run testbed -- up`); tests that need it are skipped otherwise";

function requireRoot(step: string): void {
  if (!isRoot()) throw new OperationError("Testbed", step, NOT_ROOT_MESSAGE);
}

/** Every tool the hosts and the selected services run must exist; the failure names each package. */
function preflight(services: string[]): void {
  const missing = missingToolsProblem(services);
  if (missing) throw new OperationError("Testbed", "preflight", missing.detail, missing.fix);
}

function loadServices(): TestbedService[] {
  // Required lazily: service modules may import this file, and this keeps the cycle harmless.
  return (require("./services") as typeof import("./services")).services;
}

function selectServices(names: string[] | undefined): TestbedService[] {
  const all = loadServices();
  if (names === undefined) return all;
  const known = all.map((s) => s.name);
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length > 0) {
    throw new InputError(
      "Testbed",
      "services",
      `unknown service ${unknown.map((n) => `"${n}"`).join(", ")}`,
      `use names registered in test/testbed/services.ts: ${known.join(", ") || "(none registered)"}`,
    );
  }
  return all.filter((s) => names.includes(s.name));
}

/** Runs a command inside a host as its SSH sessions see the world (its netns, mounts, hostname). */
export async function hostExec(
  name: string,
  command: string,
  opts: HostExecOptions = {},
): Promise<ExecResult> {
  const pid = sshdPid(name);
  if (pid === undefined) {
    throw new OperationError(
      "Testbed",
      `exec on ${name}`,
      `the sshd of ${name} is not running, so its namespaces cannot be entered`,
      "that the testbed is up: `npm run testbed -- status`, then `up`",
    );
  }
  // setns into a mount namespace leaves the cwd at "/"; SSH sessions start in $HOME.
  return run(
    "nsenter",
    ["-t", String(pid), "-n", "-m", "-u", "--", "/bin/sh", "-c", `cd /root || exit 1\n${command}`],
    {
      check: false,
      stdin: opts.stdin,
      timeoutMs: opts.timeoutMs ?? 120_000,
      env: SESSION_ENV,
      step: `exec on ${name}`,
    },
  );
}

function buildTestbed(hosts: TestHost[], bootstrapKey: Testbed["bootstrapKey"]): Testbed {
  const host = (name: string): TestHost => {
    const h = hosts.find((x) => x.name === name);
    if (!h) {
      throw new InputError(
        "Testbed",
        "host",
        `no test host "${name}"`,
        `use one of ${hosts.map((x) => x.name).join(", ") || "(none)"}, or ask ensureTestbed for more hosts`,
      );
    }
    return h;
  };
  return {
    hosts,
    bootstrapKey,
    publicBridge: PUBLIC_BRIDGE,
    ztBridge: ZT_BRIDGE,
    stateDir: STATE_DIR,
    host,
    exec: async (name, command, opts) => hostExec(host(name).name, command, opts),
  };
}

function upTestbed(hostNames: string[]): Testbed {
  return buildTestbed(hostNames.map(testHost), readBootstrapKey());
}

/** A Testbed view for `down`: tolerant of hosts and keys whose files are already half gone. */
function bestEffortTestbed(hostNames: string[]): Testbed {
  let key = { privateKey: "", publicKey: "" };
  try {
    key = readBootstrapKey();
  } catch {
    // no key yet: services' down must not need it
  }
  const hosts = hostNames.map((name): TestHost => {
    try {
      return testHost(name);
    } catch {
      const address = hostAddress(hostIndex(name));
      return { name, netns: name, address, sshPort: SSH_PORT, hostKeySha256: "", dir: hostPaths(name).dir };
    }
  });
  return buildTestbed(hosts, key);
}

async function ensureHost(name: string, bootstrapPublicKey: string): Promise<void> {
  const fresh = !(await namespaceExists(name));
  await ensureHostNetwork(name, hostAddress(hostIndex(name)));
  if (sshdPid(name) !== undefined) return;
  // A new namespace is a freshly installed machine; an existing one whose sshd died keeps its files.
  if (fresh || !fs.existsSync(hostPaths(name).sshdConfig))
    await prepareFreshHostDir(name, bootstrapPublicKey);
  await startSshd(name, hostAddress(hostIndex(name)));
}

/** Brings the testbed up if it is not (idempotent, concurrency-safe via a lock file) and returns it. */
export async function ensureTestbed(opts: EnsureOptions = {}): Promise<Testbed> {
  requireRoot("ensure the testbed");
  const wanted = opts.hosts ?? parseHostCount(process.env.G8OS_TESTBED_HOSTS, "G8OS_TESTBED_HOSTS");
  parseHostCount(wanted, "hosts");
  const selected = selectServices(opts.services);
  preflight(selected.map((svc) => svc.name));
  // This process now relies on the testbed: the lifecycle tests will not pull it away from under it.
  takeLease();
  return withTestbedLock("bring it up", async () => {
    const before = readState();
    const count = Math.max(wanted, before?.hosts.length ?? 0);
    const hosts = Array.from({ length: count }, (_, i) => hostName(i + 1));
    const dirs = ensureSystemDirs();
    const state: Omit<TestbedState, "version" | "updatedAt"> = {
      hosts,
      services: before?.services ?? [],
      created: {
        runNetnsMount: before ? before.created.runNetnsMount : !runNetnsIsMount(),
        zerotierDir: (before?.created.zerotierDir ?? false) || dirs.zerotierDir,
        g8osDir: (before?.created.g8osDir ?? false) || dirs.g8osDir,
      },
    };
    // Recorded before anything is created, so `down` after a crash knows what to remove.
    writeState(state);
    await ensureBridges();
    await ensureIsolation();
    const key = await ensureBootstrapKey();
    await Promise.all(hosts.map((h) => ensureHost(h, key.publicKey)));
    const tb = upTestbed(hosts);
    for (const svc of selected) {
      try {
        await svc.up(tb);
      } catch (err) {
        throw new OperationError("Testbed", `bring up service "${svc.name}"`, (err as Error).message);
      }
      if (!state.services.includes(svc.name)) state.services.push(svc.name);
      writeState(state);
    }
    return tb;
  });
}

/** The testbed as it is now, without changing anything; undefined when it is not up. */
export function currentTestbed(): Testbed | undefined {
  const state = readState();
  return state ? upTestbed(state.hosts) : undefined;
}

/**
 * Stops services and hosts and removes every namespace, veth, bridge, iptables rule, pid file and
 * directory the testbed made. Keeps keys (stable fingerprints) and logs. Always cleans as much as it
 * can, then reports what failed.
 */
export async function testbedDown(): Promise<void> {
  requireRoot("bring the testbed down");
  await withTestbedLock("bring it down", async () => {
    const state = readState();
    const names = [...new Set([...(state?.hosts ?? []), ...(await testbedNamespaces())])].sort(
      (a, b) => hostIndex(a) - hostIndex(b),
    );
    const failures: string[] = [];
    const attempt = async (what: string, fn: () => Promise<void> | void) => {
      try {
        await fn();
      } catch (err) {
        failures.push(`${what}: ${(err as Error).message}`);
      }
    };
    const tb = bestEffortTestbed(names);
    for (const svc of [...loadServices()].reverse())
      await attempt(`service "${svc.name}" down`, () => svc.down(tb));
    for (const name of names) await attempt(`stop ${name}`, () => stopHostProcesses(name));
    await attempt("stray testbed processes", async () => {
      for (const pid of strayTestbedProcesses()) signal(pid, "SIGKILL");
      await pollUntil(
        async () => {
          const left = strayTestbedProcesses();
          return left.length === 0 ? true : { pending: `pids ${left.join(" ")}` };
        },
        { timeoutMs: 10_000, intervalMs: 100, what: "stray testbed processes to exit after SIGKILL" },
      );
    });
    for (const name of names) await attempt(`remove network of ${name}`, () => removeHostNetwork(name));
    await attempt("iptables isolation chain", removeIsolation);
    await attempt("bridges", removeBridges);
    for (const name of fs.existsSync(HOSTS_DIR) ? fs.readdirSync(HOSTS_DIR) : []) {
      await attempt(`clear ${name}`, () => clearHostDir(name));
    }
    if (state?.created.runNetnsMount) {
      await attempt("unmount /run/netns", async () => {
        if (runNetnsIsMount() && fs.readdirSync("/run/netns").length === 0) {
          await run("umount", ["/run/netns"], { step: "unmount /run/netns" });
          fs.rmdirSync("/run/netns");
        }
      });
    }
    if (state) await attempt("system dirs", () => removeSystemDirs(state.created));
    removeState();
    if (failures.length > 0) {
      throw new OperationError("Testbed", "down", failures.join("; "), "run `npm run testbed -- down` again");
    }
  });
}

/** Whether the testbed is up: state recorded, bridges present, every host's sshd answering. */
export async function testbedStatus(): Promise<TestbedStatus> {
  const state = readState();
  if (!state) return { up: false, hosts: [], services: [] };
  const hosts = await Promise.all(
    state.hosts.map(async (name) => ({
      name,
      sshUp: sshdPid(name) !== undefined && (await tcpReachable(hostAddress(hostIndex(name)), SSH_PORT)),
    })),
  );
  const bridges = (await linkExists(PUBLIC_BRIDGE.name)) && (await linkExists(ZT_BRIDGE.name));
  const up = bridges && hosts.length > 0 && hosts.every((h) => h.sshUp);
  const services: TestbedStatus["services"] = [];
  if (up) {
    const tb = upTestbed(state.hosts);
    for (const svc of loadServices()) {
      try {
        services.push({ name: svc.name, ...(await svc.status(tb)) });
      } catch (err) {
        services.push({ name: svc.name, up: false, detail: `status failed: ${(err as Error).message}` });
      }
    }
  }
  return { up, hosts, services };
}

/**
 * Mocha helper. In a `describe` callback: `const tb = useTestbed(this);` then `tb()` in tests.
 * Brings the testbed up in a `before` hook; when not root, skips the suite with a clear message.
 */
export function useTestbed(ctx: Mocha.Suite, opts: EnsureOptions = {}): () => Testbed {
  let tb: Testbed | undefined;
  ctx.beforeAll(async function () {
    // Only non-root skips here; the policy turns any skip under root in CI into a failure.
    if (!isRoot()) skipOrFail(this, ctx.fullTitle(), NOT_ROOT_MESSAGE);
    this.timeout(600_000);
    tb = await ensureTestbed(opts);
  });
  return () => {
    if (!tb) {
      throw new OperationError(
        "Testbed",
        "use",
        "the testbed is not ready",
        "call the accessor inside it() or hooks that run after useTestbed's before hook",
      );
    }
    return tb;
  };
}
