/**
 * The newcomer's package list (issue #14 section 4): one list, scripts/debian-packages.txt, that
 * .ci/run and `npm run sandbox` both install, covering every tool the testbed and the sandbox run
 * on this machine; a missing tool is reported with its package.
 */
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import {
  BINARY_PACKAGES,
  DEBIAN_PACKAGES_FILE,
  ESSENTIAL_PACKAGES,
  missingToolsProblem,
  readDebianPackages,
} from "../../scripts/debian-packages";

const ROOT = path.join(__dirname, "..", "..");

/** Tools of Essential packages the code runs by name (present on every Debian system). */
const ESSENTIAL_TOOLS: Record<string, string> = {
  rm: "coreutils",
  sleep: "coreutils",
  truncate: "coreutils",
  sha256sum: "coreutils",
  mknod: "coreutils",
  sh: "dash",
  "dpkg-query": "dpkg",
  "apt-get": "apt",
};

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith(".ts") ? [p] : [];
  });
}

/**
 * The commands the testbed and the sandbox start on this machine, by name: the first literal of
 * run/runLocal/spawn/spawnSync/execFile/execFileSync, and the first word of a shLocal script.
 */
function commandsRun(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const files = [...tsFiles(path.join(ROOT, "test", "testbed")), ...tsFiles(path.join(ROOT, "scripts"))];
  const patterns = [
    /\b(?:run|runLocal|spawn|spawnSync|execFile|execFileSync)\(\s*\[?\s*"([A-Za-z0-9_./-]+)"/g,
    /\bshLocal\(\s*[`"]([a-z][a-z0-9_.-]*)(?=[\s;&|])/g,
  ];
  for (const file of files) {
    const text = fs.readFileSync(file, "utf8");
    for (const re of patterns)
      for (const m of text.matchAll(re)) {
        const name = path.basename(m[1]);
        found.set(name, [...(found.get(name) ?? []), path.relative(ROOT, file)]);
      }
  }
  return found;
}

describe("Debian packages: one list for .ci/run and the sandbox, covering every tool the testbed runs", () => {
  const list = readDebianPackages();

  it("the list is package names, each once", () => {
    assert.ok(list.length > 10);
    for (const p of list) assert.match(p, /^[a-z0-9][a-z0-9+.-]+$/, p);
    assert.deepStrictEqual(
      list.filter((p, i) => list.indexOf(p) !== i),
      [],
      "duplicates",
    );
  });

  it("every tool of the table comes from a listed or an Essential package", () => {
    for (const b of BINARY_PACKAGES)
      assert.ok(
        list.includes(b.pkg) || ESSENTIAL_PACKAGES.includes(b.pkg),
        `${b.path}: package ${b.pkg} is not in ${path.relative(ROOT, DEBIAN_PACKAGES_FILE)}`,
      );
  });

  it("every command the testbed and the sandbox run is in the table (or an Essential package's)", () => {
    const commands = commandsRun();
    // The scan finds what it must (guards the scan itself).
    for (const known of ["ip", "iptables", "virsh", "qemu-img", "debootstrap", "gcc", "getent", "sshd"])
      assert.ok(commands.has(known), `the scan misses ${known}`);
    const table = new Map(BINARY_PACKAGES.map((b) => [path.basename(b.path), b.pkg]));
    const unknown = [...commands.keys()].filter((c) => !table.has(c) && !(c in ESSENTIAL_TOOLS));
    assert.deepStrictEqual(
      unknown.map((c) => `${c} (${commands.get(c)!.join(", ")})`),
      [],
      "commands without a package in scripts/debian-packages.ts BINARY_PACKAGES",
    );
    for (const pkg of Object.values(ESSENTIAL_TOOLS)) assert.ok(ESSENTIAL_PACKAGES.includes(pkg), pkg);
  });

  it(".ci/run installs exactly the list (no list of its own)", () => {
    const ci = fs.readFileSync(path.join(ROOT, ".ci", "run"), "utf8");
    assert.doesNotMatch(ci, /PACKAGES=\(/, ".ci/run keeps no inline package list");
    const line = ci.split("\n").find((l) => l.startsWith("mapfile -t PACKAGES"));
    assert.ok(line, ".ci/run reads the list with mapfile");
    const out = execFileSync("bash", ["-c", `${line}\nprintf '%s\\n' "\${PACKAGES[@]}"`], {
      cwd: ROOT,
      encoding: "utf8",
    });
    assert.deepStrictEqual(out.trim().split("\n"), list);
  });

  it("a missing tool is reported with its package and the install command, for the services in use", () => {
    const without = (gone: string[]) => (p: string) => !gone.includes(p);
    assert.strictEqual(missingToolsProblem(["libvirt", "core0"], without([])), undefined);
    const libvirt = missingToolsProblem(
      ["zerotier", "libvirt"],
      without(["/usr/sbin/libvirtd", "/usr/sbin/ufw"]),
    );
    assert.strictEqual(
      libvirt?.detail,
      "missing /usr/sbin/ufw (package ufw), /usr/sbin/libvirtd (package libvirt-daemon-system)",
    );
    assert.match(
      libvirt?.fix ?? "",
      /^install them: apt-get install -y --no-install-recommends ufw libvirt-daemon-system /,
    );
    assert.match(libvirt?.fix ?? "", /npm run sandbox.*scripts\/debian-packages\.txt/);
    // libvirt's tools are checked only when its service comes up.
    assert.strictEqual(missingToolsProblem(["zerotier"], without(["/usr/sbin/libvirtd"])), undefined);
  });

  it("`npm run sandbox` installs the list before it brings the testbed up", () => {
    const src = fs.readFileSync(path.join(ROOT, "scripts", "sandbox.ts"), "utf8");
    const install = src.indexOf("installDebianPackages(");
    assert.ok(install > 0, "sandbox.ts calls installDebianPackages");
    assert.ok(install < src.indexOf("ensureTestbed("), "before ensureTestbed");
  });
});
