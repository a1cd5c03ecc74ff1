/**
 * pins.yaml (issue #14 section 5): every upstream artefact the environment downloads is pinned by URL
 * and sha256 in one file the program reads; a stack may override entries; nothing is fetched
 * unverified. The walk below runs the real build stack under mocks and checks every URL in every
 * resource input: API endpoints aside, each is a pin, and travels with its pinned sha256.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  loadPins,
  parsePins,
  PIN_NAMES,
  PINS_FILE,
  ZEROTIER_APT_FILES,
  zerotierInstallCommand,
  type FilePin,
} from "../../stacks/pins";
import { validBuildConfig, vmConfig } from "./fixtures";
import { runStacksUnderMocks, type StackRun } from "./run-stack";

type Cfg = Record<string, string | { secret: string }>;

/** Every string in a resource's inputs with its path (secrets unwrapped, the serialized provider skipped). */
function strings(v: unknown, at = "", out: [string, string][] = []): [string, string][] {
  if (typeof v === "string") out.push([at, v]);
  else if (Array.isArray(v)) v.forEach((x, i) => strings(x, `${at}[${i}]`, out));
  else if (v && typeof v === "object")
    for (const [k, x] of Object.entries(v)) {
      if (k.startsWith("__")) continue;
      // A secret input arrives as { <signature>: ..., value }: its path is the input's own.
      strings(x, k === "value" ? at : at ? `${at}.${k}` : k, out);
    }
  return out;
}

