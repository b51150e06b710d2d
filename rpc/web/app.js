// The grid diagram: gridtree's vector tiles on a MapLibre map, with the
// JSON queries of the same server (docs/map.md), in the shapes of
// docs/json.md. Everything comes from the server that served this page;
// nothing from any other host.
import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';

const LEVELS = ['city', 'county', 'town', 'community', 'grid', 'micro_grid'];
const MIN_ZOOM = { city: 0, county: 6, town: 9, community: 11, grid: 12, micro_grid: 13 };
const RAMP = ['#fff5eb', '#fdd0a2', '#fdae6b', '#fd8d3c', '#e6550d', '#a63603'];  // one colour per class
const UNITS = { population: '人', households: '户', buildings: '栋', staff: '人' };  // others: 个
const POLL_MS = 700;  // metric changes show within a second

const el = (id) => document.getElementById(id);
// pinned: '' follows the zoom (level is then the deepest level drawn at the
// zoom); otherwise the level the user chose. breaks: class breaks by
// level|metric|density, kept until "recompute" (values change; breaks don't).
const state = { pinned: '', level: 'county', metric: '', density: false, version: null, breaks: new Map(),
                place: null, picked: null, region: null };
let map = null;
let info = null;

function fmt(v) {
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v);
  return Math.abs(n) >= 100 || Number.isInteger(n) ? Math.round(n).toLocaleString('en') : n.toFixed(2);
}
function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}
function setStatus(text, bad) {
  el('status').textContent = text;
  el('status').className = bad ? 'bad' : '';
}

