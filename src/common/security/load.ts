// Finds and reads security.toml as SeaweedFS does (a -security file, else the first of ./,
// $HOME/.seaweedfs/, /usr/local/etc/seaweedfs/, /etc/seaweedfs/), checks every value, and maps it
// to SecurityConfig. SeaweedFS's sections that weed-ts does not implement (filer, s3, admin UI,
// ...) are accepted silently so an operator's existing file works; a key neither knows is
// returned as a warning; a bad value throws SecurityConfigError, one line naming key and file.
import { accessSync, constants, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { ErrorCode, WeedError } from "../errors.js";
import type { CertKeyFiles, GrpcServerTls, HttpsServerConfig, JwtSigning, SecurityConfig } from "./config.js";
import { checkWhiteList, splitCommaList, WhiteListEntryError } from "./guard.js";

/** A security.toml that cannot be used; the message is the one line the process exits with. */
export class SecurityConfigError extends WeedError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.BAD_PARAM, message, options);
    this.name = "SecurityConfigError";
  }
}

/** SeaweedFS's token lifetimes when a section names none: short for writes, longer for reads. */
const writeTokenSecondsDefault = 10;
const readTokenSecondsDefault = 60;

export interface SecuritySearch {
  cwd: string;
  /** $HOME; undefined skips that place. */
  home: string | undefined;
}

/** Where SeaweedFS (viper) looks, first match wins. */
export function securitySearchPaths(s: SecuritySearch): string[] {
  return [
    join(s.cwd, "security.toml"),
    ...(s.home === undefined || s.home === "" ? [] : [join(s.home, ".seaweedfs", "security.toml")]),
    "/usr/local/etc/seaweedfs/security.toml",
    "/etc/seaweedfs/security.toml",
  ];
}

export interface LoadedSecurity {
  config: SecurityConfig;
  /** One line per key neither SeaweedFS nor weed-ts knows (`section.key in FILE`). */
  warnings: string[];
}

export interface LoadSecurityOptions {
  /** -security=PATH: must exist. */
  explicitPath?: string;
  /** Defaults: process.cwd() and $HOME. */
  search?: SecuritySearch;
  /** Replaces securitySearchPaths(search) (tests). */
  searchPaths?: readonly string[];
  /** WEED_* overrides (envName); default process.env. */
  env?: NodeJS.ProcessEnv;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The file to read, or undefined (an open cluster). Throws when -security names a missing file. */
export function findSecurityFile(o: LoadSecurityOptions = {}): string | undefined {
  if (o.explicitPath !== undefined && o.explicitPath !== "") {
    if (!isFile(o.explicitPath))
      throw new SecurityConfigError(`security file ${o.explicitPath} (from -security) does not exist or is not a file`);
    return o.explicitPath;
  }
  const paths = o.searchPaths ?? securitySearchPaths(o.search ?? { cwd: process.cwd(), home: process.env.HOME });
  return paths.find(isFile);
}

/**
 * HTTPS is all or nothing: a process's calls are https:// or http:// to every peer alike
 * (https.ts), so a cluster whose masters serve HTTPS and whose volume servers do not (or whose
 * clients dial plain HTTP) would fail at its first forwarded request. Refused at start instead,
 * naming what to add.
 */
export function checkHttpsComplete(loaded: LoadedSecurity): LoadedSecurity {
  const c = loaded.config;
  const where = c.source ?? "security.toml";
  const refuse = (what: string): never => {
    throw new SecurityConfigError(`${where}: ${what} (HTTPS must cover every HTTP port of the cluster)`);
  };
  const servers = (c.httpsMaster === undefined ? 0 : 1) + (c.httpsVolume === undefined ? 0 : 1);
  const client = c.httpsClient?.enabled === true;
  if (servers === 0 && client) refuse("[https.client] enabled is set but neither [https.master] nor [https.volume]");
  if (servers > 0 && !client) refuse("[https.master] or [https.volume] is set but [https.client] enabled is not");
  if (servers === 1 && c.httpsMaster === undefined) refuse("[https.volume] is set but [https.master] is not");
  if (servers === 1 && c.httpsVolume === undefined) refuse("[https.master] is set but [https.volume] is not");
  return loaded;
}

/** Finds, reads and checks security.toml; no file found = an open config. */
export function loadSecurity(o: LoadSecurityOptions = {}): LoadedSecurity {
  return checkHttpsComplete(loadSecurityParts(o));
}

function loadSecurityParts(o: LoadSecurityOptions): LoadedSecurity {
  const file = findSecurityFile(o);
  const env = o.env ?? process.env;
  if (file === undefined) {
    // SeaweedFS reads WEED_* without any file too (secrets injected by the environment only).
    if (envOverrides(env).size === 0) return { config: { whiteList: [] }, warnings: [] };
    return parseSecurityToml("", "environment (WEED_*)", env);
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new SecurityConfigError(`security file ${file}: cannot read: ${(err as Error).message}`, { cause: err });
  }
  return parseSecurityToml(text, file, env);
}

/**
 * SeaweedFS's environment names (viper's AutomaticEnv with prefix WEED): the key with dots as
 * underscores, upper case: `jwt.signing.read` `key` is WEED_JWT_SIGNING_READ_KEY. A set one wins
 * over the file.
 */
export function envName(section: string, key: string): string {
  return `WEED_${section}_${key}`.toUpperCase().replace(/\./g, "_");
}

/** The WEED_* variables set for keys weed-ts reads: "section.key" -> its value, typed by kind. */
function envOverrides(env: NodeJS.ProcessEnv): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [section, keys] of Object.entries(OURS))
    for (const [key, kind] of Object.entries(keys)) {
      const raw = env[envName(section, key)];
      if (raw === undefined || kind === "ignored") continue;
      out.set(`${section}.${key}`, fromEnvText(raw, kind));
    }
  return out;
}

