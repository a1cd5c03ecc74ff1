/**
 * `npm run sandbox`: the build stack's bootstrap, for real, on this machine, without the pulumi CLI.
 * Brings the testbed up (sshd hosts in network namespaces, the ZeroTier stand-in), then runs the real
 * program (index.ts, stack build-1) through the engine harness against testbed host g8t-h1: ZeroTier
 * network, member, authorized_keys, ufw lockdown, Telegram announcement (to a local emulator).
 * State is kept in .testbed/sandbox/, so a second run is a no-op. `npm run sandbox -- destroy`
 * gives the host back. Needs root (the testbed does). On Debian it first installs the missing
 * packages of scripts/debian-packages.txt (the list .ci/run installs).
 */
import * as fs from "fs";
import * as path from "path";
import { Harness, findResource } from "../test/harness";
import { ensureTestbed, isRoot } from "../test/testbed";
import { startTelegramEmulator } from "../test/testbed/telegram";
import { requireZerotierStandIn } from "../test/testbed/zerotier/service";
import { installDebianPackages, isDebian } from "./debian-packages";
import { testbedBuildConfig } from "./sandbox-config";

const DIR = path.join(__dirname, "..", ".testbed", "sandbox");
const TOKEN = "100001:sandbox-bot-token";
const CHAT = "-100100";

async function main(): Promise<void> {
  if (!isRoot()) {
    console.error("npm run sandbox needs root (network namespaces, sshd, ufw): run `sudo npm run sandbox`");
    process.exit(1);
  }
  const destroy = process.argv.includes("destroy");
  fs.mkdirSync(DIR, { recursive: true });
  // A fresh machine: the Debian packages the testbed needs (the list .ci/run installs), else the
  // testbed's preflight names what is missing and its package.
  if (isDebian()) installDebianPackages((line) => console.log(`sandbox: ${line}`));
  console.log("sandbox: bringing the testbed up ...");
  const tb = await ensureTestbed({ hosts: 1 });
  const host = tb.hosts[0];
  const zt = requireZerotierStandIn(tb);
  const tg = await startTelegramEmulator();
  // The sandbox user's "group key": the testbed's bootstrap key, so `ssh` below just works.
  const harness = new Harness({
    stack: "build-1",
    stateFile: path.join(DIR, "state.json"),
    config: testbedBuildConfig({
      telegram: { apiRoot: tg.apiRoot, botToken: TOKEN, chatId: CHAT },
      zerotier: { url: zt.url, token: zt.token },
      pools: ["10.214.0.20-10.214.0.29"],
      host: {
        name: host.name,
        address: host.address,
        bootstrapPrivateKey: tb.bootstrapKey.privateKey,
        zerotierIp: "10.214.0.2",
      },
      keys: { kind: "inline", keys: [tb.bootstrapKey.publicKey.trim()] },
    }),
  });
  try {
    if (destroy) {
      const r = await harness.destroy();
      console.log(
        r.failed
          ? `destroy failed:\n${r.errors.join("\n")}`
          : `destroyed ${r.steps.length} resources; ${host.name} is open again`,
      );
      process.exitCode = r.failed ? 1 : 0;
      return;
    }
    console.log(
      `sandbox: pulumi up -s build-1 (through the engine harness) against ${host.name} ${host.address} ...`,
    );
    const r = await harness.up();
    for (const s of r.steps)
      console.log(
        `  ${s.op.padEnd(8)} ${s.urn.split("::").pop()}${s.diffs.length ? ` [${s.diffs.join(", ")}]` : ""}`,
      );
    if (r.failed) {
      console.error(`up failed:\n${r.errors.join("\n")}`);
      process.exitCode = 1;
      return;
    }
    const out = r.outputs.buildHost as { zerotierIp: string; hostKeySha256: string };
    const key = path.join(tb.stateDir, "keys", "bootstrap");
    console.log(`\nbuild host ${host.name}: ZeroTier IP ${out.zerotierIp}, host key ${out.hostKeySha256}`);
    console.log(`network ${String(findResource(harness.state(), "build-1-network").outputs.networkId)}`);
    console.log(`log in (over ZeroTier only):  ssh -i ${key} root@${out.zerotierIp}`);
    console.log(`refused (ufw):                ssh -i ${key} root@${host.address}`);
    for (const m of tg.messages(TOKEN, CHAT)) console.log(`telegram: ${m.text}`);
    console.log("\nRun it again: nothing changes. `npm run sandbox -- destroy` gives the host back.");
  } finally {
    await harness.close();
    await tg.stop();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
