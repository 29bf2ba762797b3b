import { isIP } from "node:net";

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
