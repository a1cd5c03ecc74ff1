import * as path from "path";

/** `node -r <this>` runs a .ts file with the tests' cached transpile hook (test/ts-register.js). */
export const TS_REGISTER = path.join(__dirname, "ts-register.js");
