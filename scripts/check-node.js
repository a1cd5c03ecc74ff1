// Fails fast, with the fix, when npm scripts run on a Node older than @pulumi/pulumi needs.
// `npm ci` installs Node 22 as a devDependency; npm puts node_modules/.bin first on PATH.
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  console.error(
    `g8os needs Node >= 22 (found ${process.version}). Run \`npm ci\` first: it installs Node 22 ` +
      "into node_modules/.bin, which `npm run` and `npm test` put first on PATH.",
  );
  process.exit(1);
}
