/** The `status:` part of the cockpit config, as checked by `cockpit/config.ts`. */
import type { ZerotierBackend } from "../../providers/zerotier/client";

export interface StatusSettings {
  /** The stack whose state describes the environment (its outputs `buildHost`, `vms.nodes`, `buildRun`, `buildNetworkId`). Default `build`. */
  stack: string;
  /** Seconds a live check's answer is reused (1-3600), so many clients do not multiply checks. Default 30. */
  cacheSeconds: number;
  /** A ZeroTier member last seen longer ago than this (seconds, 10-86400) is offline. Default 300. */
  onlineWithinSeconds: number;
  /** ZeroTier API for member online/last seen; unset: no member check. */
  zerotier?: {
    /** `central` or `controller`. */
    backend: ZerotierBackend;
    /** API root (Central `https://api.zerotier.com/api/v1`, a controller `http://<ip>:9993`). */
    apiUrl: string;
    /** The API token (read from `tokenFile`, mode 0600); a secret. */
    token: string;
    /** The network; default the stack's `buildNetworkId` output. */
    networkId?: string;
  };
  /** The core0 nodes' redis; unset: no ping. */
  core0?: {
    /** The redis password (read from `passwordFile`, mode 0600); a secret. */
    password: string;
    /** Redis port. Default 6379. */
    port: number;
  };
}
