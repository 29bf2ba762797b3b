// Drives a real MasterServer over loopback HTTP with fake volume servers that heartbeat over real
// gRPC and serve AllocateVolume: assign grows volumes, lookup, submit end to end, redirects,
// status pages, and the exact status codes of bad requests.
import { describe, expect, it } from "vitest";
import { parseFid } from "../../../src/common/fid.js";
import { masterPerTest, type FakeVolumeOptions, type FakeVolumeServer } from "./helpers.js";

const fx = masterPerTest("weed-ts-master-http-");

function volumeServer(opts: FakeVolumeOptions = {}): Promise<FakeVolumeServer> {
  return fx.volumeServer(opts);
}

function url(path: string): string {
  return fx.url(path);
}

async function getJson(
  path: string,
  init?: RequestInit,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(url(path), init);
  const text = await res.text();
  return {
    status: res.status,
    body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>),
    headers: res.headers,
  };
}

describe("/dir/assign", () => {
  it("with no volume servers answers 406 at once", async () => {
    const started = Date.now();
    const r = await getJson("/dir/assign");
    expect(r.status).toBe(406);
    expect(r.body.error).toMatch(/no free volumes left for replication 000: no volume servers/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("grows volumes on the volume server and returns a well-formed fid", async () => {
    const vs = await volumeServer();
    const r = await getJson("/dir/assign");
    expect(r.status).toBe(200);
    expect(Object.keys(r.body).sort()).toEqual(["count", "fid", "publicUrl", "url"]);
    expect(r.body.fid).toMatch(/^\d+,[0-9a-f]{10,24}$/);
    expect(r.body.url).toBe(vs.url);
    expect(r.body.publicUrl).toBe(`localhost:${vs.httpPort}`);
    expect(r.body.count).toBe(1);
    expect(vs.allocations.map((a) => a.volumeId).sort()).toEqual([1, 2]); // volumeGrowthCount: 2
    const fid = parseFid(r.body.fid as string);
    expect([1, 2]).toContain(fid.volumeId);
    expect(fid.key).toBe(1n);
  });

  it("concurrent assigns at a cold start share one growth and get distinct keys", async () => {
    const vs = await volumeServer();
    const results = await Promise.all(Array.from({ length: 40 }, () => getJson("/dir/assign?count=2")));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(vs.allocations).toHaveLength(2);
    const keys = new Set<bigint>();
    for (const r of results) {
      const { key } = parseFid(r.body.fid as string);
      keys.add(key);
      keys.add(key + 1n);
    }
    expect(keys.size).toBe(80);
  });

  it("honours collection, replication and ttl, and refuses what it cannot place", async () => {
    const vs = await volumeServer();
    const r = await getJson("/dir/assign?collection=pics&ttl=3d");
    expect(r.status).toBe(200);
    expect(vs.allocations[0]).toMatchObject({ collection: "pics", ttl: "3d", replication: "000" });
    const rep = await getJson("/dir/assign?replication=001");
    expect(rep.status).toBe(406);
    expect(rep.body.error).toMatch(/no free volumes left for replication 001/);
  });

  it("answers bad parameters with 406 and a precise message", async () => {
    await volumeServer();
    const cases: [string, RegExp][] = [
      ["/dir/assign?replication=abc", /invalid replication "abc"/],
      ["/dir/assign?replication=1234", /invalid replication/],
      ["/dir/assign?ttl=5x", /invalid ttl "5x"/],
      ["/dir/assign?count=abc", /invalid count "abc"/],
      ["/dir/assign?count=-1", /invalid count/],
      ["/dir/assign?count=99999999", /over the limit/],
      ["/dir/assign?collection=a%2Fb", /invalid collection/],
    ];
    for (const [path, msg] of cases) {
      const r = await getJson(path);
      expect(r.status, path).toBe(406);
      expect(r.body.error, path).toMatch(msg);
    }
    const dc = await getJson("/dir/assign?dataCenter=nowhere");
    expect(dc.status).toBe(400);
    expect(dc.body.error).toBe("data center nowhere not found in topology");
  });

  it("reads parameters from an urlencoded POST body", async () => {
    await volumeServer();
    const r = await getJson("/dir/assign", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "count=5",
    });
    expect(r.status).toBe(200);
    expect(r.body.count).toBe(5);
  });

  it("count=0 means 1, as SeaweedFS", async () => {
    await volumeServer();
    expect((await getJson("/dir/assign?count=0")).body.count).toBe(1);
  });
});

describe("/dir/lookup and /<fid>", () => {
  it("finds a volume by id or fid and says 404 otherwise", async () => {
    const vs = await volumeServer();
    const fid = (await getJson("/dir/assign")).body.fid as string;
    const vid = fid.split(",")[0]!;
    const byVid = await getJson(`/dir/lookup?volumeId=${vid}`);
    expect(byVid.status).toBe(200);
    expect(byVid.body).toEqual({
      volumeOrFileId: vid,
      locations: [
        { url: vs.url, publicUrl: `localhost:${vs.httpPort}`, dataCenter: "DefaultDataCenter", grpcPort: vs.grpcPort },
      ],
    });
    const byFid = await getJson(`/dir/lookup?fileId=${fid}`);
    expect(byFid.body.volumeOrFileId).toBe(fid);
    expect(byFid.body.locations).toHaveLength(1);
    const missing = await getJson("/dir/lookup?volumeId=77");
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ volumeOrFileId: "77", error: "volume id 77 not found" });
    const bad = await getJson("/dir/lookup?volumeId=abc");
    expect(bad.status).toBe(404);
    expect(bad.body).toEqual({ volumeOrFileId: "abc", error: "Unknown volume id abc" });
  });

  it("redirects /<fid> to the volume server with 308, keeping path and query", async () => {
    const vs = await volumeServer();
    const fid = (await getJson("/dir/assign")).body.fid as string;
    for (const path of [`/${fid}`, `/${fid}.jpg`, `/${fid.replace(",", "/")}/name.jpg`]) {
      const res = await fetch(url(`${path}?dl=true`), { redirect: "manual" });
      expect(res.status, path).toBe(308);
      expect(res.headers.get("location")).toBe(`http://localhost:${vs.httpPort}${path}?dl=true`);
    }
    const gone = await getJson("/99,01637037d6");
    expect(gone.status).toBe(404);
    expect(gone.body.error).toBe("volume id 99 not found");
  });

  it("unknown paths are a 404 JSON error", async () => {
    const r = await getJson("/no/such/thing");
    expect(r.status).toBe(404);
    expect(r.body.error).toBe("unknown path /no/such/thing");
  });
});

