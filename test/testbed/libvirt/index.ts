/**
 * The libvirt testbed: this machine as "the KVM host".
 * - libvirtd + virtlogd (started as root when not running; stopped on `down` only if we started them),
 * - an sshd on 127.0.0.1:LIBVIRT_SSH_PORT with root login by a testbed key, its own config,
 *   host key, authorized_keys and pid file under .testbed/libvirt/ (nothing in /root or /etc/ssh),
 * - an isolated libvirt network g8t-virt (10.215.0.0/24, DHCP by libvirt's dnsmasq, no forward/NAT),
 * - a pool directory, the debootstrapped guest image and the core0 direct-boot fixture.
 * `down` removes the domains named g8t-*, the network, the pool directory and stops the sshd.
 */
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { networkXml, type HostNetworkSpec } from "../../../providers/libvirt/host-setup";
import { pollUntil } from "../../../providers/shared/retry";
import { STATE_DIR, takeLease } from "../state";
import type { ServiceStatus, TestbedService } from "../types";
import { ensureCore0Fixture, type Core0Fixture } from "./core0-fixture";
import { ensureGuestImage, type GuestImage } from "./image";
import { runLocal, shLocal } from "./local";
// VM suites skip through this (root with CI/G8OS_NO_SKIP: the skip fails the run instead).
export { skipOrFail } from "../../skip-policy";
// The core0 guest image that boots like core0 (docs/core0-image-contract.md). Not part of
// ensureLibvirtTestbed: a suite that boots core0 nodes builds it (once per source hash) itself.
export {
  CORE0_IMAGE_FAILED,
  CORE0_IMAGE_READY,
  core0ImageKernelFlags,
  ensureCore0Image,
  type Core0Image,
} from "./core0-image";

export const LIBVIRT_SSH_PORT = 2622;
export const VIRT_NETWORK: HostNetworkSpec = {
  name: "g8t-virt",
  bridge: "g8t-virt0",
  cidr: "10.215.0.0/24",
  forward: "none",
};
export const POOL_DIR = "/var/lib/g8os-testbed/pool";
/** Every domain a test creates is named with this prefix, so `down` can find leftovers. */
export const DOMAIN_PREFIX = "g8t-";

const PRIVSEP_MARKER = "/run/sshd/.g8t-libvirt-testbed";
const DIR = path.join(STATE_DIR, "libvirt");
const FILES = {
  clientKey: path.join(DIR, "id_ed25519"),
  hostKey: path.join(DIR, "ssh_host_ed25519_key"),
  authorizedKeys: path.join(DIR, "authorized_keys"),
  sshdConfig: path.join(DIR, "sshd_config"),
  sshdPid: path.join(DIR, "sshd.pid"),
  sshdLog: path.join(DIR, "sshd.log"),
  startedDaemons: path.join(DIR, "started-daemons"),
};

/** The KVM host part of the testbed: enough for tests that never boot a guest. */
export interface LibvirtHostTestbed {
  /** Connection inputs for the libvirt resources (flat, as LibvirtVolumeArgs etc. take them). */
  connection: { host: string; port: number; user: string; privateKey: string; hostKeySha256: string };
  poolDir: string;
  network: HostNetworkSpec;
}

export interface LibvirtTestbed extends LibvirtHostTestbed {
  image: GuestImage;
  core0: Core0Fixture;
}

const virsh = (args: string[], check = true) =>
  runLocal(["virsh", "-c", "qemu:///system", ...args], { check });

function pidFromFile(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, "utf8").trim());
    if (!pid) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, timeout: 1000 });
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
    s.once("timeout", () => (s.destroy(), resolve(false)));
  });
}

async function ensureDaemons(): Promise<void> {
  // /dev/kvm as udev sets it on Debian (root:kvm 0660; libvirt-qemu is in group kvm). Without
  // udev here it is root-only: libvirt then sees KVM as unusable for its QEMU user, finds its cached
  // capabilities inconsistent and re-probes QEMU on EVERY define (about 90 s each under load).
  if (fs.existsSync("/dev/kvm"))
    await shLocal("getent group kvm >/dev/null && chgrp kvm /dev/kvm && chmod 0660 /dev/kvm");
  const started: string[] = [];
  for (const d of ["virtlogd", "libvirtd"]) {
    if ((await runLocal(["pgrep", "-x", d], { check: false })).code !== 0) {
      await runLocal([d, "-d"]);
      started.push(d);
    }
  }
  if (started.length) fs.appendFileSync(FILES.startedDaemons, started.map((d) => d + "\n").join(""));
  await pollUntil(
    async () => ((await virsh(["version"], false)).code === 0 ? true : { pending: "virsh version fails" }),
    {
      timeoutMs: 30_000,
      intervalMs: 300,
      what: "libvirtd to answer on qemu:///system",
    },
  );
}

