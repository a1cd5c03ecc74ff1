/**
 * Child-process entry that runs ONE stack program (Node caches modules: one stack per process).
 *
 * It plays the language host's part (`runInPulumiStack`, like `pulumi-language-nodejs`) under the
 * SDK's mock mode, with a monitor that forwards every RegisterResourceRequest, in full, to the
 * harness engine in the parent process over IPC and answers the SDK with what the engine decided.
 * Started by program-runner.ts; never imported by product code.
 */
import * as path from "path";
import type { ChildMessage, InitMessage, ParentMessage, Registration } from "./program-runner";

/* eslint-disable @typescript-eslint/no-explicit-any -- the SDK's runtime internals are untyped here */

let nextId = 1;
const waiting = new Map<number, (m: ParentMessage) => void>();

function send(m: ChildMessage): void {
  process.send!(m);
}

function request(m: ChildMessage & { id: number }): Promise<ParentMessage> {
  return new Promise((resolve) => {
    waiting.set(m.id, resolve);
    send(m);
  });
}

process.on("message", (m: ParentMessage | InitMessage) => {
  if (m.t === "init") {
    void run(m);
    return;
  }
  const resolve = waiting.get(m.id);
  waiting.delete(m.id);
  resolve?.(m);
});

async function run(init: InitMessage): Promise<void> {
  const programDir = path.dirname(init.program);
  const pulumiDir = path.dirname(require.resolve("@pulumi/pulumi/package.json", { paths: [programDir] }));
  const pulumi = require(pulumiDir);
  const { MockMonitor } = require(path.join(pulumiDir, "runtime/mocks"));
  const resproto = require(path.join(pulumiDir, "proto/resource_pb"));
  const structproto = require(
    require.resolve("google-protobuf/google/protobuf/struct_pb", { paths: [pulumiDir] }),
  );

  const errors: string[] = [];
  const report = (err: unknown): void => {
    const msg = err instanceof Error ? (err.stack ?? err.message) : String(err);
    if (!errors.some((e) => e === msg)) errors.push(msg);
  };

  class HarnessMonitor extends MockMonitor {
    constructor() {
      super({
        newResource: () => Promise.reject(new Error("unused")),
        call: () => Promise.reject(new Error("unused")),
      });
    }

    async registerResource(req: any, callback: (err: any, resp?: any) => void): Promise<void> {
      const propDeps: Record<string, string[]> = {};
      req.getPropertydependenciesMap().forEach((v: any, k: string) => (propDeps[k] = v.getUrnsList()));
      const reg: Registration = {
        type: req.getType(),
        name: req.getName(),
        custom: req.getCustom(),
        parent: req.getParent() || undefined,
        object: req.getObject() ? req.getObject().toJavaScript() : {},
        protect: !!req.getProtect(),
        dependencies: req.getDependenciesList(),
        propertyDependencies: propDeps,
        deleteBeforeReplace: req.getDeletebeforereplacedefined() ? req.getDeletebeforereplace() : undefined,
        ignoreChanges: req.getIgnorechangesList(),
        replaceOnChanges: req.getReplaceonchangesList(),
        additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
        provider: req.getProvider() || undefined,
        importId: req.getImportid() || undefined,
        retainOnDelete: req.getRetainondelete() || undefined,
      };
      const reply = await request({ t: "register", id: nextId++, reg });
      if (reply.t !== "registered")
        return callback(new Error(reply.t === "failed" ? reply.error : "bad reply"));
      // Keep the SDK's own record (getResource invokes read it).
      this.resources.set(reply.urn, { urn: reply.urn, id: reply.resourceId || null, state: reply.object });
      const resp = new resproto.RegisterResourceResponse();
      resp.setUrn(reply.urn);
      resp.setId(reply.resourceId);
      resp.setObject(structproto.Struct.fromJavaScript(reply.object));
      callback(null, resp);
    }

    async registerResourceOutputs(req: any, callback: (err: any, resp?: any) => void): Promise<void> {
      const outputs = req.getOutputs() ? req.getOutputs().toJavaScript() : {};
      await request({ t: "outputs", id: nextId++, urn: req.getUrn(), outputs });
      callback(null, {});
    }

    readResource(req: any, callback: (err: any) => void): void {
      callback(
        new Error(
          `reading existing resource ${req.getName()} [${req.getType()}] (.get / import) is not supported by the engine harness`,
        ),
      );
    }

    invoke(req: any, callback: (err: any, resp?: any) => void): Promise<void> {
      if (req.getTok() === "pulumi:pulumi:getResource") return super.invoke(req, callback);
      callback(new Error(`function ${req.getTok()} is not emulated by the engine harness`));
      return Promise.resolve();
    }
  }

  process.on("uncaughtException", report);
  process.on("unhandledRejection", report);
  try {
    pulumi.runtime.setMockOptions(new HarnessMonitor(), init.project, init.stack, init.preview);
    pulumi.runtime.setAllConfig(init.config, init.secretKeys);
    await pulumi.runtime.runInPulumiStack(async () => {
      const exported = require(init.program);
      return exported instanceof Function ? exported() : exported;
    });
  } catch (err) {
    report(err);
  }
  try {
    await pulumi.runtime.waitForRPCs();
  } catch (err) {
    report(err);
  }
  // The SDK's gRPC client to the harness Engine would keep the process alive: exit explicitly.
  process.send!({ t: "done", errors } satisfies ChildMessage, () => process.exit(0));
}
