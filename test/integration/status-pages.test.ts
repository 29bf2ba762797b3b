// The status pages as a person sees them, in a real browser (Debian's Chromium driven by
// playwright-core): three Raft masters and two volume servers as real processes; the leader's and
// a follower's page and a volume server's /ui/index.html; then the leader and a volume server are
// killed with SIGKILL and the pages must say so (the dead master unreachable, not "follower"; the
// dead volume server "dead since" with its volumes missing); then a second master goes and the
// last one shows the red banner. Screenshots land in test-artifacts/screenshots/.
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { FormData, request } from "undici";
import { followerCopyIntervalMs } from "../../src/master/api/status-data.js";
import { eventually, tempDir, waitFor, type TempDir } from "../helpers.js";
import { freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
const SCREENSHOTS = resolve(import.meta.dirname, "../../test-artifacts/screenshots");
/** A page load: the master's page waits at most ~2.5 s for the leader and ~1 s for its probes. */
const PAGE_TIMEOUT_MS = 10_000;
/** Looks at the leader's page at most this many times while leadership moves under it. */
const leaderLooksMax = 3;
/** Files written before the pages are read: enough for a volume on each server and sizes above zero. */
const FILES = 12;
const FILE_BYTES = 20_000;

let tmp: TempDir;
let context: BrowserContext;
let page: Page;
const masterPorts: number[] = [];
const volumePorts: number[] = [];
const masters: WeedProcess[] = [];
const volumes: WeedProcess[] = [];

function masterAddr(i: number): string {
  return `127.0.0.1:${masterPorts[i]!}`;
}
function volumeAddr(i: number): string {
  return `127.0.0.1:${volumePorts[i]!}`;
}

function startMaster(i: number, peers: string): WeedProcess {
  const port = masterPorts[i]!;
  const flags = ["-ip=127.0.0.1", `-port=${port}`, `-peers=${peers}`, "-volumeSizeLimitMB=1", "-pulseSeconds=1"];
  return new WeedProcess(["master", `-mdir=${tmp.dir}/m${i}`, ...flags, "-logLevel=warn"]);
}

function startVolume(i: number, peers: string): WeedProcess {
  const port = volumePorts[i]!;
  const flags = ["-ip=127.0.0.1", `-port=${port}`, `-mserver=${peers}`, "-max=4", "-pulseSeconds=1"];
  return new WeedProcess(["volume", `-dir=${tmp.dir}/v${i}`, ...flags, "-logLevel=warn"]);
}

async function leaderOf(live: number[]): Promise<number> {
  return eventually(
    async () => {
      const all = await Promise.all(
        live.map(async (i) => (await getJson(`http://${masterAddr(i)}/cluster/status`, { headersTimeout: 1000 })).json),
      );
      const claiming = live.filter((_, k) => all[k]?.IsLeader === true);
      if (claiming.length !== 1 || all.some((s) => s?.Leader !== masterAddr(claiming[0]!)))
        throw new Error(`no agreed leader among ${live.join(",")}`);
      return claiming[0]!;
    },
    { ...PROCESS_WAIT, what: "one leader agreed by the live masters" },
  );
}

async function registered(leader: number): Promise<number> {
  const s = await getJson(`http://${masterAddr(leader)}/dir/status`);
  let n = 0;
  for (const dc of s.json?.Topology?.DataCenters ?? []) for (const r of dc.Racks ?? []) n += r.DataNodes.length;
  return n;
}

/** Uploads through the leader until both volume servers hold some data. */
async function writeFiles(leader: number): Promise<void> {
  for (let i = 0; i < FILES; i++) {
    const form = new FormData();
    form.append("file", new Blob([Buffer.alloc(FILE_BYTES, i)]), `f${i}.bin`);
    const r = await request(`http://${masterAddr(leader)}/submit`, { method: "POST", body: form });
    const body = await r.body.text();
    expect(r.statusCode, body).toBe(201);
  }
}

async function open(url: string, shot: string): Promise<string> {
  await page.goto(url, { timeout: PAGE_TIMEOUT_MS });
  await page.screenshot({ path: `${SCREENSHOTS}/${shot}.png`, fullPage: true });
  return page.locator("body").innerText();
}

/** The text of the table row naming `what` in its first cell. */
async function rowText(what: string): Promise<string> {
  return page
    .locator("tr", { has: page.locator("td:first-child", { hasText: what }) })
    .first()
    .innerText();
}

beforeAll(async () => {
  tmp = await tempDir("weed-ts-status-pages-");
  await mkdir(SCREENSHOTS, { recursive: true });
  for (let i = 0; i < 3; i++) masterPorts.push(await freePortPair());
  for (let i = 0; i < 2; i++) volumePorts.push(await freePortPair());
  const peers = masterPorts.map((p) => `127.0.0.1:${p}`).join(",");
  for (let i = 0; i < 3; i++) masters.push(startMaster(i, peers));
  for (let i = 0; i < 3; i++) await waitHttpOk(`http://${masterAddr(i)}/healthz`, masters[i]);
  for (let i = 0; i < 2; i++) volumes.push(startVolume(i, peers));
  const leader = await leaderOf([0, 1, 2]);
  await waitFor(async () => (await registered(leader)) === 2, { ...PROCESS_WAIT, what: "both volume servers in" });
  await writeFiles(leader);
  context = await chromium.launchPersistentContext(`${tmp.dir}/chromium-profile`, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 1000 },
  });
  page = context.pages()[0] ?? (await context.newPage());
});

