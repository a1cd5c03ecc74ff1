/**
 * The testbed's core0 guest image: an initramfs for the guest image's Debian kernel that boots the
 * way `Core0Vm` boots a node and meets docs/core0-image-contract.md, no more:
 * - /init (a POSIX shell script, PID 1) loads the kernel modules the contract needs (virtio-net,
 *   AHCI + SCSI cdrom + ISO 9660 for the `cidata` seed), mounts the seed read-only, writes the two
 *   files the product puts on it (/g8os/redis-password, /var/lib/zerotier-one/identity.secret),
 *   reads `zerotier=<nwid>` from the kernel command line, gets an underlay address by DHCP (klibc
 *   ipconfig), joins the network with the ZeroTier node-agent stand-in (zerotier-cli.js, "nic" mode,
 *   as test/testbed/zerotier/guest.ts runs it in the Debian guest), and once the ZeroTier address is
 *   assigned starts the core0 v0.9.0 emulator as the node service: its redis binds that address only,
 *   with requirepass = the seed's password.
 * - Everything runs from the initramfs (no disk): node (node_modules/node), redis-server, dash, bash,
 *   coreutils, util-linux and iproute2 from this machine (Debian 12, as the guest) with the shared
 *   libraries `ldd` lists; kmod and the modules from the guest image's disk (same kernel build);
 *   klibc ipconfig from the guest image's initrd.
 * - Serial console log lines start with `G8OS-CORE0:`; readiness is CORE0_IMAGE_READY, failures
 *   CORE0_IMAGE_FAILED (the node then stays up for inspection, as PID 1 must not exit).
 * - "no-boot" mode (G8OS_NOBOOT=1, documented in the contract) runs only the service-start part
 *   inside a chroot of the unpacked image: seed from a directory, bind address and port from the
 *   environment, no modules, no network setup, no ZeroTier. The test uses it; nothing else does.
 * Built once per source hash into IMAGE_CACHE_DIR (like core0-fixture.ts). Uncompressed cpio: the
 * kernel reads it as is, and decompressing ~150 MB under TCG would cost more than reading it.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import { IMAGE_CACHE_DIR, ensureGuestImage, recipeHash } from "./image";
import { runLocal } from "./local";

/** Printed on the serial console when the node answers on its redis (followed by `redis=<ip>:<port>`). */
export const CORE0_IMAGE_READY = "G8OS-CORE0-READY";
/** Printed when the init cannot go on (followed by what failed). */
export const CORE0_IMAGE_FAILED = "G8OS-CORE0-FAILED";
/** Prefix of every other line the init writes to the console. */
export const CORE0_IMAGE_LOG = "G8OS-CORE0:";

/** Modules /init loads, in this order (their dependencies come through modprobe and modules.dep). */
export const CORE0_IMAGE_MODULES = ["virtio_pci", "virtio_net", "ahci", "sr_mod", "isofs"];

/** Testbed-only kernel flags (docs/core0-image-contract.md, "testbed image"). */
export const CORE0_IMAGE_FLAGS = {
  /** ZeroTier controller stand-in URL (what a real image's planet file stands for). */
  controller: "g8t.zt_controller",
  /** Gateway to the controller on the underlay (the libvirt network's host address). */
  controllerVia: "g8t.zt_via",
  /** IPFS RPC API the emulator reads file content from; default http://127.0.0.1:5001. */
  ipfsApi: "g8t.ipfs_api",
} as const;

/**
 * The testbed flags for Core0Vm's `kernelFlags` (g8os:core0KernelFlags): where the node-agent
 * stand-in finds the controller (guest.ts passes the same to the Debian guest) and where the
 * emulator reads file content. Unset fields are left out (then: no ZeroTier join possible, or the
 * default IPFS API http://127.0.0.1:5001).
 */
export function core0ImageKernelFlags(o: {
  controllerUrl?: string;
  controllerVia?: string;
  ipfsApi?: string;
}): string[] {
  const f = CORE0_IMAGE_FLAGS;
  return [
    ...(o.controllerUrl ? [`${f.controller}=${o.controllerUrl}`] : []),
    ...(o.controllerVia ? [`${f.controllerVia}=${o.controllerVia}`] : []),
    ...(o.ipfsApi ? [`${f.ipfsApi}=${o.ipfsApi}`] : []),
  ];
}

