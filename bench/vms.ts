/**
 * VMs through the engine harness on the libvirt testbed (TCG guests, no address wait):
 * - wall time of one `up` creating 4 build-node VMs vs one creating 1 (the VMs are independent, so
 *   the ratio shows how much runs in parallel on this machine's CPUs),
 * - SSH round trips (connections, commands) per VM create, counted through G8OS_TRACE_FILE,
 * - remote calls of a no-op `up` (the goal is 0 writes).
 */
import * as os from "os";
import * as path from "path";
import { Harness } from "../test/harness";
import { ensureLibvirtTestbed, libvirtProgramConfig } from "../test/testbed/libvirt";
import { newKeyPair, suffix, virshLocal } from "../test/libvirt/helpers";
import type { BenchResult } from "./index";
import { requireRoot, timed, traceFile, withScope, type Scope, type TracedCall } from "./lib/setup";

/** SSH connects, commands and writes recorded since the trace was last read. */
function sshCalls(trace: { read(): TracedCall[] }) {
  const ev = trace.read().filter((e) => e.system === "ssh");
  return {
    connects: ev.filter((e) => e.op === "connect").length,
    execs: ev.filter((e) => e.op === "exec").length,
    writes: ev.filter((e) => e.write).length,
  };
}

/** A harness for one `up` of `count` build-node VMs, torn down (destroy, close, virsh) by `s`. */
async function stack(s: Scope, count: number, dir: string) {
  const tb = await ensureLibvirtTestbed();
  const domainName = `g8t-vmb-${suffix()}`;
  const trace = traceFile(s, `vms-${count}`);
  const config = {
    ...libvirtProgramConfig(tb),
    "g8os:imageUrl": `file://${tb.image.disk}`,
    "g8os:imageSha256": tb.image.sha256,
    "g8os:domainName": domainName,
    "g8os:groupKey": (await newKeyPair("bench")).publicKey,
    "g8os:vmCount": String(count),
  };
  const h = await s.add(
    new Harness({
      program: path.join(__dirname, "..", "test", "vm", "programs", "build-node.ts"),
      stack: "build-1",
      stateFile: path.join(dir, `state-${count}.json`),
      env: { G8OS_TRACE_FILE: trace.path },
      config,
    }),
    async (x) => {
      await x.destroy().catch(() => undefined);
      await x.close();
      for (let i = 1; i <= count; i++) {
        const d = i === 1 ? domainName : `${domainName}-${i}`;
        await virshLocal(["destroy", d]);
        await virshLocal(["undefine", "--nvram", d]);
      }
    },
  );
  return { h, trace };
}

export async function run(): Promise<BenchResult[]> {
  requireRoot("vms", "the libvirt testbed");
  const results: BenchResult[] = [];
  const times: Record<number, number> = {};
  for (const count of [1, 4]) {
    await withScope(async (s) => {
      const dir = s.tmpDir("g8os-bench-vms-");
      const { h, trace } = await stack(s, count, dir);
      // Both runs pay the same fixed part (KVM host setup, image copy): the difference is the VMs.
      times[count] = (await timed(() => h.upOk())).ms / 1000;
      const created = sshCalls(trace);
      if (count === 1) {
        results.push({
          name: "vms: SSH connections per VM create (incl. host setup + image check)",
          value: created.connects,
          unit: "connections",
          note: `${created.execs} commands, ${created.writes} writes`,
        });
        await h.upOk();
        const noop = sshCalls(trace);
        results.push({
          name: "vms: remote calls of a no-op up",
          value: noop.execs,
          unit: "commands",
          note: `${noop.connects} connections, ${noop.writes} writes`,
        });
      }
    });
  }
  results.push({
    name: "vms: wall time of one up creating 4 VMs vs 1",
    value: times[4],
    unit: "s",
    baseline: times[1],
    ratio: times[4] / times[1],
    note: `${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}; TCG, no address wait`,
  });
  return results;
}

if (require.main === module) run().then((r) => console.log(JSON.stringify(r, null, 2)));
