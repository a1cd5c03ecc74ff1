/**
 * Test hosts: per-host state dirs, the bootstrap key, and each host's own sshd, started in the host's
 * network namespace inside a private mount + UTS namespace so that the host (and every SSH session
 * into it) has its own /root, /etc/ssh, /etc/ufw, /etc/default/ufw, /var/lib/zerotier-one, /var/lib/g8os
 * and hostname.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { InputError, OperationError } from "../../providers/shared/errors";
import { pollUntil } from "../../providers/shared/retry";
import { shellQuote, sshFingerprint } from "../../providers/shared/ssh";
import { namespacePids } from "./network";
import { pidAlive, run, signal } from "./proc";
import { HOSTS_DIR, KEYS_DIR } from "./state";
import { DEFAULT_HOSTS, HOST_NAME_PREFIX, MAX_HOSTS, TestHost } from "./types";

export const SSH_PORT = 22;
const ZEROTIER_DIR = "/var/lib/zerotier-one";
/** Where the product keeps its state on a host (the firewall's dead-man switch): per host here. */
const G8OS_DIR = "/var/lib/g8os";
const SSHD_PRIVSEP_DIR = "/run/sshd";

export function hostName(index: number): string {
  return `${HOST_NAME_PREFIX}${index}`;
}

export function hostAddress(index: number): string {
  return `10.213.0.${10 + index}`;
}

export function hostIndex(name: string): number {
  return Number(name.slice(HOST_NAME_PREFIX.length));
}

/**
 * Validates a host count from `--hosts` or G8OS_TESTBED_HOSTS (`source` names which one, for the
 * message); undefined means the default.
 */
export function parseHostCount(value: string | number | undefined, source: string): number {
  if (value === undefined || value === "") return DEFAULT_HOSTS;
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_HOSTS) {
    throw new InputError(
      "Testbed",
      source,
      `"${value}" is not a whole number from 1 to ${MAX_HOSTS}`,
      `pass a host count from 1 to ${MAX_HOSTS} (addresses are 10.213.0.11 .. 10.213.0.${10 + MAX_HOSTS})`,
    );
  }
  return n;
}

export interface HostPaths {
  dir: string;
  root: string;
  ssh: string;
  sshdConfig: string;
  hostKey: string;
  ufw: string;
  defaultUfw: string;
  zerotier: string;
  /** The host's /var/lib/g8os. */
  g8os: string;
  hostname: string;
  pidFile: string;
  log: string;
}

export function hostPaths(name: string): HostPaths {
  const dir = path.join(HOSTS_DIR, name);
  const ssh = path.join(dir, "ssh");
  return {
    dir,
    root: path.join(dir, "root"),
    ssh,
    sshdConfig: path.join(ssh, "sshd_config"),
    hostKey: path.join(ssh, "ssh_host_ed25519_key"),
    ufw: path.join(dir, "ufw"),
    defaultUfw: path.join(dir, "default-ufw"),
    zerotier: path.join(dir, "zerotier-one"),
    g8os: path.join(dir, "var-lib-g8os"),
    hostname: path.join(dir, "hostname"),
    pidFile: path.join(dir, "sshd.pid"),
    log: path.join(dir, "sshd.log"),
  };
}

async function generateKey(file: string, comment: string): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file], {
    step: `generate key ${file}`,
  });
}

/** Fingerprint of an OpenSSH public key line, as `ssh-keygen -lf` prints it. */
export function fingerprintOfPublicKey(line: string): string {
  return sshFingerprint(Buffer.from(line.trim().split(/\s+/)[1] ?? "", "base64"));
}

/** The testbed bootstrap key pair (kept across down/up so pinned tests stay valid). */
export async function ensureBootstrapKey(): Promise<{ privateKey: string; publicKey: string }> {
  const file = path.join(KEYS_DIR, "bootstrap");
  if (!fs.existsSync(file) || !fs.existsSync(`${file}.pub`)) {
    fs.rmSync(file, { force: true });
    fs.rmSync(`${file}.pub`, { force: true });
    await generateKey(file, "g8os-testbed-bootstrap");
  }
  return readBootstrapKey();
}

export function readBootstrapKey(): { privateKey: string; publicKey: string } {
  const file = path.join(KEYS_DIR, "bootstrap");
  return {
    privateKey: fs.readFileSync(file, "utf8"),
    publicKey: fs.readFileSync(`${file}.pub`, "utf8").trim(),
  };
}

