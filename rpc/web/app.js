// The grid diagram: gridtree's vector tiles on a MapLibre map, with the
// JSON queries of the same server (docs/map.md), in the shapes of
// docs/json.md. Everything comes from the server that served this page;
// nothing from any other host.
import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';

const LEVELS = ['city', 'county', 'town', 'community', 'grid', 'micro_grid'];
const MIN_ZOOM = { city: 0, county: 6, town: 9, community: 11, grid: 12, micro_grid: 13 };
const RAMP = ['#fff5eb', '#fdae6b', '#f16913', '#7f2704'];
const POLL_MS = 700;  // metric changes show within a second

const el = (id) => document.getElementById(id);
const state = { level: 'community', metric: '', density: false, version: null, max: 1, place: null, region: null };
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
  const stops = [0, RAMP[0], state.max / 3, RAMP[1], (2 * state.max) / 3, RAMP[2], state.max, RAMP[3]];
  for (const [k, level] of LEVELS.entries()) {
    map.setLayoutProperty('fill-' + level, 'visibility', k === i ? 'visible' : 'none');
    map.setLayoutProperty('line-' + level, 'visibility', k === i || k === i - 1 ? 'visible' : 'none');
    map.setPaintProperty('line-' + level, 'line-width', k === i - 1 ? 2.2 : 0.5);
    map.setPaintProperty('line-' + level, 'line-color', k === i - 1 ? '#222' : '#777');
    map.setLayoutProperty('selected-' + level, 'visibility', k === i ? 'visible' : 'none');
  }
  map.setPaintProperty('fill-' + state.level, 'fill-color',
                       ['interpolate', ['linear'], ['to-number', ['get', property()], 0], ...stops]);
  el('tick1').textContent = fmt(state.max / 2);
  el('tick2').textContent = fmt(state.max);
  const need = MIN_ZOOM[state.level];
  el('zoomhint').textContent = map.getZoom() < need ? `Zoom in to ${need} or more to see each ${state.level}.` : '';
}

// The colour scale runs from 0 to the level's largest value (top-k of one).
async function refreshScale() {
  const q = `/topk?level=${state.level}&metric=${encodeURIComponent(state.metric)}&k=1${state.density ? '&density=1' : ''}`;
  const top = await api(q);
  const best = top.entries[0];
  state.max = best ? Math.max(1e-9, state.density ? best.per_km2[state.metric] : best.metrics[state.metric]) : 1;
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

async function flyTo(id) {
  const node = await api('/node?id=' + encodeURIComponent(id));
  const [w, s, e, n] = node.bounds;
  map.fitBounds([[w, s], [e, n]], { padding: 40, maxZoom: 16, duration: 600 });
}

// ---- The grid diagram card: the whole chain of a place, every metric.
async function showPlace(lon, lat) {
  state.place = { lon, lat };
  const hit = await api(`/locate?lon=${lon}&lat=${lat}`);
  if (!hit.found) {
    el('card').innerHTML = '<span class="muted">No grid here.</span>';
    return;
  }
  for (const n of hit.chain) map.setFilter('selected-' + n.level, ['==', ['get', 'id'], n.id]);
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
      await Promise.all([refreshScale(), refreshTop(), state.place ? showPlace(state.place.lon, state.place.lat) : null, runRegion()]);
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
  el('level').innerHTML = LEVELS.map((l) => `<option ${l === state.level ? 'selected' : ''}>${l}</option>`).join('');
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
    addLayers();
    await Promise.all([refreshScale(), refreshTop()]);
    map.once('idle', () => { window.gridtreeReady = true; });
    poll();
  });
  map.on('zoomend', styleLayers);
  map.on('click', (e) => onMapClick(e).catch((err) => setStatus(err.message, true)));
  map.on('dblclick', () => onMapDoubleClick().catch((err) => setStatus(err.message, true)));
  const changed = () => Promise.all([refreshScale(), refreshTop()]).catch((err) => setStatus(err.message, true));
  el('level').onchange = () => { state.level = el('level').value; changed(); };
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
  const pick = (e) => { const id = e.target.closest('li')?.dataset.id; if (id) flyTo(id); };
  el('results').onclick = pick;
  el('top').onclick = pick;
}

start();