/**
 * Host programs copied in (with their libraries). redis-server is Debian's symlink to
 * redis-check-rdb, which picks its mode from argv[0]: it is copied under the name redis-server.
 */
const HOST_BINARIES: Record<string, string> = {
  "usr/bin/sh": "/usr/bin/dash",
  "usr/bin/bash": "/usr/bin/bash",
  "usr/bin/redis-server": "/usr/bin/redis-server",
  "usr/bin/mount": "/usr/bin/mount",
  "usr/bin/umount": "/usr/bin/umount",
  "usr/bin/unshare": "/usr/bin/unshare",
  "usr/sbin/ip": "/usr/sbin/ip",
  ...Object.fromEntries(
    [
      "cat",
      "mkdir",
      "sleep",
      "mktemp",
      "rm",
      "ls",
      "ln",
      "chmod",
      "cp",
      "env",
      "id",
      "uname",
      "head",
      "tail",
    ].map((c) => [`usr/bin/${c}`, `/usr/bin/${c}`]),
  ),
};

/** npm packages copied to /g8os/node_modules with their dependencies: the emulator's and the seed reader's. */
const NPM_PACKAGES = ["ioredis", "js-yaml"];

const REPO = path.resolve(__dirname, "../../..");
const EMULATOR_DIR = path.join(REPO, "test/testbed/core0-emulator");
const AGENT_SOURCE = path.join(REPO, "test/testbed/zerotier/zerotier-cli.js");
/** Bump when the build steps change in a way the hashed sources do not show. */
const BUILD_VERSION = 1;

/**
 * The seed reader (/g8os/lib/seed.js). `label <device>` prints the ISO 9660 volume id (empty when
 * the device is not ISO 9660). `apply <user-data> <root>` writes the contract's files from the
 * NoCloud user-data (`#cloud-config`, `write_files`) and ignores every other entry: the image is
 * not cloud-init. It never prints file contents.
 */
export const SEED_READER_JS = `"use strict";
const fs = require("fs");
const path = require("path");
const FILES = ["/g8os/redis-password", "/var/lib/zerotier-one/identity.secret"];
const fail = (m) => { console.error("seed: " + m); process.exit(1); };
const [cmd, a, b] = process.argv.slice(2);
if (cmd === "label") {
  // Primary volume descriptor: sector 16; type 1, "CD001", volume id at bytes 40..71.
  const buf = Buffer.alloc(2048);
  try {
    const fd = fs.openSync(a, "r");
    fs.readSync(fd, buf, 0, 2048, 16 * 2048);
    fs.closeSync(fd);
  } catch { process.exit(0); }
  if (buf[0] === 1 && buf.toString("latin1", 1, 6) === "CD001") console.log(buf.toString("latin1", 40, 72).trim());
} else if (cmd === "apply") {
  let text;
  try { text = fs.readFileSync(a, "utf8"); } catch (e) { fail("cannot read " + a + ": " + e.code); }
  if (!/^#cloud-config\\s*\\n/.test(text)) fail(a + " does not start with #cloud-config");
  let doc;
  try { doc = require("js-yaml").load(text); } catch (e) { fail(a + " is not YAML: " + e.reason); }
  const entries = (doc && doc.write_files) || [];
  if (!Array.isArray(entries)) fail(a + ": write_files is not a list");
  const done = new Set();
  for (const e of entries) {
    const p = e && typeof e.path === "string" ? e.path : "";
    if (!FILES.includes(p)) { console.log("seed: ignoring write_files entry " + JSON.stringify(p) + " (not in the core0 image contract)"); continue; }
    let content = e.content == null ? "" : String(e.content);
    const enc = String(e.encoding || "");
    if (/^(b64|base64)$/.test(enc)) content = Buffer.from(content, "base64").toString("utf8");
    else if (enc) fail(p + ": encoding " + enc + " is not supported (use none or base64)");
    const mode = parseInt(String(e.permissions || "0600"), 8);
    const target = path.join(b, p);
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
    fs.writeFileSync(target, content, { mode });
    fs.chmodSync(target, mode);
    done.add(p);
    console.log("seed: wrote " + p + " (" + content.length + " bytes, mode " + mode.toString(8) + ")");
  }
  if (!done.has("/g8os/redis-password")) fail(a + ": no /g8os/redis-password in write_files (Core0Vm always writes one)");
  // The init hands it to redis as one requirepass word (trailing newlines dropped, as $(cat) does).
  const pw = fs.readFileSync(path.join(b, "/g8os/redis-password"), "utf8").replace(/\\n+$/, "");
  if (!/^[!#-&(-\\[\\]-~]+$/.test(pw))
    fail("/g8os/redis-password is empty or has whitespace, quotes, backslashes or control characters, which redis.conf requirepass cannot take as one word; generate it from letters, digits and punctuation");
} else fail("usage: seed.js label <device> | apply <user-data> <root>");
`;

