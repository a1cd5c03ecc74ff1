/**
 * The testbed's long-running ZeroTier API stand-in: `node -r ts-node/register/transpile-only
 * daemon.ts <infoFile>`. Reads {bind, token} from the 0600 info file (the token never goes on a
 * command line), listens, writes {port, url, centralUrl, controllerAddress, pid} back, and serves
 * until SIGTERM. Started and stopped by service.ts.
 */
import * as fs from "fs";
import { startZerotierStandIn } from "./standin";

async function main(): Promise<void> {
  const infoFile = process.argv[2];
  const info = JSON.parse(fs.readFileSync(infoFile, "utf8")) as {
    bind: string;
    token: string;
    controllerAddress?: string;
    attachBridge?: string;
  };
  const zt = await startZerotierStandIn({
    bind: info.bind,
    token: info.token,
    controllerAddress: info.controllerAddress,
    attachBridge: info.attachBridge,
  });
  const ready = {
    ...info,
    port: zt.port,
    url: zt.url,
    centralUrl: zt.centralUrl,
    controllerAddress: zt.controllerAddress,
    pid: process.pid,
  };
  fs.writeFileSync(`${infoFile}.tmp`, JSON.stringify(ready, null, 2), { mode: 0o600 });
  fs.renameSync(`${infoFile}.tmp`, infoFile);
  const stop = (): void => {
    void zt.stop().then(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err) => {
  console.error(`zerotier stand-in: ${(err as Error).message}`);
  process.exit(1);
});