describe("/submit", () => {
  it("uploads through the master: multipart in, 201 with fid and fileUrl out", async () => {
    const vs = await volumeServer();
    const form = new FormData();
    form.append("file", new Blob([Buffer.from("hello weed-ts")], { type: "text/plain" }), "hello.txt");
    const r = await getJson("/submit?collection=docs", { method: "POST", body: form });
    expect(r.status).toBe(201);
    expect(Object.keys(r.body).sort()).toEqual(["eTag", "fid", "fileName", "fileUrl", "size"]);
    expect(r.body.fileName).toBe("hello.txt");
    expect(r.body.size).toBe(13);
    expect(r.body.fileUrl).toBe(`localhost:${vs.httpPort}/${r.body.fid as string}`);
    expect(r.body.eTag).toMatch(/^[0-9a-f]{8}$/);
    expect(vs.uploads).toHaveLength(1);
    expect(vs.uploads[0]).toMatchObject({
      path: `/${r.body.fid as string}`,
      fileName: "hello.txt",
      mime: "text/plain",
    });
    expect(vs.uploads[0]!.data.toString()).toBe("hello weed-ts");
    expect(vs.allocations[0]!.collection).toBe("docs");
  });

  it("takes a raw body with its Content-Disposition file name", async () => {
    const vs = await volumeServer();
    const r = await getJson("/submit", {
      method: "POST",
      headers: { "content-type": "image/png", "content-disposition": 'inline; filename="a b.png"' },
      body: Buffer.from([1, 2, 3]),
    });
    expect(r.status).toBe(201);
    expect(r.body.fileName).toBe("a b.png");
    expect(vs.uploads[0]).toMatchObject({ fileName: "a b.png", mime: "image/png" });
  });

  it("only via POST", async () => {
    const r = await getJson("/submit");
    expect(r.status).toBe(405);
    expect(r.body).toEqual({ error: "Only submit via POST!" });
  });

  it("without volume servers fails with 500 as SeaweedFS", async () => {
    const form = new FormData();
    form.append("file", new Blob(["x"]), "x.bin");
    const r = await getJson("/submit", { method: "POST", body: form });
    expect(r.status).toBe(500);
    expect(r.body.error).toMatch(/no free volumes left/);
  });

  it("issue 9: a multipart body without its closing boundary answers 400 JSON; the master keeps serving", async () => {
    const vs = await volumeServer();
    const headers = { "content-type": "multipart/form-data; boundary=X" };
    const cut = '--X\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc';
    // Cut in the file part, and cut in a later part that is skipped (both crashed the master).
    const skipped = `${cut}\r\n--X\r\nContent-Disposition: form-data; name="g"; filename="b"\r\n\r\nde`;
    for (const body of [cut, skipped]) {
      const r = await getJson("/submit", { method: "POST", headers, body });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatch(/^malformed multipart body: /);
    }
    expect(vs.uploads).toHaveLength(0);
    const form = new FormData();
    form.append("file", new Blob(["after"]), "after.txt");
    const ok = await getJson("/submit", { method: "POST", body: form });
    expect(ok.status).toBe(201);
    expect(vs.uploads).toHaveLength(1);
  });

  it("refuses a body declared over the limit with 413 naming it, before reading it", async () => {
    const { submitBytesMax } = await import("../../../src/master/limits.js");
    const { connect } = await import("node:net");
    const sock = connect(fx.master.httpPort, "127.0.0.1");
    const text = await new Promise<string>((resolve, reject) => {
      let got = "";
      sock.on("data", (d: Buffer) => {
        got += d.toString();
        if (got.endsWith("}")) resolve(got);
      });
      sock.on("error", reject);
      sock.write(`POST /submit HTTP/1.1\r\nHost: x\r\nContent-Length: ${submitBytesMax + 1}\r\n\r\n`);
    });
    sock.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(text.slice(text.indexOf("{"))).toBe(
      JSON.stringify({ error: `file over the limited ${submitBytesMax} bytes` }),
    );
  });

  it("a client that disconnects mid-upload crashes nothing; the next submit succeeds", async () => {
    const vs = await volumeServer();
    const { connect } = await import("node:net");
    const sock = connect(fx.master.httpPort, "127.0.0.1");
    await new Promise<void>((r) => sock.once("connect", () => r()));
    sock.write(
      "POST /submit HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=X\r\n" +
        'Content-Length: 100000\r\n\r\n--X\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n' +
        "a".repeat(1000),
    );
    await new Promise((r) => setTimeout(r, 50));
    sock.destroy();
    const form = new FormData();
    form.append("file", new Blob(["after"]), "after.txt");
    const ok = await getJson("/submit", { method: "POST", body: form });
    expect(ok.status).toBe(201);
    expect(vs.uploads).toHaveLength(1);
  });
});