/** /init. Shell variables only; the password never reaches argv or the console. */
export const INIT_SH = `#!/bin/sh
# g8os testbed core0 image (docs/core0-image-contract.md; built by test/testbed/libvirt/core0-image.ts).
PATH=/usr/local/sbin:/usr/sbin:/usr/bin
HOME=/root
export PATH HOME
say() { echo "${CORE0_IMAGE_LOG} $*"; }
die() {
  echo "${CORE0_IMAGE_FAILED} $*"
  [ "$NOBOOT" = 1 ] && exit 1
  while :; do sleep 3600; done
}
flag() { for w in $CMDLINE; do case "$w" in "$1="*) echo "\${w#*=}"; return;; esac; done; }
NOBOOT=\${G8OS_NOBOOT:-0}

if [ "$NOBOOT" = 1 ]; then
  # Service-start part only (inside a chroot of the unpacked image): see the contract.
  CMDLINE=$G8OS_CMDLINE
  SEED=$G8OS_SEED_DIR
  BIND=\${G8OS_BIND:-127.0.0.1}
  PORT=\${G8OS_PORT:-6379}
  say "no-boot mode: seed $SEED, redis on $BIND:$PORT"
else
  mount -t proc proc /proc
  mount -t sysfs sysfs /sys
  mount -t devtmpfs devtmpfs /dev
  mount -t tmpfs -o mode=0755 tmpfs /run
  mount -t tmpfs -o mode=1777 tmpfs /tmp
  exec </dev/console >/dev/console 2>&1
  say "kernel $(uname -r), loading modules"
  for m in ${CORE0_IMAGE_MODULES.join(" ")}; do modprobe "$m" || die "modprobe $m failed"; done
  ip link set lo up
  CMDLINE=$(cat /proc/cmdline)
  PORT=6379
  SEED=/run/g8os-seed
  mkdir -p "$SEED"
  dev=
  i=0
  while [ -z "$dev" ] && [ $i -lt 120 ]; do
    for d in /dev/sr* /dev/vd*; do
      [ -b "$d" ] && [ "$(node /g8os/lib/seed.js label "$d")" = cidata ] && { dev=$d; break; }
    done
    [ -n "$dev" ] || { sleep 0.25; i=$((i + 1)); }
  done
  [ -n "$dev" ] || die "no ISO 9660 seed labelled cidata (SATA cdrom) after 30 s"
  mount -t iso9660 -o ro "$dev" "$SEED" || die "mount $dev (cidata) read-only failed"
  say "seed: $dev mounted read-only"
fi

node /g8os/lib/seed.js apply "$SEED/user-data" / || die "the seed's user-data could not be applied"
NWID=$(flag zerotier)

if [ "$NOBOOT" != 1 ]; then
  if [ -z "$NWID" ]; then
    # Sandbox mode (Core0Vm without zerotier): no network to answer on; redis stays on loopback.
    BIND=127.0.0.1
    say "no zerotier= on the kernel command line: redis on loopback only"
  else
    # Underlay: DHCP on the first NIC (a real zerotier-one reaches its roots this way too).
    ipconfig -t 30 -c dhcp -d eth0 >/run/ipconfig.log 2>&1 || die "DHCP on eth0 failed: $(tail -n 3 /run/ipconfig.log)"
    say "underlay: $(ip -o -4 addr show dev eth0 | head -n 1)"
    CTL=$(flag ${CORE0_IMAGE_FLAGS.controller})
    VIA=$(flag ${CORE0_IMAGE_FLAGS.controllerVia})
    [ -n "$CTL" ] || die "kernel flag ${CORE0_IMAGE_FLAGS.controller}=<controller stand-in URL> is missing"
    [ -f /var/lib/zerotier-one/identity.secret ] || say "seed has no ZeroTier identity: the agent generates one"
    # manageInterfaces "nic": the agent takes the first NIC without IPv4 (eth1) as the network's tap.
    echo "{\\"controllerUrl\\":\\"$CTL\\",\\"controllerVia\\":\\"$VIA\\",\\"manageInterfaces\\":\\"nic\\"}" >/var/lib/zerotier-one/g8os-standin.json
    zerotier-cli _agent --service &
    zerotier-cli join "$NWID" >/dev/null || die "zerotier-cli join $NWID failed"
    say "zerotier: $(zerotier-cli info) joining $NWID"
    BIND=
    i=0
    while [ -z "$BIND" ]; do
      a=$(zerotier-cli get "$NWID" ip4 2>/dev/null)
      st=$(zerotier-cli get "$NWID" status 2>/dev/null)
      # Bound only once the address is on the interface: redis cannot bind it before.
      case "$st $(ip -o -4 addr show)" in "OK "*" inet $a/"*) [ -n "$a" ] && BIND=$a && break;; esac
      [ $((i % 40)) -eq 0 ] && say "zerotier: $NWID status \${st:-?}, waiting for an assigned address"
      sleep 0.25
      i=$((i + 1))
    done
    say "zerotier: $NWID address $BIND"
  fi
fi

IPFS=$(flag ${CORE0_IMAGE_FLAGS.ipfsApi})
IPFS=\${IPFS:-http://127.0.0.1:5001}
mkdir -p /var/lib/core0 /run/g8os
while :; do
  rm -f /run/g8os/core0.json
  G8OS_CORE0_PASSWORD=$(cat /g8os/redis-password) node /g8os/emulator/cli.js --ipfs-api "$IPFS" \\
    --bind "$BIND" --port "$PORT" --dir /var/lib/core0 >/run/g8os/core0.json &
  EMU=$!
  trap 'kill -TERM $EMU 2>/dev/null; wait $EMU; exit 0' TERM INT
  while kill -0 $EMU 2>/dev/null && ! [ -s /run/g8os/core0.json ]; do sleep 0.1; done
  [ -s /run/g8os/core0.json ] && echo "${CORE0_IMAGE_READY} redis=$BIND:$PORT zerotier=\${NWID:-none} ipfs=$IPFS"
  wait $EMU
  rc=$?
  [ "$NOBOOT" = 1 ] && exit $rc
  say "core0 exited with status $rc; restarting in 2 s"
  sleep 2
done
`;

