/**
 * The Debian packages of the machine that runs the testbed (scripts/debian-packages.txt, shared with
 * .ci/run), which tool comes from which package, and installing what is missing. The testbed's
 * preflight (test/testbed/index.ts) and `npm run sandbox` use it, so a missing tool is always
 * reported with the package that fixes it.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

export const DEBIAN_PACKAGES_FILE = path.join(__dirname, "debian-packages.txt");

/**
 * Packages every Debian 12 installation has, so the list leaves them out: the Essential ones, and
 * apt (Protected; the sandbox calls apt-get only where it exists, see isDebian).
 */
export const ESSENTIAL_PACKAGES = ["coreutils", "libc-bin", "util-linux", "dash", "bash", "dpkg", "apt"];

/**
 * Every tool the testbed, its services and the sandbox run on this machine, by the path Debian 12
 * installs it at, with its package and the part of the testbed that needs it (`hosts`: always;
 * otherwise the service of that name in test/testbed/services.ts).
 */
export const BINARY_PACKAGES: readonly { path: string; pkg: string; for: "hosts" | "libvirt" | "core0" }[] = [
  { path: "/usr/sbin/ip", pkg: "iproute2", for: "hosts" },
  { path: "/usr/sbin/sshd", pkg: "openssh-server", for: "hosts" },
  { path: "/usr/bin/ssh-keygen", pkg: "openssh-client", for: "hosts" },
  { path: "/usr/bin/nsenter", pkg: "util-linux", for: "hosts" },
  { path: "/usr/bin/unshare", pkg: "util-linux", for: "hosts" },
  { path: "/usr/sbin/runuser", pkg: "util-linux", for: "core0" },
  { path: "/usr/bin/mount", pkg: "mount", for: "hosts" },
  { path: "/usr/bin/umount", pkg: "mount", for: "hosts" },
  { path: "/usr/sbin/iptables", pkg: "iptables", for: "hosts" },
  { path: "/usr/sbin/ufw", pkg: "ufw", for: "hosts" },
  { path: "/usr/bin/git", pkg: "git", for: "hosts" },
  { path: "/usr/bin/pgrep", pkg: "procps", for: "hosts" },
  { path: "/usr/bin/getent", pkg: "libc-bin", for: "libvirt" },
  { path: "/usr/bin/ldd", pkg: "libc-bin", for: "libvirt" },
  { path: "/usr/sbin/chroot", pkg: "coreutils", for: "core0" },
  { path: "/usr/bin/redis-server", pkg: "redis-server", for: "core0" },
  { path: "/usr/sbin/libvirtd", pkg: "libvirt-daemon-system", for: "libvirt" },
  { path: "/usr/sbin/virtlogd", pkg: "libvirt-daemon-system", for: "libvirt" },
  { path: "/usr/bin/virsh", pkg: "libvirt-clients", for: "libvirt" },
  { path: "/usr/bin/qemu-system-x86_64", pkg: "qemu-system-x86", for: "libvirt" },
  { path: "/usr/bin/qemu-img", pkg: "qemu-utils", for: "libvirt" },
  { path: "/usr/sbin/dnsmasq", pkg: "dnsmasq-base", for: "libvirt" },
  { path: "/usr/bin/genisoimage", pkg: "genisoimage", for: "libvirt" },
  { path: "/usr/bin/cloud-localds", pkg: "cloud-image-utils", for: "libvirt" },
  { path: "/usr/sbin/debootstrap", pkg: "debootstrap", for: "libvirt" },
  { path: "/usr/sbin/mkfs.ext4", pkg: "e2fsprogs", for: "libvirt" },
  { path: "/usr/sbin/debugfs", pkg: "e2fsprogs", for: "libvirt" },
  { path: "/usr/bin/gcc", pkg: "gcc", for: "libvirt" },
  { path: "/usr/bin/rsync", pkg: "rsync", for: "hosts" },
  { path: "/usr/bin/killall", pkg: "psmisc", for: "core0" },
];

/** The list file's packages: one a line, `#` comments and blank lines skipped. */
export function readDebianPackages(file = DEBIAN_PACKAGES_FILE): string[] {
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .map((l) => l.replace(/#.*/, "").trim())
    .filter((l) => l !== "");
}

/**
 * The tools missing for the hosts and the given services, as one problem line naming each tool
 * with its package and the command that installs them; undefined when nothing is missing.
 */
export function missingToolsProblem(
  services: string[],
  exists: (p: string) => boolean = fs.existsSync,
): { detail: string; fix: string } | undefined {
  const missing = BINARY_PACKAGES.filter(
    (b) => (b.for === "hosts" || services.includes(b.for)) && !exists(b.path),
  );
  if (missing.length === 0) return undefined;
  const pkgs = [...new Set(missing.map((b) => b.pkg))];
  return {
    detail: `missing ${missing.map((b) => `${b.path} (package ${b.pkg})`).join(", ")}`,
    fix:
      `install ${pkgs.length === 1 ? "it" : "them"}: apt-get install -y --no-install-recommends ${pkgs.join(" ")} ` +
      `(or as root \`npm run sandbox\` / .ci/run, which install ${path.relative(path.join(__dirname, ".."), DEBIAN_PACKAGES_FILE)})`,
  };
}

/** The packages of the list that dpkg does not report installed. */
export function missingDebianPackages(pkgs = readDebianPackages()): string[] {
  return pkgs.filter((p) => {
    const r = spawnSync("dpkg-query", ["-W", "-f=${Status}", p], { encoding: "utf8" });
    return !(r.status === 0 && /install ok installed/.test(r.stdout));
  });
}

/** True on a Debian-family machine where apt-get and dpkg-query exist. */
export function isDebian(): boolean {
  return (
    fs.existsSync("/etc/debian_version") &&
    fs.existsSync("/usr/bin/apt-get") &&
    fs.existsSync("/usr/bin/dpkg-query")
  );
}

/**
 * Installs the list's missing packages (as root, noninteractive, as .ci/run does); returns what it
 * installed. Throws naming the packages and the command when apt-get fails.
 */
export function installDebianPackages(log: (line: string) => void = console.log): string[] {
  const missing = missingDebianPackages();
  if (missing.length === 0) return [];
  log(`installing Debian packages (scripts/debian-packages.txt): ${missing.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  try {
    execFileSync("apt-get", ["update", "-q"], { stdio: "inherit", env });
    execFileSync("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...missing], {
      stdio: "inherit",
      env,
    });
  } catch (err) {
    throw new Error(
      `apt-get install of ${missing.join(" ")} failed (${(err as Error).message.split("\n")[0]}). ` +
        `Fix: run \`apt-get install -y --no-install-recommends ${missing.join(" ")}\` and read apt's message`,
    );
  }
  return missing;
}
