/**
 * What the harness engine needs from a resource provider: the real dynamic-provider host (over
 * gRPC) and the emulated random/tls/command providers both implement it. Values here are
 * plaintext: the engine keeps track of which ones are secret.
 */
import type { Props } from "./secrets";

export interface CheckFailure {
  property: string;
  reason: string;
}

export interface CheckResult {
  inputs: Props;
  failures: CheckFailure[];
}

export interface DiffResult {
  /** `undefined`: the provider did not say (the engine then compares inputs itself). */
  changes: boolean | undefined;
  replaces: string[];
  deleteBeforeReplace: boolean;
  /** Changed properties, when the provider reports them. */
  diffs: string[];
}

/** Which resource a call is for; `secrets` are plaintexts to keep out of error messages. */
export interface CallContext {
  urn: string;
  type: string;
  name: string;
  secrets: string[];
}

/** A create or update that made the object but could not finish it (pulumirpc.ErrorResourceInitFailed). */
export class ResourceInitError extends Error {
  constructor(
    message: string,
    readonly id: string,
    readonly properties: Props,
    readonly reasons: string[],
  ) {
    super(message);
    this.name = "ResourceInitError";
  }
}

export interface EngineProvider {
  check(ctx: CallContext, olds: Props, news: Props): Promise<CheckResult>;
  diff(ctx: CallContext, id: string, oldOutputs: Props, news: Props, oldInputs: Props): Promise<DiffResult>;
  create(ctx: CallContext, news: Props): Promise<{ id: string; outputs: Props }>;
  read(
    ctx: CallContext,
    id: string,
    outputs: Props,
    inputs: Props,
  ): Promise<{ id: string; outputs: Props; inputs?: Props }>;
  update(ctx: CallContext, id: string, oldOutputs: Props, news: Props, oldInputs: Props): Promise<Props>;
  delete(ctx: CallContext, id: string, outputs: Props, oldInputs: Props): Promise<void>;
  /** Output names the provider's schema declares secret, whatever the program asked for. */
  readonly secretOutputs: readonly string[];
}
