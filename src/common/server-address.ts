// Server addresses as SeaweedFS writes them: "host:port" or "host:port.grpcPort". Without the
// ".grpcPort" suffix the gRPC port is the HTTP port + 10000.
import { ErrorCode, WeedError } from "./errors.js";

export const grpcPortOffset = 10000;

export interface ServerAddress {
  host: string;
  port: number;
  grpcPort: number;
}

function badAddress(text: string, why: string): WeedError {
  return new WeedError(ErrorCode.BAD_PARAM, `invalid server address ${JSON.stringify(text)}: ${why}`);
}

function parsePort(text: string, whole: string): number {
  if (!/^\d{1,5}$/.test(text)) throw badAddress(whole, `bad port ${JSON.stringify(text)}`);
  const p = Number(text);
  if (p < 1 || p > 65535) throw badAddress(whole, `port ${p} out of range 1-65535`);
  return p;
}

export function parseServerAddress(text: string): ServerAddress {
  const colon = text.lastIndexOf(":");
  if (colon <= 0) throw badAddress(text, "expected host:port");
  const host = text.slice(0, colon);
  const portPart = text.slice(colon + 1);
  const dot = portPart.indexOf(".");
  const port = parsePort(dot >= 0 ? portPart.slice(0, dot) : portPart, text);
  const grpcPort = dot >= 0 ? parsePort(portPart.slice(dot + 1), text) : port + grpcPortOffset;
  return { host, port, grpcPort };
}

export function httpAddress(a: ServerAddress): string {
  return `${a.host}:${a.port}`;
}

export function grpcAddress(a: ServerAddress): string {
  return `${a.host}:${a.grpcPort}`;
}

/** "host:port" plus ".grpcPort" only when it is not the default (port + 10000). */
export function formatServerAddress(a: ServerAddress): string {
  return a.grpcPort === a.port + grpcPortOffset ? httpAddress(a) : `${httpAddress(a)}.${a.grpcPort}`;
}
