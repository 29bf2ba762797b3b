// Why one benchmark request failed. Thrown inside a request and caught by the phase runner, which
// counts it; it never leaves runBenchmark.
import type { Dispatcher } from "undici";

export class RequestFailure extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RequestFailure";
  }
}

/** Error text quoted from a non-JSON answer is cut to this many characters. */
const quoteCharsMax = 200;

/**
 * Reads a small JSON object answer (assign, lookup, error bodies). A body that is not a JSON
 * object comes back as {"error": <its text>} so the failure reason still says something.
 */
export async function readJsonBody(
  res: Dispatcher.ResponseData,
  limitBytes: number,
  what: string,
): Promise<Record<string, unknown>> {
  const declared = Number(res.headers["content-length"]);
  if (declared > limitBytes) {
    await res.body.dump();
    throw new RequestFailure(`${what}: HTTP ${res.statusCode}: answer of ${declared} bytes is over ${limitBytes}`);
  }
  const text = await res.body.text();
  if (text.length > limitBytes) {
    throw new RequestFailure(`${what}: HTTP ${res.statusCode}: answer of ${text.length} chars is over ${limitBytes}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // not JSON: quoted below
  }
  return { error: text.slice(0, quoteCharsMax) };
}