/** As viper casts a variable: numbers and booleans from text; anything else stays text (and is refused). */
function fromEnvText(raw: string, kind: KeyKind): unknown {
  const t = raw.trim().toLowerCase();
  if (kind === "seconds" && /^-?\d+$/.test(t)) return Number(t);
  if (kind === "bool" && ["true", "1", "t"].includes(t)) return true;
  if (kind === "bool" && ["false", "0", "f"].includes(t)) return false;
  return raw;
}

/** Puts the overrides into the parsed file's tables (sections made as needed). */
function applyEnv(root: Table, overrides: ReadonlyMap<string, unknown>): void {
  for (const [full, value] of overrides) {
    const parts = full.split(".");
    const key = parts.pop()!;
    let t = root;
    for (const part of parts) {
      const next = t[part];
      if (!isTable(next)) t[part] = {};
      t = t[part] as Table;
    }
    t[key] = value;
  }
}

type Table = Record<string, unknown>;
type KeyKind = "string" | "list" | "seconds" | "bool" | "ignored";

/** Sections weed-ts reads, and their keys. */
const OURS: Record<string, Record<string, KeyKind>> = {
  "jwt.signing": { key: "string", expires_after_seconds: "seconds" },
  "jwt.signing.read": { key: "string", expires_after_seconds: "seconds" },
  "jwt.admin": { key: "string" },
  // allowed_wildcard_domain: SeaweedFS's; weed-ts checks allowed_commonNames only.
  grpc: { ca: "string", allowed_wildcard_domain: "ignored" },
  "grpc.master": grpcServerKeys(),
  "grpc.volume": grpcServerKeys(),
  "grpc.client": { cert: "string", key: "string" },
  "https.client": { enabled: "bool", cert: "string", key: "string", ca: "string", insecure_skip_verify: "bool" },
  "https.master": { cert: "string", key: "string", ca: "string" },
  "https.volume": { cert: "string", key: "string", ca: "string" },
  guard: { white_list: "list", admin_commonNames: "list" },
};

function grpcServerKeys(): Record<string, KeyKind> {
  // client_cert/client_key: read, ignored: a server dials with its role's own certificate (as SeaweedFS's
  // LoadClientTLS), the shell with [grpc.client]'s (src/grpc/tls.ts).
  return { cert: "string", key: "string", allowed_commonNames: "list", client_cert: "ignored", client_key: "ignored" };
}

const GRPC_OTHER = ["filer", "s3", "msg_broker", "msg_agent", "admin", "worker", "mq"];
const GRPC_OTHER_KEYS = ["cert", "key", "client_cert", "client_key", "allowed_commonNames"];

/** SeaweedFS's sections for parts weed-ts does not have (filer, S3, admin UI, ...): read, unused. */
const SEAWEEDFS_ONLY: Record<string, readonly string[]> = {
  "cors.allowed_origins": ["values"],
  access: ["ui"],
  "filer.expose_directory_metadata": ["enabled"],
  "jwt.filer_signing": ["key", "expires_after_seconds"],
  "jwt.filer_signing.read": ["key", "expires_after_seconds"],
  ...Object.fromEntries(GRPC_OTHER.map((c) => [`grpc.${c}`, GRPC_OTHER_KEYS])),
  "https.filer": ["cert", "key", "ca", "disable_tls_verify_client_cert"],
  "https.admin": ["cert", "key", "ca"],
  admin: ["user", "password"],
  "admin.readonly": ["user", "password"],
  "s3.sse": ["kek", "key"],
};

function knownKeys(section: string): ReadonlySet<string> | undefined {
  const ours = OURS[section];
  if (ours !== undefined) return new Set(Object.keys(ours));
  const theirs = SEAWEEDFS_ONLY[section];
  return theirs === undefined ? undefined : new Set(theirs);
}

