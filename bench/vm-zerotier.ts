/**
 * A build-node VM on ZeroTier through the engine harness on the libvirt testbed (TCG guest):
 * - wall time of the `up` that makes it usable (boot, zerotier-one install + join, SSH over ZeroTier,
 *   ufw in the guest with its confirmation, key block, Telegram announcement), against the same VM
 *   in sandbox mode up to its DHCP lease (boot only): the ratio is what ZeroTier and the lockdown cost;
 * - remote calls of that `up`, and of a no-op `up` right after (goal: 0 writes).
 */
import * as os from "os";
import * as path from "path";
import { Harness } from "../test/harness";
import { newKeyPair, suffix, virshLocal } from "../test/libvirt/helpers";
import { ensureTestbed } from "../test/testbed";
import { ensureLibvirtTestbed, libvirtProgramConfig } from "../test/testbed/libvirt";
import { startTelegramEmulator } from "../test/testbed/telegram";
import { requireZerotierStandIn } from "../test/testbed/zerotier/service";
import { ZEROTIER_NODE_PROGRAM, zerotierNodeConfig } from "../test/vm/programs/zerotier-node-config";
import type { BenchResult } from "./index";
import { requireRoot, traceFile, withScope, type Scope, type TracedCall } from "./lib/setup";

interface Calls {
  ssh: number;
  sshConnects: number;
  zerotier: number;
  writes: number;
  /** When the first SSH connection to `reachedHost` succeeded (ms since epoch), if one did. */
  reachedAt?: number;
}

function calls(trace: { read(): TracedCall[] }, reachedHost?: string): Calls {
  const ev = trace.read();
  const connects = ev.filter((e) => e.system === "ssh" && e.op === "connect");
  return {
    ssh: ev.filter((e) => e.system === "ssh" && e.op !== "connect").length,
    sshConnects: connects.length,
    zerotier: ev.filter((e) => e.system === "zerotier").length,
    writes: ev.filter((e) => e.write).length,
    reachedAt: connects.find((e) => e.target === reachedHost)?.t,
  };
}

const describeCalls = (c: Calls) =>
  `${c.ssh} SSH commands over ${c.sshConnects} connections, ${c.zerotier} ZeroTier API calls, ${c.writes} writes`;

async function timedUp(h: Harness): Promise<{ seconds: number; start: number }> {
  const start = Date.now();
  await h.upOk();
  return { seconds: (Date.now() - start) / 1000, start };
}

async function removeDomain(name: string): Promise<void> {
  await virshLocal(["destroy", name]);
  await virshLocal(["undefine", "--nvram", name]);
}

/** A harness torn down by `s` (destroy, close, then the libvirt domain `domain`). */
function harness(s: Scope, domain: string, opts: ConstructorParameters<typeof Harness>[0]): Promise<Harness> {
  return s.add(new Harness(opts), async (h) => {
    await h.destroy().catch(() => undefined);
    await h.close();
    await removeDomain(domain);
  });
}

export async function run(): Promise<BenchResult[]> {
  requireRoot("vm-zerotier", "the testbed's ZeroTier stand-in and the libvirt testbed");
  const tb = await ensureTestbed({ hosts: 1 });
  const lv = await ensureLibvirtTestbed();
  return withScope(async (s) => {
    const dir = s.tmpDir("g8os-bench-vm-zt-");
    const groupKey = (await newKeyPair("bench")).publicKey;
    const tg = await s.add(startTelegramEmulator(), (t) => t.stop());
    const results: BenchResult[] = [];
    // Baseline: the same VM (image, size, direct boot) in sandbox mode, up to its lease.
    const baseline = await withScope(async (b) => {
      const sandboxName = `g8t-vmb-${suffix()}`;
      const sandbox = await harness(b, sandboxName, {
        program: path.join(__dirname, "..", "test", "vm", "programs", "build-node.ts"),
        stack: "build-1",
        stateFile: path.join(dir, "sandbox.json"),
        config: {
          ...libvirtProgramConfig(lv),
          "g8os:imageUrl": `file://${lv.image.disk}`,
          "g8os:imageSha256": lv.image.sha256,
          "g8os:domainName": sandboxName,
          "g8os:groupKey": groupKey,
          "g8os:addressSource": "lease",
        },
      });
      return (await timedUp(sandbox)).seconds;
    });

    const ztName = `g8t-vmb-zt-${suffix()}`;
    const address = "10.214.0.202";
    const trace = traceFile(s, "vm-zerotier");
    const zt = await harness(s, ztName, {
      program: ZEROTIER_NODE_PROGRAM,
      stack: "build-1",
      stateFile: path.join(dir, "zerotier.json"),
      env: { G8OS_TRACE_FILE: trace.path },
      config: zerotierNodeConfig({
        libvirt: lv,
        zerotier: requireZerotierStandIn(tb),
        telegram: { apiRoot: tg.apiRoot, token: "777003:bench-bot-token-vm-zt", chatId: "-100779" },
        domainName: ztName,
        groupKey,
        address,
      }),
    });
    const { seconds, start } = await timedUp(zt);
    const up = calls(trace, address);
    const reached = up.reachedAt ? (up.reachedAt - start) / 1000 : NaN;
    results.push({
      name: "vm-zerotier: up of a build-node VM on ZeroTier (join, SSH over ZeroTier, ufw, keys, announce) vs the sandbox VM up to its lease",
      value: seconds,
      unit: "s",
      baseline,
      ratio: seconds / baseline,
      note: `${os.cpus().length} CPUs, TCG; ${describeCalls(up)}`,
    });
    // Where the time goes: boot + cloud-init + join until SSH answers over ZeroTier, then the
    // lockdown (ufw with its confirmation), the key block and the announcement.
    results.push({
      name: "vm-zerotier: share of that up spent until SSH first answers over ZeroTier",
      value: reached,
      unit: "s",
      baseline: seconds,
      ratio: reached / seconds,
      note: `the rest (${(seconds - reached).toFixed(0)} s): ufw lockdown + confirmation, key block, announcement`,
    });
    await zt.upOk();
    const noop = calls(trace);
    results.push({
      name: "vm-zerotier: remote calls of a no-op up (VM on ZeroTier)",
      value: noop.ssh + noop.zerotier,
      unit: "calls",
      note: describeCalls(noop),
    });
    return results;
  });
}

if (require.main === module) run().then((r) => console.log(JSON.stringify(r, null, 2)));
