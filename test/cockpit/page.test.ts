/**
 * The web page in a real headless Chromium (test/cockpit/chromium.ts, CDP over WebSocket): the
 * login fragment, the environment and runs tables, the live log over SSE, approve and cancel for
 * operators only, no secret on the page. Screenshots go to `$G8OS_TEST_OUTPUT/cockpit/` (default
 * `.test-output/cockpit/` in the repository). Skips, saying why, when Chromium is not installed.
 * Fake engine; no testbed.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { findChromium, launchChromium, type Browser } from "./chromium";
import { FakeEngine } from "./fake-engine";
import { startIssuer, type Issuer } from "./issuer";
import {
  call,
  iyoClaims,
  makeDirs,
  PASSPHRASE,
  start,
  testConfig,
  type Dirs,
  type TestCockpit,
} from "./setup";

const OUT = path.join(
  process.env.G8OS_TEST_OUTPUT ?? path.join(__dirname, "..", "..", ".test-output"),
  "cockpit",
);

describe("cockpit web page (headless Chromium)", function () {
  this.timeout(120_000);
  const chromium = findChromium();
  let issuer: Issuer;
  let dirs: Dirs;
  let c: TestCockpit;
  let engine: FakeEngine;
  let browser: Browser;
  let op: string;
  let viewer: string;

  before(async function () {
    if (!chromium) {
      console.log("    skipped: no chromium (install Debian's chromium, or set CHROMIUM=<binary>)");
      this.skip();
    }
    issuer = await startIssuer();
    op = issuer.sign(iyoClaims("otto", ["build.ops"]));
    viewer = issuer.sign(iyoClaims("vera", ["build"]));
    dirs = makeDirs();
    engine = new FakeEngine();
    c = await start(testConfig(dirs, issuer), engine);
    browser = await launchChromium(chromium!);
  });
  after(async () => {
    await browser?.close();
    await c?.close();
    await issuer?.stop();
    if (dirs) fs.rmSync(dirs.root, { recursive: true, force: true });
  });

  const text = () => browser.evaluate<string>("document.body.innerText");
  const rowState = (id: string) =>
    `document.querySelector('#runs tr[data-id="${id}"] td:nth-child(4)')?.textContent`;

  it("without a login: the login form, no data, and the page's own files only", async () => {
    await browser.navigate(`${c.url}/`);
    await browser.waitFor("!document.getElementById('login').hidden", "the login form");
    assert.strictEqual(await browser.evaluate("document.getElementById('main').hidden"), true);
    const page = await call(c.url, "GET", "/");
    assert.match(String(page.headers["content-security-policy"]), /script-src 'self'/);
    assert.match(page.text, /<script src="\/page.js" defer><\/script>/);
    assert.doesNotMatch(page.text, /<script>/, "an inline script");
    assert.ok((await browser.screenshot(path.join(OUT, "page-login.png"))) > 2000);
  });

  it("an operator approves an up from the page and follows its log live", async () => {
    const created = await call(c.url, "POST", "/api/runs", {
      token: op,
      body: { stack: "build", kind: "up", approval: true },
    });
    const id = created.json.run.id as string;
    const preview = await engine.started(1);
    preview.finish({ update: 1 });

    // The login callback's way in: the token in the fragment, dropped from the address bar
    // (a new document, as after the provider's redirect).
    await browser.navigate("about:blank");
    await browser.navigate(`${c.url}/#token=${encodeURIComponent(op)}`);
    await browser.waitFor(`${rowState(id)} === "awaiting-approval"`, "the waiting run");
    assert.strictEqual(await browser.evaluate("location.hash"), "");
    assert.match(
      await browser.evaluate<string>("document.getElementById('who').textContent"),
      /otto \(operator\)/,
    );
    assert.match(
      await browser.evaluate<string>(`document.querySelector('#stacks tr[data-stack="build"]').textContent`),
      /up awaiting-approval/,
    );
    await browser.screenshot(path.join(OUT, "page-awaiting-approval.png"));

    await browser.evaluate(`document.querySelector('button[data-action="log"][data-id="${id}"]').click()`);
    await browser.waitFor(
      "document.getElementById('log').textContent.includes('waiting for an operator')",
      "the log so far",
    );
    await browser.evaluate(
      `document.querySelector('button[data-action="approve"][data-id="${id}"]').click()`,
    );
    const up = await engine.started(2);
    assert.strictEqual(up.op, "up");
    assert.strictEqual(c.manager.get(id).approvedBy, "otto");
    up.opts.onOutput(`creating vm1 with passphrase ${PASSPHRASE}\n`);
    await browser.waitFor(
      "document.getElementById('log').textContent.includes('creating vm1 with passphrase [secret]')",
      "the live log line",
    );
    await browser.screenshot(path.join(OUT, "page-live-log.png"));
    up.finish({ update: 1 });
    await browser.waitFor(
      "document.getElementById('log-state').textContent === '(succeeded)'",
      "the end event",
    );
    await browser.waitFor(`${rowState(id)} === "succeeded"`, "the run row refreshed");
    assert.ok(!(await text()).includes(PASSPHRASE), "the passphrase is on the page");
    assert.deepStrictEqual(browser.problems, []);
  });

  it("an operator cancels a queued run; a viewer sees no buttons but log", async () => {
    const busy = await call(c.url, "POST", "/api/runs", {
      token: op,
      body: { stack: "dev", kind: "preview" },
    });
    const queued = await call(c.url, "POST", "/api/runs", {
      token: op,
      body: { stack: "dev", kind: "refresh" },
    });
    const qid = queued.json.run.id as string;
    await browser.navigate(`${c.url}/`);
    await browser.waitFor(`${rowState(qid)} === "queued"`, "the queued run");
    await browser.evaluate(
      `document.querySelector('button[data-action="cancel"][data-id="${qid}"]').click()`,
    );
    await browser.waitFor(`${rowState(qid)} === "cancelled"`, "the cancelled run");
    assert.strictEqual(c.manager.get(qid).cancelledBy, "otto");

    await browser.evaluate("document.getElementById('logout').click()");
    await browser.waitFor("!document.getElementById('login').hidden", "the login form again");
    // Logged out: nothing of the operator's view stays in the document.
    assert.strictEqual(await browser.evaluate("document.querySelectorAll('#runs tr, #stacks tr').length"), 0);
    await browser.evaluate(
      `document.getElementById('token-input').value = ${JSON.stringify(viewer)};` +
        "document.getElementById('token-form').requestSubmit()",
    );
    const bid = busy.json.run.id as string;
    await browser.waitFor(`${rowState(bid)} === "running"`, "the viewer's run table");
    assert.match(
      await browser.evaluate<string>("document.getElementById('who').textContent"),
      /vera \(viewer\)/,
    );
    assert.strictEqual(
      await browser.evaluate(
        "document.querySelectorAll('button[data-action=approve], button[data-action=cancel]').length",
      ),
      0,
    );
    assert.ok(
      (await browser.evaluate<number>("document.querySelectorAll('button[data-action=log]').length")) >= 3,
    );
    await browser.screenshot(path.join(OUT, "page-viewer.png"));
    (await engine.started(3)).finish();
    await c.manager.idle();
    assert.deepStrictEqual(browser.problems, []);
  });
});
