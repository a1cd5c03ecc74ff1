/**
 * A tiny bootable stand-in for core0's image: the guest image's kernel plus an initramfs whose
 * /init (a static C program) prints the kernel command line to the serial console and sleeps.
 * It proves the direct-boot path (kernel + initrd + cmdline such as `zerotier=<nwid>`) without
 * a Zero-OS image, which is not available here.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { IMAGE_CACHE_DIR, ensureGuestImage } from "./image";
import { runLocal } from "./local";

/** What /init prints before the command line: tests look for this marker in the serial log. */
export const CORE0_FIXTURE_MARKER = "G8OS-CORE0-FIXTURE cmdline:";

const INIT_C = `
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
int main(void) {
  char buf[4096];
  int out, in, n;
  mkdir("/proc", 0555);
  mkdir("/dev", 0755);
  mount("proc", "/proc", "proc", 0, 0);
  mount("devtmpfs", "/dev", "devtmpfs", 0, 0);
  out = open("/dev/console", O_WRONLY);
  if (out < 0) out = open("/dev/ttyS0", O_WRONLY);
  in = open("/proc/cmdline", O_RDONLY);
  n = in >= 0 ? read(in, buf, sizeof buf - 1) : 0;
  if (n < 0) n = 0;
  write(out, "\\n${CORE0_FIXTURE_MARKER} ", ${CORE0_FIXTURE_MARKER.length + 2});
  write(out, buf, n);
  for (;;) pause();
}
`;

export interface Core0Fixture {
  kernel: string;
  initrd: string;
}

/** One entry of a "newc" cpio archive (the initramfs format). */
function cpioEntry(name: string, mode: number, data: Buffer, ino: number): Buffer {
  const hex = (n: number) => n.toString(16).padStart(8, "0");
  const nameBuf = Buffer.from(name + "\0");
  const fields = [ino, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBuf.length, 0];
  const header = Buffer.from("070701" + fields.map(hex).join(""));
  const pad = (len: number) => Buffer.alloc((4 - (len % 4)) % 4);
  return Buffer.concat([header, nameBuf, pad(header.length + nameBuf.length), data, pad(data.length)]);
}

export function cpioArchive(entries: { name: string; mode: number; data?: Buffer }[]): Buffer {
  const parts = entries.map((e, i) => cpioEntry(e.name, e.mode, e.data ?? Buffer.alloc(0), i + 1));
  parts.push(cpioEntry("TRAILER!!!", 0, Buffer.alloc(0), 0));
  return Buffer.concat(parts);
}

/** Builds (once per source hash) the initramfs; the kernel is the guest image's. */
export async function ensureCore0Fixture(): Promise<Core0Fixture> {
  const image = await ensureGuestImage();
  const hash = crypto.createHash("sha256").update(INIT_C).digest("hex").slice(0, 12);
  const initrd = path.join(IMAGE_CACHE_DIR, `core0-fixture-${hash}.cpio`);
  if (!fs.existsSync(initrd)) {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "g8t-core0-"));
    try {
      fs.writeFileSync(path.join(work, "init.c"), INIT_C);
      await runLocal(["gcc", "-static", "-Os", "-o", path.join(work, "init"), path.join(work, "init.c")]);
      const archive = cpioArchive([
        { name: "dev", mode: 0o040755 },
        { name: "proc", mode: 0o040555 },
        { name: "init", mode: 0o100755, data: fs.readFileSync(path.join(work, "init")) },
      ]);
      fs.writeFileSync(`${initrd}.tmp`, archive);
      fs.renameSync(`${initrd}.tmp`, initrd);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }
  return { kernel: image.kernel, initrd };
}
