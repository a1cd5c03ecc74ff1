/**
 * The layer rules of eslint.config.mjs (docs/ARCHITECTURE.md "Layers"): ESLint's Node API lints
 * deliberate violations as virtual files inside each layer (`lintText` with a `filePath`), and each
 * must be reported by the layer rules (`no-restricted-imports` / `no-restricted-syntax`); the legal
 * counterpart of each must not. No file is written: the paths only place the snippet in a layer.
 */
import * as assert from "assert";
import * as path from "path";

const ROOT = path.join(__dirname, "../..");
const LAYER_RULES = ["no-restricted-imports", "no-restricted-syntax"];

let eslintInstance: import("eslint").ESLint | undefined;

/** Layer-rule messages ESLint reports for `code` placed at `file` (relative to the repository root). */
async function layerHits(code: string, file: string): Promise<string[]> {
  const { ESLint } = require("eslint") as typeof import("eslint");
  eslintInstance ??= new ESLint({ cwd: ROOT });
  const [res] = await eslintInstance.lintText(code, { filePath: path.join(ROOT, file) });
  return res.messages
    .filter((m) => m.ruleId !== null && LAYER_RULES.includes(m.ruleId))
    .map((m) => m.message);
}

interface Case {
  /** What the snippet does. */
  what: string;
  /** Virtual file path (decides the layer). */
  file: string;
  code: string;
  /** A fragment of the expected message; undefined = legal, no layer message. */
  fires?: string;
}

const PULUMI = 'import * as pulumi from "@pulumi/pulumi";\nexport const p = pulumi;\n';
const PULUMI_TYPE = 'import type * as pulumi from "@pulumi/pulumi";\nexport type I = pulumi.Input<string>;\n';
const RESOURCE =
  'import * as pulumi from "@pulumi/pulumi";\n' +
  "export class DemoThing extends pulumi.dynamic.Resource {}\n";
const KIT_BASE =
  'import * as pulumi from "@pulumi/pulumi";\n' +
  "export class KitResource extends pulumi.dynamic.Resource {}\n" +
  "export class Other extends KitResource {}\n";
/** An import of `spec` bound to a fresh name, so several can be joined in one snippet. */
let seq = 0;
const imp = (spec: string) => {
  seq += 1;
  return `import * as m${seq} from "${spec}";\nexport const x${seq} = m${seq};\n`;
};
const req = (spec: string) => `export function f(): unknown {\n  return require("${spec}");\n}\n`;