function sshdConfig(p: HostPaths): string {
  // Absolute paths under the host dir: valid both inside the host and for `sshd -t` in the root namespace.
  return [
    "# Written by the g8os testbed (test/testbed/hosts.ts) at each fresh `up`.",
    `Port ${SSH_PORT}`,
    "ListenAddress 0.0.0.0",
    `HostKey ${p.hostKey}`,
    `PidFile ${p.pidFile}`,
    "PermitRootLogin prohibit-password",
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    // No PAM: there is no systemd-logind here, and key-only root login needs nothing from it.
    "UsePAM no",
    "AuthorizedKeysFile .ssh/authorized_keys",
    "PrintMotd no",
    "AcceptEnv LANG LC_*",
    "Subsystem sftp /usr/lib/openssh/sftp-server",
    "",
  ].join("\n");
}

/**
 * Lays out a host dir as a freshly installed machine: /root with only the bootstrap key authorised,
 * a copy of the system's ufw config (inactive), an empty ZeroTier dir. The host key survives, so
 * a host's fingerprint is stable across down/up.
 */
export async function prepareFreshHostDir(name: string, bootstrapPublicKey: string): Promise<void> {
  const p = hostPaths(name);
  fs.mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  for (const old of [p.root, p.ufw, p.defaultUfw, p.zerotier, p.g8os, p.hostname, p.pidFile]) {
    fs.rmSync(old, { recursive: true, force: true });
  }
  fs.mkdirSync(path.join(p.root, ".ssh"), { recursive: true, mode: 0o700 });
  fs.chmodSync(p.root, 0o700);
  fs.chmodSync(path.join(p.root, ".ssh"), 0o700);
  fs.writeFileSync(path.join(p.root, ".ssh", "authorized_keys"), bootstrapPublicKey + "\n", { mode: 0o600 });

  fs.cpSync("/etc/ufw", p.ufw, { recursive: true, preserveTimestamps: true });
  const ufwConf = path.join(p.ufw, "ufw.conf");
  fs.writeFileSync(ufwConf, fs.readFileSync(ufwConf, "utf8").replace(/^ENABLED=.*$/m, "ENABLED=no"));
  fs.copyFileSync("/etc/default/ufw", p.defaultUfw);
  fs.mkdirSync(p.zerotier, { mode: 0o700 });
  fs.mkdirSync(p.g8os, { mode: 0o755 });
  fs.writeFileSync(p.hostname, name + "\n");

  // /etc/ssh for the host: the client config from the system, but its own host key and sshd_config.
  fs.mkdirSync(p.ssh, { recursive: true, mode: 0o755 });
  for (const f of ["moduli", "ssh_config", "ssh_config.d"]) {
    const src = path.join("/etc/ssh", f);
    if (fs.existsSync(src)) fs.cpSync(src, path.join(p.ssh, f), { recursive: true, force: true });
  }
  if (!fs.existsSync(p.hostKey) || !fs.existsSync(`${p.hostKey}.pub`)) {
    fs.rmSync(p.hostKey, { force: true });
    fs.rmSync(`${p.hostKey}.pub`, { force: true });
    await generateKey(p.hostKey, `root@${name}`);
  }
  fs.writeFileSync(p.sshdConfig, sshdConfig(p), { mode: 0o644 });
}

/**
 * Things outside .testbed/ that sshd and the bind mounts need. Returns whether it created the
 * ZeroTier dir (a mount point only; `down` removes it again if still empty). /run/sshd, sshd's
 * standard privilege-separation dir, stays: other sshds on the machine need it too.
 */
export function ensureSystemDirs(): { zerotierDir: boolean; g8osDir: boolean } {
  fs.mkdirSync(SSHD_PRIVSEP_DIR, { recursive: true, mode: 0o755 });
  const made = (dir: string, mode: number): boolean => {
    if (fs.existsSync(dir)) return false;
    fs.mkdirSync(dir, { recursive: true, mode });
    return true;
  };
  return { zerotierDir: made(ZEROTIER_DIR, 0o700), g8osDir: made(G8OS_DIR, 0o755) };
}

