/**
 * Every product provider's check failures on bad (empty) inputs, in the shape the CLI shows them:
 * the engine prints each failure as `<urn>: <property>: <reason>` (pulumi/pulumi
 * pkg/resource/deploy/step_generator.go `checkResource` -> diag `resourceInvalid`; the harness:
 * `<urn>: check failed: <property>: <reason>`). The project's shape is `field: problem. Fix: ...`,
 * so every reason must end in a fix. Providers that do not yet are listed in WITHOUT_FIX (the
 * provider files are being rewritten elsewhere): the test fails when one of them is fixed (take it
 * off the list) or when any other provider loses its fixes.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from ".";

interface Failure {
  property: string;
  reason: string;
}

interface Found {
  /** `<file>#<export>`, e.g. `providers/ipfs/pin.ts#ipfsPinProvider`. */
  provider: string;
  failures: Failure[];
}

/** Providers whose check failures have no `Fix:` today (export names, see the file's header). */
const WITHOUT_FIX = [
  "providers/core0/container.ts#core0ContainerProvider",
  "providers/core0/node.ts#core0NodeProvider",
  "providers/host/authorized-keys.ts#authorizedKeysProvider",
  "providers/host/firewall.ts#zerotierOnlySshProvider",
  "providers/host/zerotier-identity.ts#zerotierIdentityProvider",
  "providers/ipfs/pin.ts#ipfsPinProvider",
  "providers/keys/group.ts#sshKeyGroupProvider",
  "providers/libvirt/domain.ts#domainProvider",
  "providers/libvirt/host-setup.ts#hostSetupProvider",
  "providers/libvirt/seed.ts#seedProvider",
  "providers/libvirt/volume.ts#volumeProvider",
  "providers/telegram/message.ts#telegramMessageProvider",
  "providers/zerotier/host-join.ts#zerotierHostJoinProvider",
  "providers/zerotier/member.ts#zerotierMemberProvider",
  "providers/zerotier/network.ts#zerotierNetworkProvider",
  "workflows/app-build/resource.ts#appBuildProvider",
  "workflows/app-test/resource.ts#appTestProvider",
  "workflows/templates-release/resource.ts#templatesReleaseProvider",
];

/** Every exported dynamic ResourceProvider under providers/ and workflows/ (index.ts re-exports skipped), checked with `{}`. */
async function checkEveryProvider(): Promise<Found[]> {
  const root = REPO_ROOT;
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith(".ts") && e.name !== "index.ts" && !p.endsWith(".d.ts")) files.push(p);
    }
  };
  walk(path.join(root, "providers"));
  walk(path.join(root, "workflows"));
  const found: Found[] = [];
  for (const file of files.sort()) {
    const mod = require(file) as Record<string, unknown>;
    for (const [name, value] of Object.entries(mod)) {
      const p = value as { check?: unknown; create?: unknown } | null;
      if (!p || typeof p !== "object" || typeof p.check !== "function" || typeof p.create !== "function")
        continue;
      const check = p.check as (olds: object, news: object) => Promise<{ failures?: Failure[] }>;
      const r = await check.call(p, {}, {});
      found.push({ provider: `${path.relative(root, file)}#${name}`, failures: r.failures ?? [] });
    }
  }
  return found;
}

const hasFix = (f: Failure) => /\S\. Fix: \S/.test(f.reason);

describe("engine harness: every provider's check failures, as the CLI shows them", function () {
  this.timeout(120_000);
  let found: Found[];
  before(async () => {
    found = await checkEveryProvider();
  });

  it("finds every provider, and each refuses empty inputs with a property and a reason per failure", () => {
    assert.ok(found.length >= WITHOUT_FIX.length, `found ${found.map((f) => f.provider).join(", ")}`);
    for (const { provider, failures } of found) {
      assert.ok(failures.length > 0, `${provider}: accepts empty inputs`);
      for (const f of failures) {
        assert.ok(f.property && !/\[\d+\]/.test(f.property), `${provider}: property "${f.property}"`);
        assert.ok(f.reason.trim(), `${provider}: ${f.property}: empty reason`);
      }
    }
  });

  it("reasons read 'problem. Fix: ...'; the providers listed as without a fix still are", () => {
    const offenders = found.filter((p) => p.failures.some((f) => !hasFix(f))).map((p) => p.provider);
    const unlisted = offenders.filter((p) => !WITHOUT_FIX.includes(p));
    assert.deepStrictEqual(
      unlisted.map((p) => found.find((x) => x.provider === p)!.failures.filter((f) => !hasFix(f))),
      [],
      `failures without a fix in ${unlisted.join(", ")}`,
    );
    const fixed = WITHOUT_FIX.filter((p) => !offenders.includes(p));
    assert.deepStrictEqual(fixed, [], "these now give fixes (or are gone): take them off WITHOUT_FIX");
  });
});
