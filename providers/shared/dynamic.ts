/**
 * Helpers for the dynamic-provider contract, shared by every provider in `providers/`.
 *
 * Plain module: no Pulumi imports, because dynamic providers inline it by value.
 * See docs/ARCHITECTURE.md ("Writing a provider") for the rules these helpers encode.
 */

import { errorMessage } from "./errors";

/** What an unresolved input looks like inside check/diff during a preview, whatever its type. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** True when `v` (or anything inside it) is still unknown at preview time. */
export function containsUnknown(v: unknown): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(containsUnknown);
  if (v && typeof v === "object") return Object.values(v as Record<string, unknown>).some(containsUnknown);
  return false;
}

/** Order-insensitive-for-objects, order-sensitive-for-arrays deep equality on JSON values. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") {
    // `undefined` and a missing key mean the same thing in state.
    return (a ?? null) === (b ?? null);
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => jsonEqual(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
  for (const k of keys) if (!jsonEqual(ao[k], bo[k])) return false;
  return true;
}

export interface FieldDiffSpec {
  /** Inputs whose change needs a new remote object. */
  replaceOn?: readonly string[];
  /** Inputs that can change in place. Any input not listed in either is ignored by the diff. */
  updateOn?: readonly string[];
  /** Delete the old object before creating the new one (unique names on the remote side). */
  deleteBeforeReplace?: boolean;
}

/** The dynamic-provider DiffResult, always with a boolean `changes` (the host drops `stables`). */
export interface FieldDiff {
  changes: boolean;
  replaces: string[];
  deleteBeforeReplace: boolean;
  /** Every changed field, replace or update (for `detailedDiff` in tests and messages). */
  changed: string[];
}

/**
 * Compares old outputs with new inputs field by field. An unknown new value counts as a change,
 * so a preview never claims "no changes" for something it cannot see yet.
 */
export function diffFields(
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
  spec: FieldDiffSpec,
): FieldDiff {
  const replaces: string[] = [];
  const changed: string[] = [];
  for (const f of spec.replaceOn ?? []) {
    if (containsUnknown(news[f]) || !jsonEqual(olds[f], news[f])) {
      replaces.push(f);
      changed.push(f);
    }
  }
  for (const f of spec.updateOn ?? []) {
    if (containsUnknown(news[f]) || !jsonEqual(olds[f], news[f])) changed.push(f);
  }
  return {
    changes: changed.length > 0,
    replaces,
    deleteBeforeReplace: replaces.length > 0 && !!spec.deleteBeforeReplace,
    changed,
  };
}

/** Removes keys whose value is `undefined`: dynamic-provider outputs must be plain JSON. */
export function plainOutputs<T extends Record<string, unknown>>(o: T): T {
  return JSON.parse(JSON.stringify(o)) as T;
}

/**
 * Marks a thrown error as a partial create, so the engine records the resource (with `id` and
 * what exists so far) and the next `up` can finish or clean it instead of leaking it.
 */
export function partialCreateError(
  err: unknown,
  id: string,
  properties: Record<string, unknown>,
): Error & { id: string; properties: Record<string, unknown>; reasons: string[] } {
  const message = errorMessage(err);
  const e = new Error(message) as Error & {
    id: string;
    properties: Record<string, unknown>;
    reasons: string[];
  };
  e.id = id;
  e.properties = plainOutputs(properties);
  e.reasons = [message];
  return e;
}
