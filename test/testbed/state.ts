/**
 * The testbed's files under `.testbed/` (gitignored): `testbed.json` (what is up), the lock that
 * serialises up/down across processes, and leases (which live test processes use the testbed).
 */
import * as fs from "fs";
import * as path from "path";
import { OperationError } from "../../providers/shared/errors";
import { pollUntil } from "../../providers/shared/retry";
import { pidAlive } from "./proc";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
export const STATE_DIR = path.join(REPO_ROOT, ".testbed");
export const STATE_FILE = path.join(STATE_DIR, "testbed.json");
export const KEYS_DIR = path.join(STATE_DIR, "keys");
export const HOSTS_DIR = path.join(STATE_DIR, "hosts");
const LOCK_FILE = path.join(STATE_DIR, "lock");
const LEASES_DIR = path.join(STATE_DIR, "leases");

/** What `testbed.json` records. Only names and facts, never key material. */
export interface TestbedState {
  version: 1;
  /** Host names, in order (g8t-h1, g8t-h2, ...). */
  hosts: string[];
  /** Services whose `up` succeeded, by name. */
  services: string[];
  /** Things outside `.testbed/` that `up` created and `down` must remove again. */
  created: { runNetnsMount: boolean; zerotierDir: boolean; g8osDir?: boolean };
  updatedAt: string;
}

export function readState(): TestbedState | undefined {
  try {
    return JSON.parse(fs.readFileSync(STATE_FILE, "utf8")) as TestbedState;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new OperationError(
      "Testbed",
      `read ${STATE_FILE}`,
      (err as Error).message,
      "run `npm run testbed -- down` to clean up, then `up` again",
    );
  }
}

export function writeState(state: Omit<TestbedState, "version" | "updatedAt">): void {
  fs.mkdirSync(STATE_DIR, { recursive: true });
  const body: TestbedState = { version: 1, ...state, updatedAt: new Date().toISOString() };
  fs.writeFileSync(`${STATE_FILE}.tmp`, JSON.stringify(body, null, 2) + "\n");
  fs.renameSync(`${STATE_FILE}.tmp`, STATE_FILE);
}

export function removeState(): void {
  fs.rmSync(STATE_FILE, { force: true });
}

function readPidFile(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the lock file, or returns the live pid that holds it. A dead holder's lock is taken over. */
function tryLock(): number | undefined {
  fs.mkdirSync(STATE_DIR, { recursive: true });
  try {
    fs.writeFileSync(LOCK_FILE, String(process.pid), { flag: "wx" });
    return undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const holder = readPidFile(LOCK_FILE);
  if (holder !== undefined && pidAlive(holder)) return holder;
  // A crashed run left its lock: remove it only if it is still that stale file, then retry once.
  if (readPidFile(LOCK_FILE) === holder) fs.rmSync(LOCK_FILE, { force: true });
  try {
    fs.writeFileSync(LOCK_FILE, String(process.pid), { flag: "wx" });
    return undefined;
  } catch {
    return readPidFile(LOCK_FILE) ?? -1;
  }
}

// The file lock is per process; calls inside one process queue up behind each other here.
let inProcessQueue: Promise<unknown> = Promise.resolve();

/** Runs `fn` holding the testbed lock (other processes and other calls in this one wait). */
export function withTestbedLock<T>(what: string, fn: () => Promise<T>, timeoutMs = 600_000): Promise<T> {
  const next = inProcessQueue.then(async () => {
    let holder: number | undefined;
    await pollUntil(
      async () => {
        holder = tryLock();
        return holder === undefined ? true : { pending: `lock ${LOCK_FILE} held by pid ${holder}` };
      },
      { timeoutMs, intervalMs: 250, what: `the testbed lock (to ${what})` },
    );
    try {
      return await fn();
    } finally {
      if (readPidFile(LOCK_FILE) === process.pid) fs.rmSync(LOCK_FILE, { force: true });
    }
  });
  inProcessQueue = next.catch(() => undefined);
  return next;
}

/** Records that this process uses the testbed, until it exits (see `otherLeaseHolders`). */
export function takeLease(): void {
  fs.mkdirSync(LEASES_DIR, { recursive: true });
  const file = path.join(LEASES_DIR, String(process.pid));
  if (fs.existsSync(file)) return;
  fs.writeFileSync(file, String(process.pid));
  process.once("exit", () => fs.rmSync(file, { force: true }));
}

/** Live processes other than this one that hold a lease; stale leases are removed on the way. */
export function otherLeaseHolders(): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(LEASES_DIR);
  } catch {
    return [];
  }
  const holders: number[] = [];
  for (const n of names) {
    const pid = Number(n);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    if (pidAlive(pid)) holders.push(pid);
    else fs.rmSync(path.join(LEASES_DIR, n), { force: true });
  }
  return holders;
}