const cases: Case[] = [
  // @pulumi/* only in resource files
  {
    what: "a plain client importing @pulumi/pulumi",
    file: "providers/demo/client.ts",
    code: PULUMI,
    fires: "plain client",
  },
  {
    what: "a plain client declaring a Resource class still may not import @pulumi/pulumi",
    file: "providers/demo/client-http.ts",
    code: RESOURCE,
    fires: "plain client",
  },
  {
    what: "a plain client with a type-only Pulumi import",
    file: "providers/demo/client.ts",
    code: PULUMI_TYPE,
  },
  {
    what: "a non-resource provider module importing @pulumi/pulumi",
    file: "providers/demo/common.ts",
    code: PULUMI,
    fires: "declares a Resource class",
  },
  { what: "a resource file importing @pulumi/pulumi", file: "providers/demo/thing.ts", code: RESOURCE },
  {
    what: "providers/shared importing @pulumi/pulumi outside a base-class file",
    file: "providers/shared/validate-demo.ts",
    code: PULUMI,
    fires: "declares a Resource class",
  },
  {
    what: "providers/shared/kit: the one base-class file may import @pulumi/pulumi",
    file: "providers/shared/kit/resource.ts",
    code: KIT_BASE,
  },
  {
    what: "a provider method require()ing @pulumi/pulumi",
    file: "providers/demo/thing.ts",
    code: RESOURCE + req("@pulumi/pulumi"),
    fires: "never require() @pulumi",
  },
  {
    what: "a workflow core importing @pulumi/pulumi",
    file: "workflows/app-build/steps.ts",
    code: PULUMI,
    fires: "declares a Resource class",
  },
  {
    what: "a workflow resource file importing @pulumi/pulumi",
    file: "workflows/app-build/resource.ts",
    code: RESOURCE,
  },
  // module-level Set/Map
  {
    what: "a module-level new Set in a provider",
    file: "providers/demo/common.ts",
    code: "const KNOWN = new Set([1, 2]);\nexport const known = (n: number) => KNOWN.has(n);\n",
    fires: "module-level Set/Map",
  },
  {
    what: "an exported module-level new Map in providers/shared",
    file: "providers/shared/cache.ts",
    code: "export const cache = new Map<string, number>();\n",
    fires: "module-level Set/Map",
  },
  {
    what: "a static class field new Map in a workflow",
    file: "workflows/app-test/runner.ts",
    code: "export class Runner {\n  static seen = new Map<string, number>();\n}\n",
    fires: "module-level Set/Map",
  },
  {
    what: "new Set inside a function and in a constructor",
    file: "providers/demo/common.ts",
    code:
      "export function uniq(a: string[]): string[] {\n  return [...new Set(a)];\n}\n" +
      "export class Pending {\n  m: Map<string, number>;\n  constructor() {\n    this.m = new Map();\n  }\n}\n",
  },
  // a provider system imports only itself, providers/shared and npm packages
  {
    what: "a provider system importing another system",
    file: "providers/host/join.ts",
    code: imp("../zerotier/node"),
    fires: "only its own folder",
  },
  {
    what: "a provider method require()ing another system",
    file: "providers/host/join.ts",
    code: req("../zerotier/client"),
    fires: "only its own folder",
  },
  {
    what: "a nested provider file importing another system",
    file: "providers/core0/wire/codec.ts",
    code: imp("../../ipfs/client"),
    fires: "only its own folder",
  },
  {
    what: "a provider importing its own folder, providers/shared and an npm package",
    file: "providers/host/join.ts",
    code: imp("./client") + imp("../shared/errors") + imp("node-ssh"),
  },
  {
    what: "a nested provider file importing its own system and providers/shared",
    file: "providers/core0/wire/codec.ts",
    code: imp("../client") + imp("../../shared/retry"),
  },
  {
    what: "providers/shared importing a provider system",
    file: "providers/shared/ssh-target.ts",
    code: imp("../host/connection"),
    fires: "providers/shared imports no provider system",
  },
  {
    what: "a file in providers/shared/kit importing another shared file",
    file: "providers/shared/kit/fields.ts",
    code: imp("../validate"),
  },
  {
    what: "a provider importing a component",
    file: "providers/libvirt/domain.ts",
    code: imp("../../components/vm"),
    fires: "providers never import components",
  },
  {
    what: "a provider importing a workflow",
    file: "providers/core0/container.ts",
    code: imp("../../workflows/app-test"),
    fires: "providers never import components",
  },
  // product code never imports test/
  {
    what: "index.ts importing test/",
    file: "index.ts",
    code: imp("./test/harness"),
    fires: "never imports test/",
  },
  {
    what: "a stack importing a test fixture",
    file: "stacks/build.ts",
    code: imp("../test/unit/fixtures"),
    fires: "never imports test/",
  },
  {
    what: "a component importing the harness",
    file: "components/vm/ubuntu.ts",
    code: imp("../../test/harness"),
    fires: "never imports test/",
  },
  {
    what: "a workflow require()ing a testbed stand-in",
    file: "workflows/app-test/runner.ts",
    code: req("../../test/testbed/telegram"),
    fires: "never requires test/",
  },
  {
    what: "a provider importing test/",
    file: "providers/ipfs/pin.ts",
    code: imp("../../test/testbed/ipfs"),
    fires: "never imports test/",
  },
  // workflows
  {
    what: "a workflow importing a component",
    file: "workflows/app-build/resource.ts",
    code: imp("../../components/build-run"),
    fires: "workflows never import components or stacks",
  },
  {
    what: "a workflow importing a stack module",
    file: "workflows/templates-release/release.ts",
    code: imp("../../stacks/config"),
    fires: "workflows never import components or stacks",
  },
  {
    what: "a workflow importing plain clients and providers/shared",
    file: "workflows/app-test/runner.ts",
    code: imp("../../providers/core0/client") + imp("../../providers/shared/errors"),
  },
  // components
  {
    what: "a component importing a workflow's internals",
    file: "components/build-run/index.ts",
    code: imp("../../workflows/app-test/runner"),
    fires: "not its internals",
  },
  {
    what: "a component importing a workflow's entry point",
    file: "components/build-run/index.ts",
    code: imp("../../workflows/app-test") + imp("../../workflows"),
  },
  {
    what: "a component importing stacks",
    file: "components/grid/index.ts",
    code: imp("../../stacks/config"),
    fires: "components never import stacks",
  },
  // stacks
  {
    what: "a stack importing a component's file",
    file: "stacks/config.ts",
    code: imp("../components/vm/cloud-init"),
    fires: "through `components/<domain>`",
  },
  {
    what: "a stack importing a provider's file",
    file: "stacks/build.ts",
    code: imp("../providers/zerotier/network"),
    fires: "through `providers/<system>`",
  },
  {
    what: "a stack importing a workflow's internals",
    file: "stacks/build-runs.ts",
    code: imp("../workflows/app-tree/parse"),
    fires: "through `workflows`",
  },
  {
    what: "a stack composing entry points, shared validators and a Pulumi package",
    file: "stacks/build.ts",
    code:
      imp("../components/vm") +
      imp("../providers/zerotier") +
      imp("../providers/shared/validate") +
      imp("../workflows/app-tree") +
      imp("@pulumi/tls"),
  },
  // the cockpit
  {
    what: "the cockpit importing a stack",
    file: "cockpit/runs/demo.ts",
    code: imp("../../stacks/build"),
    fires: "the cockpit runs stacks through the Automation API",
  },
  {
    what: "the cockpit importing test code",
    file: "cockpit/runs/demo.ts",
    code: imp("../../test/harness"),
    fires: "never imports test/ code",
  },
  {
    what: "the cockpit using shared errors and the Automation API",
    file: "cockpit/runs/demo.ts",
    code: imp("../../providers/shared/errors") + imp("@pulumi/pulumi/automation"),
  },
  // outside the product the rules do not apply
  {
    what: "a test importing the harness and Pulumi",
    file: "test/unit/demo.ts",
    code: PULUMI + imp("../harness"),
  },
];

describe("eslint layer rules (eslint.config.mjs)", function () {
  this.timeout(120_000);
  for (const c of cases) {
    it(`${c.fires ? "reports" : "allows"}: ${c.what} (${c.file})`, async () => {
      const hits = await layerHits(c.code, c.file);
      if (c.fires) {
        assert.ok(
          hits.some((h) => h.includes(c.fires!)),
          `expected a layer message containing "${c.fires}", got ${JSON.stringify(hits)}`,
        );
      } else {
        assert.deepEqual(hits, []);
      }
    });
  }

  it("every rule the config header names has a case above that fires", () => {
    const fired = new Set(cases.filter((c) => c.fires).map((c) => c.fires));
    for (const fragment of [
      "plain client",
      "declares a Resource class",
      "never require() @pulumi",
      "module-level Set/Map",
      "only its own folder",
      "providers/shared imports no provider system",
      "providers never import components",
      "never imports test/",
      "workflows never import components or stacks",
      "not its internals",
      "components never import stacks",
      "through `components/<domain>`",
      "through `providers/<system>`",
    ]) {
      assert.ok(fired.has(fragment), fragment);
    }
  });
});
