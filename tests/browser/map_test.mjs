// The map page in a real browser: headless Chromium (Debian package
// chromium) driven by puppeteer-core against a real `gridtree serve` on the
// Jiangmen dataset. Checks, each against the server's own JSON answers or
// the dataset, not against the page's code:
//   - the page loads with no console error and no request to another host;
//   - the first screen has features drawn, at a level that follows the zoom
//     (county at city scale, micro_grid at zoom 13);
//   - tiles render: the map canvas is not blank (many colours);
//   - clicking the city hall shows Pengjiang and the grid that holds it;
//   - a search finds Country Garden (碧桂园) community;
//   - a search for 鲲鹏 (the middle of a village's name) finds it, and
//     choosing it fills the card, outlines it and flies to where its
//     children are drawn;
//   - an update sent over RPC changes the number the card shows;
//   - tracked objects reported over RPC appear as a metric (objects.boat)
//     and as points drawn on the map;
//   - the interface is Chinese by default (the metric select shows 人口);
//   - the card after a click starts with the clicked place, and its
//     children table shows the populations /aggregate gives for them.
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
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // An Error object logs as "JSHandle@error": its message says more.
    Promise.all(m.args().map((a) => a.evaluate((v) => (v instanceof Error ? v.message : String(v))).catch(() => '')))
      .then((texts) => errors.push(texts.join(' ') || m.text()));
    errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol !== 'data:' && u.protocol !== 'blob:' && u.host !== `127.0.0.1:${httpPort}`) foreign.push(r.url());
  });
  await page.goto(origin + '/', { waitUntil: 'load' });
  await page.waitForFunction(() => window.gridtreeReady === true, { timeout: 60000 });

  // The first screen, at the city's scale: something is drawn, at the level
  // that follows the zoom.
  await page.waitForFunction(() => window.gridtreeMap.loaded() && window.gridtreeMap.areTilesLoaded(), { timeout: 60000 });
  await sleep(500);
  const first = await page.evaluate(() => ({
    zoom: window.gridtreeMap.getZoom(),
    level: document.getElementById('level-shown').dataset.level,
    metric: document.querySelector('#metric option:checked')?.textContent,
    lang: document.documentElement.lang,
    features: window.gridtreeMap.queryRenderedFeatures().filter((f) => f.source === 'grid').length,
  }));
  check(first.features > 0, `the first screen has features drawn (${first.features} at zoom ${first.zoom.toFixed(1)})`);
  check(first.level === 'county', `the first screen shows counties (${first.level})`);
  check(first.metric === '人口' && first.lang === 'zh-CN', `the interface is Chinese by default (${first.lang}, metric ${first.metric})`);

  // Zoom to the centre so that communities and grids are drawn: the level
  // follows the zoom down to micro_grid.
  await page.evaluate(({ lon, lat }) => window.gridtreeMap.jumpTo({ center: [lon, lat], zoom: 13 }), hall);
  await page.waitForFunction(() => window.gridtreeMap.loaded() && window.gridtreeMap.areTilesLoaded(), { timeout: 60000 });
  await page.waitForFunction(() => document.getElementById('level-shown').dataset.level === 'micro_grid', { timeout: 20000 });
  await sleep(500);
  const drawn = await page.evaluate(() => window.gridtreeMap.queryRenderedFeatures({ layers: ['fill-micro_grid'] }).length);
  check(drawn > 0, `at zoom 13 the level shown is micro_grid, with ${drawn} micro-grids drawn`);
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

  // The card starts with the clicked place: at community level, the
  // community of the city hall, then its children (grids) with the
  // populations the server's /aggregate gives for them.
  const community = expected.chain.find((n) => n.level === 'community');
  await page.select('#level', 'community');
  await page.mouse.click(at.x, at.y);
  await page.waitForFunction((id) => document.getElementById('card-place')?.dataset.id === id, { timeout: 20000 }, community.id);
  const diagram = await page.evaluate(() => ({
    first: document.getElementById('card').firstElementChild?.id,
    head: document.querySelector('#card-place .place-name')?.textContent,
    rows: [...document.querySelectorAll('#card-children tr[data-id]')].map((tr) => ({
      id: tr.dataset.id,
      population: tr.querySelector('td[data-metric="population"]')?.textContent,
    })),
  }));
  check(diagram.first === 'card-place' && diagram.head === community.name,
        `the card starts with the clicked place ${diagram.head} (${community.name})`);
  const kids = (await json('/children?id=' + community.id)).children.map((c) => c.id);
  const kidAgg = await json('/aggregate?id=' + kids.join(','));
  const want = new Map(kidAgg.nodes.map((n) => [n.id, n.metrics.population]));
  check(diagram.rows.length === kids.length && diagram.rows.length > 0 &&
        diagram.rows.every((r) => Number(r.population.replaceAll(',', '')) === want.get(r.id)),
        `its ${diagram.rows.length} children rows show the populations of /aggregate (${kids.length} children)`);
  await page.select('#level', '');

  // Search by name: Country Garden community.
  await page.type('#search', '碧桂园');
  await page.waitForFunction(() => document.getElementById('results').textContent.includes('碧桂园社区'), { timeout: 20000 });
  check(true, 'a search for 碧桂园 finds Country Garden community');

  // Search by the middle of a name: 鲲鹏 (a village "…鲲鹏村…"). The first
  // result the server gives is chosen; the card names it, the map outlines
  // it and lands where its children are drawn.
  const kunpeng = (await json('/search?q=' + encodeURIComponent('鲲鹏'))).results;
  check(kunpeng.length > 0 && kunpeng.every((r) => r.name.includes('鲲鹏')),
        `the server finds ${kunpeng.length} places named …鲲鹏… (${kunpeng.map((r) => r.name).join(', ')})`);
  const target = kunpeng[0];
  await page.click('#search', { clickCount: 3 });
  await page.keyboard.press('Backspace');
  await page.type('#search', '鲲鹏');
  await page.waitForFunction((id) => document.querySelector(`#results li[data-id="${id}"]`), { timeout: 20000 }, target.id);
  check(true, `the page lists ${target.name}`);
  await page.click(`#results li[data-id="${target.id}"]`);
  await page.waitForFunction((name) => document.getElementById('card').textContent.includes(name), { timeout: 20000 }, target.name);
  check(true, `choosing it fills the card with ${target.name}`);
  await page.waitForFunction(() => !window.gridtreeMap.isMoving(), { timeout: 20000 });
  const landed = await page.evaluate((t) => ({
    zoom: window.gridtreeMap.getZoom(),
    outlined: JSON.stringify(window.gridtreeMap.getFilter('picked-' + t.level)).includes(t.id),
    visible: window.gridtreeMap.getLayoutProperty('picked-' + t.level, 'visibility'),
  }), target);
  const childZoom = { city: 6, county: 9, town: 11, community: 12, grid: 13, micro_grid: 13 }[target.level];
  check(landed.outlined && landed.visible === 'visible', `the map outlines ${target.id}`);
  check(landed.zoom >= childZoom, `it lands at zoom ${landed.zoom.toFixed(1)}, where the ${target.level}'s children are drawn (${childZoom})`);
  // Back to the city hall's leaf for the update checks below.
  await page.evaluate(({ lon, lat }) => window.gridtreeMap.jumpTo({ center: [lon, lat], zoom: 13 }), hall);
  await page.mouse.click(at.x, at.y);
  await page.waitForFunction((name) => document.getElementById('card').textContent.includes(name), { timeout: 20000 }, grid.name);

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
  await page.waitForFunction(() => [...document.querySelectorAll('#metric option')].some((o) => o.value === 'objects.boat'),
      { timeout: 20000 });
  check(true, 'a new kind of tracked object appears in the metric list as objects.boat');
  await page.waitForFunction(
      (id) => [...document.querySelectorAll(`#card td[data-node="${id}"][data-metric="objects.boat"]`)].some((td) => td.textContent === '5'),
      { timeout: 20000 }, leafId);
  check(true, 'the card shows the five boats at the city hall\'s leaf');
  await page.waitForFunction(() => {
    const f = window.gridtreeMap.queryRenderedFeatures({ layers: ['objects-in', 'objects-out'] });
    return new Set(f.map((x) => x.properties.id)).size >= 5;
  }, { timeout: 20000 });
  const points = await page.evaluate(() => [...new Set(window.gridtreeMap.queryRenderedFeatures({ layers: ['objects-in', 'objects-out'] })
    .map((x) => x.properties.id))].sort());
  check([1, 2, 3, 4, 5].every((i) => points.includes(`boat-${i}`)), `the boats are drawn as points (${points.join(', ')})`);

  // A boat beyond the dataset's bounds is in no grid: drawn hollow, and
  // counted in the objects' line.
  writeFileSync(`${work}/sea.csv`, 'id,kind,lon,lat\nboat-sea,boat,113.5,21.2\n');
  execFileSync(binary, ['call', '--connect', `127.0.0.1:${rpcPort}`, 'track', '--token-file', `${work}/token`, '--file', `${work}/sea.csv`]);
  await page.evaluate(() => window.gridtreeMap.jumpTo({ center: [113.5, 21.2], zoom: 10 }));
  await page.waitForFunction(() => window.gridtreeMap.queryRenderedFeatures({ layers: ['objects-out'] })
    .some((f) => f.properties.id === 'boat-sea'), { timeout: 20000 });
  const line = await page.$eval('#objects-line', (e) => e.textContent);
  check(line.includes('1 个船不在任何网格内'), `a boat outside every grid is drawn hollow and counted (${line})`);

  // English as a choice, remembered.
  await page.click('#lang');
  await page.waitForFunction(() => document.querySelector('#metric option[value="population"]')?.textContent === 'population',
      { timeout: 5000 });
  const remembered = await page.evaluate(() => localStorage.getItem('gridtree.lang'));
  check(remembered === 'en', `the English toggle names metrics as keys and is remembered (${remembered})`);
  await page.click('#lang');
  await page.waitForFunction(() => document.querySelector('#metric option[value="population"]')?.textContent === '人口',
      { timeout: 5000 });
  await page.evaluate(({ lon, lat }) => window.gridtreeMap.jumpTo({ center: [lon, lat], zoom: 13 }), hall);
  await page.waitForFunction(() => window.gridtreeMap.loaded() && window.gridtreeMap.areTilesLoaded(), { timeout: 60000 });
  await page.evaluate(() => new Promise((done) => setTimeout(done, 500)));  // the last frame drawn

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