async function ensureKeys(): Promise<void> {
  if (!fs.existsSync(FILES.clientKey))
    await runLocal([
      "ssh-keygen",
      "-q",
      "-t",
      "ed25519",
      "-N",
      "",
      "-C",
      "g8os-testbed-libvirt",
      "-f",
      FILES.clientKey,
    ]);
  if (!fs.existsSync(FILES.hostKey))
    await runLocal([
      "ssh-keygen",
      "-q",
      "-t",
      "ed25519",
      "-N",
      "",
      "-C",
      "g8t-kvm-host",
      "-f",
      FILES.hostKey,
    ]);
  fs.writeFileSync(FILES.authorizedKeys, fs.readFileSync(`${FILES.clientKey}.pub`), { mode: 0o600 });
}

async function ensureSshd(): Promise<void> {
  const config = [
    `Port ${LIBVIRT_SSH_PORT}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${FILES.hostKey}`,
    `PidFile ${FILES.sshdPid}`,
    `AuthorizedKeysFile ${FILES.authorizedKeys}`,
    "PermitRootLogin prohibit-password",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    // The repo checkout may be group-writable; the key file itself is 0600.
    "StrictModes no",
    "UsePAM no",
    "MaxSessions 50",
    "MaxStartups 50:30:100",
    "",
  ].join("\n");
  fs.writeFileSync(FILES.sshdConfig, config);
  // sshd needs its privilege separation dir at every connection. Other testbed parts remove it
  // when they created it and it is empty: this marker keeps it non-empty while our sshd runs.
  fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  fs.writeFileSync(PRIVSEP_MARKER, "used by the g8os libvirt testbed sshd\n");
  if (pidFromFile(FILES.sshdPid) && (await tcpOpen("127.0.0.1", LIBVIRT_SSH_PORT))) return;
  await runLocal(["/usr/sbin/sshd", "-t", "-f", FILES.sshdConfig]);
  await runLocal(["/usr/sbin/sshd", "-f", FILES.sshdConfig, "-E", FILES.sshdLog]);
  await pollUntil(
    async () => ((await tcpOpen("127.0.0.1", LIBVIRT_SSH_PORT)) ? true : { pending: "port closed" }),
    {
      timeoutMs: 10_000,
      intervalMs: 100,
      what: `the libvirt testbed sshd on 127.0.0.1:${LIBVIRT_SSH_PORT}`,
    },
  );
}

async function ensureNetwork(): Promise<void> {
  const n = VIRT_NETWORK;
  if ((await virsh(["net-info", n.name], false)).code !== 0) {
    const file = path.join(DIR, `${n.name}.xml`);
    fs.writeFileSync(file, networkXml(n));
    await virsh(["net-define", file]);
  }
  if (!/Active:\s*yes/.test((await virsh(["net-info", n.name])).stdout)) await virsh(["net-start", n.name]);
}

async function hostKeyFingerprint(): Promise<string> {
  const out = (await runLocal(["ssh-keygen", "-lf", `${FILES.hostKey}.pub`])).stdout;
  return out.split(/\s+/)[1];
}

/** The quick part: daemons, sshd, pool directory, network (seconds; what the testbed service runs). */
export async function ensureLibvirtHost(): Promise<void> {
  fs.mkdirSync(DIR, { recursive: true, mode: 0o700 });
  await ensureDaemons();
  await ensureKeys();
  await ensureSshd();
  fs.mkdirSync(POOL_DIR, { recursive: true, mode: 0o711 });
  await ensureNetwork();
}

/**
 * Brings up only the KVM host (daemons, sshd, pool, network: seconds) and returns how to reach it.
 * For tests that define domains but boot none: they need not wait for the guest image.
 */
export async function ensureLibvirtHostTestbed(): Promise<LibvirtHostTestbed> {
  // This process relies on the testbed: the lease keeps `testbed down` from pulling it away.
  takeLease();
  await ensureLibvirtHost();
  return {
    connection: {
      host: "127.0.0.1",
      port: LIBVIRT_SSH_PORT,
      user: "root",
      privateKey: fs.readFileSync(FILES.clientKey, "utf8"),
      hostKeySha256: await hostKeyFingerprint(),
    },
    poolDir: POOL_DIR,
    network: VIRT_NETWORK,
  };
}