describe("/vol/grow", () => {
  it("requires count and grows exactly that many", async () => {
    const vs = await volumeServer({ maxVolumes: 4 });
    const missing = await getJson("/vol/grow");
    expect(missing.status).toBe(406);
    expect(missing.body.error).toMatch(/can not parse parameter count/);
    const ok = await getJson("/vol/grow?count=3&collection=bench");
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ count: 3 });
    expect(vs.allocations).toHaveLength(3);
    const tooMany = await getJson("/vol/grow?count=2");
    expect(tooMany.status).toBe(406);
    expect(tooMany.body.error).toBe("only 1 volumes left, not enough for 2");
  });
});

describe("status routes", () => {
  it("/dir/status, /vol/status and /cluster/status have SeaweedFS's shapes", async () => {
    const vs = await volumeServer({ dataCenter: "dc1", rack: "rack1" });
    await getJson("/dir/assign");
    const dir = await getJson("/dir/status?pretty=y");
    expect(dir.status).toBe(200);
    expect(dir.body.Version).toMatch(/^30GB weed-ts /);
    expect(dir.body.Topology).toEqual({
      Max: 8,
      Free: 6,
      DataCenters: [
        {
          Id: "dc1",
          Racks: [
            {
              Id: "rack1",
              DataNodes: [
                {
                  Url: vs.url,
                  PublicUrl: `localhost:${vs.httpPort}`,
                  Volumes: 2,
                  EcShards: 0,
                  Max: 8,
                  VolumeIds: "1-2",
                  GrpcPort: vs.grpcPort,
                },
              ],
            },
          ],
        },
      ],
      Layouts: [
        {
          ...{ replication: "000", ttl: "", writables: [1, 2], collection: "", diskType: "hdd" },
          ...{ underReplicated: [], readOnly: [], needsCheck: [], full: [], crowded: [] },
        },
      ],
    });
    const vol = await getJson("/vol/status");
    const dcs = (
      vol.body.Volumes as {
        DataCenters: Record<
          string,
          Record<string, Record<string, { Id: number; ReplicaPlacement: object; Ttl: object }[]>>
        >;
      }
    ).DataCenters;
    const list = dcs["dc1"]!["rack1"]![vs.url]!;
    expect(list.map((v) => v.Id)).toEqual([1, 2]);
    expect(list[0]!.ReplicaPlacement).toEqual({});
    expect(list[0]!.Ttl).toEqual({ Count: 0, Unit: 0 });
    const cluster = await getJson("/cluster/status");
    expect(cluster.body).toMatchObject({
      IsLeader: true,
      Leader: `127.0.0.1:${fx.master.httpPort}`,
      Peers: [],
      MaxVolumeId: 2,
    });
    // No security.toml: every protection off (issue 12).
    expect((cluster.body as { Security: { Enabled: boolean } }).Security.Enabled).toBe(false);
  });

  it("?pretty indents; health routes answer 200; / is an HTML page; /metrics has our counters", async () => {
    const pretty = await (await fetch(url("/cluster/status?pretty=y"))).text();
    expect(pretty).toContain('\n  "IsLeader": true');
    for (const p of ["/cluster/healthz", "/healthz", "/readyz"]) expect((await fetch(url(p))).status, p).toBe(200);
    const page = await fetch(url("/"));
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    expect(await page.text()).toContain(`127.0.0.1:${fx.master.httpPort}`);
    await volumeServer();
    await getJson("/dir/assign");
    const metrics = await (await fetch(url("/metrics"))).text();
    expect(metrics).toMatch(/SeaweedFS_master_assign_total\{result="ok"\} 1/);
    expect(metrics).toMatch(/SeaweedFS_master_volume_servers 1/);
    expect(metrics).toMatch(/SeaweedFS_master_volumes 2/);
  });
});
