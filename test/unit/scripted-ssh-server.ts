/**
 * An SSH server on 127.0.0.1 for unit tests of providers that run shell commands: it accepts only
 * the given client key and answers each exec request with `answer(command, stdin)`. A command for
 * which `readsStdin` says yes is answered once the client has sent its stdin and EOF; every other
 * command at once. Records each command it received, in order.
 */
import { sshFingerprint } from "../../providers/shared/ssh";

export interface ScriptedAnswer {
  out?: string;
  err?: string;
  code: number;
  /** Close the connection instead of answering (a session lost under the command). */
  drop?: boolean;
}

export interface ScriptedSshServer {
  port: number;
  /** The host key's `SHA256:...` fingerprint, to pin. */
  fingerprint: string;
  commands: string[];
  close(): Promise<void>;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- ssh2's server callbacks are untyped here */
export async function scriptedSshServer(
  clientPub: string,
  answer: (command: string, stdin: string) => ScriptedAnswer,
  readsStdin: (command: string) => boolean = () => false,
): Promise<ScriptedSshServer> {
  const { Server, utils } = require("ssh2");
  const hostKey = utils.generateKeyPairSync("ed25519");
  const hostBlob = utils.parseKey(hostKey.public).getPublicSSH() as Buffer;
  const allowed = utils.parseKey(clientPub).getPublicSSH() as Buffer;
  const commands: string[] = [];
  const server = new Server({ hostKeys: [hostKey.private] }, (client: any) => {
    client.on("authentication", (ctx: any) => {
      if (ctx.method === "publickey" && Buffer.compare(ctx.key.data, allowed) === 0) ctx.accept();
      else ctx.reject(["publickey"]);
    });
    client.on("ready", () =>
      client.on("session", (accept: any) =>
        accept().on("exec", (acc: any, _rej: any, info: any) => {
          const ch = acc();
          commands.push(info.command);
          let stdin = "";
          ch.on("data", (d: Buffer) => (stdin += d.toString("utf8")));
          const finish = () => {
            const r = answer(info.command, stdin);
            if (r.drop) return client.end();
            if (r.out) ch.write(r.out);
            if (r.err) ch.stderr.write(r.err);
            ch.exit(r.code);
            ch.end();
          };
          if (readsStdin(info.command)) ch.on("end", finish);
          else finish();
        }),
      ),
    );
    client.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as { port: number }).port,
    fingerprint: sshFingerprint(hostBlob),
    commands,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
/* eslint-enable @typescript-eslint/no-explicit-any */
