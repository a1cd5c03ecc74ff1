import * as assert from "assert";
import { selectStack, StackSelectionError } from "../../stacks/select";

describe("stack selection", () => {
  it("maps build and grid stacks with a number suffix", () => {
    assert.deepStrictEqual(selectStack("build-3"), { kind: "build", envNumber: 3 });
    assert.deepStrictEqual(selectStack("grid-12"), { kind: "grid", envNumber: 12 });
    assert.deepStrictEqual(selectStack("acme/g8os/build-7"), { kind: "build", envNumber: 7 });
  });

  it("takes the number from g8os:envNumber when the name has none", () => {
    assert.deepStrictEqual(selectStack("build", "4"), { kind: "build", envNumber: 4 });
  });

  it("rejects an unknown stack name, naming the accepted forms", () => {
    assert.throws(
      () => selectStack("prod"),
      (e: Error) => {
        assert.ok(e instanceof StackSelectionError);
        assert.match(e.message, /build, build-<N>, grid, grid-<N>/);
        return true;
      },
    );
  });

  it("rejects a missing, malformed or conflicting environment number with the fix", () => {
    assert.throws(() => selectStack("build"), /pulumi config set g8os:envNumber/);
    assert.throws(() => selectStack("grid", "two"), /not a whole number/);
    assert.throws(() => selectStack("build-2", "3"), /names environment 2 but g8os:envNumber is 3/);
  });
});
