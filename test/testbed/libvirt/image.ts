/**
 * The testbed's guest image: Debian 12 (bookworm) built once with debootstrap from the apt mirror
 * this machine uses, with cloud-init, openssh-server, ufw and Node.js (for the ZeroTier node-agent stand-in). It stands in for the Ubuntu cloud
 * image (which cannot be downloaded here). Booted by direct kernel boot (`root=/dev/vda`): the disk
 * is one ext4 filesystem without a partition table, so no boot loader is needed.
 *
 * Cached OUTSIDE the repo, under /var/cache/g8os-testbed/images/, named after a hash of the recipe:
 * a recipe change builds a new image, an unchanged recipe reuses the old one.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { pollUntil } from "../../../providers/shared/retry";
import { runLocal, shLocal } from "./local";

export const IMAGE_CACHE_DIR = "/var/cache/g8os-testbed/images";

/** Everything that decides the image's content. Change anything here and the image is rebuilt. */
export const GUEST_RECIPE = {
  suite: "bookworm",
  packages: [
    "linux-image-amd64",
    "cloud-init",
    "openssh-server",
    "ufw",
    // debootstrap's resolver misses this virtual-package provider for cloud-init (facts/libvirt.md).
    "python3-cffi-backend",
    "ifupdown",
    "isc-dhcp-client",
    "sudo",
    "qemu-guest-agent",
    "systemd-sysv",
    "udev",
    // For the ZeroTier node-agent stand-in (test/testbed/zerotier/zerotier-cli.js), which the
    // testbed's zerotier install command puts in the guest: Debian 12's Node 18 has fetch.
    "nodejs",
    "iproute2",
  ],
  diskSize: "3G",
  // Only NoCloud: probing EC2/GCE metadata addresses would stall every boot (and leave loopback).
  cloudCfg: "datasource_list: [ NoCloud, None ]\n",
  fstab: "/dev/vda / ext4 defaults,errors=remount-ro 0 1\n",
  // Host keys are removed from the image so guests do not share them; regenerate before sshd starts.
  sshDropIn: "[Service]\nExecStartPre=/usr/bin/ssh-keygen -A\n",
  // A small initramfs (only what direct boot from a virtio disk needs): the default one holds
  // most modules (36 MB) and its decompression alone costs tens of seconds under TCG.
  initramfsConf: "MODULES=list\nCOMPRESS=gzip\n",
  initramfsModules: ["virtio_pci", "virtio_blk", "virtio_net", "virtio_console", "virtio_rng", "ext4"],
  // Periodic jobs that would compete with cloud-init for the emulated CPU in short-lived test guests.
  maskedUnits: [
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "man-db.timer",
    "e2scrub_all.timer",
    "fstrim.timer",
  ],
  version: 3,
};

export interface GuestImage {
  /** qcow2 disk image (one ext4 filesystem, root=/dev/vda). */
  disk: string;
  /** sha256 of `disk`, lowercase hex (also stored in `<disk>.sha256`). */
  sha256: string;
  kernel: string;
  initrd: string;
  /** Kernel command line for direct boot. */
  cmdline: string;
}

export function recipeHash(): string {
  return crypto.createHash("sha256").update(JSON.stringify(GUEST_RECIPE)).digest("hex").slice(0, 12);
}

function imagePaths(): GuestImage {
  const base = path.join(IMAGE_CACHE_DIR, `debian12-${recipeHash()}`);
  return {
    disk: `${base}.qcow2`,
    sha256: "",
    kernel: `${base}.vmlinuz`,
    initrd: `${base}.initrd.img`,
    cmdline: "root=/dev/vda rw console=ttyS0",
  };
}

/** The apt mirror this machine uses for Debian (from /etc/apt/sources.list*), else deb.debian.org. */
export function debianMirror(): string {
  const files = ["/etc/apt/sources.list"];
  const dir = "/etc/apt/sources.list.d";
  if (fs.existsSync(dir)) for (const f of fs.readdirSync(dir)) files.push(path.join(dir, f));
  for (const f of files) {
    if (!/\.(list|sources)$/.test(f) || !fs.existsSync(f)) continue;
    const text = fs.readFileSync(f, "utf8");
    // deb822 "URIs: x" or one-line "deb [opts] x suite", for the main Debian archive (not -security).
    for (const m of text.matchAll(/^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)/gm)) {
      if (/\/debian\/?$/.test(m[1])) return m[1];
    }
  }
  return "http://deb.debian.org/debian";
}

/** Returns the cached image, or the recorded digest when it exists; undefined when not built. */
export function cachedGuestImage(): GuestImage | undefined {
  const p = imagePaths();
  const sumFile = `${p.disk}.sha256`;
  if (![p.disk, p.kernel, p.initrd, sumFile].every((f) => fs.existsSync(f))) return undefined;
  return { ...p, sha256: fs.readFileSync(sumFile, "utf8").trim().split(/\s+/)[0] };
}

/**
 * Builds the image unless the cached one matches the recipe. Takes minutes the first time
 * (debootstrap downloads ~300 packages); later calls return at once.
 */
