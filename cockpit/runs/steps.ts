/**
 * Turns the engine's events into a run's steps: one step per URN, updated as the engine goes
 * (`resourcePreEvent` plans it, `resOutputsEvent` finishes it, `resOpFailedEvent` fails it).
 * Event shapes: `@pulumi/pulumi/automation/events.d.ts` (pulumi/pulumi sdk/go/common/apitype/events.go).
 */
import type { EngineEvent, StepEventMetadata } from "@pulumi/pulumi/automation";
import type { RunStep } from "./types";

/** Applies one engine event to `steps` (in place); returns the summary's change counts when it is one. */
export function applyEvent(steps: RunStep[], event: EngineEvent): Record<string, number> | undefined {
  if (event.resourcePreEvent) upsert(steps, event.resourcePreEvent.metadata, false, false);
  if (event.resOutputsEvent) upsert(steps, event.resOutputsEvent.metadata, true, false);
  if (event.resOpFailedEvent) upsert(steps, event.resOpFailedEvent.metadata, true, true);
  if (event.summaryEvent) {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(event.summaryEvent.resourceChanges ?? {})) {
      if (typeof v === "number") out[k] = v;
    }
    return out;
  }
  return undefined;
}

function changedFields(m: StepEventMetadata): string[] {
  if (Array.isArray(m.diffs) && m.diffs.length > 0) return [...m.diffs];
  // Some steps only carry the detailed diff (paths like `tags.env`): keep the top-level names.
  const detailed = Object.keys(m.detailedDiff ?? {}).map((p) => p.split(/[.[]/)[0]);
  return [...new Set(detailed)];
}

function upsert(steps: RunStep[], m: StepEventMetadata, done: boolean, failed: boolean): void {
  if (!m || typeof m.urn !== "string") return;
  const fields = changedFields(m);
  const found = steps.find((s) => s.urn === m.urn);
  if (found) {
    found.op = m.op ?? found.op;
    if (fields.length > 0) found.changedFields = fields;
    found.done = found.done || done;
    found.failed = found.failed || failed;
    return;
  }
  steps.push({ urn: m.urn, type: m.type ?? "", op: m.op ?? "", changedFields: fields, done, failed });
}
