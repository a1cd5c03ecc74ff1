/** Explicit provider resources (`pulumi:providers:*`). */
import * as crypto from "crypto";
import type { Props } from "../secrets";
import type { CallContext, CheckResult, DiffResult } from "../provider";
import { ReplaceOnAnyChange } from "./base";

/** Explicit provider resources (`new random.Provider(...)`): nothing to do but keep their config. */
export class ProviderResource extends ReplaceOnAnyChange {
  readonly secretOutputs = [];

  async check(_ctx: CallContext, _olds: Props, news: Props): Promise<CheckResult> {
    return { inputs: news, failures: [] };
  }

  async create(_ctx: CallContext, news: Props): Promise<{ id: string; outputs: Props }> {
    return { id: crypto.randomUUID(), outputs: news };
  }

  async diff(): Promise<DiffResult> {
    return { changes: false, replaces: [], deleteBeforeReplace: false, diffs: [] };
  }
}