/** One entry of a newc cpio archive. */
export interface CpioEntry {
  name: string;
  /** st_mode (file type and permission bits). */
  mode: number;
  /** File content, or the link target of a symlink. */
  data: Buffer;
  /** Device numbers of a character or block device. */
  rdevMajor: number;
  rdevMinor: number;
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function cpioHeader(e: CpioEntry, ino: number): Buffer {
  const hex = (n: number) => n.toString(16).padStart(8, "0");
  const nameBuf = Buffer.from(e.name + "\0");
  const fields = [ino, e.mode, 0, 0, 1, 0, e.data.length, 0, 0, e.rdevMajor, e.rdevMinor, nameBuf.length, 0];
  const header = Buffer.from("070701" + fields.map(hex).join(""));
  const pad = (len: number) => Buffer.alloc((4 - (len % 4)) % 4);
  return Buffer.concat([header, nameBuf, pad(header.length + nameBuf.length), e.data, pad(e.data.length)]);
}

/** A newc archive (uid/gid 0, mtime 0) of `entries`, with its trailer. */
export function writeCpio(entries: CpioEntry[]): Buffer {
  const parts = entries.map((e, i) => cpioHeader(e, i + 1));
  parts.push(
    cpioHeader({ name: "TRAILER!!!", mode: 0, data: Buffer.alloc(0), rdevMajor: 0, rdevMinor: 0 }, 0),
  );
  return Buffer.concat(parts);
}

/**
 * Reads newc entries from an initramfs: gzip-compressed or not, several archives one after the
 * other (as the kernel accepts them; zero padding between them is skipped).
 */
export function readCpio(input: Buffer): CpioEntry[] {
  const buf = input[0] === 0x1f && input[1] === 0x8b ? zlib.gunzipSync(input) : input;
  const out: CpioEntry[] = [];
  let o = 0;
  while (o + 110 <= buf.length) {
    if (buf[o] === 0) {
      o++;
      continue;
    }
    const magic = buf.toString("latin1", o, o + 6);
    if (magic !== "070701" && magic !== "070702")
      throw new Error(
        `initramfs: no newc cpio header at byte ${o} (found ${JSON.stringify(magic)}); compressed parts other than gzip are not read`,
      );
    const f = (i: number) => parseInt(buf.toString("latin1", o + 6 + 8 * i, o + 14 + 8 * i), 16);
    const mode = f(1);
    const size = f(6);
    const nameSize = f(11);
    const rdevMajor = f(9);
    const rdevMinor = f(10);
    const name = buf.toString("utf8", o + 110, o + 110 + nameSize - 1);
    let p = o + 110 + nameSize;
    p += (4 - (p % 4)) % 4;
    const data = buf.subarray(p, p + size);
    p += size;
    p += (4 - (p % 4)) % 4;
    o = p;
    if (name !== "TRAILER!!!") out.push({ name, mode, data: Buffer.from(data), rdevMajor, rdevMinor });
  }
  return out;
}

/** Unpacks entries into `dir` (directories, files, symlinks; device nodes with mknod, root only). */
export async function extractCpio(entries: CpioEntry[], dir: string): Promise<void> {
  for (const e of entries) {
    const target = path.join(dir, e.name);
    if (
      !path.resolve(target).startsWith(path.resolve(dir) + path.sep) &&
      path.resolve(target) !== path.resolve(dir)
    )
      throw new Error(`initramfs entry ${JSON.stringify(e.name)} points outside ${dir}`);
    const type = e.mode & S_IFMT;
    const perm = e.mode & 0o7777;
    if (type === S_IFDIR) {
      fs.mkdirSync(target, { recursive: true });
      fs.chmodSync(target, perm);
      continue;
    }
    fs.mkdirSync(path.dirname(target), { recursive: true });
    if (type === S_IFREG) fs.writeFileSync(target, e.data, { mode: perm });
    else if (type === S_IFLNK) fs.symlinkSync(e.data.toString(), target);
    else if (type === S_IFCHR)
      await runLocal([
        "mknod",
        "-m",
        perm.toString(8),
        target,
        "c",
        String(e.rdevMajor),
        String(e.rdevMinor),
      ]);
    else throw new Error(`initramfs entry ${e.name}: file type ${type.toString(8)} is not handled`);
  }
}

/** The kernel release of an x86 bzImage (setup header `kernel_version` string), e.g. 6.1.0-50-amd64. */
export function kernelRelease(bzImage: string): string {
  const buf = fs.readFileSync(bzImage);
  if (buf.toString("latin1", 0x202, 0x206) !== "HdrS")
    throw new Error(`${bzImage}: not an x86 bzImage (no HdrS setup header)`);
  const at = buf.readUInt16LE(0x20e) + 0x200;
  const text = buf.toString("latin1", at, at + 256);
  return text.slice(0, text.indexOf(" "));
}

/** The `vermagic=` of a kernel module (its first word is the kernel release it was built for). */
export function moduleVermagic(ko: Buffer): string | undefined {
  const at = ko.indexOf("vermagic=");
  if (at < 0) return undefined;
  return ko.toString("latin1", at + 9, ko.indexOf(0, at));
}

export interface Core0Image {
  /** The guest image's kernel (direct boot). */
  kernel: string;
  /** The initramfs (uncompressed newc cpio). */
  initrd: string;
  /** Kernel release the modules are for. */
  kernelRelease: string;
  /** Kernel command line Core0Vm would boot it with (without zerotier= and testbed flags). */
  cmdline: string;
}

function sourceHash(): string {
  const h = crypto.createHash("sha256");
  h.update(
    JSON.stringify({ BUILD_VERSION, guest: recipeHash(), CORE0_IMAGE_MODULES, HOST_BINARIES, NPM_PACKAGES }),
  );
  h.update(INIT_SH).update(SEED_READER_JS).update(fs.readFileSync(AGENT_SOURCE));
  for (const f of fs.readdirSync(EMULATOR_DIR).sort())
    h.update(f).update(fs.readFileSync(path.join(EMULATOR_DIR, f)));
  return h.digest("hex").slice(0, 12);
}

/** Where a library path lands in a merged-/usr tree (/lib/x -> usr/lib/x). */
function usrPath(p: string): string {
  const rel = p.replace(/^\/+/, "");
  return /^(lib|lib64|bin|sbin)\//.test(rel) ? `usr/${rel}` : rel;
}

async function copyWithLibraries(stage: string, rel: string, source: string): Promise<void> {
  const copy = (from: string, to: string) => {
    const dest = path.join(stage, to);
    if (fs.existsSync(dest)) return;
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(fs.realpathSync(from), dest);
    fs.chmodSync(dest, 0o755);
  };
  copy(source, rel);
  const ldd = await runLocal(["ldd", fs.realpathSync(source)], { check: false });
  if (ldd.code !== 0 && !/not a dynamic executable/.test(ldd.stdout + ldd.stderr))
    throw new Error(`core0 image: ldd ${source} failed: ${ldd.stderr.trim()}`);
  for (const line of ldd.stdout.split("\n")) {
    if (/not found/.test(line))
      throw new Error(`core0 image: ${source} needs a library that is missing here: ${line.trim()}`);
    const lib = /=>\s*(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)\s+\(/.exec(line)?.[1];
    if (lib) copy(lib, usrPath(lib));
  }
}

/** npm packages and their dependencies (flat node_modules of the repo) into stage/g8os/node_modules. */
function copyNpm(stage: string): void {
  const nm = path.join(REPO, "node_modules");
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const dir = path.join(nm, name);
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as {
      dependencies?: Record<string, string>;
    };
    fs.cpSync(fs.realpathSync(dir), path.join(stage, "g8os/node_modules", name), {
      recursive: true,
      dereference: true,
    });
    for (const d of Object.keys(pkg.dependencies ?? {})) visit(d);
  };
  for (const p of NPM_PACKAGES) visit(p);
}

/** Reads files from the guest image's ext4 disk (qcow2 converted to raw) with debugfs. */
async function guestFile(raw: string, from: string, to: string): Promise<void> {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  await runLocal(["debugfs", "-R", `dump -p ${from} ${to}`, raw]);
  if (!fs.existsSync(to)) throw new Error(`core0 image: ${from} is not in the guest image's disk`);
}

/** Modules (with dependencies, from modules.dep) and kmod from the guest disk; depmod over them. */
async function copyModules(stage: string, work: string, diskQcow2: string, release: string): Promise<void> {
  const raw = path.join(work, "disk.raw");
  await runLocal(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", diskQcow2, raw], {
    timeoutMs: 10 * 60_000,
  });
  const modDir = `/usr/lib/modules/${release}`;
  const dep = (await runLocal(["debugfs", "-R", `cat ${modDir}/modules.dep`, raw])).stdout;
  const deps = new Map<string, string[]>();
  for (const line of dep.split("\n")) {
    const m = /^(\S+):\s*(.*)$/.exec(line);
    if (m) deps.set(m[1], m[2].split(/\s+/).filter(Boolean));
  }
  if (!deps.size) throw new Error(`core0 image: ${modDir}/modules.dep of the guest disk is empty or missing`);
  const byName = (n: string) =>
    [...deps.keys()].find(
      (k) =>
        path
          .basename(k)
          .replace(/\.ko(\.\w+)?$/, "")
          .replace(/-/g, "_") === n,
    );
  const want = new Set<string>();
  const add = (k: string) => {
    if (want.has(k)) return;
    want.add(k);
    for (const d of deps.get(k) ?? []) add(d);
  };
  for (const m of CORE0_IMAGE_MODULES) {
    const k = byName(m);
    if (!k) throw new Error(`core0 image: module ${m} is not in the guest kernel ${release} (modules.dep)`);
    add(k);
  }
  for (const k of want)
    await guestFile(raw, `${modDir}/${k}`, path.join(stage, `usr/lib/modules/${release}`, k));
  for (const f of ["modules.order", "modules.builtin", "modules.builtin.modinfo"])
    await guestFile(raw, `${modDir}/${f}`, path.join(stage, `usr/lib/modules/${release}`, f));
  await guestFile(raw, "/usr/bin/kmod", path.join(work, "kmod"));
  await copyWithLibraries(stage, "usr/bin/kmod", path.join(work, "kmod"));
  for (const name of ["modprobe", "insmod", "lsmod", "depmod"])
    fs.symlinkSync("../bin/kmod", path.join(stage, "usr/sbin", name));
  // kmod picks the tool from argv[0]: depmod through a symlink, over the staged tree only.
  fs.symlinkSync(path.join(stage, "usr/bin/kmod"), path.join(work, "depmod"));
  await runLocal([path.join(work, "depmod"), "-b", stage, release]);
  fs.rmSync(raw, { force: true });
}

