// Preloaded (NODE_OPTIONS=--import) into weed-ts processes that stand in for Kubernetes pods or
// compose services: answers name lookups the way cluster DNS would, from the JSON file named by
// WEED_TEST_HOSTS_FILE ({"weed-master-0.weed-master":"127.0.14.10", ...}), so each "pod" is
// reached at its own loopback address by its stable name. The file is read at every lookup: a pod
// started later is known to the running ones at once, as a headless service publishes it. Other
// names go to the system resolver as usual.
import dns from "node:dns";
import { readFileSync } from "node:fs";

const hostsFile = process.env.WEED_TEST_HOSTS_FILE;
const hosts = new Proxy(
  {},
  { get: (_, name) => (hostsFile === undefined ? undefined : JSON.parse(readFileSync(hostsFile, "utf8"))[name]) },
);
const systemLookup = dns.lookup;
const systemLookupPromise = dns.promises.lookup;
const systemResolveTxt = dns.promises.resolveTxt;

function notFound(host) {
  return Object.assign(new Error(`queryTxt ENODATA ${host}`), { code: dns.NODATA, hostname: host });
}

dns.lookup = function lookup(host, options, callback) {
  const cb = typeof options === "function" ? options : callback;
  const opts = typeof options === "object" && options !== null ? options : {};
  const ip = hosts[host];
  if (ip === undefined) return systemLookup.call(dns, host, options, callback);
  if (opts.all) process.nextTick(cb, null, [{ address: ip, family: 4 }]);
  else process.nextTick(cb, null, ip, 4);
  return {};
};

dns.promises.lookup = async function lookup(host, options) {
  const ip = hosts[host];
  if (ip === undefined) return systemLookupPromise.call(dns.promises, host, options);
  return options?.all ? [{ address: ip, family: 4 }] : { address: ip, family: 4 };
};

// grpc-js asks for a service config in TXT records; cluster names have none.
dns.promises.resolveTxt = async function resolveTxt(host) {
  if (hosts[host] !== undefined) throw notFound(host);
  return systemResolveTxt.call(dns.promises, host);
};
