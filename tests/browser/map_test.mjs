// The map page in a real browser: headless Chromium (Debian package
// chromium) driven by puppeteer-core against a real `gridtree serve` on the
// Jiangmen dataset. Checks, each against the server's own JSON answers or
// the dataset, not against the page's code:
//   - the page loads with no console error and no request to another host;
//   - tiles render: the map canvas is not blank (many colours);
//   - clicking the city hall shows Pengjiang and the grid that holds it;
//   - a search finds Country Garden (碧桂园) community;
//   - an update sent over RPC changes the number the card shows;
//   - tracked objects reported over RPC appear as a metric (objects.boat).
// Usage: node map_test.mjs GRIDTREE_BINARY DATASET WORKDIR
import { spawn, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import puppeteer from 'puppeteer-core';

const [binary, dataset, work] = process.argv.slice(2);
const rpcPort = 7700 + (process.pid % 200), httpPort = rpcPort + 300;
const origin = `http://127.0.0.1:${httpPort}`;
const hall = { lon: 113.0819, lat: 22.5787 };  // Jiangmen's city hall, in Pengjiang
let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function json(path) {
  const r = await fetch(origin + path);
  return r.json();
}

writeFileSync(`${work}/token`, 'browser-test-token\n');
const server = spawn(binary, ['serve', dataset, '--listen', `127.0.0.1:${rpcPort}`, '--http', `127.0.0.1:${httpPort}`,
                              '--writer-token-file', `${work}/token`], { stdio: ['ignore', 'inherit', 'inherit'] });
let browser;
try {
  for (let i = 0; ; ++i) {  // until the server answers
    try {
      if ((await fetch(origin + '/healthz')).ok) break;
    } catch {}
    if (i > 600) throw new Error('gridtree serve did not start');
    await sleep(100);
  }
  browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--window-size=1200,800'],
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 800 });
  const errors = [], foreign = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol !== 'data:' && u.protocol !== 'blob:' && u.host !== `127.0.0.1:${httpPort}`) foreign.push(r.url());
  });
  await page.goto(origin + '/', { waitUntil: 'load' });
  await page.waitForFunction(() => window.gridtreeReady === true, { timeout: 60000 });

  // Zoom to the centre so that communities and grids are drawn.
  await page.evaluate(({ lon, lat }) => window.gridtreeMap.jumpTo({ center: [lon, lat], zoom: 13 }), hall);
  await page.waitForFunction(() => window.gridtreeMap.loaded() && window.gridtreeMap.areTilesLoaded(), { timeout: 60000 });
  await sleep(500);
  const colours = await page.evaluate(() => {
    const c = window.gridtreeMap.getCanvas();
    const copy = document.createElement('canvas');
    copy.width = c.width;
    copy.height = c.height;
    const g = copy.getContext('2d');
    g.drawImage(c, 0, 0);
    const data = g.getImageData(0, 0, copy.width, copy.height).data;
    const seen = new Set();
    for (let i = 0; i < data.length; i += 4 * 97) seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    return seen.size;
  });
  check(colours > 20, `the map canvas is drawn (${colours} distinct colours in a sample)`);

  // Click the city hall: the card names its county (Pengjiang) and its grid,
  // as the server's own /locate says.
  const expected = await json(`/locate?lon=${hall.lon}&lat=${hall.lat}`);
  const county = expected.chain.find((n) => n.level === 'county');
  const grid = expected.chain.find((n) => n.level === 'grid');
  const at = await page.evaluate(({ lon, lat }) => {
    const p = window.gridtreeMap.project([lon, lat]);
    const r = window.gridtreeMap.getCanvas().getBoundingClientRect();
    return { x: r.left + p.x, y: r.top + p.y };
  }, hall);
  await page.mouse.click(at.x, at.y);
  await page.waitForFunction((name) => document.getElementById('card').textContent.includes(name), { timeout: 20000 }, grid.name);
  const card = await page.$eval('#card', (e) => e.textContent);
  check(county.name === '蓬江区' && card.includes('蓬江区'), `the card shows Pengjiang (${county.name})`);
  check(card.includes(grid.name), `the card shows the grid ${grid.name}`);

  // Search by name: Country Garden community.
  await page.type('#search', '碧桂园');
  await page.waitForFunction(() => document.getElementById('results').textContent.includes('碧桂园社区'), { timeout: 20000 });
  check(true, 'a search for 碧桂园 finds Country Garden community');

  // An update over RPC: the leaf's population, as the card shows it, follows.
  const leafId = expected.chain[expected.chain.length - 1].id;
  const before = (await json(`/node?id=${leafId}`)).metrics.population;
  writeFileSync(`${work}/batch.json`, JSON.stringify({ updates: [{ leaf: leafId, metric: 'population', op: 'set', value: before + 4321 }] }));
  execFileSync(binary, ['call', '--connect', `127.0.0.1:${rpcPort}`, 'update', '--token-file', `${work}/token`, '--file', `${work}/batch.json`]);
  const shown = (before + 4321).toLocaleString('en');
  const t0 = Date.now();
  await page.waitForFunction(
      (id, text) => [...document.querySelectorAll(`#card td[data-node="${id}"][data-metric="population"]`)].some((td) => td.textContent === text),
      { timeout: 20000 }, leafId, shown);
  check(true, `the card shows the updated population ${shown} (${Date.now() - t0} ms after the update)`);

  // Tracked objects: five boats reported at the city hall become the
  // metric objects.boat in the page's list and in the card.
  writeFileSync(`${work}/boats.csv`, 'id,kind,lon,lat\n' +
      [1, 2, 3, 4, 5].map((i) => `boat-${i},boat,${hall.lon},${hall.lat}`).join('\n') + '\n');
  execFileSync(binary, ['call', '--connect', `127.0.0.1:${rpcPort}`, 'track', '--token-file', `${work}/token`, '--file', `${work}/boats.csv`]);
  await page.waitForFunction(() => [...document.querySelectorAll('#metric option')].some((o) => o.textContent === 'objects.boat'),
      { timeout: 20000 });
  check(true, 'a new kind of tracked object appears in the metric list as objects.boat');
  await page.waitForFunction(
      (id) => [...document.querySelectorAll(`#card td[data-node="${id}"][data-metric="objects.boat"]`)].some((td) => td.textContent === '5'),
      { timeout: 20000 }, leafId);
  check(true, 'the card shows the five boats at the city hall\'s leaf');

  await page.screenshot({ path: `${work}/map.png` });  // docs/map.png is one of these
  check(errors.length === 0, `no console errors${errors.length ? ': ' + errors.join(' | ') : ''}`);
  check(foreign.length === 0, `no request to another host${foreign.length ? ': ' + foreign.join(' ') : ''}`);
} catch (e) {
  console.log('FAIL ' + (e.stack || e));
  failures++;
} finally {
  if (browser) await browser.close();
  server.kill('SIGTERM');
}
process.exit(failures ? 1 : 0);