/** Sections that only hold others (`[jwt]`, `[https]`), or are also a section (`[grpc]`). */
function isKnownContainer(path: string): boolean {
  const all = [...Object.keys(OURS), ...Object.keys(SEAWEEDFS_ONLY)];
  return all.some((s) => s === path || s.startsWith(`${path}.`));
}

function isTable(v: unknown): v is Table {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** Names every key neither SeaweedFS nor weed-ts knows. */
function unknownKeys(table: Table, path: string, file: string, out: string[]): void {
  const keys = knownKeys(path);
  for (const [k, v] of Object.entries(table)) {
    const full = path === "" ? k : `${path}.${k}`;
    if (isTable(v) && isKnownContainer(full)) unknownKeys(v, full, file, out);
    else if (keys === undefined || !keys.has(k))
      out.push(`unknown ${isTable(v) ? "section" : "key"} ${isTable(v) ? `[${full}]` : full} in ${file}`);
  }
}

/** Reads checked values of one file. */
class Reader {
  constructor(
    private readonly root: Table,
    readonly file: string,
    /** "section.key"s whose value came from a WEED_* variable. */
    private readonly fromEnv: ReadonlySet<string>,
  ) {}

  fail(section: string, key: string, why: string): never {
    const where = this.fromEnv.has(`${section}.${key}`) ? `environment ${envName(section, key)}` : this.file;
    throw new SecurityConfigError(`${where}: ${section}.${key} ${why}`);
  }

  section(path: string): Table | undefined {
    let t: unknown = this.root;
    for (const part of path.split(".")) {
      if (!isTable(t)) return undefined;
      t = t[part];
    }
    if (t !== undefined && !isTable(t)) throw new SecurityConfigError(`${this.file}: ${path} must be a section`);
    return t;
  }

  string(section: string, key: string): string {
    const v = this.section(section)?.[key];
    if (v === undefined) return "";
    if (typeof v !== "string") this.fail(section, key, `must be a string, got ${describe(v)}`);
    return v.trim();
  }

  bool(section: string, key: string): boolean {
    const v = this.section(section)?.[key];
    if (v === undefined) return false;
    if (typeof v !== "boolean") this.fail(section, key, `must be true or false, got ${describe(v)}`);
    return v;
  }

  seconds(section: string, key: string, dflt: number): number {
    const v = this.section(section)?.[key];
    if (v === undefined) return dflt;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0)
      this.fail(section, key, `must be a positive whole number of seconds, got ${describe(v)}`);
    return v;
  }

  /** A comma string (SeaweedFS's form) or an array of strings. */
  list(section: string, key: string): string[] {
    const v = this.section(section)?.[key];
    if (v === undefined) return [];
    if (typeof v === "string") return splitCommaList(v);
    if (Array.isArray(v) && v.every((x) => typeof x === "string"))
      return v.map((x) => x.trim()).filter((x) => x !== "");
    return this.fail(section, key, `must be a comma-separated string, got ${describe(v)}`);
  }

  /** A path that must name a readable file now, not at the first TLS handshake. */
  path(section: string, key: string): string {
    const p = this.string(section, key);
    if (p === "") return p;
    try {
      if (!statSync(p).isFile()) this.fail(section, key, `${JSON.stringify(p)} is not a file`);
      accessSync(p, constants.R_OK);
    } catch (err) {
      if (err instanceof SecurityConfigError) throw err;
      this.fail(section, key, `${JSON.stringify(p)} cannot be read: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
    return p;
  }
}

function describe(v: unknown): string {
  if (v instanceof Date) return "a date";
  if (Array.isArray(v)) return "an array";
  if (isTable(v)) return "a section";
  return JSON.stringify(v);
}

/** A key set = on; an empty or absent key = off (SeaweedFS's rule). Lifetime checked either way. */
function jwtOf(r: Reader, section: string, dfltSeconds: number): JwtSigning | undefined {
  const expiresAfterSeconds = r.seconds(section, "expires_after_seconds", dfltSeconds);
  const key = r.string(section, "key");
  return key === "" ? undefined : { key, expiresAfterSeconds };
}

/** cert and key both, or neither (off). */
function certKeyOf(r: Reader, section: string): CertKeyFiles | undefined {
  const cert = r.path(section, "cert");
  const key = r.path(section, "key");
  if (cert === "" && key === "") return undefined;
  if (cert === "") r.fail(section, "cert", "is empty but key is set");
  if (key === "") r.fail(section, "key", "is empty but cert is set");
  return { cert, key };
}

function grpcOf(r: Reader): SecurityConfig["grpc"] {
  const ca = r.path("grpc", "ca");
  const server = (name: "master" | "volume"): GrpcServerTls | undefined => {
    const section = `grpc.${name}`;
    const ck = certKeyOf(r, section);
    const allowedCommonNames = r.list(section, "allowed_commonNames");
    return ck === undefined ? undefined : { ...ck, allowedCommonNames };
  };
  const master = server("master");
  const volume = server("volume");
  const client = certKeyOf(r, "grpc.client");
  if (ca === "") {
    // Mutual TLS needs the CA that signs the peers; certificates without it are a mistake, not "off".
    const set = master !== undefined ? "grpc.master" : volume !== undefined ? "grpc.volume" : "grpc.client";
    if (master !== undefined || volume !== undefined || client !== undefined)
      r.fail("grpc", "ca", `is empty but ${set} has a certificate`);
    return undefined;
  }
  return {
    ca,
    ...(master === undefined ? {} : { master }),
    ...(volume === undefined ? {} : { volume }),
    ...(client === undefined ? {} : { client }),
  };
}

function httpsServerOf(r: Reader, section: string): HttpsServerConfig | undefined {
  const ck = certKeyOf(r, section);
  const ca = r.path(section, "ca");
  return ck === undefined ? undefined : { ...ck, ...(ca === "" ? {} : { ca }) };
}

function httpsClientOf(r: Reader): SecurityConfig["httpsClient"] {
  const enabled = r.bool("https.client", "enabled");
  const cert = r.path("https.client", "cert");
  const key = r.path("https.client", "key");
  const ca = r.path("https.client", "ca");
  const skip = r.bool("https.client", "insecure_skip_verify");
  if (!enabled) return undefined;
  return {
    enabled,
    ...(cert === "" ? {} : { cert }),
    ...(key === "" ? {} : { key }),
    ...(ca === "" ? {} : { ca }),
    ...(skip ? { insecureSkipVerify: true } : {}),
  };
}

/**
 * `grpcShowsIt`: the masters' admin calls to volume servers (gRPC) can show the credential: their
 * [grpc] certificate, or an admin token. Names alone over plain gRPC would lock the cluster's own
 * volume allocation out.
 */
function adminNamesOf(r: Reader, grpcShowsIt: boolean): Pick<SecurityConfig, "adminCommonNames"> {
  const names = r.list("guard", "admin_commonNames");
  if (names.length > 0 && !grpcShowsIt)
    r.fail("guard", "admin_commonNames", "is set but neither [grpc] mutual TLS nor [jwt.admin] key is");
  return names.length === 0 ? {} : { adminCommonNames: names };
}

function whiteListOf(r: Reader): string[] {
  const list = r.list("guard", "white_list");
  try {
    checkWhiteList(list);
  } catch (err) {
    if (err instanceof WhiteListEntryError) r.fail("guard", "white_list", err.message);
    throw err;
  }
  return list;
}

/**
 * Parses and checks the text of a security.toml; `file` names it in warnings and errors. WEED_*
 * variables of `env` win over the file's values, as in SeaweedFS.
 */
export function parseSecurityToml(text: string, file: string, env: NodeJS.ProcessEnv = {}): LoadedSecurity {
  let root: Table;
  try {
    root = parseToml(text) as Table;
  } catch (err) {
    const first = String((err as Error).message).split("\n")[0];
    throw new SecurityConfigError(`${file}: not valid TOML: ${first}`, { cause: err });
  }
  const warnings: string[] = [];
  unknownKeys(root, "", file, warnings);
  const overrides = envOverrides(env);
  applyEnv(root, overrides);
  const r = new Reader(root, file, new Set(overrides.keys()));
  const jwtSigning = jwtOf(r, "jwt.signing", writeTokenSecondsDefault);
  const jwtSigningRead = jwtOf(r, "jwt.signing.read", readTokenSecondsDefault);
  const adminKey = r.string("jwt.admin", "key");
  const grpc = grpcOf(r);
  const httpsMaster = httpsServerOf(r, "https.master");
  const httpsVolume = httpsServerOf(r, "https.volume");
  const httpsClient = httpsClientOf(r);
  const config: SecurityConfig = {
    source: file,
    ...(jwtSigning === undefined ? {} : { jwtSigning }),
    ...(jwtSigningRead === undefined ? {} : { jwtSigningRead }),
    ...(adminKey === "" ? {} : { jwtAdmin: { key: adminKey } }),
    ...(grpc === undefined ? {} : { grpc }),
    ...(httpsMaster === undefined ? {} : { httpsMaster }),
    ...(httpsVolume === undefined ? {} : { httpsVolume }),
    ...(httpsClient === undefined ? {} : { httpsClient }),
    whiteList: whiteListOf(r),
    ...adminNamesOf(r, grpc !== undefined || adminKey !== ""),
  };
  return { config, warnings };
}
