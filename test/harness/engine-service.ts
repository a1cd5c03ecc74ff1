/**
 * The pulumirpc.Engine service the harness serves on loopback: where the program's
 * `pulumi.log.*` calls and root-resource bookkeeping go, and the address the dynamic-provider host
 * is started with.
 */
import * as path from "path";
import * as grpc from "@grpc/grpc-js";

/* eslint-disable @typescript-eslint/no-explicit-any -- generated protobuf stubs are untyped JS here */
const PULUMI_DIR = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
const engrpc = require(path.join(PULUMI_DIR, "proto/engine_grpc_pb"));
const engproto = require(path.join(PULUMI_DIR, "proto/engine_pb"));
const emptyproto = require("google-protobuf/google/protobuf/empty_pb");

const SEVERITY: Record<number, string> = { 0: "debug", 1: "info", 2: "warning", 3: "error" };

export class EngineService {
  private constructor(
    private readonly server: grpc.Server,
    readonly address: string,
  ) {}

  /** `onLog(severity, message, urn)` receives every Log call. */
  static async start(
    onLog: (severity: string, message: string, urn: string) => void,
  ): Promise<EngineService> {
    const server = new grpc.Server();
    let rootUrn = "";
    server.addService(engrpc.EngineService, {
      log: (call: any, cb: any) => {
        const r = call.request;
        onLog(SEVERITY[r.getSeverity()] ?? "info", r.getMessage(), r.getUrn());
        cb(null, new emptyproto.Empty());
      },
      getRootResource: (_call: any, cb: any) => {
        const resp = new engproto.GetRootResourceResponse();
        resp.setUrn(rootUrn);
        cb(null, resp);
      },
      setRootResource: (call: any, cb: any) => {
        rootUrn = call.request.getUrn();
        cb(null, new engproto.SetRootResourceResponse());
      },
      startDebugging: (_call: any, cb: any) => cb(null, new emptyproto.Empty()),
      requirePulumiVersion: (_call: any, cb: any) => cb(null, new engproto.RequirePulumiVersionResponse()),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    return new EngineService(server, `127.0.0.1:${port}`);
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server.tryShutdown(() => resolve());
      // A client that never hangs up must not keep the test process waiting.
      setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 2000).unref();
    });
  }
}
