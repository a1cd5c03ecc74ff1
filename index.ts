/**
 * Pulumi program for the g8os project (see README.md). `pulumi up -s build-1` runs the build
 * environment, `pulumi up -s grid-1` the grid; stacks/select.ts has the naming rules.
 */
const nodeMajor = Number(process.versions.node.split(".")[0]);
if (nodeMajor < 22) {
  throw new Error(
    `g8os needs Node >= 22 (this is ${process.version}); @pulumi/pulumi requires it. ` +
      "Install Node 22 (e.g. `nvm install 22`) and run `npm ci` again.",
  );
}

import { main } from "./stacks";

export = main();
