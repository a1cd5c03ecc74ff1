/**
 * `ts-node cockpit/main.ts --config <file>`: starts the cockpit; SIGTERM/SIGINT stop it cleanly
 * (started runs are cancelled and recorded, queued runs wait for the next start).
 */
import { loadConfig } from "./config";
import { startCockpit } from "./service";

/** The `--config` argument of `argv`, or undefined. */
export function configArg(argv: readonly string[]): string | undefined {
  const i = argv.indexOf("--config");
  if (i >= 0) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith("--config="));
  return eq?.slice("--config=".length);
}

async function main(): Promise<void> {
  const file = configArg(process.argv.slice(2));
  if (!file) {
    console.error("usage: ts-node cockpit/main.ts --config <file> (see cockpit/README.md for its keys)");
    process.exit(2);
  }
  const cockpit = await startCockpit(loadConfig(file));
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`cockpit: ${sig}, stopping`);
    cockpit.close().then(
      () => process.exit(0),
      (err) => {
        console.error(`cockpit: stop failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

if (require.main === module) {
  main().catch((err) => {
    console.error((err as Error).message);
    process.exit(1);
  });
}
