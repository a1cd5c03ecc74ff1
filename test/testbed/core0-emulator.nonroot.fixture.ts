/**
 * Run by core0-emulator.contract.test.ts as an unprivileged user: starts an emulated node, sends one
 * corex.create over raw redis and prints the raw result line (containers need root for chroot).
 */
import { randomUUID } from "crypto";
import { startCore0Emulator } from "./core0-emulator";

async function main(): Promise<void> {
  const node = await startCore0Emulator({ ipfsApi: "http://127.0.0.1:1" });
  const Redis = require("ioredis") as typeof import("ioredis").default;
  const r = new Redis({ host: node.address, port: node.port, maxRetriesPerRequest: 1 });
  try {
    const id = randomUUID();
    await r.rpush(
      "core:default",
      JSON.stringify({ id, command: "corex.create", arguments: { root: "/x.plist" } }),
    );
    console.log(await r.brpoplpush(`result:${id}`, `result:${id}`, 20));
  } finally {
    r.disconnect();
    await node.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
