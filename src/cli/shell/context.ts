// What every shell command is given: the master it talks to and the process's security.toml
// (tokens and certificates its HTTP and gRPC calls need on a secured cluster).
import type { SecurityConfig } from "../../common/security/config.js";

export interface ShellContext {
  /** Any master's HTTP host:port (-master). */
  master: string;
  /** Loaded once at start (-security or the search path); openSecurity() when none was found. */
  security: SecurityConfig;
}
