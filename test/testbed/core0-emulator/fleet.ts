/**
 * Many emulated core0 v0.9.0 nodes in one process, for benches that need hundreds of nodes (a
 * cli.ts process per node costs a Node.js runtime each). Test-side multiplexer only: every node is
 * a plain `startCore0Emulator` node (its own redis-server on its own loopback port, its own sink,
 * process manager and IPFS front), so each node's state and behaviour are exactly those of a single
 * emulator; only the Node.js process hosting their sinks is shared.
 *
 *   ts-node test/testbed/core0-emulator/fleet.ts --nodes 1000 --ipfs-api http://127.0.0.1:5001
 *
 * The redis password, if any, comes from G8OS_CORE0_PASSWORD (as cli.ts: never argv). Prints one
 * JSON line `{"pid","nodes":[{"address","port"}...]}` once every node answers, and stops them all
 * on SIGTERM/SIGINT.
 */
import { startCore0Emulator, type Core0Emulator, type Core0EmulatorOptions } from "./index";

const USAGE =
  "usage: [G8OS_CORE0_PASSWORD=...] fleet.ts --nodes N --ipfs-api URL [--bind ADDR] [--parallel P]";

/** Nodes started at once by default: each start spawns a redis-server and waits for it to listen. */
const DEFAULT_PARALLEL = 25;

/**
 * Starts `count` independent emulated nodes, `parallel` at a time. On a failed start every node
 * started so far is stopped before the error is thrown (nothing is leaked).
 */
export async function startCore0Fleet(
  count: number,
  opts: Omit<Core0EmulatorOptions, "port" | "dir">,
  parallel = DEFAULT_PARALLEL,
): Promise<{ nodes: Core0Emulator[]; stop(): Promise<void> }> {
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`startCore0Fleet: count ${count}: must be an integer >= 1`);
  const nodes: Core0Emulator[] = [];
  const stop = async (): Promise<void> => {
    const all = nodes.splice(0);
    for (let i = 0; i < all.length; i += parallel)
      await Promise.all(all.slice(i, i + parallel).map((n) => n.stop()));
  };
  try {
    for (let i = 0; i < count; i += parallel) {
      const batch = Array.from({ length: Math.min(parallel, count - i) }, () => startCore0Emulator(opts));
      const settled = await Promise.allSettled(batch);
      for (const s of settled) if (s.status === "fulfilled") nodes.push(s.value);
      const failed = settled.find((s) => s.status === "rejected");
      if (failed) throw (failed as PromiseRejectedResult).reason;
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes, stop };
}

function parse(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`unexpected argument ${argv[i]}`);
    const v = m[2] ?? argv[++i];
    if (v === undefined) throw new Error(`--${m[1]} needs a value`);
    out[m[1]] = v;
  }
  return out;
}

async function main(): Promise<void> {
  const a = parse(process.argv.slice(2));
  const known = new Set(["nodes", "ipfs-api", "bind", "parallel"]);
  for (const k of Object.keys(a)) if (!known.has(k)) throw new Error(`unknown option --${k}`);
  if (!a["ipfs-api"]) throw new Error("--ipfs-api is required");
  const fleet = await startCore0Fleet(
    Number(a.nodes),
    { password: process.env.G8OS_CORE0_PASSWORD || undefined, ipfsApi: a["ipfs-api"], bind: a.bind },
    a.parallel ? Number(a.parallel) : DEFAULT_PARALLEL,
  );
  console.log(
    JSON.stringify({
      pid: process.pid,
      nodes: fleet.nodes.map((n) => ({ address: n.address, port: n.port })),
    }),
  );
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    fleet.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`core0 emulator fleet: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    process.exit(2);
  });
}