async function api(path) {
  let r;
  try {
    r = await fetch(path, { cache: 'no-store' });
  } catch (e) {
    setStatus('Server unreachable: ' + e.message, true);
    throw e;
  }
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

function property() { return state.density ? state.metric + '_per_km2' : state.metric; }
function scaleKey() { return `${state.level}|${state.metric}|${state.density ? 1 : 0}|${el('classify').value}`; }
// The level drawn at a zoom: the deepest whose tiles layer is there (county
// at city scale, micro_grid from zoom 13); city only below county's zoom.
function levelAtZoom(zoom) {
  let level = 'city';
  for (const l of LEVELS) if (MIN_ZOOM[l] <= zoom) level = l;
  return level;
}
// One URL per tile, whatever the version: each tile carries an entity tag of
// what it shows, so a reload after an update revalidates every tile and
// downloads only those over what changed (the others answer 304).
function tileUrl() { return location.origin + '/tiles/{z}/{x}/{y}.mvt'; }

// ---- Map layers: a fill per level (only the chosen one shown), outlines of
// the chosen level thin and of the level above it thick.
function addLayers() {
  for (const level of LEVELS) {
    map.addLayer({ id: 'fill-' + level, type: 'fill', source: 'grid', 'source-layer': level, minzoom: MIN_ZOOM[level],
                   layout: { visibility: 'none' }, paint: { 'fill-opacity': 0.75, 'fill-color': RAMP[0] } });
  }
  for (const level of LEVELS) {
    map.addLayer({ id: 'line-' + level, type: 'line', source: 'grid', 'source-layer': level, minzoom: MIN_ZOOM[level],
                   layout: { visibility: 'none' }, paint: { 'line-color': '#444', 'line-width': 0.5 } });
  }
  // The place chosen in the search results or the top 10, outlined at its own level.
  for (const level of LEVELS) {
    map.addLayer({ id: 'picked-' + level, type: 'line', source: 'grid', 'source-layer': level, minzoom: MIN_ZOOM[level],
                   layout: { visibility: 'none' }, filter: ['==', ['get', 'id'], ''],
                   paint: { 'line-color': '#d42a8c', 'line-width': 3.5 } });
  }
  // The clicked place, outlined at the chosen level.
  for (const level of LEVELS) {
    map.addLayer({ id: 'selected-' + level, type: 'line', source: 'grid', 'source-layer': level, minzoom: MIN_ZOOM[level],
                   layout: { visibility: 'none' }, filter: ['==', ['get', 'id'], ''],
                   paint: { 'line-color': '#2a6ad4', 'line-width': 3 } });
  }
  map.addSource('drawn', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({ id: 'drawn-fill', type: 'fill', source: 'drawn', paint: { 'fill-color': '#2a6ad4', 'fill-opacity': 0.15 } });
  map.addLayer({ id: 'drawn-line', type: 'line', source: 'drawn', paint: { 'line-color': '#2a6ad4', 'line-width': 2 } });
}

function styleLayers() {
  const i = LEVELS.indexOf(state.level);
  const breaks = state.breaks.get(scaleKey()) || [];
  const color = ['step', ['to-number', ['get', property()], 0], RAMP[0]];
  breaks.forEach((b, k) => color.push(b, RAMP[k + 1]));
  if (!breaks.length) color.splice(0, color.length, 'to-color', RAMP[0]);  // one class: a step needs a stop
  for (const [k, level] of LEVELS.entries()) {
    // At micro_grid level the grids are drawn under the micro-grids, so a
    // grid without micro-grids shows as itself, not as a hole.
    const filled = k === i || (state.level === 'micro_grid' && level === 'grid');
    map.setLayoutProperty('fill-' + level, 'visibility', filled ? 'visible' : 'none');
    if (filled) map.setPaintProperty('fill-' + level, 'fill-color', color);
    map.setLayoutProperty('line-' + level, 'visibility', k === i || k === i - 1 ? 'visible' : 'none');
    map.setPaintProperty('line-' + level, 'line-width', k === i - 1 ? 2.2 : 0.5);
    map.setPaintProperty('line-' + level, 'line-color', k === i - 1 ? '#222' : '#777');
    map.setLayoutProperty('selected-' + level, 'visibility', k === i ? 'visible' : 'none');
    map.setLayoutProperty('picked-' + level, 'visibility', state.picked?.level === level ? 'visible' : 'none');
  }
  const unit = UNITS[state.metric] || '个';
  el('legend-title').textContent = `${state.metric} (${unit}${state.density ? ' per km²' : ''}) · ${state.level}` +
                                   (state.pinned ? '' : ' (follows zoom)');
  const edges = [null, ...breaks, null];
  el('legend-classes').innerHTML = RAMP.slice(0, breaks.length + 1).map((c, k) =>
    `<li><span class="swatch" style="background:${c}"></span>` +
    (edges[k] === null && edges[k + 1] === null ? 'all' : edges[k] === null ? `< ${fmt(edges[k + 1])}` : edges[k + 1] === null ? `≥ ${fmt(edges[k])}`
                                                       : `${fmt(edges[k])} – ${fmt(edges[k + 1])}`) + '</li>').join('');
  el('level-shown').textContent = state.level;
  const need = MIN_ZOOM[state.level];
  el('zoomhint').textContent = map.getZoom() < need ? `Zoom in to ${need} or more to see each ${state.level}.` : '';
}

// ---- Classes: the values of every node of the drawn level (/topk of the
// whole level), cut into RAMP.length classes of equal counts (quantiles) or
// by natural breaks (Jenks). Kept until the user presses "recompute".
function quantileBreaks(sorted, classes) {
  const out = [];
  for (let k = 1; k < classes; ++k) out.push(sorted[Math.min(sorted.length - 1, Math.floor((k * sorted.length) / classes))]);
  return out;
}
// Jenks' natural breaks (Fisher's dynamic programme) on at most 1000 evenly
// spaced values of the sorted list.
function jenksBreaks(all, classes) {
  const step = Math.max(1, all.length / 1000);
  const v = [];
  for (let x = 0; x < all.length; x += step) v.push(all[Math.floor(x)]);
  const n = v.length;
  const lower = Array.from({ length: n + 1 }, () => new Array(classes + 1).fill(0));
  const cost = Array.from({ length: n + 1 }, () => new Array(classes + 1).fill(Infinity));
  for (let j = 1; j <= classes; ++j) { lower[1][j] = 1; cost[1][j] = 0; }
  for (let l = 2; l <= n; ++l) {
    let s1 = 0, s2 = 0, w = 0;
    for (let m = 1; m <= l; ++m) {
      const i3 = l - m + 1, val = v[i3 - 1];
      s2 += val * val; s1 += val; w += 1;
      const variance = s2 - (s1 * s1) / w;
      if (i3 > 1) {
        for (let j = 2; j <= classes; ++j) {
          if (cost[l][j] >= variance + cost[i3 - 1][j - 1]) { lower[l][j] = i3; cost[l][j] = variance + cost[i3 - 1][j - 1]; }
        }
      }
    }
    lower[l][1] = 1;
    cost[l][1] = s2 - (s1 * s1) / w;
  }
  const out = [];
  let k = n;
  for (let j = classes; j >= 2; --j) {
    const id = lower[k][j] - 1;
    out.unshift(v[Math.max(0, id)]);
    k = id;
  }
  return out;
}
async function refreshScale(recompute) {
  const key = scaleKey();
  if (recompute || !state.breaks.has(key)) {
    const k = Math.min(info.counts_per_level?.[state.level] || 100000, info.limits?.max_top_k || 100000);
    const q = `/topk?level=${state.level}&metric=${encodeURIComponent(state.metric)}&k=${k}${state.density ? '&density=1' : ''}`;
    const top = await api(q);
    const values = top.entries.map((e) => Number(state.density ? e.per_km2[state.metric] : e.metrics[state.metric]))
      .filter(Number.isFinite).sort((a, b) => a - b);
    let breaks = [];
    if (values.length) breaks = el('classify').value === 'jenks' ? jenksBreaks(values, RAMP.length) : quantileBreaks(values, RAMP.length);
    // A step needs strictly rising breaks; equal ones (many equal values) merge.
    state.breaks.set(key, breaks.filter((b, k2) => b > values[0] && (k2 === 0 || b > breaks[k2 - 1])));
  }
  styleLayers();
}

async function refreshTop() {
  const q = `/topk?level=${state.level}&metric=${encodeURIComponent(state.metric)}&k=10${state.density ? '&density=1' : ''}`;
  const top = await api(q);
  el('top').innerHTML = top.entries
    .map((e) => `<li data-id="${escapeHtml(e.id)}">${escapeHtml(e.name)} — ` +
                `${fmt(state.density ? e.per_km2[state.metric] : e.metrics[state.metric])}</li>`)
    .join('');
}

// Fits the place's bounds, but at least at the zoom where its children are
// drawn (a community lands where its grids are).
async function flyTo(id) {
  const node = await api('/node?id=' + encodeURIComponent(id));
  const [w, s, e, n] = node.bounds;
  const child = LEVELS[Math.min(LEVELS.length - 1, LEVELS.indexOf(node.level) + 1)];
  const camera = map.cameraForBounds([[w, s], [e, n]], { padding: 40, maxZoom: 16 });
  const zoom = Math.min(16, Math.max(camera?.zoom ?? MIN_ZOOM[child], MIN_ZOOM[child] + 0.01));
  map.flyTo({ center: camera?.center ?? [(w + e) / 2, (s + n) / 2], zoom, duration: 600 });
}

// A result or a top-10 row chosen: outline it, fill the card with its chain, fly to it.
async function pick(id) {
  const node = await api('/node?id=' + encodeURIComponent(id));
  state.picked = { id: node.id, level: node.level };
  map.setFilter('picked-' + node.level, ['==', ['get', 'id'], node.id]);
  styleLayers();
  state.place = { id: node.id };
  await Promise.all([flyTo(node.id), refreshPlace()]);
}

// ---- The grid diagram card: the whole chain of a place, every metric.
async function showPlace(lon, lat) {
  state.place = { lon, lat };
  await refreshPlace();
}
// The place is a clicked point (its chain down to the leaf) or a chosen node
// (its chain down to itself).
async function refreshPlace() {
  const place = state.place;
  if (!place) return;
  const hit = place.id ? { found: true, ...(await api('/path?id=' + encodeURIComponent(place.id))) }
                       : await api(`/locate?lon=${place.lon}&lat=${place.lat}`);
  if (!hit.found) {
    el('card').innerHTML = '<span class="muted">No grid here.</span>';
    return;
  }
  if (!place.id) for (const n of hit.chain) map.setFilter('selected-' + n.level, ['==', ['get', 'id'], n.id]);
  const ids = hit.chain.map((n) => n.id).join(',');
  const agg = await api('/aggregate?id=' + encodeURIComponent(ids));
  let html = '<table>';
  for (const a of agg.nodes) {
    html += `<tr><th colspan="2"><span class="chain-level">${escapeHtml(a.level)}</span> ` +
            `${escapeHtml(a.name)} <span class="muted">${escapeHtml(a.id)}</span></th></tr>`;
    html += Object.entries(a.metrics).map(([m, v]) => `<tr><td>${escapeHtml(m)}</td><td class="num" ` +
                                 `data-metric="${escapeHtml(m)}" data-node="${escapeHtml(a.id)}">${fmt(v)}</td></tr>`).join('');
  }
  el('card').innerHTML = html + '</table>';
}

async function search(text) {
  if (!text.trim()) {
    el('results').innerHTML = '';
    return;
  }
  const found = await api('/search?q=' + encodeURIComponent(text.trim()));
  el('results').innerHTML = found.results
    .map((r) => `<li data-id="${escapeHtml(r.id)}">${escapeHtml(r.name)} <span class="muted">${escapeHtml(r.level)} ${escapeHtml(r.id)}</span></li>`)
    .join('') || '<li class="muted">nothing found</li>';
}

// ---- Regions: a circle (centre, then a point on the rim) or a polygon
// (click the corners, double-click to close).
const draw = { mode: null, points: [] };
function circleRing(lon, lat, metres) {
  const ring = [];
  const dLat = metres / 111320, dLon = metres / (111320 * Math.cos((lat * Math.PI) / 180));
  for (let k = 0; k <= 64; ++k) {
    const a = (2 * Math.PI * k) / 64;
    ring.push([lon + dLon * Math.cos(a), lat + dLat * Math.sin(a)]);
  }
  return ring;
}
function showDrawn(ring) {
  map.getSource('drawn').setData({ type: 'Feature', geometry: { type: 'Polygon', coordinates: [ring] }, properties: {} });
}
function metresBetween(a, b) {
  const dx = (b[0] - a[0]) * 111320 * Math.cos((a[1] * Math.PI) / 180), dy = (b[1] - a[1]) * 111320;
  return Math.hypot(dx, dy);
}
async function runRegion() {
  if (!state.region) return;
  const group = el('group').value;
  const q = `/region?${state.region}&mode=${el('mode').value}${group ? '&group_by=' + group : ''}`;
  const r = await api(q);
  const m = state.metric;
  let html = `<div>Total ${escapeHtml(m)}: <b>${fmt(r.metrics[m])}</b> <span class="muted">(${r.leaves} leaves)</span></div>`;
  if (r.rows.length) {
    html += '<table>' + r.rows.map((row) => `<tr><td>${escapeHtml(row.name)}</td><td class="num">${fmt(row.metrics[m])}</td></tr>`).join('') + '</table>';
  }
  el('region').innerHTML = html;
}
function setDrawMode(mode) {
  draw.mode = mode;
  draw.points = [];
  el('draw-circle').classList.toggle('active', mode === 'circle');
  el('draw-polygon').classList.toggle('active', mode === 'polygon');
  el('draw-hint').textContent = mode === 'circle' ? 'Click the centre, then a point on the rim.'
                              : mode === 'polygon' ? 'Click the corners; double-click the last one.' : '';
  map.doubleClickZoom[mode === 'polygon' ? 'disable' : 'enable']();
}
async function onMapClick(e) {
  const p = [e.lngLat.lng, e.lngLat.lat];
  if (draw.mode === 'circle') {
    draw.points.push(p);
    if (draw.points.length === 2) {
      const [c, rim] = draw.points;
      const metres = Math.max(1, metresBetween(c, rim));
      showDrawn(circleRing(c[0], c[1], metres));
      state.region = `circle=${c[0]},${c[1]},${metres.toFixed(1)}`;
      setDrawMode(null);
      await runRegion();
    }
    return;
  }
  if (draw.mode === 'polygon') {
    draw.points.push(p);
    if (draw.points.length > 1) showDrawn([...draw.points, draw.points[0]]);
    return;
  }
  await showPlace(p[0], p[1]);
}
async function onMapDoubleClick() {
  if (draw.mode !== 'polygon' || draw.points.length < 3) return;
  const ring = [...draw.points, draw.points[0]];
  showDrawn(ring);
  state.region = 'wkt=' + encodeURIComponent('POLYGON((' + ring.map((q) => q[0] + ' ' + q[1]).join(',') + '))');
  setDrawMode(null);
  await runRegion();
}

// ---- Live: the metric version, polled; a change reloads the tiles and
// every number shown.
async function poll() {
  try {
    const now = await api('/info');
    if (el('status').className === 'bad' || el('status').textContent === 'connecting…') setStatus('live');
    const version = now.dataset_version + '.' + now.version + '.' + now.objects_version;
    if (version !== state.version) {
      state.version = version;
      // A new kind of tracked object is a new metric ("objects.<kind>").
      if (now.metric_names.join('\n') !== info.metric_names.join('\n'))
        el('metric').innerHTML = now.metric_names
          .map((m) => `<option ${m === state.metric ? 'selected' : ''}>${escapeHtml(m)}</option>`).join('');
      info = now;
      map.getSource('grid').setTiles([tileUrl()]);  // the same URL: a reload, revalidating each tile
      // The breaks stay put ("recompute" recomputes them); the colours follow the tiles.
      await Promise.all([refreshTop(), refreshPlace(), runRegion()]);
      window.gridtreeVersion = version;
    }
  } catch (e) {
    setStatus('Server unreachable: ' + e.message, true);
  }
  setTimeout(poll, POLL_MS);
}

async function start() {
  try {
    info = await api('/info');
  } catch (e) {
    setStatus('Server unreachable: ' + e.message, true);
    return;
  }
  setStatus('live');
  const tiles = await api('/tiles.json');
  state.metric = info.metric_names[0];
  state.version = info.dataset_version + '.' + info.version + '.' + info.objects_version;
  el('level').innerHTML = '<option value="" selected>auto (follows zoom)</option>' +
                          LEVELS.map((l) => `<option>${l}</option>`).join('');
  el('metric').innerHTML = info.metric_names.map((m) => `<option>${escapeHtml(m)}</option>`).join('');
  el('group').innerHTML = '<option value="">—</option>' + LEVELS.map((l) => `<option>${l}</option>`).join('');
  const [w, s, e, n] = tiles.bounds;
  map = new maplibregl.Map({
    container: 'map',
    style: {
      version: 8,
      sources: { grid: { type: 'vector', tiles: [tileUrl()], minzoom: 0, maxzoom: tiles.maxzoom, bounds: tiles.bounds } },
      layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#dfe9ef' } }],
    },
    bounds: [[w, s], [e, n]],
    fitBoundsOptions: { padding: 20 },
    attributionControl: false,
    canvasContextAttributes: { preserveDrawingBuffer: true },  // lets a test read the canvas
  });
  window.gridtreeMap = map;
  map.addControl(new maplibregl.NavigationControl(), 'top-right');
  map.on('load', async () => {
    state.level = levelAtZoom(map.getZoom());
    addLayers();
    await Promise.all([refreshScale(), refreshTop()]);
    map.once('idle', () => { window.gridtreeReady = true; });
    poll();
  });
  const changed = () => Promise.all([refreshScale(), refreshTop()]).catch((err) => setStatus(err.message, true));
  map.on('zoomend', () => {
    if (!map.getLayer('fill-city')) return;  // before 'load'
    const level = state.pinned || levelAtZoom(map.getZoom());
    if (level === state.level) return styleLayers();
    state.level = level;
    changed();
  });
  map.on('click', (e) => onMapClick(e).catch((err) => setStatus(err.message, true)));
  map.on('dblclick', () => onMapDoubleClick().catch((err) => setStatus(err.message, true)));
  el('level').onchange = () => {
    state.pinned = el('level').value;
    state.level = state.pinned || levelAtZoom(map.getZoom());
    changed();
  };
  el('classify').onchange = () => changed();
  el('recompute').onclick = () => refreshScale(true).catch((err) => setStatus(err.message, true));
  el('metric').onchange = () => { state.metric = el('metric').value; changed(); runRegion(); };
  el('density').onchange = () => { state.density = el('density').checked; changed(); };
  el('mode').onchange = () => runRegion();
  el('group').onchange = () => runRegion();
  el('draw-circle').onclick = () => setDrawMode('circle');
  el('draw-polygon').onclick = () => setDrawMode('polygon');
  el('draw-clear').onclick = () => {
    setDrawMode(null);
    state.region = null;
    map.getSource('drawn').setData({ type: 'FeatureCollection', features: [] });
    el('region').innerHTML = '';
  };
  let timer = null;
  el('search').oninput = () => { clearTimeout(timer); timer = setTimeout(() => search(el('search').value).catch(() => {}), 200); };
  const chosen = (e) => {
    const id = e.target.closest('li')?.dataset.id;
    if (id) pick(id).catch((err) => setStatus(err.message, true));
  };
  el('results').onclick = chosen;
  el('top').onclick = chosen;
}

start();