/** klibc's ipconfig (DHCP client) and its library, from the guest image's initrd. */
function copyIpconfig(stage: string, initrd: string): void {
  const entries = readCpio(fs.readFileSync(initrd));
  const wanted = entries.filter(
    (e) => e.name === "usr/bin/ipconfig" || /^usr\/lib\/klibc-[^/]+\.so$/.test(e.name),
  );
  if (wanted.length !== 2)
    throw new Error(
      `core0 image: ${initrd} holds no klibc ipconfig (found ${wanted.map((e) => e.name).join(", ") || "nothing"})`,
    );
  for (const e of wanted) {
    const dest = path.join(stage, e.name);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, e.data, { mode: 0o755 });
  }
}

async function compileEmulator(stage: string): Promise<void> {
  const out = path.join(stage, "g8os/emulator");
  await runLocal(
    [
      process.execPath,
      path.join(REPO, "node_modules/typescript/bin/tsc"),
      "--outDir",
      out,
      "--rootDir",
      EMULATOR_DIR,
      "--module",
      "commonjs",
      "--target",
      "es2022",
      "--strict",
      "--esModuleInterop",
      "--skipLibCheck",
      "--types",
      "node",
      path.join(EMULATOR_DIR, "cli.ts"),
    ],
    { cwd: REPO, timeoutMs: 5 * 60_000 },
  );
  if (!fs.existsSync(path.join(out, "cli.js")))
    throw new Error("core0 image: tsc wrote no cli.js for the emulator");
}

