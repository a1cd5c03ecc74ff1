/**
 * BuildHost benchmarks on the testbed (root): bootstrap of 4 hosts in one `up` against 1 host
 * (wall-time ratio; independent hosts should proceed in parallel), and the remote calls and writes
 * of a no-op `up` (goal: 0 writes). Runs the real providers through the engine harness.
 */
import * as os from "os";
import * as path from "path";
import { resetHost, sshKeyPair } from "../test/build-host/fixtures";
import { Harness } from "../test/harness";
import { ensureTestbed, type Testbed } from "../test/testbed";
import { requireZerotierStandIn } from "../test/testbed/zerotier/service";
import type { BenchResult } from "./index";
import { requireRoot, timed, traceFile, withScope } from "./lib/setup";

const PROGRAM = path.join(__dirname, "..", "test", "build-host", "programs", "hosts.ts");

function harnessFor(tb: Testbed, count: number, env: Record<string, string> = {}): Harness {
  const zt = requireZerotierStandIn(tb);
  const hosts = tb.hosts
    .slice(0, count)
    .map((h, i) => ({ name: h.name, address: h.address, zerotierIp: `10.214.0.${190 + i}` }));
  return new Harness({
    program: PROGRAM,
    stack: `build-bench-${count}`,
    env,
    config: {
      "test:hosts": JSON.stringify(hosts),
      "test:groupKeys": JSON.stringify([sshKeyPair("bench@gig").publicKey]),
      "test:bootstrapKey": { secret: tb.bootstrapKey.privateKey },
      "test:ztUrl": zt.url,
      "test:ztToken": { secret: zt.token },
    },
  });
}

async function timedUp(h: Harness): Promise<number> {
  const { ms, value: r } = await timed(() => h.up());
  if (r.failed) throw new Error(`up failed: ${r.errors.join("; ")}`);
  return ms / 1000;
}

export async function run(): Promise<BenchResult[]> {
  requireRoot("build-host", "the testbed's hosts");
  const tb = await ensureTestbed({ hosts: 4 });
  const reset = async (): Promise<void> => {
    for (const h of tb.hosts.slice(0, 4)) await resetHost(tb, h);
  };
  await reset();
  return withScope(async (s) => {
    s.defer(reset);
    const results: BenchResult[] = [];
    let oneHost: number;
    {
      const one = harnessFor(tb, 1);
      try {
        oneHost = await timedUp(one);
        await one.destroy();
      } finally {
        await one.close();
      }
    }
    await reset();

    const trace = traceFile(s, "build-host");
    const four = await s.add(harnessFor(tb, 4, { G8OS_TRACE_FILE: trace.path }), async (h) => {
      await h.destroy();
      await h.close();
    });
    const fourHosts = await timedUp(four);
    results.push({
      name: "bootstrap 4 hosts in one up vs 1 host (goal <= 1.5x)",
      value: fourHosts,
      unit: "s",
      baseline: oneHost,
      ratio: fourHosts / oneHost,
      note: `${os.cpus().length} CPUs`,
    });

    trace.read();
    const { ms, value: noop } = await timed(() => four.up());
    const noopSeconds = ms / 1000;
    if (noop.failed) throw new Error(`no-op up failed: ${noop.errors.join("; ")}`);
    const events = trace.read();
    results.push({
      name: "no-op up on 4 hosts: remote writes (goal 0)",
      value: events.filter((e) => e.write).length,
      unit: "writes",
    });
    results.push({
      name: "no-op up on 4 hosts: remote calls",
      value: events.length,
      unit: "calls",
      note:
        Object.entries(
          events.reduce<Record<string, number>>((a, e) => ({ ...a, [e.system]: (a[e.system] ?? 0) + 1 }), {}),
        )
          .map(([k, v]) => `${k}=${v}`)
          .join(" ") || "none",
    });
    results.push({
      name: "no-op up on 4 hosts vs first up",
      value: noopSeconds,
      unit: "s",
      baseline: fourHosts,
      ratio: noopSeconds / fourHosts,
    });
    return results;
  });
}
