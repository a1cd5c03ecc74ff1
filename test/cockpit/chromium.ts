/**
 * Test code: a headless Chromium (Debian's `chromium`) driven through the Chrome DevTools
 * Protocol with Node 22's global WebSocket, no npm dependency. Launch with
 * `--remote-debugging-port=0`: Chromium prints `DevTools listening on ws://...` on stderr, and
 * `GET /json/list` on that port lists the page target's WebSocket (CDP docs, "HTTP endpoints").
 * Methods used: Page.enable/navigate/captureScreenshot, Runtime.evaluate (protocol r1.3).
 */
import { spawn, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** The Chromium binary, or undefined when it is not installed (the page test then skips). */
export function findChromium(): string | undefined {
  const candidates = [process.env.CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"];
  return candidates.find((c): c is string => !!c && fs.existsSync(c));
}

export interface Browser {
  /** Evaluates `expression` in the page (promises awaited) and returns its JSON value. */
  evaluate<T = unknown>(expression: string): Promise<T>;
  /** Navigates the page to `url`. */
  navigate(url: string): Promise<void>;
  /** Polls `expression` until it is truthy; returns its value. */
  waitFor<T = unknown>(expression: string, what: string, ms?: number): Promise<T>;
  /** Writes a PNG of the page to `file`; returns its size in bytes. */
  screenshot(file: string): Promise<number>;
  /** Console messages and uncaught exceptions of the page. */
  problems: string[];
  close(): Promise<void>;
}

export async function launchChromium(binary: string): Promise<Browser> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "g8os-chromium-"));
  const proc: ChildProcess = spawn(
    binary,
    [
      "--headless=new",
      "--no-sandbox", // the tests may run as root
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--no-first-run",
      "--no-default-browser-check",
      "--disable-extensions",
      "--disable-background-networking",
      `--user-data-dir=${profile}`,
      "--remote-debugging-address=127.0.0.1",
      "--remote-debugging-port=0",
      "--window-size=1280,1000",
      "about:blank",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const cleanup = () => {
    proc.kill("SIGKILL");
    // Chromium's helper processes may still write to the profile for a moment after it exits.
    fs.rmSync(profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
  };
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      let err = "";
      const t = setTimeout(() => reject(new Error(`chromium did not start: ${err.slice(-2000)}`)), 60_000);
      proc.stderr!.setEncoding("utf8");
      proc.stderr!.on("data", (c: string) => {
        err += c;
        const m = /DevTools listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(err);
        if (m) {
          clearTimeout(t);
          resolve(Number(m[1]));
        }
      });
      proc.once("exit", (code) => {
        clearTimeout(t);
        reject(new Error(`chromium exited (${code}): ${err.slice(-2000)}`));
      });
    });
  } catch (e) {
    cleanup();
    throw e;
  }
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{
    type: string;
    webSocketDebuggerUrl: string;
  }>;
  const page = targets.find((t) => t.type === "page");
  if (!page) {
    cleanup();
    throw new Error("chromium has no page target");
  }
  const ws = new WebSocket(page.webSocketDebuggerUrl);
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("error", () => reject(new Error("CDP WebSocket failed")), { once: true });
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const listeners = new Map<string, Array<(params: Record<string, unknown>) => void>>();
  const problems: string[] = [];
  ws.addEventListener("message", (ev: MessageEvent) => {
    const msg = JSON.parse(String(ev.data)) as {
      id?: number;
      result?: unknown;
      error?: { message: string };
      method?: string;
      params?: Record<string, unknown>;
    };
    if (msg.id !== undefined) {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(msg.error.message));
      else p?.resolve(msg.result);
    } else if (msg.method) {
      for (const l of listeners.get(msg.method) ?? []) l(msg.params ?? {});
    }
  });
  const send = <T = Record<string, unknown>>(method: string, params: Record<string, unknown> = {}) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
  const on = (method: string, l: (params: Record<string, unknown>) => void) =>
    listeners.set(method, [...(listeners.get(method) ?? []), l]);
  on("Runtime.exceptionThrown", (p) => problems.push(`exception: ${JSON.stringify(p.exceptionDetails)}`));
  on("Runtime.consoleAPICalled", (p) => {
    if (p.type === "error" || p.type === "warning")
      problems.push(`console.${p.type}: ${JSON.stringify(p.args)}`);
  });
  await send("Page.enable");
  await send("Runtime.enable");

  const evaluate = async <T>(expression: string): Promise<T> => {
    const r = await send<{ result: { value?: T }; exceptionDetails?: { text: string } }>("Runtime.evaluate", {
      expression,
      awaitPromise: true,
      returnByValue: true,
    });
    if (r.exceptionDetails) throw new Error(`page: ${r.exceptionDetails.text} in ${expression}`);
    return r.result.value as T;
  };
  return {
    problems,
    evaluate,
    navigate: async (url) => {
      const loaded = new Promise<void>((resolve) => on("Page.loadEventFired", () => resolve()));
      const r = await send<{ loaderId?: string; errorText?: string }>("Page.navigate", { url });
      if (r.errorText) throw new Error(`navigate ${url}: ${r.errorText}`);
      // Only a new document fires a load event (a fragment change of the same page gives no loaderId).
      if (r.loaderId) await loaded;
    },
    waitFor: async <T>(expression: string, what: string, ms = 15_000): Promise<T> => {
      const deadline = Date.now() + ms;
      for (;;) {
        const v = await evaluate<T>(expression).catch(() => undefined);
        if (v) return v;
        if (Date.now() > deadline) throw new Error(`timed out waiting in the page for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    screenshot: async (file) => {
      const r = await send<{ data: string }>("Page.captureScreenshot", {
        format: "png",
        captureBeyondViewport: true,
      });
      const png = Buffer.from(r.data, "base64");
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, png);
      return png.length;
    },
    close: async () => {
      ws.close();
      const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
      proc.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      cleanup();
    },
  };
}