/** Walks the staged tree into cpio entries (parents first), plus the console and null devices. */
function stageEntries(stage: string): CpioEntry[] {
  const out: CpioEntry[] = [];
  const none = Buffer.alloc(0);
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(stage, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(path.join(stage, r));
      if (st.isSymbolicLink())
        out.push({
          name: r,
          mode: S_IFLNK | 0o777,
          data: Buffer.from(fs.readlinkSync(path.join(stage, r))),
          rdevMajor: 0,
          rdevMinor: 0,
        });
      else if (st.isDirectory()) {
        out.push({ name: r, mode: S_IFDIR | (st.mode & 0o7777), data: none, rdevMajor: 0, rdevMinor: 0 });
        walk(r);
      } else
        out.push({
          name: r,
          mode: S_IFREG | (st.mode & 0o7777),
          data: fs.readFileSync(path.join(stage, r)),
          rdevMajor: 0,
          rdevMinor: 0,
        });
    }
  };
  walk("");
  // The kernel opens /dev/console for PID 1 before /init mounts devtmpfs.
  out.push({ name: "dev/console", mode: S_IFCHR | 0o600, data: none, rdevMajor: 5, rdevMinor: 1 });
  out.push({ name: "dev/null", mode: S_IFCHR | 0o666, data: none, rdevMajor: 1, rdevMinor: 3 });
  return out;
}

