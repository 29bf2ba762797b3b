import { isIP } from "node:net";
import { grpcPortOffset } from "../common/server-address.js";
import { int, str, type FlagValues } from "./flags.js";

/**
 * Where to listen when -ip.bind is not given: the -ip itself when it is an address, loopback
 * for "localhost" (so `localhost` never binds ::1 only), and every interface for other names.
 */
export function bindAddressFor(ip: string, bind: string): string {
  if (bind !== "") return bind;
  if (isIP(ip) !== 0) return ip;
  if (ip === "localhost") return "127.0.0.1";
  return "0.0.0.0";
}

/** The listen/advertise part every server config shares: -ip, -ip.bind, -port, -port.grpc. */
export function listenFromFlags(
  v: FlagValues,
  prefix: string,
): { ip: string; bindIp: string; port: number; grpcPort: number } {
  const port = int(v, `${prefix}port`);
  const grpc = int(v, `${prefix}port.grpc`);
  const ip = str(v, "ip");
  return {
    ip,
    bindIp: bindAddressFor(ip, str(v, "ip.bind")),
    port,
    grpcPort: grpc === 0 ? port + grpcPortOffset : grpc,
  };
}