/** Removes what `ensureSystemDirs` created, when it is still empty (never anything else's data). */
export function removeSystemDirs(created: { zerotierDir: boolean; g8osDir?: boolean }): void {
  for (const [dir, mine] of [
    [ZEROTIER_DIR, created.zerotierDir],
    [G8OS_DIR, created.g8osDir ?? false],
  ] as const) {
    if (mine && fs.existsSync(dir) && fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The pid of the host's sshd, if it runs: the pid file names a live process whose command line
 * is our sshd with this host's config, and which sits in the host's network namespace.
 */
export function sshdPid(name: string): number | undefined {
  const pid = pidFileSshd(name);
  if (pid === undefined) return undefined;
  try {
    if (fs.statSync(`/proc/${pid}/ns/net`).ino !== fs.statSync(`/run/netns/${name}`).ino) return undefined;
  } catch {
    return undefined;
  }
  return pid;
}

/** The live process the pid file names, if it is our sshd for this host (guards against pid reuse). */
function pidFileSshd(name: string): number | undefined {
  const p = hostPaths(name);
  const pid = readPid(p.pidFile);
  if (pid === undefined || !pidAlive(pid)) return undefined;
  try {
    // sshd rewrites its title ("sshd: /usr/sbin/sshd -D -f <config> ... [listener]"): match a substring.
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(` -f ${p.sshdConfig} `) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Processes whose command line names a file under the hosts dir (our sshds and their session
 * processes, e.g. an sshd whose namespace was deleted under it): the last net for `down`.
 */
export function strayTestbedProcesses(): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(HOSTS_DIR + "/")) found.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** Resolves true when something accepts TCP connections at host:port within `timeoutMs`. */
export function tcpReachable(host: string, port: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

function logTail(file: string): string {
  try {
    return fs.readFileSync(file, "utf8").trim().split("\n").slice(-5).join(" | ");
  } catch {
    return "(no log)";
  }
}

/** Starts the host's sshd (detached: it outlives the CLI) and waits until it accepts connections. */
export async function startSshd(name: string, address: string): Promise<number> {
  const p = hostPaths(name);
  await run("/usr/sbin/sshd", ["-t", "-f", p.sshdConfig], { step: `check sshd config of ${name}` });
  fs.rmSync(p.pidFile, { force: true });
  const q = shellQuote;
  // Runs inside the host's fresh mount namespace; `exec` makes sshd the process we spawned.
  const script = [
    "set -e",
    `mount --bind ${q(p.root)} /root`,
    `mount --bind ${q(p.ssh)} /etc/ssh`,
    `mount --bind ${q(p.ufw)} /etc/ufw`,
    `mount --bind ${q(p.defaultUfw)} /etc/default/ufw`,
    `mount --bind ${q(p.zerotier)} ${ZEROTIER_DIR}`,
    `mount --bind ${q(p.g8os)} ${G8OS_DIR}`,
    `mount --bind ${q(p.hostname)} /etc/hostname`,
    `hostname ${q(name)}`,
    `exec /usr/sbin/sshd -D -f ${q(p.sshdConfig)} -E ${q(p.log)}`,
  ].join("\n");
  const log = fs.openSync(p.log, "a");
  try {
    const child = spawn(
      "ip",
      ["netns", "exec", name, "unshare", "-m", "-u", "--propagation", "private", "sh", "-c", script],
      { detached: true, stdio: ["ignore", log, log] },
    );
    child.unref();
  } finally {
    fs.closeSync(log);
  }
  try {
    return await pollUntil(
      async () => {
        const pid = sshdPid(name);
        if (pid !== undefined && (await tcpReachable(address, SSH_PORT, 1000))) return pid;
        return { pending: `sshd pid ${pid ?? "none"}; log: ${logTail(p.log)}` };
      },
      { timeoutMs: 20_000, intervalMs: 100, what: `sshd of ${name} to accept connections on ${address}:22` },
    );
  } catch (err) {
    throw new OperationError("Testbed", `start sshd of ${name}`, (err as Error).message, `the log ${p.log}`);
  }
}

/**
 * Ends every process of a host: its sshd (by pid file), then whatever still sits in its network
 * namespace (sessions, daemons a test started), TERM first, KILL for the rest.
 */
export async function stopHostProcesses(name: string): Promise<void> {
  const p = hostPaths(name);
  const pid = pidFileSshd(name);
  if (pid !== undefined) signal(pid, "SIGTERM");
  const pids = await namespacePids(name);
  for (const x of pids) signal(x, "SIGTERM");
  try {
    await pollUntil(
      async () => ((await namespacePids(name)).length === 0 ? true : { pending: "processes left" }),
      { timeoutMs: 3000, intervalMs: 100, what: `processes of ${name} to exit after SIGTERM` },
    );
  } catch {
    for (const x of await namespacePids(name)) signal(x, "SIGKILL");
    await pollUntil(
      async () => {
        const left = await namespacePids(name);
        return left.length === 0 ? true : { pending: `pids ${left.join(" ")}` };
      },
      { timeoutMs: 10_000, intervalMs: 100, what: `processes of ${name} to exit after SIGKILL` },
    );
  }
  fs.rmSync(p.pidFile, { force: true });
}

/** Clears a host dir down to what must survive a `down`: the host key and the logs. */
export function clearHostDir(name: string): void {
  const p = hostPaths(name);
  for (const old of [p.root, p.ufw, p.defaultUfw, p.zerotier, p.g8os, p.hostname, p.pidFile, p.sshdConfig]) {
    fs.rmSync(old, { recursive: true, force: true });
  }
}

/** The TestHost record for a host whose dir is prepared. */
export function testHost(name: string): TestHost {
  const p = hostPaths(name);
  return {
    name,
    netns: name,
    address: hostAddress(hostIndex(name)),
    sshPort: SSH_PORT,
    hostKeySha256: fingerprintOfPublicKey(fs.readFileSync(`${p.hostKey}.pub`, "utf8")),
    dir: p.dir,
  };
}
