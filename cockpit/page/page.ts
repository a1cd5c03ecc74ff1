/**
 * The cockpit's web page, served by the same process as the REST API: `GET /` is a server-rendered
 * shell (no data: the data needs a login, which a browser navigation cannot carry), `GET
 * /page.js` one small script that logs in (OIDC via /auth/login, or a pasted API token), calls
 * the REST API with the bearer token, follows a run's log live and shows operators the approve
 * and cancel buttons, `GET /page.css` its style. No framework, no build step. The content
 * security policy allows only these files, so no inline script or style can run.
 */
import * as fs from "fs";
import * as path from "path";
import type * as http from "http";

/** A static answer. */
interface Asset {
  type: string;
  body: Buffer;
}

const HEADERS = {
  "Cache-Control": "no-store",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
};

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The shell: every section the script fills, and what to do without JavaScript. */
export function pageHtml(version: string, loginOffered: boolean): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>g8os cockpit</title>
<link rel="stylesheet" href="/page.css">
<script src="/page.js" defer></script>
</head>
<body data-login="${loginOffered ? "oidc" : "token"}">
<header><h1>g8os cockpit</h1><span id="who">not logged in</span> <button id="logout" hidden>log out</button>
<span class="version">v${escapeHtml(version)}</span></header>
<noscript><p>This page needs JavaScript; the same data is at <a href="/api/openapi.json">the REST API</a>.</p></noscript>
<section id="login" hidden>
<h2>Log in</h2>
${loginOffered ? '<p><a id="oidc" href="/auth/login">Log in with the identity provider</a></p>' : ""}
<form id="token-form"><label>API token or bearer JWT <input id="token-input" type="password" autocomplete="off"></label>
<button type="submit">use it</button></form>
<p id="login-error" class="error"></p>
</section>
<main id="main" hidden>
<section id="env"><h2>Environment</h2><table><thead><tr><th>stack</th><th>now</th><th>queued</th><th>last run</th></tr></thead><tbody id="stacks"></tbody></table></section>
<section id="nodes-section"><h2>Nodes</h2><table><thead><tr><th>node</th><th>kind</th><th>address</th><th>state</th><th>last seen</th><th>detail</th></tr></thead><tbody id="nodes"></tbody></table>
<p id="problems" class="error"></p></section>
<section id="apps-section"><h2>Apps and tests</h2><p id="build"></p><table><thead><tr><th>app</th><th>build</th><th>tests</th></tr></thead><tbody id="apps"></tbody></table></section>
<section id="runs-section"><h2>Runs</h2><table><thead><tr><th>run</th><th>kind</th><th>stack</th><th>state</th><th>changes</th><th>asked by</th><th></th></tr></thead><tbody id="runs"></tbody></table></section>
<section id="log-section" hidden><h2>Log of <span id="log-run"></span> <span id="log-state"></span></h2><pre id="log"></pre></section>
<p id="error" class="error"></p>
</main>
</body>
</html>
`;
}

let assets: Record<string, Asset> | undefined;

function load(): Record<string, Asset> {
  assets ??= {
    "/page.js": {
      type: "text/javascript; charset=utf-8",
      body: fs.readFileSync(path.join(__dirname, "script.js")),
    },
    "/page.css": {
      type: "text/css; charset=utf-8",
      body: fs.readFileSync(path.join(__dirname, "style.css")),
    },
  };
  return assets;
}

/** Serves the page's files; false when `pathname` is not one of them (the API routes then). */
export function servePage(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  pathname: string,
  o: { version: string; loginOffered: boolean },
): boolean {
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  let asset: Asset | undefined;
  if (pathname === "/" || pathname === "/index.html") {
    asset = { type: "text/html; charset=utf-8", body: Buffer.from(pageHtml(o.version, o.loginOffered)) };
  } else asset = load()[pathname];
  if (!asset) return false;
  res.writeHead(200, { ...HEADERS, "Content-Type": asset.type, "Content-Length": asset.body.length });
  res.end(req.method === "HEAD" ? undefined : asset.body);
  return true;
}
