/**
 * The real dynamic-provider host (`@pulumi/pulumi/cmd/dynamic-provider`), started as the engine
 * starts it and driven over pulumirpc.ResourceProvider with the SDK's generated gRPC stubs.
 * The provider methods therefore run in a separate process, from the serialized `__provider`
 * text, exactly as under `pulumi up`.
 */
import { ChildProcess, spawn } from "child_process";
import * as path from "path";
import * as grpc from "@grpc/grpc-js";
import { pollUntil } from "../../providers/shared/retry";
import type { Props } from "./secrets";
import { CallContext, CheckResult, DiffResult, EngineProvider, ResourceInitError } from "./provider";

/* eslint-disable @typescript-eslint/no-explicit-any -- the generated protobuf stubs are untyped JS here */
const PULUMI_DIR = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
const provrpc = require(path.join(PULUMI_DIR, "proto/provider_grpc_pb"));
const provproto = require(path.join(PULUMI_DIR, "proto/provider_pb"));
const statusproto = require(path.join(PULUMI_DIR, "proto/status_pb"));
const structproto = require("google-protobuf/google/protobuf/struct_pb");

const GRPC_OPTIONS = { "grpc.max_receive_message_length": 1024 * 1024 * 400 };
const START_TIMEOUT_MS = 30_000;
/** One provider call may do real remote work (boot a VM, wait for a node): bounded, but generous. */
const CALL_TIMEOUT_MS = 30 * 60_000;

export interface HostOptions {
  repoRoot: string;
  /** Address of the harness's Engine service, passed as the host's argument. */
  engineAddress: string;
  project: string;
  stack: string;
  /** Stack config with secrets decrypted, as Configure receives it. */
  config: Record<string, string>;
  env: Record<string, string>;
  nodePath: string;
  onOutput: (text: string) => void;
}

/** JSON-clean copy: protobuf Structs cannot hold `undefined`. */
function toStruct(v: Props): any {
  return structproto.Struct.fromJavaScript(JSON.parse(JSON.stringify(v ?? {})));
}

function fromStruct(s: any): Props {
  return s ? (s.toJavaScript() as Props) : {};
}

export class DynamicProviderHost implements EngineProvider {
  readonly secretOutputs: readonly string[] = [];

  private constructor(
    private readonly proc: ChildProcess,
    private readonly client: any,
    readonly pid: number,
  ) {}

  /** Starts the host, reads the port it prints and calls Configure with the stack config. */
  static async start(o: HostOptions): Promise<DynamicProviderHost> {
    const entry = path.join(PULUMI_DIR, "cmd", "dynamic-provider");
    const proc = spawn(o.nodePath, [entry, o.engineAddress], {
      cwd: o.repoRoot,
      env: {
        ...process.env,
        ...o.env,
        PULUMI_NODEJS_PROJECT: o.project,
        PULUMI_NODEJS_STACK: o.stack,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let port: number | undefined;
    let exited: string | undefined;
    let stdoutBuf = "";
    let stderrTail = "";
    proc.stdout!.setEncoding("utf8");
    proc.stderr!.setEncoding("utf8");
    proc.stdout!.on("data", (chunk: string) => {
      if (port !== undefined) return o.onOutput(chunk);
      stdoutBuf += chunk;
      const nl = stdoutBuf.indexOf("\n");
      if (nl < 0) return;
      port = Number(stdoutBuf.slice(0, nl).trim());
      if (stdoutBuf.length > nl + 1) o.onOutput(stdoutBuf.slice(nl + 1));
    });
    proc.stderr!.on("data", (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-2000);
      o.onOutput(chunk);
    });
    proc.on("exit", (code, signal) => (exited = `exited with ${signal ?? `status ${code}`}`));
    try {
      await pollUntil(
        async () => {
          if (exited)
            throw new Error(`dynamic-provider host ${exited} before printing its port: ${stderrTail.trim()}`);
          return port === undefined
            ? { pending: `no port yet (stdout: ${JSON.stringify(stdoutBuf)})` }
            : port;
        },
        { timeoutMs: START_TIMEOUT_MS, intervalMs: 20, what: "the dynamic-provider host to print its port" },
      );
      if (!Number.isInteger(port) || port! <= 0)
        throw new Error(`dynamic-provider host printed a bad port: ${stdoutBuf}`);
    } catch (err) {
      proc.kill("SIGKILL");
      throw err;
    }
    const client = new provrpc.ResourceProviderClient(
      `127.0.0.1:${port}`,
      grpc.credentials.createInsecure(),
      GRPC_OPTIONS,
    );
    const host = new DynamicProviderHost(proc, client, proc.pid!);
    const req = new provproto.ConfigureRequest();
    const vars = req.getVariablesMap();
    for (const [k, v] of Object.entries(o.config)) vars.set(k, v);
    req.setArgs(toStruct(o.config));
    req.setAcceptsecrets(false);
    req.setAcceptresources(false);
    try {
      await host.call("configure", req, {
        urn: "(provider)",
        type: "",
        name: "",
        secrets: Object.values(o.config),
      });
    } catch (err) {
      await host.stop();
      throw err;
    }
    return host;
  }

  async stop(): Promise<void> {
    this.client.close();
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => this.proc.once("exit", () => resolve()));
    this.proc.kill("SIGTERM");
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 5000);
    await gone;
    clearTimeout(timer);
  }

