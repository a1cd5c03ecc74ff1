/**
 * App tests of N apps on two core0 nodes against one node (the baseline, same run, same apps).
 * Each app's test takes real time (`sleep 1` in the container), each node runs 2 apps at once, so
 * the ideal speed-up of the second node is 2x. Emulated core0 v0.9.0 nodes (real redis-server each)
 * build chrooted container roots from plists fetched through an IPFS gateway in front of a real
 * offline js-ipfs (content brotli, the app carrying sh/sleep/cat: makeBuiltApp). Creates on one node
 * run one at a time (AppTest needs that to recover a lost create answer with corex.list); the
 * tests themselves overlap, so the 1 s sleeps still dominate and 2x stays the ideal.
 */
import { randomUUID } from "crypto";
import { runAppTests, type AppUnderTest, type TestNode } from "../workflows/app-test";
import { startCore0Emulator } from "../test/testbed/core0-emulator";
import { startIpfsDaemon } from "../test/testbed/ipfs";
import { makeBuiltApp, startIpfsGateway } from "../test/build/programs/fixtures";
import type { BenchResult } from "./index";
import { withScope } from "./lib/setup";

const APPS = 8;
const PER_NODE = 2;
const ROUNDS = 2;

export async function run(): Promise<BenchResult[]> {
  const password = "bench-apptest-" + randomUUID();
  return withScope(async (s) => {
    const ipfs = await s.add(startIpfsDaemon(), (d) => d.stop());
    const gateway = await s.add(startIpfsGateway(ipfs.apiUrl), (g) => g.stop());
    const emulators = [
      await s.add(startCore0Emulator({ password, ipfsApi: ipfs.apiUrl }), (e) => e.stop()),
      await s.add(startCore0Emulator({ password, ipfsApi: ipfs.apiUrl }), (e) => e.stop()),
    ];
    const nodes: TestNode[] = emulators.map((e) => ({
      address: e.address,
      port: e.port,
      password,
      ipfsGateway: gateway.url,
    }));
    const apps: AppUnderTest[] = [];
    for (let k = 0; k < APPS; k++) {
      const b = await makeBuiltApp(ipfs.apiUrl, `app${k}`, "bench", {
        "/bin/check": { content: "#!/bin/sh\nsleep 1\ncat data.txt\n", mode: 0o755 },
        "/data.txt": { content: `app${k}\n` },
      });
      apps.push({
        app: b.app,
        buildId: b.buildId,
        plistCid: b.plistCid,
        tests: [{ name: "check", command: "sh", args: ["bin/check"], expectOutput: `app${k}` }],
      });
    }
    const time = async (use: TestNode[]): Promise<number> => {
      let best = Infinity;
      for (let r = 0; r < ROUNDS; r++) {
        const t0 = Date.now();
        const results = await runAppTests(apps, use, { maxPerNode: PER_NODE });
        const ms = Date.now() - t0;
        const failed = results.filter((x) => !x.passed).map((x) => x.app);
        if (failed.length > 0) throw new Error(`bench apps failed: ${failed.join(", ")}`);
        best = Math.min(best, ms);
      }
      return best;
    };
    const one = await time(nodes.slice(0, 1));
    const two = await time(nodes);
    return [
      {
        name: `AppTest ${APPS} apps (1 s test each), 2 nodes vs 1, ${PER_NODE} per node`,
        value: two,
        unit: "ms",
        baseline: one,
        ratio: one / two,
        note: `best of ${ROUNDS}; ideal ratio 2.0x; the baseline is 1 node`,
      },
    ];
  });
}
