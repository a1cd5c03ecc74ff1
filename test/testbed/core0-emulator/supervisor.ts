/**
 * Long-running process behind the testbed's "core0" service: one offline js-ipfs daemon and N
 * emulated core0 nodes (127.0.0.1, free ports), all sharing the password in `<dir>/password`.
 * Writes `<dir>/nodes.json` when ready; stops everything on SIGTERM/SIGINT.
 *
 *   ts-node test/testbed/core0-emulator/supervisor.ts --dir D [--nodes 2]
 */
import * as fs from "fs";
import * as path from "path";
import { startIpfsDaemon } from "../ipfs";
import { Core0Emulator, startCore0Emulator } from "./index";

export interface Core0ServiceState {
  /** Supervisor process id. */
  pid: number;
  /** RPC API of the shared js-ipfs daemon (where brotli contents are added). */
  ipfsApi: string;
  /** 0600 file holding the redis password every node of the service uses. */
  passwordFile: string;
  /** Redis address and port of each emulated node. */
  nodes: Array<{ address: string; port: number }>;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const dir = opt("dir");
  if (!dir) throw new Error("--dir is required");
  const count = Number(opt("nodes") ?? 2);
  const passwordFile = path.join(dir, "password");
  const password = fs.readFileSync(passwordFile, "utf8").trim();
  const ipfs = await startIpfsDaemon({ dir: path.join(dir, "ipfs") });
  const nodes: Core0Emulator[] = [];
  for (let i = 0; i < count; i++) {
    nodes.push(
      await startCore0Emulator({ password, ipfsApi: ipfs.apiUrl, dir: path.join(dir, `node${i + 1}`) }),
    );
  }
  const state: Core0ServiceState = {
    pid: process.pid,
    ipfsApi: ipfs.apiUrl,
    passwordFile,
    nodes: nodes.map((n) => ({ address: n.address, port: n.port })),
  };
  fs.writeFileSync(path.join(dir, "nodes.json.tmp"), JSON.stringify(state, null, 2));
  fs.renameSync(path.join(dir, "nodes.json.tmp"), path.join(dir, "nodes.json"));
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    for (const n of nodes) await n.stop().catch(() => undefined);
    await ipfs.stop().catch(() => undefined);
    fs.rmSync(path.join(dir, "nodes.json"), { force: true });
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());
}

main().catch((err: unknown) => {
  console.error(`core0 supervisor: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
