/** What the random and tls emulations share: replace on any input change, and check helpers. */
import { jsonEqual } from "../../../providers/shared/dynamic";
import type { Props } from "../secrets";
import type { CallContext, CheckResult, DiffResult, EngineProvider } from "../provider";

/** Base for providers whose every input change means a new object (random, tls). */
export abstract class ReplaceOnAnyChange implements EngineProvider {
  abstract readonly secretOutputs: readonly string[];
  abstract check(ctx: CallContext, olds: Props, news: Props): Promise<CheckResult>;
  abstract create(ctx: CallContext, news: Props): Promise<{ id: string; outputs: Props }>;

  async diff(
    _ctx: CallContext,
    _id: string,
    _oldOutputs: Props,
    news: Props,
    oldInputs: Props,
  ): Promise<DiffResult> {
    const changed = changedKeys(oldInputs, news);
    return { changes: changed.length > 0, replaces: changed, deleteBeforeReplace: false, diffs: changed };
  }

  async read(_ctx: CallContext, id: string, outputs: Props): Promise<{ id: string; outputs: Props }> {
    return { id, outputs };
  }

  async update(): Promise<Props> {
    throw new Error("internal: update called on a replace-only resource");
  }

  async delete(): Promise<void> {}
}

export function changedKeys(a: Props, b: Props): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => k !== "__provider" && !jsonEqual(a[k], b[k])).sort();
}

export function withDefaults(news: Props, defaults: Props): Props {
  const out: Props = { ...defaults };
  for (const [k, v] of Object.entries(news)) if (v !== undefined && v !== null) out[k] = v;
  return out;
}

export const boolean = (v: unknown): string | undefined =>
  typeof v === "boolean" ? undefined : "must be true or false";
