/**
 * Failures inside `.apply(...)` callbacks reach the CLI as `pulumi.RunError` (message only, no
 * stack trace), through components/run-error.ts `applyOrRunError`, like the errors thrown while
 * the program composes the stack (stacks/index.ts `main`).
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { InputError } from "../../providers/shared/errors";
import { zerotierInterfaceName } from "../../providers/zerotier/node";
import { core0Cmdline } from "../../components/vm/cloud-init";
import { applyOrRunError } from "../../components/run-error";

/** The value or the rejection of an Output (what the language host sees as an unhandled rejection). */
async function settle<T>(o: pulumi.Output<T>): Promise<{ value?: T; error?: unknown }> {
  try {
    return { value: await (o as unknown as { promise(): Promise<T> }).promise() };
  } catch (error) {
    return { error };
  }
}

describe("errors inside apply callbacks become pulumi.RunError", function () {
  it("a project error keeps its message; a bug is marked as one; a value passes through", async () => {
    const own = await settle(
      pulumi.output("x").apply(
        applyOrRunError(() => {
          throw new InputError('Core0Vm "n"', "kernelFlags", "has a space", "use key=value");
        }),
      ),
    );
    assert.ok(pulumi.RunError.isInstance(own.error));
    assert.strictEqual(
      (own.error as Error).message,
      'Core0Vm "n": kernelFlags: has a space. Fix: use key=value',
    );

    const bug = await settle(
      pulumi.output("x").apply(applyOrRunError((s: string) => (s as never as string[])[5].length)),
    );
    assert.ok(pulumi.RunError.isInstance(bug.error));
    assert.match(
      (bug.error as Error).message,
      /^g8os program error \(TypeError\): .*\n {2}This is a bug in the program/,
    );
    assert.ok(!(bug.error as Error).message.includes("at "), "no stack trace without G8OS_DEBUG");

    assert.deepStrictEqual(await settle(pulumi.output(2).apply(applyOrRunError((n: number) => n + 1))), {
      value: 3,
    });
  });

  it("the callbacks that can throw are wrapped: core0's kernel command line, the ZeroTier interface name", async () => {
    // What each wrapped site computes fails on bad values, so without the wrapper it would be a plain Error.
    const flags = await settle(
      pulumi.output("8056c2e21c000001").apply(applyOrRunError((n: string) => core0Cmdline(n, ["a b"]))),
    );
    assert.ok(pulumi.RunError.isInstance(flags.error));
    assert.match((flags.error as Error).message, /kernelFlags: \["a b"\] are not single words/);
    assert.throws(
      () => zerotierInterfaceName("not-hex"),
      (e: Error) => !pulumi.RunError.isInstance(e),
    );

    const read = (f: string) => fs.readFileSync(path.join(__dirname, "..", "..", f), "utf8");
    assert.match(read("components/vm/core0.ts"), /\.apply\(applyOrRunError\(\(nwid\) => core0Cmdline\(/);
    assert.match(read("components/vm/ubuntu.ts"), /\.apply\(applyOrRunError\(zerotierInterfaceName\)\)/);
  });
});