async function buildImage(target: string): Promise<void> {
  const guest = await ensureGuestImage();
  const release = kernelRelease(guest.kernel);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "g8t-core0img-"));
  try {
    const stage = path.join(work, "root");
    for (const d of [
      "usr/bin",
      "usr/sbin",
      "usr/lib",
      "usr/lib64",
      "usr/local/sbin",
      "proc",
      "sys",
      "dev",
      "run",
      "root",
      "etc",
      "var/lib/zerotier-one",
      "g8os/lib",
    ])
      fs.mkdirSync(path.join(stage, d), { recursive: true });
    fs.mkdirSync(path.join(stage, "tmp"), { mode: 0o1777 });
    fs.chmodSync(path.join(stage, "tmp"), 0o1777);
    for (const d of ["bin", "sbin", "lib", "lib64"]) fs.symlinkSync(`usr/${d}`, path.join(stage, d));
    for (const [rel, src] of Object.entries(HOST_BINARIES)) await copyWithLibraries(stage, rel, src);
    await copyWithLibraries(stage, "usr/bin/node", path.join(REPO, "node_modules/node/bin/node"));
    await copyModules(stage, work, guest.disk, release);
    copyIpconfig(stage, guest.initrd);
    await compileEmulator(stage);
    copyNpm(stage);
    fs.writeFileSync(path.join(stage, "g8os/lib/seed.js"), SEED_READER_JS);
    fs.copyFileSync(AGENT_SOURCE, path.join(stage, "usr/local/sbin/zerotier-cli"));
    fs.chmodSync(path.join(stage, "usr/local/sbin/zerotier-cli"), 0o755);
    fs.symlinkSync("zerotier-cli", path.join(stage, "usr/local/sbin/zerotier-idtool"));
    fs.writeFileSync(path.join(stage, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    fs.writeFileSync(path.join(stage, "etc/group"), "root:x:0:\n");
    fs.writeFileSync(path.join(stage, "etc/hosts"), "127.0.0.1 localhost\n");
    fs.writeFileSync(path.join(stage, "init"), INIT_SH, { mode: 0o755 });
    fs.writeFileSync(`${target}.tmp`, writeCpio(stageEntries(stage)));
    fs.renameSync(`${target}.tmp`, target);
  } finally {
    await runLocal(["rm", "-rf", work]);
  }
}

/**
 * Builds (once per source hash: scripts, emulator and agent sources, guest recipe) the core0
 * guest initramfs and returns it with the guest image's kernel. Needs root (debugfs, chroot-free).
 */
export async function ensureCore0Image(log: (s: string) => void = () => {}): Promise<Core0Image> {
  const guest = await ensureGuestImage(log);
  const initrd = path.join(IMAGE_CACHE_DIR, `core0-image-${sourceHash()}.cpio`);
  if (!fs.existsSync(initrd)) {
    log(`building the core0 guest image ${initrd}`);
    await buildImage(initrd);
  }
  return {
    kernel: guest.kernel,
    initrd,
    kernelRelease: kernelRelease(guest.kernel),
    cmdline: "console=ttyS0,115200n8",
  };
}

if (require.main === module) {
  ensureCore0Image((s) => console.log(s)).then(
    (img) => console.log(JSON.stringify(img, null, 2)),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
