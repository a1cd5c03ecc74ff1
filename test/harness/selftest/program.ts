/**
 * The self-test's stack program. What it builds comes from the `selftest:spec` config (JSON), so
 * one program serves every scenario: files (some secret, some depending on another, some inside a
 * component), and optionally a RandomPassword and a tls PrivateKey.
 */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { File } from "./file-provider";
import type { Spec } from "./spec";

class Group extends pulumi.ComponentResource {
  constructor(name: string) {
    super("selftest:index:Group", name);
    this.registerOutputs({});
  }
}

const spec = JSON.parse(new pulumi.Config("selftest").require("spec")) as Spec;
const group = spec.files.some((f) => f.inGroup) ? new Group("group") : undefined;
const files = new Map<string, File>();
for (const f of spec.files) {
  const dep = f.after ? files.get(f.after) : undefined;
  if (f.after && !dep)
    throw new Error(`spec: file ${f.name} is after ${f.after}, which comes later or not at all`);
  const pathDep = f.pathAfter ? files.get(f.pathAfter) : undefined;
  if (f.pathAfter && !pathDep)
    throw new Error(
      `spec: file ${f.name} has its path after ${f.pathAfter}, which comes later or not at all`,
    );
  const content: pulumi.Input<string> = dep ? pulumi.interpolate`${f.content} after ${dep.path}` : f.content;
  const filePath: pulumi.Input<string> = pathDep ? pulumi.interpolate`${pathDep.path}.${f.name}` : f.path;
  files.set(
    f.name,
    new File(
      f.name,
      { path: filePath, content: f.secret ? pulumi.secret(content) : content, holdMs: f.holdMs },
      {
        parent: f.inGroup ? group : undefined,
        deleteBeforeReplace: f.deleteBeforeReplace,
        replaceOnChanges: f.replaceOnChanges,
      },
    ),
  );
}

const outputs: Record<string, unknown> = {
  programPid: process.pid,
  paths: Object.fromEntries([...files].map(([name, file]) => [name, file.path])),
  sizes: Object.fromEntries([...files].map(([name, file]) => [name, file.size])),
};
if (spec.password) {
  const pw = new random.RandomPassword("password", spec.password);
  outputs.password = pw.result;
  outputs.bcryptHash = pw.bcryptHash;
}
if (spec.key) {
  const key = new tls.PrivateKey("key", { algorithm: spec.key });
  outputs.privateKeyOpenssh = key.privateKeyOpenssh;
  outputs.publicKeyOpenssh = key.publicKeyOpenssh;
  outputs.fingerprint = key.publicKeyFingerprintSha256;
}

if (spec.command) {
  outputs.commandStdout = new command.local.Command("command", spec.command).stdout;
}
pulumi.log.info(`selftest program ran with ${spec.files.length} files`);

export = outputs;
