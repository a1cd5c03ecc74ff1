/**
 * Runs one emulated core0 node until SIGTERM/SIGINT:
 *
 *   ts-node test/testbed/core0-emulator/cli.ts --ipfs-api http://127.0.0.1:5001 \
 *     [--bind 127.0.0.1] [--port 0] [--dir D] [--result-ttl 300]
 *
 * The redis password of the emulated image, if any, is read from the environment variable
 * G8OS_CORE0_PASSWORD (never from argv, which other users can read in `ps`); unset = the stock
 * image's redis without password. Prints one JSON line `{"address","port","pid","dir"}` when ready.
 */
import { startCore0Emulator } from "./index";
import { parseOptions } from "./cli-options";

const USAGE =
  "usage: [G8OS_CORE0_PASSWORD=...] cli.ts --ipfs-api URL [--bind ADDR] [--port N] [--dir D] [--result-ttl S]";

async function main(): Promise<void> {
  const a = parseOptions(process.argv.slice(2), ["ipfs-api", "bind", "port", "dir", "result-ttl"]);
  const password = process.env.G8OS_CORE0_PASSWORD || undefined;
  if (!a["ipfs-api"]) throw new Error("--ipfs-api is required");
  const node = await startCore0Emulator({
    password,
    ipfsApi: a["ipfs-api"],
    bind: a.bind,
    port: a.port ? Number(a.port) : undefined,
    dir: a.dir,
    resultTtlSeconds: a["result-ttl"] ? Number(a["result-ttl"]) : undefined,
  });
  console.log(JSON.stringify({ address: node.address, port: node.port, pid: process.pid, dir: node.dir }));
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    node.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err: unknown) => {
  console.error(`core0 emulator: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
  process.exit(2);
});
