/**
 * A small dynamic provider for the harness self-test: one file per resource. Each method appends
 * "<method> <pid> <path>" to the file named by HARNESS_SELFTEST_MARKER, so tests can prove which process
 * ran it. Content starting with "FAIL" makes create fail; "PARTIAL" makes it write the file, then fail half-way.
 */
import * as pulumi from "@pulumi/pulumi";
import { diffFields, partialCreateError, plainOutputs } from "../../../providers/shared/dynamic";
import { collectFailures } from "../../../providers/shared/validate";

export interface FileInputs {
  path: string;
  content: string;
  /** Milliseconds create/update/delete take (marked "<method>-begin" and "-end"): for concurrency tests. */
  holdMs?: number;
}

/** Marks the start and end of a slow operation held for `inputs.holdMs`. */
async function hold(method: string, inputs: FileInputs): Promise<void> {
  if (!inputs.holdMs) return;
  mark(`${method}-begin`, inputs.path);
  await new Promise((resolve) => setTimeout(resolve, inputs.holdMs));
  mark(`${method}-end`, inputs.path);
}

function mark(method: string, path: unknown): void {
  const fs = require("fs") as typeof import("fs");
  const marker = process.env.HARNESS_SELFTEST_MARKER;
  if (marker) fs.appendFileSync(marker, `${method} ${process.pid} ${path}\n`);
}

const fileProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: FileInputs, news: FileInputs) {
    mark("check", news.path);
    const failures = collectFailures([
      {
        path: "path",
        value: news.path,
        check: (v) => (typeof v === "string" && v.startsWith("/") ? undefined : "must be an absolute path"),
      },
      {
        path: "content",
        value: news.content,
        check: (v) => (typeof v === "string" ? undefined : "must be a string"),
      },
    ]);
    return { inputs: news, failures };
  },

  async diff(_id: string, olds: FileInputs, news: FileInputs) {
    mark("diff", news.path);
    return diffFields(olds as never, news as never, { replaceOn: ["path"], updateOn: ["content"] });
  },

  async create(inputs: FileInputs) {
    mark("create", inputs.path);
    await hold("create", inputs);
    const fs = require("fs") as typeof import("fs");
    const crypto = require("crypto") as typeof import("crypto");
    // The message quotes the content on purpose: the engine must redact it when it is secret.
    if (inputs.content.startsWith("FAIL")) {
      throw new Error(`File "${inputs.path}": create refused "${inputs.content}"`);
    }
    fs.writeFileSync(inputs.path, inputs.content);
    const id = `${inputs.path}#${crypto.randomBytes(4).toString("hex")}`;
    if (inputs.content === "PARTIAL") {
      throw partialCreateError(new Error("file written, but the test says the rest failed"), id, {
        path: inputs.path,
        content: inputs.content,
      });
    }
    return {
      id,
      outs: plainOutputs({
        path: inputs.path,
        content: inputs.content,
        size: inputs.content.length,
        holdMs: inputs.holdMs,
      }),
    };
  },

  async read(id: string, props: FileInputs) {
    mark("read", props.path);
    const fs = require("fs") as typeof import("fs");
    if (!fs.existsSync(props.path)) return {};
    const content = fs.readFileSync(props.path, "utf8");
    return { id, props: { ...props, content, size: content.length } };
  },

  async update(_id: string, _olds: FileInputs, news: FileInputs) {
    mark("update", news.path);
    await hold("update", news);
    const fs = require("fs") as typeof import("fs");
    fs.writeFileSync(news.path, news.content);
    return {
      outs: plainOutputs({
        path: news.path,
        content: news.content,
        size: news.content.length,
        holdMs: news.holdMs,
      }),
    };
  },

  async delete(_id: string, props: FileInputs) {
    mark("delete", props.path);
    await hold("delete", props);
    const fs = require("fs") as typeof import("fs");
    fs.rmSync(props.path, { force: true });
  },
};

export interface FileArgs {
  path: pulumi.Input<string>;
  content: pulumi.Input<string>;
  /** See FileInputs.holdMs. */
  holdMs?: number;
}

export class File extends pulumi.dynamic.Resource {
  declare readonly path: pulumi.Output<string>;
  declare readonly content: pulumi.Output<string>;
  /** Computed by the provider (not an input): unknown in a preview of a create, update or replace. */
  declare readonly size: pulumi.Output<number>;

  constructor(name: string, args: FileArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      fileProvider,
      name,
      { path: args.path, content: args.content, holdMs: args.holdMs, size: undefined },
      opts,
      "selftest",
      "File",
    );
  }
}