  async check(ctx: CallContext, olds: Props, news: Props): Promise<CheckResult> {
    const req = new provproto.CheckRequest();
    this.address(req, ctx);
    req.setOlds(toStruct(olds));
    req.setNews(toStruct(news));
    const resp = await this.call("check", req, ctx);
    return {
      inputs: fromStruct(resp.getInputs()),
      failures: resp
        .getFailuresList()
        .map((f: any) => ({ property: f.getProperty(), reason: f.getReason() })),
    };
  }

  async diff(
    ctx: CallContext,
    id: string,
    oldOutputs: Props,
    news: Props,
    oldInputs: Props,
  ): Promise<DiffResult> {
    const req = new provproto.DiffRequest();
    this.address(req, ctx);
    req.setId(id);
    req.setOlds(toStruct(oldOutputs));
    req.setNews(toStruct(news));
    req.setOldInputs(toStruct(oldInputs));
    const resp = await this.call("diff", req, ctx);
    const C = provproto.DiffResponse.DiffChanges;
    const changes = resp.getChanges();
    return {
      changes: changes === C.DIFF_SOME ? true : changes === C.DIFF_NONE ? false : undefined,
      replaces: resp.getReplacesList(),
      deleteBeforeReplace: resp.getDeletebeforereplace(),
      diffs: resp.getDiffsList(),
    };
  }

  async create(ctx: CallContext, news: Props): Promise<{ id: string; outputs: Props }> {
    const req = new provproto.CreateRequest();
    this.address(req, ctx);
    req.setProperties(toStruct(news));
    req.setPreview(false);
    const resp = await this.call("create", req, ctx);
    return { id: resp.getId(), outputs: fromStruct(resp.getProperties()) };
  }

  async read(
    ctx: CallContext,
    id: string,
    outputs: Props,
    inputs: Props,
  ): Promise<{ id: string; outputs: Props; inputs?: Props }> {
    const req = new provproto.ReadRequest();
    this.address(req, ctx);
    req.setId(id);
    req.setProperties(toStruct(outputs));
    req.setInputs(toStruct(inputs));
    const resp = await this.call("read", req, ctx);
    return {
      id: resp.getId(),
      outputs: fromStruct(resp.getProperties()),
      inputs: resp.getInputs() ? fromStruct(resp.getInputs()) : undefined,
    };
  }

  async update(
    ctx: CallContext,
    id: string,
    oldOutputs: Props,
    news: Props,
    oldInputs: Props,
  ): Promise<Props> {
    const req = new provproto.UpdateRequest();
    this.address(req, ctx);
    req.setId(id);
    req.setOlds(toStruct(oldOutputs));
    req.setNews(toStruct(news));
    req.setOldInputs(toStruct(oldInputs));
    req.setPreview(false);
    const resp = await this.call("update", req, ctx);
    return fromStruct(resp.getProperties());
  }

  async delete(ctx: CallContext, id: string, outputs: Props, oldInputs: Props): Promise<void> {
    const req = new provproto.DeleteRequest();
    this.address(req, ctx);
    req.setId(id);
    req.setProperties(toStruct(outputs));
    req.setOldInputs(toStruct(oldInputs));
    await this.call("delete", req, ctx);
  }

  private address(req: any, ctx: CallContext): void {
    req.setUrn(ctx.urn);
    if (req.setType) req.setType(ctx.type);
    if (req.setName) req.setName(ctx.name);
  }

  /** One unary call with a deadline; errors carry the host's message, init failures their details. */
  private call(method: string, req: any, _ctx: CallContext): Promise<any> {
    return new Promise((resolve, reject) => {
      const deadline = new Date(Date.now() + CALL_TIMEOUT_MS);
      this.client[method](
        req,
        new grpc.Metadata(),
        { deadline },
        (err: grpc.ServiceError | null, resp: any) => {
          if (!err) return resolve(resp);
          // Passed on as the host sent it: the engine filters only secret config values (deployment.ts).
          const message = err.details || err.message;
          const init = initFailure(err);
          if (init) {
            return reject(new ResourceInitError(message, init.id, init.properties, init.reasons));
          }
          reject(new Error(message));
        },
      );
    });
  }
}

/** Decodes `grpc-status-details-bin` into the ErrorResourceInitFailed detail, if there is one. */
function initFailure(
  err: grpc.ServiceError,
): { id: string; properties: Props; reasons: string[] } | undefined {
  const bin = err.metadata?.get("grpc-status-details-bin")?.[0];
  if (!bin) return undefined;
  const status = statusproto.Status.deserializeBinary(new Uint8Array(bin as Buffer));
  for (const any of status.getDetailsList()) {
    if (any.getTypeName() !== "pulumirpc.ErrorResourceInitFailed") continue;
    const d = provproto.ErrorResourceInitFailed.deserializeBinary(any.getValue_asU8());
    return { id: d.getId(), properties: fromStruct(d.getProperties()), reasons: d.getReasonsList() };
  }
  return undefined;
}
