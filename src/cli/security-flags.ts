// -security, -whiteList and -cors.allowedOrigins, and the one load of security.toml a process
// makes at start. Servers and clients get the SecurityConfig; none reads the file itself.
import type { SecurityConfig } from "../common/security/config.js";
import { checkWhiteList, splitCommaList, WhiteListEntryError } from "../common/security/guard.js";
import { loadSecurity } from "../common/security/load.js";
import { installHttpsClient } from "../common/security/https.js";
import { str, type FlagSpec, type FlagValues } from "./flags.js";

export const securityFlag: FlagSpec = {
  name: "security",
  type: "string",
  default: "",
  usage:
    "security.toml to read (default: the first of ./security.toml, $HOME/.seaweedfs/, /usr/local/etc/seaweedfs/, " +
    "/etc/seaweedfs/; none found = an open cluster). `weed-ts scaffold -config=security` prints a template",
};

export const whiteListFlag: FlagSpec = {
  name: "whiteList",
  type: "string",
  default: "",
  usage:
    "comma-separated IPs and CIDRs (v4 or v6) allowed to write, delete and administer, added to [guard] white_list; " +
    "must include the cluster's own hosts (replicated writes come from volume servers); empty = everyone",
  check: (v) => {
    try {
      checkWhiteList(splitCommaList(String(v)));
      return undefined;
    } catch (err) {
      if (err instanceof WhiteListEntryError) return err.message;
      throw err;
    }
  },
};

export const corsFlag: FlagSpec = {
  name: "cors.allowedOrigins",
  type: "string",
  default: "",
  usage:
    "comma-separated origins (e.g. https://app.example.com) a browser may POST/PUT/DELETE from, or * for any; " +
    "cross-origin GET/HEAD are always allowed; empty = no cross-origin writes",
};

/** Where warnings about the file go: a server's logger, or a client's stderr. */
export type WarnSink = (warning: string) => void;

/**
 * Loads security.toml (-security, else the search path), adds -whiteList and
 * -cors.allowedOrigins when the command has them, and installs [https.client]. Throws
 * SecurityConfigError (one line) on a bad file.
 */
export function securityFromFlags(v: FlagValues, warn: WarnSink): SecurityConfig {
  const { config, warnings } = loadSecurity({ explicitPath: str(v, "security") });
  for (const w of warnings) warn(w);
  // Every HTTP call this process makes (shell, benchmark, upload, servers) is https:// with it.
  installHttpsClient(config.httpsClient);
  const extraWhite = "whiteList" in v ? splitCommaList(str(v, "whiteList")) : [];
  const cors = "cors.allowedOrigins" in v ? splitCommaList(str(v, "cors.allowedOrigins")) : [];
  return {
    ...config,
    whiteList: [...config.whiteList, ...extraWhite],
    ...(cors.length === 0 ? {} : { corsAllowedOrigins: cors }),
  };
}
