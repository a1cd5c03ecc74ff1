/**
 * Reading a request's JSON body with a size limit: a body over `limit` bytes is refused with 413
 * as soon as it passes the limit (the rest is not read into memory).
 */
import type * as http from "http";
import { RequestError } from "../errors";

/** Reads and parses the JSON body of `req`; `undefined` when there is none. */
export function readJsonBody(req: http.IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > limit) {
      req.resume();
      return reject(tooBig(limit));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        reject(tooBig(limit));
        return;
      }
      chunks.push(c);
    });
    req.on("error", (err) => {
      if (!failed) reject(err);
      failed = true;
    });
    req.on("end", () => {
      if (failed) return;
      const text = Buffer.concat(chunks).toString("utf8");
      if (!text.trim()) return resolve(undefined);
      const type = String(req.headers["content-type"] ?? "");
      if (!/^application\/json\b/i.test(type)) {
        return reject(
          new RequestError(
            415,
            "request",
            "Content-Type",
            `is "${type || "missing"}", not application/json`,
            "send the body as JSON with Content-Type: application/json",
          ),
        );
      }
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(
          new RequestError(
            400,
            "request",
            "body",
            `is not valid JSON (${(err as Error).message})`,
            "send a JSON object",
          ),
        );
      }
    });
  });
}

function tooBig(limit: number): RequestError {
  return new RequestError(
    413,
    "request",
    "body",
    `is larger than ${limit} bytes`,
    `send at most ${limit} bytes (a run request is a few fields)`,
  );
}
