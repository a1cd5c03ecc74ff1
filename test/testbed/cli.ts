/**
 * `npm run testbed -- up [--hosts N] [--services a,b] | down | status [--json]`
 *
 * Exit status: 0 done (status: the testbed is up), 1 failure or not root, 2 bad usage,
 * 3 status: the testbed is not (fully) up.
 */
import * as path from "path";
import { InputError } from "../../providers/shared/errors";
import {
  ensureTestbed,
  EnsureOptions,
  isRoot,
  NOT_ROOT_MESSAGE,
  parseHostCount,
  testbedDown,
  testbedStatus,
} from "./index";

const USAGE = `usage: npm run testbed -- <command>
  up [--hosts N] [--services a,b]   bring the testbed up (idempotent); N defaults to G8OS_TESTBED_HOSTS or 4,
                                    services default to all registered in test/testbed/services.ts
  down                              stop everything and remove every namespace, link, rule and pid file
  status [--json]                   show hosts and services; exit 0 when up, 3 when not`;

class UsageError extends Error {}

interface Parsed {
  command: "up" | "down" | "status";
  ensure: EnsureOptions;
  json: boolean;
}

/** Parses argv after the script name; exported for tests. */
export function parseArgs(argv: string[]): Parsed {
  const [command, ...rest] = argv;
  if (command !== "up" && command !== "down" && command !== "status") {
    throw new UsageError(command ? `unknown command "${command}"` : "no command given");
  }
  const parsed: Parsed = { command, ensure: {}, json: false };
  for (let i = 0; i < rest.length; i++) {
    const [flag, inline] = rest[i].split(/=(.*)/s, 2);
    const value = (): string => {
      const v = inline ?? rest[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (flag === "--hosts" && command === "up") parsed.ensure.hosts = parseHostCount(value(), "--hosts");
    else if (flag === "--services" && command === "up")
      parsed.ensure.services = value()
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
    else if (flag === "--json" && command === "status") parsed.json = true;
    else throw new UsageError(`unknown option "${rest[i]}" for ${command}`);
  }
  return parsed;
}

async function main(argv: string[]): Promise<number> {
  let args: Parsed;
  try {
    args = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError || err instanceof InputError) {
      console.error(`testbed: ${err.message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  if (!isRoot()) {
    console.error(`testbed: ${NOT_ROOT_MESSAGE}`);
    return 1;
  }
  switch (args.command) {
    case "up": {
      const tb = await ensureTestbed(args.ensure);
      console.log(`testbed up (state in ${tb.stateDir})`);
      console.log(`  bootstrap key: ${path.join(tb.stateDir, "keys", "bootstrap")}`);
      console.log(
        `  public bridge ${tb.publicBridge.name} ${tb.publicBridge.cidr}, root at ${tb.publicBridge.gateway}`,
      );
      console.log(
        `  zerotier bridge ${tb.ztBridge.name} ${tb.ztBridge.cidr}, root at ${tb.ztBridge.rootAddress}`,
      );
      for (const h of tb.hosts) console.log(`  ${h.name}  ${h.address}:${h.sshPort}  ${h.hostKeySha256}`);
      return 0;
    }
    case "down":
      await testbedDown();
      console.log("testbed down");
      return 0;
    case "status": {
      const st = await testbedStatus();
      if (args.json) {
        console.log(JSON.stringify(st, null, 2));
      } else {
        console.log(`testbed ${st.up ? "up" : "not up"}`);
        for (const h of st.hosts) console.log(`  ${h.name}  ssh ${h.sshUp ? "up" : "DOWN"}`);
        for (const s of st.services)
          console.log(`  service ${s.name}  ${s.up ? "up" : "DOWN"}${s.detail ? `  ${s.detail}` : ""}`);
      }
      return st.up ? 0 : 3;
    }
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(`testbed: ${process.env.G8OS_DEBUG ? err.stack : err.message}`);
      process.exit(1);
    },
  );
}
