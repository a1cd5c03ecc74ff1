/**
 * Typed, validated stack config. Each stack reads its whole config here, up front: every problem is
 * reported in one ConfigError before any resource is registered.
 */
import {
  cidr,
  hostname,
  httpUrl,
  intInRange,
  noSurroundingSpaces,
  nonEmptyString,
  parseIPv4,
  unencryptedPrivateKey,
  type Validator,
} from "../providers/shared/validate";
import { readBuildRunSettings } from "./build-runs";
import { ConfigReader } from "./config-reader";
import { readKeySource } from "./config-keys";
import { checkFixedAddress, ipv4FromNumber, parsePools, readNetworkMembers } from "./config-network";
import type { BuildConfig, BuildHostSettings, TelegramSettings, ZerotierSettings } from "./config-types";
import { readVmConfig } from "./config-vms";
import { readPins, requirePinned, zerotierInstallCommand } from "./pins";

export type {
  BuildConfig,
  BuildHostSettings,
  KeySourceSettings,
  TelegramSettings,
  VmSettings,
  ZerotierSettings,
} from "./config-types";

/** A Telegram chat id: a number (groups are negative) or a public @channelname. */
const telegramChat: Validator = (v) =>
  typeof v === "string" && /^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31})$/.test(v)
    ? undefined
    : "is not a Telegram chat id (a number like -1001234567890, or @channelname)";

/** A login name as Linux accepts it (useradd's default NAME_REGEX, plus upper case). */
const unixUser: Validator = (v) =>
  noSurroundingSpaces(v) ??
  (typeof v === "string" && /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/.test(v)
    ? undefined
    : "is not a user name (letters, digits, '_', '.', '-'; starts with a letter or '_')");

/** Reads a whole number of seconds (or another bounded integer) into `set`, or reports the key. */
function bounded(
  r: ConfigReader,
  key: string,
  min: number,
  max: number,
  what: string,
  example: number,
  set: (n: number) => void,
): void {
  const raw = r.string(key, { example: String(example) });
  // 0 is the schema's "unset" default (every bound here starts above 0): the program's own applies.
  if (raw === undefined || raw.trim() === "" || raw.trim() === "0") return;
  const n = Number(raw);
  if (intInRange(min, max)(n))
    r.add(
      key,
      `is ${JSON.stringify(raw)}; ${what} must be a whole number from ${min} to ${max}`,
      `\`pulumi config set g8os:${key} ${example}\``,
    );
  else set(n);
}