const URL_RE = /\b[a-z][a-z0-9+.-]*:\/\/[^\s'"\])]+/g;
/** Inputs that name an API the stack talks to (config keys with their own checks), not a download. */
const API_FIELDS = /^(apiUrl|connection\.apiRoot)$/;

/** The pins file as the program reads it, every problem-free entry as plain values. */
function filePins(): Record<string, Record<string, string>> {
  const { pins, problems } = loadPins();
  assert.deepStrictEqual(problems, [], "pins.yaml has problems");
  return pins as Record<string, Record<string, string>>;
}

/**
 * Checks one stack run: every URL in every input is an API endpoint or one of `files` (url + sha256)
 * or the pinned apt source; image downloads carry their pin's sha256; a command that fetches a URL
 * checks that pin's sha256 in the same command. Returns what it found, for further asserts.
 */
function checkDownloads(run: StackRun, files: FilePin[], apt: { url: string }) {
  assert.strictEqual(run.error, undefined, run.error);
  const byUrl = new Map(files.map((f) => [f.url, f.sha256]));
  const aptUrl = apt.url.split("{codename}").join("$c");
  const found = { volumes: [] as string[], commands: [] as string[] };
  for (const res of run.resources ?? []) {
    const where = `${res.type} ${res.name}`;
    if (typeof res.inputs.sourceUrl === "string") {
      assert.ok(byUrl.has(res.inputs.sourceUrl), `${where}: sourceUrl ${res.inputs.sourceUrl} is not a pin`);
      assert.strictEqual(
        res.inputs.sha256,
        byUrl.get(res.inputs.sourceUrl),
        `${where}: sha256 is not the pin's`,
      );
      found.volumes.push(res.inputs.sourceUrl);
    }
    for (const [at, text] of strings(res.inputs)) {
      for (const url of text.match(URL_RE) ?? []) {
        if (API_FIELDS.test(at)) continue;
        if (at === "sourceUrl") continue;
        if (url === aptUrl) {
          assert.match(text, /deb \[signed-by=\/etc\/apt\/keyrings\/g8os-zerotier\.asc\] /, `${where} ${at}`);
          continue;
        }
        assert.ok(byUrl.has(url), `${where} ${at}: ${url} is neither a pin nor an API endpoint`);
        // The command that fetches it verifies it: the pin's digest and sha256sum -c in the same text.
        assert.ok(text.includes(`${byUrl.get(url)}  `), `${where} ${at}: ${url} without its pinned sha256`);
        assert.match(text, /sha256sum -c/, `${where} ${at}: ${url} fetched without a check`);
        if (!found.commands.includes(`${res.name} ${at}`)) found.commands.push(`${res.name} ${at}`);
      }
    }
  }
  return found;
}

describe("pins.yaml: every downloaded artefact pinned by URL and sha256", function () {
  this.timeout(300_000);
  const pins = filePins();
  const key = pins.zerotierAptKey as unknown as FilePin;
  const source = pins.zerotierAptSource as unknown as { url: string; suite: string; component: string };

  it("the file has every entry, each with a doc comment, and parses clean", () => {
    const text = fs.readFileSync(PINS_FILE, "utf8").split("\n");
    for (const name of PIN_NAMES) {
      const at = text.findIndex((l) => l.startsWith(`${name}:`));
      if (name === "core0Initrd") {
        assert.strictEqual(at, -1, "core0Initrd is optional and absent by default");
        assert.ok(
          text.some((l) => l.startsWith("# core0Initrd")),
          "core0Initrd is documented",
        );
        continue;
      }
      assert.ok(at > 0, `${name} in pins.yaml`);
      assert.match(text[at - 1], /^# /, `${name} has a comment right above it`);
    }
    // The one digest pinned: ZeroTier's key file (its comment names the upstream file and commit).
    assert.match(key.sha256, /^[0-9a-f]{64}$/);
    assert.strictEqual(pins.ubuntuImage.sha256, "required", "no Ubuntu digest was guessed");
  });

  it("a bad file is reported naming pins.yaml, the entry, the field and a fix", () => {
    const good = () => JSON.parse(JSON.stringify(pins)) as Record<string, Record<string, string>>;
    const cases: [string, (d: Record<string, Record<string, string>>) => void, RegExp][] = [
      [
        "short digest",
        (d) => (d.zerotierAptKey.sha256 = "abc"),
        /^pins\.yaml: zerotierAptKey: sha256: "abc" must be a sha256 digest: 64 lowercase hex characters\. Fix: \S/,
      ],
      [
        "upper-case digest",
        (d) => (d.node.sha256 = "A".repeat(64)),
        /^pins\.yaml: node: sha256: .* 64 lowercase hex.*\. Fix: /,
      ],
      [
        "not a URL",
        (d) => (d.ubuntuImage.url = "cloud-images/noble.img"),
        /^pins\.yaml: ubuntuImage: url: .* must be an http\(s\) URL\. Fix: /,
      ],
      [
        "shell in a URL",
        (d) => (d.pulumiCli.url = "https://x.org/$(reboot)"),
        /^pins\.yaml: pulumiCli: url: .* characters a pin may not use.*Fix: /,
      ],
      [
        "missing field",
        (d) => delete d.core0Kernel.sha256,
        /^pins\.yaml: core0Kernel: sha256: is missing\. Fix: /,
      ],
      ["missing entry", (d) => delete d.node, /^pins\.yaml: node: is missing\. Fix: add the entry/],
      [
        "typo entry",
        (d) => (d.ubuntuImages = d.ubuntuImage),
        /^pins\.yaml: ubuntuImages: is not a pinned artefact \(did you mean ubuntuImage\?\)\. Fix: rename it to ubuntuImage/,
      ],
      [
        "typo field",
        (d) => (d.node.sha265 = "required"),
        /^pins\.yaml: node: sha265: is not a field of this entry\. Fix: rename it to sha256/,
      ],
      [
        "bad apt suite",
        (d) => (d.zerotierAptSource.suite = "Book Worm"),
        /^pins\.yaml: zerotierAptSource: suite: .*apt suite.*Fix: /,
      ],
    ];
    for (const [what, edit, want] of cases) {
      const doc = good();
      edit(doc);
      const { problems } = parsePins(doc, "pins.yaml", false);
      assert.ok(
        problems.some((p) => want.test(p)),
        `${what}: ${JSON.stringify(problems)}`,
      );
    }
    assert.deepStrictEqual(parsePins(pins, "pins.yaml", false).problems, []);
    // An override may give any subset; the same checks apply, under its own name.
    assert.deepStrictEqual(parsePins({ node: { sha256: "c".repeat(64) } }, "g8os:pins", true).problems, []);
    assert.match(
      parsePins({ node: { sha256: "xyz" } }, "g8os:pins", true).problems[0] ?? "",
      /^g8os:pins: node: sha256: "xyz" must be .*Fix: /,
    );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-pins-"));
    try {
      fs.writeFileSync(path.join(dir, "pins.yaml"), "ubuntuImage: [\n");
      assert.match(loadPins(path.join(dir, "pins.yaml")).problems[0], /^pins\.yaml: does not parse: .*Fix: /);
      assert.match(loadPins(path.join(dir, "none.yaml")).problems[0], /^none\.yaml: is missing\. Fix: /);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("the build stack's resources (under mocks)", () => {
    const image = {
      url: "https://cloud-images.ubuntu.com/releases/noble/release-20240101/u.img",
      sha256: "d".repeat(64),
    };
    const kernel = { url: "https://example.org/core0/v0.9/kernel.efi", sha256: "e".repeat(64) };
    const initrd = { url: "https://example.org/core0/v0.9/initrd", sha256: "f".repeat(64) };
    let runs: StackRun[] = [];
    const base = (): Cfg => ({ ...validBuildConfig(), "g8os:vmsEnabled": "true" });
    before(() => {
      runs = runStacksUnderMocks(
        [
          // 0: the older per-image keys (fixtures.vmConfig), pins.yaml for the rest
          { ...validBuildConfig(), ...vmConfig() },
          // 1: g8os:pins overrides, no per-image keys
          {
            ...base(),
            "g8os:pins": JSON.stringify({ ubuntuImage: image, core0Kernel: kernel, core0Initrd: initrd }),
          },
          // 2: nothing pins the image or the kernel
          base(),
          // 3: a stack that unpins the key: the default install would fetch it unverified
          { ...validBuildConfig(), "g8os:pins": JSON.stringify({ zerotierAptKey: { sha256: "required" } }) },
          // 4: the same with an own install command: nothing of the key is used, so nothing to pin
          {
            ...validBuildConfig(),
            "g8os:pins": JSON.stringify({ zerotierAptKey: { sha256: "required" } }),
            "g8os:zerotierInstallCommand": "apt-get install -y zerotier-one",
          },
          // 5: g8os:pins not JSON
          { ...validBuildConfig(), "g8os:pins": "ubuntuImage=x" },
        ].map((config, i) => ({ stack: "build-1", config, preview: i < 2 ? false : true })),
      );
    });

    it("older keys: images come from them, ZeroTier's key and apt source from pins.yaml, each with its sha256", () => {
      const v = vmConfig();
      const found = checkDownloads(
        runs[0],
        [
          { url: pins.ubuntuImage.url, sha256: v["g8os:vmImageSha256"] },
          { url: v["g8os:core0KernelUrl"], sha256: v["g8os:core0KernelSha256"] },
          key,
        ],
        source,
      );
      assert.deepStrictEqual(found.volumes.sort(), [pins.ubuntuImage.url, v["g8os:core0KernelUrl"]].sort());
      // The physical host's zerotier-one install, and both Ubuntu guests' cloud-init.
      assert.deepStrictEqual(found.commands.sort(), [
        "build-1-cockpit-seed userData",
        "build-1-host-zerotier-join installCommand",
        "build-1-node-seed userData",
      ]);
    });

    it("g8os:pins overrides pins.yaml per stack (image, kernel, and an initrd the file leaves out)", () => {
      const found = checkDownloads(runs[1], [image, kernel, initrd, key], source);
      assert.deepStrictEqual(found.volumes.sort(), [image.url, kernel.url, initrd.url].sort());
    });

    it("an entry still `required` stops the stack at preview, saying what to pin and where", () => {
      const err = runs[2].error ?? "";
      assert.strictEqual(runs[2].runError, true);
      assert.strictEqual((runs[2].resources ?? []).length, 0);
      assert.match(
        err,
        /pins\.yaml: ubuntuImage: sha256: is not pinned \("required"\) and this stack downloads it\. Fix: write it into pins\.yaml \(.*SHA256SUMS.*\), or for this stack only `pulumi config set g8os:vmImageSha256 <64 hex>`/,
      );
      assert.match(err, /pins\.yaml: core0Kernel: url: is not pinned .*g8os:core0KernelUrl/);
      assert.match(err, /pins\.yaml: core0Kernel: sha256: is not pinned .*g8os:core0KernelSha256/);
      assert.doesNotMatch(err, /ubuntuImage: url/, "the image URL is pinned");
      assert.match(
        runs[3].error ?? "",
        /pins\.yaml: zerotierAptKey: sha256: is not pinned .*g8os:pins '\{"zerotierAptKey":\{"sha256":"<64 hex>"\}\}'/,
      );
      assert.strictEqual(runs[4].error, undefined, "an own install command needs no key pin");
      assert.match(runs[5].error ?? "", /g8os:pins: is not JSON\. Fix: /);
    });
  });

  describe("the default zerotier-one install", () => {
    const sh = (cmd: string) => spawnSync("sh", ["-n", "-c", cmd], { encoding: "utf8" });

    it("is valid sh alone and inside the guest's `command -v zerotier-cli || { ...; }`", () => {
      const cmd = zerotierInstallCommand(key, source);
      assert.strictEqual(sh(cmd).status, 0, sh(cmd).stderr);
      assert.strictEqual(sh(`command -v zerotier-cli >/dev/null || { ${cmd}; }`).status, 0);
      assert.ok(cmd.includes(ZEROTIER_APT_FILES.key));
    });

    // Runs the command for real against stand-in curl/apt-get/systemctl in a temporary tree: the
    // key served is the pinned one (its bytes hash to the pin) or another.
    const fakeRun = (served: string, pinnedSha: string) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-zt-install-"));
      const bin = path.join(dir, "bin");
      fs.mkdirSync(bin);
      const log = path.join(dir, "calls.log");
      const stub = (name: string, body: string) =>
        fs.writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >> '${log}'\n${body}\n`, {
          mode: 0o755,
        });
      fs.writeFileSync(path.join(dir, "served.asc"), served);
      // curl -fsSL --max-time N -o <file> <url>: copies the served key to <file>.
      stub("curl", `cp '${path.join(dir, "served.asc")}' "$5"`);
      stub("apt-get", "true");
      stub("systemctl", "true");
      fs.writeFileSync(path.join(dir, "os-release"), 'ID=debian\nVERSION_CODENAME="bookworm"\n');
      const files = {
        key: path.join(dir, "keyrings", "zt.asc"),
        list: path.join(dir, "zt.list"),
        osRelease: path.join(dir, "os-release"),
      };
      const r = spawnSync(
        "sh",
        ["-c", zerotierInstallCommand({ url: key.url, sha256: pinnedSha }, source, files)],
        {
          encoding: "utf8",
          env: { PATH: `${bin}:/usr/bin:/bin` },
        },
      );
      const out = {
        status: r.status,
        stderr: r.stderr,
        calls: fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "",
        list: fs.existsSync(files.list) ? fs.readFileSync(files.list, "utf8") : undefined,
        keyKept: fs.existsSync(files.key) || fs.existsSync(`${files.key}.part`),
        keyFile: files.key,
      };
      fs.rmSync(dir, { recursive: true, force: true });
      return out;
    };
    const served = "-----BEGIN PGP PUBLIC KEY BLOCK-----\nstand-in\n-----END PGP PUBLIC KEY BLOCK-----\n";
    const servedSha = crypto.createHash("sha256").update(served).digest("hex");

    it("fetches the pinned key, checks it, adds the pinned source signed by it, installs zerotier-one", () => {
      const r = fakeRun(served, servedSha);
      assert.strictEqual(r.status, 0, r.stderr);
      assert.match(r.calls, new RegExp(`^curl .* ${key.url.replace(/[.?]/g, "\\$&")}$`, "m"));
      assert.strictEqual(
        r.list,
        `deb [signed-by=${r.keyFile}] ${source.url.replace("{codename}", "bookworm")} bookworm main\n`,
      );
      assert.match(r.calls, /^apt-get install .*zerotier-one$/m);
      assert.match(r.calls, /^systemctl enable --now zerotier-one$/m);
    });

    it("refuses a key whose sha256 is not the pin: nothing kept, apt never told, message names the pin", () => {
      const r = fakeRun(served.replace("stand-in", "someone else"), servedSha);
      assert.notStrictEqual(r.status, 0);
      assert.match(
        r.stderr,
        /^pins\.yaml: zerotierAptKey: sha256: the file at \S+ is not the pinned [0-9a-f]{64}; nothing was installed\. Fix: /m,
      );
      assert.strictEqual(r.keyKept, false);
      assert.strictEqual(r.list, undefined);
      assert.doesNotMatch(r.calls, /apt-get/);
    });
  });
});