export async function ensureGuestImage(log: (s: string) => void = () => {}): Promise<GuestImage> {
  const cached = cachedGuestImage();
  if (cached) return cached;
  fs.mkdirSync(IMAGE_CACHE_DIR, { recursive: true });
  // One builder at a time (two test runs may start together): a lock file holding the builder's pid.
  const lock = path.join(IMAGE_CACHE_DIR, `build-${recipeHash()}.lock`);
  const holder = (): number | undefined => {
    try {
      const pid = Number(fs.readFileSync(lock, "utf8"));
      process.kill(pid, 0);
      return pid;
    } catch {
      return undefined;
    }
  };
  const other = holder();
  if (other && other !== process.pid) {
    log(`waiting for the image build of process ${other}`);
    return pollUntil<GuestImage | null>(
      async () => cachedGuestImage() ?? (holder() ? { pending: "building" } : null),
      {
        timeoutMs: 60 * 60_000,
        intervalMs: 5000,
        what: `the guest image build by process ${other}`,
      },
    ).then((img) => img ?? ensureGuestImage(log));
  }
  fs.writeFileSync(lock, String(process.pid));
  try {
    return await buildGuestImage(log);
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

async function buildGuestImage(log: (s: string) => void): Promise<GuestImage> {
  const p = imagePaths();
  const work = path.join(IMAGE_CACHE_DIR, `build-${recipeHash()}`);
  await runLocal(["rm", "-rf", work]);
  const root = path.join(work, "root");
  fs.mkdirSync(root, { recursive: true });
  const r = GUEST_RECIPE;
  log(`debootstrap ${r.suite} from ${debianMirror()} into ${root}`);
  await runLocal(["debootstrap", `--include=${r.packages.join(",")}`, r.suite, root, debianMirror()], {
    timeoutMs: 40 * 60_000,
  });
  log("configuring the image");
  fs.writeFileSync(path.join(root, "etc/hostname"), "g8t-guest\n");
  fs.writeFileSync(path.join(root, "etc/fstab"), r.fstab);
  fs.writeFileSync(path.join(root, "etc/cloud/cloud.cfg.d/90_g8os_testbed.cfg"), r.cloudCfg);
  fs.mkdirSync(path.join(root, "etc/systemd/system/ssh.service.d"), { recursive: true });
  fs.writeFileSync(path.join(root, "etc/systemd/system/ssh.service.d/g8os-hostkeys.conf"), r.sshDropIn);
  // An empty machine-id is regenerated at first boot: every guest gets its own.
  fs.writeFileSync(path.join(root, "etc/machine-id"), "");
  await shLocal(
    `rm -f ${root}/etc/ssh/ssh_host_* ${root}/var/lib/dbus/machine-id && ` +
      `rm -rf ${root}/var/cache/apt/archives/*.deb ${root}/var/lib/apt/lists/*`,
  );
  fs.writeFileSync(path.join(root, "etc/initramfs-tools/conf.d/g8os-testbed"), r.initramfsConf);
  fs.appendFileSync(path.join(root, "etc/initramfs-tools/modules"), r.initramfsModules.join("\n") + "\n");
  await runLocal(["chroot", root, "update-initramfs", "-u", "-k", "all"], { timeoutMs: 10 * 60_000 });
  for (const unit of r.maskedUnits) fs.symlinkSync("/dev/null", path.join(root, "etc/systemd/system", unit));
  const boot = fs.readdirSync(path.join(root, "boot"));
  const vmlinuz = boot.find((f) => f.startsWith("vmlinuz-"));
  const initrd = boot.find((f) => f.startsWith("initrd.img-"));
  if (!vmlinuz || !initrd)
    throw new Error(`guest image: no kernel/initrd in ${root}/boot (${boot.join(", ")})`);
  const raw = path.join(work, "disk.raw");
  await runLocal(["truncate", "-s", r.diskSize, raw]);
  await runLocal(["mkfs.ext4", "-q", "-F", "-L", "root", "-d", root, raw], { timeoutMs: 20 * 60_000 });
  const qcow = path.join(work, "disk.qcow2");
  await runLocal(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow], { timeoutMs: 20 * 60_000 });
  const sum = (await runLocal(["sha256sum", qcow])).stdout.split(/\s+/)[0];
  fs.copyFileSync(path.join(root, "boot", vmlinuz), p.kernel);
  fs.copyFileSync(path.join(root, "boot", initrd), p.initrd);
  fs.renameSync(qcow, p.disk);
  // The digest file is written last: its presence marks a complete build.
  fs.writeFileSync(`${p.disk}.sha256`, `${sum}  ${path.basename(p.disk)}\n`);
  await runLocal(["rm", "-rf", work]);
  log(`guest image ready: ${p.disk} sha256 ${sum}`);
  return { ...p, sha256: sum };
}

if (require.main === module) {
  ensureGuestImage((s) => console.log(s)).then(
    (img) => console.log(JSON.stringify(img, null, 2)),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
