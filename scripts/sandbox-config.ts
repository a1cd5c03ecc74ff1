/**
 * The one build-stack config literal: typed settings in, the `g8os:` config map a stack run (the
 * engine harness, `pulumi config`) takes out. Used by `npm run sandbox`, the testbed build-stack
 * suites (test/build-host/build-stack.test.ts, failures.test.ts) and the unit fixtures
 * (test/unit/fixtures.ts validBuildConfig), so a renamed or added key changes here only.
 * Plain data, no imports: product-side tooling may use it without pulling in test code.
 * Key meanings: Pulumi.yaml.
 */

/** A config value: plain text, or a value the run must store as a Pulumi secret. */
export type StackConfigValue = string | { secret: string };

/** Where the build stack's SSH key group comes from (g8os:keySource). */
export type KeySourceInput =
  | {
      kind: "inline";
      /** OpenSSH public key lines (g8os:keyInline), at least one. */
      keys: string[];
    }
  | {
      kind: "itsyouonline";
      /** ItsYou.online-compatible API base URL (g8os:keySourceUrl). */
      url: string;
      /** Organisation whose members form the group (g8os:keyOrganization); unset = the stack's default, gig_build. */
      organization?: string;
      /** Client id for the client-credentials token (g8os:itsyouonlineClientId). */
      clientId: string;
      /** Client secret (g8os:itsyouonlineClientSecret); always passed as a secret. */
      clientSecret: string;
    };

/** Settings of one build stack; unset optional fields leave the key unset (the stack's default applies). */
export interface BuildStackSettings {
  telegram: {
    /** Bot token `<bot id>:<secret>` (g8os:telegramBotToken); always passed as a secret. */
    botToken: string;
    /** Chat id of the build group (g8os:telegramChatId). */
    chatId: string;
    /** Bot API root (g8os:telegramApiRoot), e.g. a local emulator's; unset = api.telegram.org. */
    apiRoot?: string;
  };
  zerotier: {
    /** API token or controller authtoken (g8os:zerotierToken); always passed as a secret. */
    token: string;
    /** "central" or "controller" (g8os:zerotierBackend); unset = central. */
    backend?: "central" | "controller";
    /** API base URL (g8os:zerotierApiUrl); unset = ZeroTier Central. */
    apiUrl?: string;
    /** Managed routes, CIDRs (g8os:zerotierRoutes); unset = ["10.147.17.0/24"]. */
    routes?: string[];
    /** Auto-assign pools `start-end` (g8os:zerotierPools), inside a route. */
    pools?: string[];
    /** Seconds to wait for SSH over ZeroTier (g8os:zerotierTimeoutSec), 5..3600. */
    timeoutSec?: number;
  };
  /** The SSH key group's source. */
  keys: KeySourceInput;
  buildHost: {
    /** Host name (g8os:buildHostName). */
    name: string;
    /** Bootstrap address (g8os:buildHostAddress). */
    address: string;
    /** Unencrypted OpenSSH private key for the bootstrap login (g8os:bootstrapPrivateKey); always a secret. */
    bootstrapPrivateKey: string;
    /** Fixed ZeroTier address (g8os:buildHostZerotierIp): inside a route, outside the pools. */
    zerotierIp?: string;
    /** Seconds the ufw dead-man switch waits (g8os:firewallConfirmTimeoutSec), 10..3600. */
    firewallConfirmTimeoutSec?: number;
  };
}

/** The `g8os:` config map for `s`; keys of unset optional fields are left out. */
export function buildStackConfig(s: BuildStackSettings): Record<string, StackConfigValue> {
  const out: Record<string, StackConfigValue> = {};
  const set = (key: string, v: StackConfigValue | undefined) => {
    if (v !== undefined) out[`g8os:${key}`] = v;
  };
  set("telegramBotToken", { secret: s.telegram.botToken });
  set("telegramChatId", s.telegram.chatId);
  set("telegramApiRoot", s.telegram.apiRoot);
  set("zerotierBackend", s.zerotier.backend);
  set("zerotierApiUrl", s.zerotier.apiUrl);
  set("zerotierToken", { secret: s.zerotier.token });
  set("zerotierRoutes", s.zerotier.routes && JSON.stringify(s.zerotier.routes));
  set("zerotierPools", s.zerotier.pools && JSON.stringify(s.zerotier.pools));
  set("zerotierTimeoutSec", s.zerotier.timeoutSec?.toString());
  set("buildHostZerotierIp", s.buildHost.zerotierIp);
  set("keySource", s.keys.kind);
  if (s.keys.kind === "inline") set("keyInline", JSON.stringify(s.keys.keys));
  else {
    set("keySourceUrl", s.keys.url);
    set("keyOrganization", s.keys.organization);
    set("itsyouonlineClientId", s.keys.clientId);
    set("itsyouonlineClientSecret", { secret: s.keys.clientSecret });
  }
  set("buildHostName", s.buildHost.name);
  set("buildHostAddress", s.buildHost.address);
  set("bootstrapPrivateKey", { secret: s.buildHost.bootstrapPrivateKey });
  set("firewallConfirmTimeoutSec", s.buildHost.firewallConfirmTimeoutSec?.toString());
  return out;
}

/** The testbed's ZeroTier stand-in network (bridge g8t-zt0, test/testbed/README.md). */
export const TESTBED_ZEROTIER_ROUTE = "10.214.0.0/24";

/** What differs between build stacks run on the testbed (sandbox, build-host suites). */
export interface TestbedStackInput {
  /** Local Telegram emulator: its API root, and the bot token and chat the stack reports to. */
  telegram: { apiRoot: string; botToken: string; chatId: string };
  /** The ZeroTier controller stand-in's URL and token (requireZerotierStandIn). */
  zerotier: { url: string; token: string; timeoutSec?: number };
  /** Auto-assign pools inside TESTBED_ZEROTIER_ROUTE; each run picks its own so runs do not collide. */
  pools: string[];
  /** The testbed host taken over and its fixed ZeroTier address (inside the route, outside `pools`). */
  host: { name: string; address: string; bootstrapPrivateKey: string; zerotierIp: string };
  /** The SSH key group's source. */
  keys: KeySourceInput;
  /** g8os:firewallConfirmTimeoutSec; unset = the stack's default (90 s). */
  firewallConfirmTimeoutSec?: number;
}

/** A build stack against the testbed: ZeroTier controller stand-in on TESTBED_ZEROTIER_ROUTE. */
export function testbedBuildConfig(t: TestbedStackInput): Record<string, StackConfigValue> {
  return buildStackConfig({
    telegram: t.telegram,
    zerotier: {
      backend: "controller",
      apiUrl: t.zerotier.url,
      token: t.zerotier.token,
      routes: [TESTBED_ZEROTIER_ROUTE],
      pools: t.pools,
      timeoutSec: t.zerotier.timeoutSec,
    },
    keys: t.keys,
    buildHost: { ...t.host, firewallConfirmTimeoutSec: t.firewallConfirmTimeoutSec },
  });
}
