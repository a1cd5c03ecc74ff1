/**
 * GridMonitor: one monitoring pass over every node of the grid at create, update and refresh
 * (health.ts says what is measured, with which v0.9.0 commands). The nodes are probed concurrently
 * (one client each, closed after the pass); an unreachable node is a result, never a failure.
 *
 * Alerts: each check whose state differs from the state last alerted (`alerted`) is sent once, in
 * one Telegram message, when the grid file gives a chat (`alerts.telegramChatId`) and config a bot
 * token; a failed send is recorded in `alertError` and fails nothing. Refresh only records them
 * (`pending`) and the next `up` sends them (its diff sees `pending`): the engine runs a read twice
 * per `pulumi refresh` (its preview, then the refresh), and the preview's state is thrown away, so
 * a read that sent would send every alert twice.
 */
import * as pulumi from "@pulumi/pulumi";
import { jsonEqual } from "../../providers/shared/dynamic";
import { errorMessage, redact } from "../../providers/shared/errors";
import { TelegramNotifier } from "../../providers/telegram/client";
import {
  changedChecks,
  healthChecks,
  probeNode,
  type HealthCheck,
  type HealthThresholds,
  type NodeReport,
} from "./health";

interface Inputs {
  grid: string;
  nodes: Array<{ name: string; address: string; port: number }>;
  password: string;
  thresholds: HealthThresholds;
  telegram?: { chatId: string; token: string; apiRoot?: string };
}

interface Outputs extends Inputs {
  reports: NodeReport[];
  checks: Record<string, HealthCheck>;
  /** The checks as last alerted (or found at create). */
  alerted: Record<string, HealthCheck>;
  /** Changes since `alerted`, seen by refresh, sent by the next up. */
  pending: string[];
  /** What the last up sent. */
  alerts: string[];
  alertError: string;
}

async function measure(i: Inputs) {
  const reports = await Promise.all(
    i.nodes.map((n) => probeNode(n.name, { address: n.address, port: n.port, password: i.password })),
  );
  return { reports, checks: healthChecks(reports, i.thresholds) };
}

/** A pass that alerts what changed since `alerted` (create, update). */
async function pass(i: Inputs, alerted: Record<string, HealthCheck> | undefined): Promise<Outputs> {
  const grid = i.grid;
  const { reports, checks } = await measure(i);
  const alerts = changedChecks(alerted, checks);
  let alertError = "";
  if (alerts.length > 0 && i.telegram?.chatId && i.telegram.token) {
    try {
      const n = new TelegramNotifier(
        { token: i.telegram.token, chatId: i.telegram.chatId, apiRoot: i.telegram.apiRoot },
        { secrets: [i.password], label: `GridMonitor "${grid}"` },
      );
      const urgent = alerts.some((a) => /-> error/.test(a));
      await n.send(`grid ${grid}: ${alerts.length} check(s) changed\n${alerts.join("\n")}`, { urgent });
    } catch (err) {
      alertError = redact(errorMessage(err), [i.password, i.telegram.token]);
    }
  }
  return { ...i, reports, checks, alerted: checks, pending: [], alerts, alertError };
}

export const gridMonitorProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: Outputs, news: Inputs) {
    const keys = ["grid", "nodes", "password", "thresholds", "telegram"] as const;
    const changes = (olds.pending ?? []).length > 0 || keys.some((k) => !jsonEqual(olds[k], news[k]));
    return { changes, replaces: [], deleteBeforeReplace: false };
  },
  async create(inputs: Inputs) {
    return { id: "monitor", outs: await pass(inputs, undefined) };
  },
  async read(id: string, props: Outputs) {
    const { reports, checks } = await measure(props);
    const alerted = props.alerted ?? props.checks;
    return { id, props: { ...props, reports, checks, alerted, pending: changedChecks(alerted, checks) } };
  },
  async update(_id: string, olds: Outputs, news: Inputs) {
    return { outs: await pass(news, olds.alerted ?? olds.checks) };
  },
  async delete() {
    // Nothing on the nodes.
  },
};

export interface GridMonitorArgs {
  /** The grid's name, in alerts. Required. */
  grid: string;
  /** The nodes (name, address, redis port). Required. */
  nodes: Array<{ name: string; address: string; port: number }>;
  /** The nodes' redis password (secret). Required. */
  password: pulumi.Input<string>;
  /** Check levels (grid file `health`; defaults in health.ts). Required. */
  thresholds: HealthThresholds;
  /** Where alerts go; unset = no alerts (the checks are still outputs). */
  telegram?: { chatId: string; token: pulumi.Input<string>; apiRoot?: string };
}

export class GridMonitor extends pulumi.dynamic.Resource {
  /** Per node: reachable, CPU and memory load, partitions, per-container CPU/RSS. */
  declare readonly reports: pulumi.Output<NodeReport[]>;
  /** `<node>.<redis|cpu|memory|disk>` -> state and detail. */
  declare readonly checks: pulumi.Output<Record<string, HealthCheck>>;
  /** What the last up alerted (checks that changed state). */
  declare readonly alerts: pulumi.Output<string[]>;
  /** Changes refresh found, to be alerted by the next up. */
  declare readonly pending: pulumi.Output<string[]>;
  /** Why the last alert could not be sent ("" = sent or nothing to send). */
  declare readonly alertError: pulumi.Output<string>;

  constructor(name: string, args: GridMonitorArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      gridMonitorProvider,
      name,
      {
        grid: args.grid,
        nodes: args.nodes,
        password: pulumi.secret(args.password),
        thresholds: args.thresholds,
        telegram: args.telegram ? { ...args.telegram, token: pulumi.secret(args.telegram.token) } : undefined,
        reports: undefined,
        checks: undefined,
        alerted: undefined,
        pending: undefined,
        alerts: undefined,
        alertError: undefined,
      },
      { ...opts, additionalSecretOutputs: ["password", "telegram"] },
      "g8os",
      "GridMonitor",
    );
  }
}