afterAll(async () => {
  await context?.close();
  for (const p of [...volumes, ...masters]) await p.stop();
  await tmp?.remove();
});

describe("status pages in a browser", () => {
  it("the leader's page shows every master and volume server with sizes; a follower's the same servers", async () => {
    // Leadership may move between leaderOf and the page on a loaded host: looked at again (bounded).
    let leader = -1;
    let text = "";
    for (let attempt = 1; attempt <= leaderLooksMax; attempt++) {
      leader = await leaderOf([0, 1, 2]);
      text = await open(`http://${masterAddr(leader)}/`, "1-leader");
      const rows = await Promise.all([0, 1, 2].map((i) => rowText(masterAddr(i))));
      if (rows.every((row, i) => (i === leader ? /\bleader\b/ : /\bfollower\b/).test(row))) break;
    }
    expect(await page.locator(".banner").count()).toBe(0);
    expect(text).toContain(`weed-ts master ${masterAddr(leader)}`);
    for (let i = 0; i < 3; i++) {
      const row = await rowText(masterAddr(i));
      expect(row).toMatch(i === leader ? /\bleader\b/ : /\bfollower\b/);
      expect(row).not.toContain("unreachable");
    }
    for (let i = 0; i < 2; i++) {
      const row = await rowText(volumeAddr(i));
      // Used bytes and their share of the slots ("<1%" for a server that got few of the files).
      expect(row).toMatch(/\d+(\.\d)? KiB \((\d+|<1)% of 4 × 1\.0 MiB\)/);
      expect(row).toMatch(/GiB|MiB/); // disk total and free from its /status
      expect(row).toMatch(/(\d+ ms|\d+ s) ago/); // last heartbeat
    }
    expect(text).toMatch(/KiB \(\d+% of 1\.0 MiB\)/); // a volume's size as a share of the limit

    const follower = [0, 1, 2].find((i) => i !== leader)!;
    const followerText = await open(`http://${masterAddr(follower)}/`, "2-follower");
    expect(followerText).toContain(`Volume servers report to the leader: see ${masterAddr(leader)}`);
    for (let i = 0; i < 2; i++) expect(await rowText(volumeAddr(i))).toMatch(/KiB \((\d+|<1)% of 4 × 1\.0 MiB\)/);
    expect(await rowText(masterAddr(follower))).toContain("(this one)");
  });

  it("a volume server's /ui/index.html shows its disk and volumes", async () => {
    const text = await open(`http://${volumeAddr(0)}/ui/index.html`, "3-volume-server");
    expect(text).toContain(`weed-ts volume server ${volumeAddr(0)}`);
    expect(text).toContain("volume size limit: 1.0 MiB");
    const disk = await page.locator("h2:text('Disks') + table tr").nth(1).innerText();
    expect(disk).toMatch(/GiB|MiB/);
    expect(disk).toMatch(/\d+% free/);
    const volumeRows = await page.locator("h2:has-text('Volumes') + table tr").allInnerTexts();
    expect(volumeRows.length).toBeGreaterThan(1);
    // The largest of its volumes holds some of the files written: a size in KiB, its share of the limit.
    expect(
      volumeRows.some((r) => /KiB \(\d+% of 1\.0 MiB\)[\s\S]*writable/.test(r)),
      volumeRows.join("\n"),
    ).toBe(true);
  });

  it("after kill -9 of the leader and a volume server, the new leader's page says who is gone", async () => {
    const oldLeader = await leaderOf([0, 1, 2]);
    const deadVolumeIds: unknown[] = (await getJson(`http://${volumeAddr(1)}/status`)).json.Volumes ?? [];
    // The followers copy the leader's list of volume servers every followerCopyIntervalMs: after one
    // more, the copy that outlives the leader has both servers.
    await new Promise((res) => setTimeout(res, followerCopyIntervalMs + 1000));
    await masters[oldLeader]!.kill9();
    await volumes[1]!.kill9();
    const live = [0, 1, 2].filter((i) => i !== oldLeader);
    const leader = await leaderOf(live);
    const text = await eventually(
      async () => {
        const t = await open(`http://${masterAddr(leader)}/`, "4-after-kills");
        if (!t.includes("dead since")) throw new Error("the dead volume server is not listed yet");
        return t;
      },
      { ...PROCESS_WAIT, what: "the new leader's page lists the dead volume server" },
    );
    const deadMaster = await rowText(masterAddr(oldLeader));
    expect(deadMaster).toContain("unreachable");
    expect(deadMaster).not.toContain("follower");
    expect(text).toMatch(/Volume servers that left \(1\): \d+ volumes? with no live copy/);
    const gone = await rowText(volumeAddr(1));
    expect(gone).toMatch(/dead since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(\d+ (ms|s) ago\)/);
    expect(deadVolumeIds.length).toBeGreaterThan(0);
    expect(gone).toContain("missing: no live copy");
    expect(await page.locator(".banner").count()).toBe(0); // two of three: still a quorum
  });

  it("with one master of three left, the page shows the red banner and links to no leader", async () => {
    const live = [0, 1, 2].filter((i) => !masters[i]!.exited);
    await masters[live[0]!]!.kill9();
    const last = live[1]!;
    const banner = await eventually(
      async () => {
        await open(`http://${masterAddr(last)}/`, "5-no-quorum");
        const b = page.locator(".banner");
        const text = (await b.count()) === 0 ? "" : await b.innerText();
        // Until its election timeout the last master still names the dead leader (the banner says so).
        if (!text.startsWith("No leader: quorum lost")) throw new Error(`banner: ${text}`);
        return text;
      },
      { ...PROCESS_WAIT, what: "the red banner on the last master" },
    );
    expect(banner).toContain("No leader: quorum lost (1 of 3 masters reachable, 2 needed)");
    const leaderRow = page.locator("tr", { has: page.locator("th", { hasText: /^Leader$/ }) });
    expect(await leaderRow.innerText()).toMatch(/^Leader\s+none$/);
    const color = await page.evaluate("getComputedStyle(document.querySelector('.banner')).backgroundColor");
    expect(color).toBe("rgb(198, 40, 40)");
    expect(await page.locator('a[href*="(none)"]').count()).toBe(0);
    for (const i of [0, 1, 2].filter((k) => k !== last)) expect(await rowText(masterAddr(i))).toContain("unreachable");
  });
});
