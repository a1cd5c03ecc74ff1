/**
 * The cockpit's end-test program: two "VMs", each a JSON file under `cockpitfixture:dir` kept by a
 * dynamic provider that touches nothing else, so `up`, `refresh` and the targeted `destroy` of one
 * of them run through the real engine without external systems. With `delayMs` set, a create or
 * update first writes `<file>.inflight`, so a test knows a step is in flight before it cancels.
 */
import * as pulumi from "@pulumi/pulumi";

interface VmInputs {
  file: string;
  size: number;
  delayMs: number;
}

const vmProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: VmInputs, news: VmInputs) {
    const changed = ["file", "size"].filter((k) => olds[k as keyof VmInputs] !== news[k as keyof VmInputs]);
    return { changes: changed.length > 0, replaces: olds.file !== news.file ? ["file"] : [] };
  },
  async create(inputs: VmInputs) {
    const fs = require("fs") as typeof import("fs");
    if (inputs.delayMs > 0) {
      fs.writeFileSync(`${inputs.file}.inflight`, "");
      await new Promise((r) => setTimeout(r, inputs.delayMs));
    }
    fs.writeFileSync(inputs.file, JSON.stringify({ size: inputs.size }));
    return { id: inputs.file, outs: { ...inputs } };
  },
  async read(id: string, props: VmInputs) {
    const fs = require("fs") as typeof import("fs");
    if (!fs.existsSync(props.file)) return {};
    return { id, props: { ...props, size: JSON.parse(fs.readFileSync(props.file, "utf8")).size } };
  },
  async update(_id: string, _olds: VmInputs, news: VmInputs) {
    const fs = require("fs") as typeof import("fs");
    if (news.delayMs > 0) {
      fs.writeFileSync(`${news.file}.inflight`, "");
      await new Promise((r) => setTimeout(r, news.delayMs));
    }
    fs.writeFileSync(news.file, JSON.stringify({ size: news.size }));
    return { outs: { ...news } };
  },
  async delete(_id: string, props: VmInputs) {
    const fs = require("fs") as typeof import("fs");
    fs.rmSync(props.file, { force: true });
  },
};

class FileVm extends pulumi.dynamic.Resource {
  declare readonly file: pulumi.Output<string>;

  constructor(name: string, args: VmInputs) {
    super(vmProvider, name, { ...args }, {}, "cockpitfixture", "FileVm");
  }
}

const config = new pulumi.Config("cockpitfixture");
const dir = config.require("dir");
const size = config.requireNumber("size");
const delayMs = config.requireNumber("delayMs");
export const vm1 = new FileVm("vm1", { file: `${dir}/vm1.json`, size, delayMs }).file;
export const vm2 = new FileVm("vm2", { file: `${dir}/vm2.json`, size, delayMs }).file;
