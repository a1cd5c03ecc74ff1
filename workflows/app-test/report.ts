/**
 * AppTest's Telegram reports (optional): one routine digest line per app (TelegramDigest keeps the
 * group within its limits), and a failure sent urgent at once, as soon as that app finished. A
 * Telegram failure never fails the tests (reported in `telegramErrors` and, when tests failed, in
 * the error). Plain module: no Pulumi imports.
 */
import { errorMessage, OperationError } from "../../providers/shared/errors";
import { partialCreateError, plainOutputs } from "../../providers/shared/dynamic";
import { TelegramDigest, TelegramNotifier } from "../../providers/telegram/client";
import { failuresOf, runAppTests, terminateLeftovers } from "./runner";
import {
  type AppTestInputs,
  type AppTestLeftover,
  type AppTestOutputs,
  type AppTestResult,
  type AppUnderTest,
  label,
} from "./types";

/** The digest line of one app. */
function reportLine(r: AppTestResult): string {
  const passed = r.tests.filter((t) => t.passed).length;
  const secs = (r.durationMs / 1000).toFixed(1);
  return `${r.passed ? "✅" : "❌"} ${r.app} (build ${r.buildId}) on ${r.node}: ${passed}/${r.tests.length} tests passed in ${secs} s`;
}

/** The urgent alert of one failed app. */
function alertText(i: AppTestInputs, r: AppTestResult): string {
  const lines = failuresOf([r]).map((f) => `• ${f}`);
  return [
    `🚨 TEST FAILURE${i.runLabel ? ` in build run ${i.runLabel}` : ""}: app ${r.app} (build ${r.buildId}) on ${r.node}`,
    ...lines,
    "Nothing will be released to the templates repo until this is fixed.",
  ].join("\n");
}

/** Runs the tests and reports on Telegram; returns the outputs for `apps` (old results kept). */
export async function runAndReport(
  i: AppTestInputs,
  toRun: AppUnderTest[],
  keep: AppTestResult[],
  oldLeftovers: AppTestLeftover[] = [],
): Promise<AppTestOutputs> {
  const telegramErrors: string[] = [];
  // Containers an earlier run left behind go first; those still there are kept for next time.
  const leftovers = (await terminateLeftovers(oldLeftovers)).map((f) => f.leftover);
  let digest: TelegramDigest | undefined;
  if (i.telegram) {
    const notifier = new TelegramNotifier(i.telegram, {
      label: `${label(i)} Telegram report`,
      secrets: i.nodes.map((n) => n.password),
    });
    digest = new TelegramDigest(notifier, { flushIntervalMs: 0 });
  }
  const results = await runAppTests(toRun, i.nodes, {
    maxPerNode: i.maxPerNode,
    label: label(i),
    leftovers,
    onAppDone: async (r) => {
      if (!digest) return;
      digest.add(reportLine(r));
      if (!r.passed) {
        // At once, with sound: the whole group must know. A failed send stays queued in the digest.
        await digest.urgent(alertText(i, r)).catch((err) => telegramErrors.push(errorMessage(err)));
      }
    },
  });
  if (digest) {
    await digest.close().catch((err) => telegramErrors.push(errorMessage(err)));
  }
  const byApp = (a: string): AppTestResult | undefined =>
    results.find((r) => r.app === a) ?? keep.find((r) => r.app === a);
  const ordered = i.apps.map((a) => byApp(a.app)).filter((r): r is AppTestResult => !!r);
  const failures = failuresOf(ordered);
  return plainOutputs({
    name: i.name,
    passed: failures.length === 0,
    failures,
    results: ordered,
    telegramErrors,
    leftovers,
  } as unknown as Record<string, unknown>) as unknown as AppTestOutputs;
}

/** Fails create/update (as a partial create, results recorded) when any app failed. */
export function failIfFailed(i: AppTestInputs, id: string, outs: AppTestOutputs): void {
  if (outs.passed) return;
  const notes =
    outs.telegramErrors.length > 0 ? ` (Telegram alert failed too: ${outs.telegramErrors[0]})` : "";
  const err = new OperationError(
    label(i),
    "app tests",
    `${outs.failures.length} failure(s): ${outs.failures.join("; ")}${notes}`,
    "the apps' build and test definitions in the build tree; the next up re-runs the failed apps",
  );
  throw partialCreateError(err, id, outs as unknown as Record<string, unknown>);
}
