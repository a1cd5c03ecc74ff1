/**
 * providers/plist is captured by provider methods (AppBuild, Core0Container) and so travels in the
 * state as closure-serialized text. Its parser must work the same after that trip: the set of known
 * file types is a module-level array (a module-level Set would lose its entries and refuse every
 * line). This serializes a function using the module with Pulumi's own serializer, loads the text
 * the way the dynamic-provider host does, and parses and writes a plist with it.
 */
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { parsePlist, serializePlist } from "../../providers/plist";

interface PlistApi {
  parse: typeof parsePlist;
  serialize: typeof serializePlist;
}

const LINES = [
  "/etc||0|root|root|755|4|1700000000|1700000000|",
  "/etc/hostname|QmHash1|6|root|root|644|2|1700000000|1700000000|",
  "/bin/sh||0|root|root|777|1|1700000000|1700000000|/bin/dash",
];

async function serialized(): Promise<PlistApi> {
  const sf = await pulumi.runtime.serializeFunction(() => ({ parse: parsePlist, serialize: serializePlist }));
  const requireFromString = require("require-from-string") as (code: string) => { handler: () => PlistApi };
  return requireFromString(sf.text).handler();
}

describe("plist after closure serialization (as dynamic providers carry it)", function () {
  this.timeout(60_000);

  it("parses every file type and writes the same text as the module itself", async () => {
    const api = await serialized();
    const text = LINES.join("\n") + "\n";
    const entries = api.parse(text, "t");
    assert.deepEqual(
      entries.map((e) => [e.path, e.type]),
      [
        ["/etc", 4],
        ["/etc/hostname", 2],
        ["/bin/sh", 1],
      ],
    );
    assert.equal(api.serialize(entries), serializePlist(parsePlist(text, "t")));
  });

  it("still refuses an unknown file type, naming the line", async () => {
    const api = await serialized();
    assert.throws(
      () => api.parse("/x|h|1|root|root|644|3|1|1|\n", "t"),
      (err: Error) => /filetype 3 is not 1 \(symlink\), 2 \(file\) or 4 \(directory\)/.test(err.message),
    );
  });
});