/** Reads and validates the build stack's config; throws one ConfigError listing every problem. */
export function readBuildConfig(envNumber: number): BuildConfig {
  const r = new ConfigReader();
  r.checkUnknownKeys();
  const pins = readPins(r);

  const telegram: TelegramSettings = {
    botToken: r.secret("telegramBotToken", {
      required: true,
      what: "Telegram bot token",
      // Bot API tokens are <bot id>:<35 chars> (core.telegram.org/bots/api#authorizing-your-bot).
      check: (v) =>
        typeof v === "string" && /^\d+:[A-Za-z0-9_-]{10,}$/.test(v.trim())
          ? undefined
          : "does not look like a bot token (<bot id>:<secret>, as @BotFather prints it)",
    }),
    chatId:
      r.string("telegramChatId", { required: true, example: "-1001234567890", check: telegramChat }) ?? "",
    topicId: undefined,
    apiRoot: r.string("telegramApiRoot", {
      check: httpUrl,
      example: "https://api.telegram.org",
      default: "https://api.telegram.org",
    })!,
  };
  bounded(
    r,
    "telegramTopicId",
    1,
    2 ** 31,
    "the forum topic's message_thread_id",
    2,
    (n) => (telegram.topicId = n),
  );

  const backend = r.string("zerotierBackend", { default: "central" })!;
  if (backend !== "central" && backend !== "controller")
    r.add("zerotierBackend", `is "${backend}"`, 'use "central" or "controller"');
  const routes = r.list("zerotierRoutes", { example: ["10.147.17.0/24"], check: cidr }) ?? ["10.147.17.0/24"];
  if (routes.length === 0)
    r.add("zerotierRoutes", "is an empty list", 'list at least one CIDR, e.g. ["10.147.17.0/24"]');
  const zerotier: ZerotierSettings = {
    backend: backend === "controller" ? "controller" : "central",
    apiUrl: r.string("zerotierApiUrl", {
      check: httpUrl,
      example: "https://api.zerotier.com/api/v1",
      default: "https://api.zerotier.com/api/v1",
    })!,
    token: r.secret("zerotierToken", { required: true, what: "ZeroTier API token", check: nonEmptyString }),
    networkName: r.string("zerotierNetworkName", {
      check: (v) => noSurroundingSpaces(v),
      default: `g8os-build-${envNumber}`,
    })!,
    pools: [],
    routes,
    members: readNetworkMembers(r),
  };
  bounded(r, "zerotierTimeoutSec", 5, 3600, "seconds", 120, (n) => (zerotier.timeoutSec = n));
  const pools = r.list("zerotierPools", { example: ["10.147.17.10-10.147.17.250"] });
  zerotier.pools = parsePools(
    r,
    pools ?? ["10.147.17.10-10.147.17.250"],
    routes.filter((c) => !cidr(c)),
  );
  if (pools && pools.length === 0)
    r.add("zerotierPools", "is an empty list", 'list at least one pool, e.g. ["10.147.17.10-10.147.17.250"]');

  const keySource = readKeySource(r);

  // The host's fixed ZeroTier address: default the first address of the first route, which the
  // default pool leaves free (fixed addresses must stay outside the auto-assign pools).
  const firstRoute = routes.find((c) => !cidr(c));
  const defaultZtIp = firstRoute ? ipv4FromNumber((parseIPv4(firstRoute.split("/")[0])! >>> 0) + 1) : "";
  const hostZtIp = r.string("buildHostZerotierIp", { example: "10.147.17.1", default: defaultZtIp })!;
  if (hostZtIp) checkFixedAddress(r, "buildHostZerotierIp", hostZtIp, zerotier);
  let port = 22;
  bounded(r, "buildHostPort", 1, 65535, "a TCP port", 22, (n) => (port = n));
  const buildHost: BuildHostSettings = {
    name: r.string("buildHostName", { required: true, example: "ovh4", check: hostname }) ?? "",
    zerotierIp: hostZtIp,
    address: r.string("buildHostAddress", { required: true, example: "203.0.113.10", check: hostname }) ?? "",
    port,
    user: r.string("buildHostUser", { default: "root", example: "root", check: unixUser })!,
    hostKeySha256: r.string("buildHostKeySha256", {
      example: "SHA256:<43 base64 chars>",
      check: (v) =>
        typeof v === "string" && /^SHA256:[A-Za-z0-9+/]{43}$/.test(v)
          ? undefined
          : "must look like SHA256:<43 base64 chars> (ssh-keygen -lf output)",
    }),
    bootstrapPrivateKey: r.secret("bootstrapPrivateKey", {
      required: true,
      what: "SSH private key for the physical host",
      check: unencryptedPrivateKey,
    }),
    zerotierInstallCommand: r.string("zerotierInstallCommand", { check: nonEmptyString }),
  };
  // Unless overridden, zerotier-one comes from the pinned apt source, verified by the pinned key.
  if (buildHost.zerotierInstallCommand === undefined) {
    requirePinned(r, "zerotierAptKey", pins.zerotierAptKey);
    buildHost.zerotierInstallCommand = zerotierInstallCommand(pins.zerotierAptKey, pins.zerotierAptSource);
  }
  bounded(
    r,
    "firewallConfirmTimeoutSec",
    10,
    3600,
    "seconds",
    90,
    (n) => (buildHost.firewallConfirmTimeoutSec = n),
  );

  const vms = readVmConfig(r, zerotier, hostZtIp, pins);
  const buildRuns = readBuildRunSettings(r);
  if (buildRuns && !vms) {
    r.add(
      "buildTreeDir",
      "is set but the VMs are off: build runs need the build node and core0 nodes",
      "`pulumi config set g8os:vmsEnabled true`",
    );
  }

  r.done();
  return { envNumber, telegram, zerotier, keySource, buildHost, vms, buildRuns };
}