/**
 * Brings the libvirt testbed up (idempotent) and returns how to use it, including the guest
 * image and core0 fixture (built on first use: about 10 minutes, then cached).
 */
export async function ensureLibvirtTestbed(log: (s: string) => void = () => {}): Promise<LibvirtTestbed> {
  const host = await ensureLibvirtHostTestbed();
  const image = await ensureGuestImage(log);
  const core0 = await ensureCore0Fixture();
  return { ...host, image, core0 };
}

/** Names of the domains the testbed's tests left behind. */
export async function leftoverDomains(): Promise<string[]> {
  const r = await virsh(["list", "--all", "--name"], false);
  return r.stdout
    .split("\n")
    .map((s) => s.trim())
    .filter((s) => s.startsWith(DOMAIN_PREFIX));
}

/** Removes what the testbed created: g8t-* domains, the network, the pool, the sshd (and daemons it started). */
export async function stopLibvirtTestbed(): Promise<void> {
  if ((await runLocal(["pgrep", "-x", "libvirtd"], { check: false })).code === 0) {
    for (const d of await leftoverDomains()) {
      await virsh(["destroy", d], false);
      await virsh(["undefine", "--nvram", d], false);
    }
    await virsh(["net-destroy", VIRT_NETWORK.name], false);
    await virsh(["net-undefine", VIRT_NETWORK.name], false);
  }
  await runLocal(["rm", "-rf", POOL_DIR]);
  const pid = pidFromFile(FILES.sshdPid);
  if (pid) process.kill(pid, "SIGTERM");
  fs.rmSync(PRIVSEP_MARKER, { force: true });
  if (fs.existsSync(FILES.startedDaemons)) {
    for (const d of new Set(fs.readFileSync(FILES.startedDaemons, "utf8").split("\n").filter(Boolean)))
      await shLocal(`pid=$(pgrep -x ${d}) && kill $pid || true`);
    fs.rmSync(FILES.startedDaemons);
  }
}

export async function libvirtTestbedStatus(): Promise<ServiceStatus> {
  const sshd = !!pidFromFile(FILES.sshdPid) && (await tcpOpen("127.0.0.1", LIBVIRT_SSH_PORT));
  const daemon = (await virsh(["version"], false)).code === 0;
  const netUp = daemon && /Active:\s*yes/.test((await virsh(["net-info", VIRT_NETWORK.name], false)).stdout);
  const up = sshd && daemon && netUp;
  return {
    up,
    detail: `libvirtd ${daemon ? "up" : "down"}, sshd 127.0.0.1:${LIBVIRT_SSH_PORT} ${sshd ? "up" : "down"}, network ${VIRT_NETWORK.name} ${netUp ? "active" : "inactive"}`,
  };
}

/**
 * Registered in test/testbed/services.ts. `up` does only the quick part, so other areas' tests
 * that bring the whole testbed up do not wait for the guest image; the libvirt tests build it.
 */
export const libvirtService: TestbedService = {
  name: "libvirt",
  up: ensureLibvirtHost,
  down: stopLibvirtTestbed,
  status: libvirtTestbedStatus,
};

if (require.main === module) {
  const cmd = process.argv[2] ?? "up";
  const action =
    cmd === "down"
      ? stopLibvirtTestbed()
      : cmd === "status"
        ? libvirtTestbedStatus().then((s) => console.log(JSON.stringify(s)))
        : ensureLibvirtTestbed((s) => console.log(s)).then((t) =>
            console.log(
              JSON.stringify({ ...t, connection: { ...t.connection, privateKey: "[secret]" } }, null, 2),
            ),
          );
  action.catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

/**
 * Stack config (namespace g8os) that points a test program at the libvirt testbed: the KVM host
 * connection, pool, network and the guest's direct-boot kernel. Image keys differ per program and
 * are added by the caller.
 */
export function libvirtProgramConfig(tb: LibvirtTestbed): Record<string, string | { secret: string }> {
  return {
    "g8os:kvmHost": tb.connection.host,
    "g8os:kvmPort": String(tb.connection.port),
    "g8os:kvmPrivateKey": { secret: tb.connection.privateKey },
    "g8os:kvmHostKey": tb.connection.hostKeySha256,
    "g8os:poolDir": tb.poolDir,
    "g8os:networkName": tb.network.name,
    "g8os:networkBridge": tb.network.bridge,
    "g8os:networkCidr": tb.network.cidr,
    "g8os:kernel": tb.image.kernel,
    "g8os:initrd": tb.image.initrd,
    "g8os:cmdline": tb.image.cmdline,
  };
}
