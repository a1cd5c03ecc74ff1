/**
 * The CLI stand-in's test program: two note files under `clifixture:dir`, written by a dynamic
 * provider that talks to nothing outside that directory. `clifixture:token` (optional, set with
 * `config set --secret`) becomes a secret output; `clifixture:delayMs` slows every create so a test
 * can cancel an `up` while a step runs.
 */
import * as pulumi from "@pulumi/pulumi";

interface NoteInputs {
  path: string;
  content: string;
  delayMs: number;
}

const noteProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: NoteInputs, news: NoteInputs) {
    const ok = typeof news.path === "string" && news.path.startsWith("/");
    return {
      inputs: news,
      failures: ok ? [] : [{ property: "path", reason: "must be an absolute path" }],
    };
  },

  async diff(_id: string, olds: NoteInputs, news: NoteInputs) {
    const replaces = olds.path !== news.path ? ["path"] : [];
    return { changes: replaces.length > 0 || olds.content !== news.content, replaces };
  },

  async create(inputs: NoteInputs) {
    const fs = require("fs") as typeof import("fs");
    if (inputs.delayMs > 0) await new Promise((r) => setTimeout(r, inputs.delayMs));
    fs.writeFileSync(inputs.path, inputs.content);
    return { id: inputs.path, outs: { ...inputs, size: inputs.content.length } };
  },

  async read(id: string, props: NoteInputs) {
    const fs = require("fs") as typeof import("fs");
    if (!fs.existsSync(props.path)) return {};
    const content = fs.readFileSync(props.path, "utf8");
    return { id, props: { ...props, content, size: content.length } };
  },

  async update(_id: string, _olds: NoteInputs, news: NoteInputs) {
    const fs = require("fs") as typeof import("fs");
    fs.writeFileSync(news.path, news.content);
    return { outs: { ...news, size: news.content.length } };
  },

  async delete(_id: string, props: NoteInputs) {
    const fs = require("fs") as typeof import("fs");
    fs.rmSync(props.path, { force: true });
  },
};

class Note extends pulumi.dynamic.Resource {
  declare readonly path: pulumi.Output<string>;
  declare readonly size: pulumi.Output<number>;

  constructor(name: string, args: { path: string; content: pulumi.Input<string>; delayMs: number }) {
    super(noteProvider, name, { ...args, size: undefined }, {}, "clifixture", "Note");
  }
}

const config = new pulumi.Config("clifixture");
const dir = config.require("dir");
const delayMs = config.requireNumber("delayMs");
const greeting = new Note("greeting", {
  path: `${dir}/greeting.txt`,
  content: config.require("greeting"),
  delayMs,
});
const farewell = new Note("farewell", { path: `${dir}/farewell.txt`, content: "bye", delayMs });
const token = config.getSecret("token");

export const greetingPath = greeting.path;
export const greetingSize = greeting.size;
export const farewellPath = farewell.path;
export const tokenEcho = token ?? pulumi.secret("none");
