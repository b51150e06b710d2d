// The grid diagram: gridtree's vector tiles on a MapLibre map, with the
// JSON queries of the same server (docs/map.md), in the shapes of
// docs/json.md. Everything comes from the server that served this page;
// nothing from any other host.
import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';

const LEVELS = ['city', 'county', 'town', 'community', 'grid', 'micro_grid'];
const MIN_ZOOM = { city: 0, county: 6, town: 9, community: 11, grid: 12, micro_grid: 13 };
const RAMP = ['#fff5eb', '#fdd0a2', '#fdae6b', '#fd8d3c', '#e6550d', '#a63603'];  // one colour per class
const UNITS = { population: '人', households: '户', buildings: '栋', staff: '人', grid_staff: '人', fishermen: '人',
                fishing_boats: '艘' };  // others: 个
const POLL_MS = 700;  // metric changes show within a second
// The card's children table: these metrics, where the dataset has them, then
// every objects.<kind>.
const CHILD_METRICS = ['households', 'buildings', 'population', 'schools', 'markets', 'grid_staff'];
const KIND_COLORS = ['#1f78b4', '#33a02c', '#e31a1c', '#6a3d9a', '#ff7f00', '#b15928', '#a6cee3', '#fb9a99'];

// ---- Words: Chinese by default, English as a choice (remembered). Ids and
// keys (metric names, levels, kinds) stay as the server spells them.
const WORDS = {
  zh: {
    title: 'gridtree — 网格图', level: '层级', metric: '指标', per_km2: '每平方公里', classes: '分级',
    quantile: '分位数', jenks: '自然断点 (Jenks)', recompute: '重新分级', recompute_title: '按当前数值重新计算分级断点',
    showing: '显示：', search: '搜索名称或编号', place: '地点', click_map: '点击地图。', region: '区域',
    circle: '圆形', polygon: '多边形', clear: '清除', mode: '方式', group_by: '分组', intersecting: '相交',
    contained: '包含', area_weighted: '按面积加权', top10: '前 10', objects: '移动目标', kind: '类型', all_kinds: '全部',
    auto: '自动（随缩放）', follows_zoom: '（随缩放）', all: '全部', zoom_in: (z, l) => `放大到 ${z} 级以上可见各${l}。`,
    no_grid: '此处没有网格。', nothing: '未找到', total: '合计', leaves: '个叶节点', area: '面积',
    density: '人口密度', per_km2_unit: '/km²', children: '下级', name: '名称', id: '编号', unreachable: '无法连接服务器：',
    live: '实时', connecting: '连接中…', circle_hint: '点击圆心，再点击圆周上一点。',
    polygon_hint: '依次点击各顶点，双击最后一个。', outside: (n, k) => `${n} 个${k}不在任何网格内`,
    shown: (n, t) => `视图内 ${n} 个目标` + (t > n ? `（共 ${t} 个，已截断）` : ''), lang: 'English', count: '数',
  },
  en: {
    title: 'gridtree — grid diagram', level: 'Level', metric: 'Metric', per_km2: 'per km²', classes: 'Classes',
    quantile: 'quantiles', jenks: 'natural breaks (Jenks)', recompute: 'Recompute',
    recompute_title: 'Recompute the class breaks from the current values', showing: 'Showing: ',
    search: 'Search a name or id', place: 'Place', click_map: 'Click the map.', region: 'Region', circle: 'Circle',
    polygon: 'Polygon', clear: 'Clear', mode: 'Mode', group_by: 'Group by', intersecting: 'intersecting',
    contained: 'contained', area_weighted: 'area-weighted', top10: 'Top 10', objects: 'Moving objects', kind: 'Kind',
    all_kinds: 'all', auto: 'auto (follows zoom)', follows_zoom: ' (follows zoom)', all: 'all',
    zoom_in: (z, l) => `Zoom in to ${z} or more to see each ${l}.`, no_grid: 'No grid here.',
    nothing: 'nothing found', total: 'Total', leaves: 'leaves', area: 'area', density: 'density',
    per_km2_unit: ' per km²', children: 'Children', name: 'name', id: 'id', unreachable: 'Server unreachable: ',
    live: 'live', connecting: 'connecting…', circle_hint: 'Click the centre, then a point on the rim.',
    polygon_hint: 'Click the corners; double-click the last one.',
    outside: (n, k) => `${n} ${k}${n === 1 ? '' : 's'} outside every grid`,
    shown: (n, t) => `${n} objects in view` + (t > n ? ` (of ${t}, cut)` : ''), lang: '中文', count: '',
  },
};
const NAMES = {
  zh: {
    metric: { population: '人口', households: '户数', buildings: '楼栋', schools: '学校', markets: '市场',
              grid_staff: '网格员', fishermen: '渔民', fishing_boats: '渔船' },
    level: { city: '市', county: '区县', town: '镇街', community: '社区', grid: '网格', micro_grid: '微网格' },
    kind: { boat: '船', staff: '网格员' },
  },
  en: { metric: {}, level: {}, kind: {} },
};
let lang = localStorage.getItem('gridtree.lang') === 'en' ? 'en' : 'zh';
const t = (key) => WORDS[lang][key];
const levelName = (l) => NAMES[lang].level[l] || l;
const kindName = (k) => NAMES[lang].kind[k] || k;
function metricName(m) {
  if (m.startsWith('objects.')) return lang === 'zh' ? kindName(m.slice(8)) + '数' : m;
  return NAMES[lang].metric[m] || m;
}

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
    setStatus(t('unreachable') + e.message, true);
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
  // Moving objects: filled in a grid, hollow outside every grid.
  map.addSource('objects', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({ id: 'objects-in', type: 'circle', source: 'objects', filter: ['==', ['get', 'inside'], true],
                 paint: { 'circle-radius': 5, 'circle-color': '#1f78b4', 'circle-stroke-color': '#fff', 'circle-stroke-width': 1 } });
  map.addLayer({ id: 'objects-out', type: 'circle', source: 'objects', filter: ['==', ['get', 'inside'], false],
                 paint: { 'circle-radius': 5, 'circle-opacity': 0, 'circle-stroke-color': '#1f78b4', 'circle-stroke-width': 2 } });
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
  el('legend-title').textContent = `${metricName(state.metric)} (${unit}${state.density ? t('per_km2_unit') : ''}) · ` +
                                   levelName(state.level) + (state.pinned ? '' : t('follows_zoom'));
  const edges = [null, ...breaks, null];
  el('legend-classes').innerHTML = RAMP.slice(0, breaks.length + 1).map((c, k) =>
    `<li><span class="swatch" style="background:${c}"></span>` +
    (edges[k] === null && edges[k + 1] === null ? t('all') : edges[k] === null ? `< ${fmt(edges[k + 1])}` : edges[k + 1] === null ? `≥ ${fmt(edges[k])}`
                                                       : `${fmt(edges[k])} – ${fmt(edges[k + 1])}`) + '</li>').join('');
  el('level-shown').textContent = levelName(state.level);
  el('level-shown').dataset.level = state.level;
  const need = MIN_ZOOM[state.level];
  el('zoomhint').textContent = map.getZoom() < need ? t('zoom_in')(need, levelName(state.level)) : '';
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

// ---- The grid diagram card: the place first (name, level, id, area,
// density, every metric), then a table of its children, then its chain
// upward as links. Every number comes from one /aggregate call (the place
// and its children together), so from one dataset and metric version.
async function showPlace(lon, lat) {
  state.place = { lon, lat };
  await refreshPlace();
}
// The place is a clicked point (the node of its chain at the drawn level, or
// the deepest there is) or a chosen node.
async function refreshPlace() {
  const place = state.place;
  if (!place) return;
  let id = place.id;
  if (!id) {
    const hit = await api(`/locate?lon=${place.lon}&lat=${place.lat}`);
    if (!hit.found) {
      el('card').innerHTML = `<span class="muted">${escapeHtml(t('no_grid'))}</span>`;
      return;
    }
    for (const n of hit.chain) map.setFilter('selected-' + n.level, ['==', ['get', 'id'], n.id]);
    id = (hit.chain.find((n) => n.level === state.level) || hit.chain[hit.chain.length - 1]).id;
  }
  const q = encodeURIComponent(id);
  let path, kids, node, agg;
  for (let tries = 0; ; ++tries) {  // until the answers name one dataset version
    [path, kids, node] = await Promise.all([api('/path?id=' + q), api('/children?id=' + q), api('/node?id=' + q)]);
    const ids = [id, ...kids.children.map((c) => c.id)].map(encodeURIComponent).join(',');
    agg = await api('/aggregate?id=' + ids);
    const dv = agg.dataset_version;
    if ((path.dataset_version === dv && kids.dataset_version === dv && node.dataset_version === dv) || tries >= 4) break;
  }
  if (state.place !== place) return;  // another place was chosen meanwhile
  const [self, ...rows] = agg.nodes;
  const pop = Number(self.metrics.population);
  const density = node.area_km2 > 0 && Number.isFinite(pop) ? pop / node.area_km2 : null;
  const cell = (a, m) => `<td class="num" data-metric="${escapeHtml(m)}" data-node="${escapeHtml(a.id)}">` +
                         `${a.metrics[m] === undefined ? '' : fmt(a.metrics[m])}</td>`;
  let html = `<div id="card-place" data-id="${escapeHtml(self.id)}" data-version="${agg.dataset_version}.${agg.version}">` +
             `<div class="place-name">${escapeHtml(self.name)}</div>` +
             `<div class="muted"><span class="chain-level">${escapeHtml(levelName(self.level))}</span> ${escapeHtml(self.id)}</div>` +
             `<table><tr><td>${escapeHtml(t('area'))}</td><td class="num">${fmt(node.area_km2)} km²</td></tr>` +
             (density === null ? '' : `<tr><td>${escapeHtml(t('density'))}</td><td class="num">${fmt(density)} /km²</td></tr>`) +
             Object.keys(self.metrics).map((m) => `<tr><td>${escapeHtml(metricName(m))}</td>${cell(self, m)}</tr>`).join('') +
             '</table></div>';
  if (rows.length) {
    const have = Object.keys(self.metrics);
    const cols = [...CHILD_METRICS.filter((m) => have.includes(m)), ...have.filter((m) => m.startsWith('objects.'))];
    html += `<h3>${escapeHtml(t('children'))} · ${escapeHtml(levelName(rows[0].level))} (${rows.length})</h3>` +
            '<div class="children-wrap"><table id="card-children"><tr><th></th>' +
            cols.map((m) => `<th class="num">${escapeHtml(metricName(m))}</th>`).join('') + '</tr>' +
            rows.map((r) => `<tr data-id="${escapeHtml(r.id)}"><td class="link" title="${escapeHtml(r.id)}">${escapeHtml(r.name)}</td>` +
                            cols.map((m) => cell(r, m)).join('') + '</tr>').join('') + '</table></div>';
  }
  const up = path.chain.slice(0, -1);
  if (up.length)
    html += '<div id="card-chain">' + up.map((n) => `<a href="#" data-id="${escapeHtml(n.id)}" title="${escapeHtml(levelName(n.level))}">` +
                                               `${escapeHtml(n.name)}</a>`).join(' › ') +
            ` › <b>${escapeHtml(self.name)}</b></div>`;
  el('card').innerHTML = html;
  el('card').className = '';
}

async function search(text) {
  if (!text.trim()) {
    el('results').innerHTML = '';
    return;
  }
  const found = await api('/search?q=' + encodeURIComponent(text.trim()));
  el('results').innerHTML = found.results
    .map((r) => `<li data-id="${escapeHtml(r.id)}">${escapeHtml(r.name)} <span class="muted">${escapeHtml(levelName(r.level))} ${escapeHtml(r.id)}</span></li>`)
    .join('') || `<li class="muted">${escapeHtml(t('nothing'))}</li>`;
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
  let html = `<div>${escapeHtml(t('total'))} ${escapeHtml(metricName(m))}: <b>${fmt(r.metrics[m])}</b> ` +
             `<span class="muted">(${r.leaves} ${escapeHtml(t('leaves'))})</span></div>`;
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
  el('draw-hint').textContent = mode === 'circle' ? t('circle_hint') : mode === 'polygon' ? t('polygon_hint') : '';
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

// ---- Moving objects: the points in the view (/objects), coloured by kind,
// hollow when in no grid; fetched again when the view moves and when
// objects_version changes.
const objects = { kinds: [], answer: null, seq: 0 };
function objectKinds() {
  const kinds = new Set(info.metric_names.filter((m) => m.startsWith('objects.')).map((m) => m.slice(8)));
  for (const o of objects.answer?.objects || []) kinds.add(o.kind);
  return [...kinds].sort();
}
function fillKinds() {
  const kinds = objectKinds();
  if (kinds.join('\n') === objects.kinds.join('\n') && el('kind').options.length) return;
  objects.kinds = kinds;
  const chosen = el('kind').value;
  el('kind').innerHTML = `<option value="">${escapeHtml(t('all_kinds'))}</option>` +
    kinds.map((k) => `<option value="${escapeHtml(k)}" ${k === chosen ? 'selected' : ''}>${escapeHtml(kindName(k))}</option>`).join('');
  const color = ['match', ['get', 'kind']];
  kinds.forEach((k, i) => color.push(k, KIND_COLORS[i % KIND_COLORS.length]));
  color.push('#555');
  if (!kinds.length) color.splice(0, color.length, 'to-color', '#555');  // a match needs a label
  map.setPaintProperty('objects-in', 'circle-color', color);
  map.setPaintProperty('objects-out', 'circle-stroke-color', color);
}
function objectsLine() {
  const a = objects.answer;
  if (!a) return;
  const outside = new Map();
  for (const o of a.objects) if (!o.leaf_id) outside.set(o.kind, (outside.get(o.kind) || 0) + 1);
  el('objects-line').innerHTML = escapeHtml(t('shown')(a.objects.length, a.total)) +
    [...outside].map(([k, n]) => `<div class="outside">${escapeHtml(t('outside')(n, kindName(k)))}</div>`).join('');
}
async function refreshObjects() {
  if (!map?.getSource('objects')) return;
  const seq = ++objects.seq;
  const b = map.getBounds();
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v)).toFixed(6);
  const bbox = [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90), clamp(b.getEast(), -180, 180),
                clamp(b.getNorth(), -90, 90)].join(',');
  const kind = el('kind').value;
  const a = await api(`/objects?bbox=${bbox}${kind ? '&kind=' + encodeURIComponent(kind) : ''}`);
  if (seq !== objects.seq) return;  // a newer view was asked for
  objects.answer = a;
  map.getSource('objects').setData({
    type: 'FeatureCollection',
    features: a.objects.map((o) => ({ type: 'Feature', geometry: { type: 'Point', coordinates: [o.lon, o.lat] },
                                      properties: { id: o.id, kind: o.kind, leaf_id: o.leaf_id || '', inside: !!o.leaf_id } })),
  });
  fillKinds();
  objectsLine();
  window.gridtreeObjectsVersion = a.objects_version;
}

// The interface's words, in the chosen language: the page's fixed text
// (data-i18n, data-i18n-placeholder, data-i18n-title) and the selects.
function applyWords() {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  document.title = t('title');
  for (const n of document.querySelectorAll('[data-i18n]')) n.textContent = t(n.dataset.i18n);
  for (const n of document.querySelectorAll('[data-i18n-placeholder]')) n.placeholder = t(n.dataset.i18nPlaceholder);
  for (const n of document.querySelectorAll('[data-i18n-title]')) n.title = t(n.dataset.i18nTitle);
  el('lang').textContent = t('lang');
  if (!info) return;
  const level = el('level').value, group = el('group').value;
  el('level').innerHTML = `<option value="">${escapeHtml(t('auto'))}</option>` +
                          LEVELS.map((l) => `<option value="${l}">${escapeHtml(levelName(l))}</option>`).join('');
  el('level').value = level;
  fillMetrics();
  el('group').innerHTML = '<option value="">—</option>' +
                          LEVELS.map((l) => `<option value="${l}">${escapeHtml(levelName(l))}</option>`).join('');
  el('group').value = group;
}
function fillMetrics() {
  el('metric').innerHTML = info.metric_names
    .map((m) => `<option value="${escapeHtml(m)}" ${m === state.metric ? 'selected' : ''}>${escapeHtml(metricName(m))}</option>`).join('');
}
async function switchLanguage() {
  lang = lang === 'zh' ? 'en' : 'zh';
  localStorage.setItem('gridtree.lang', lang);
  applyWords();
  objects.kinds = [null];  // refilled in the new language
  if (map?.getSource('objects')) fillKinds();
  objectsLine();
  if (el('status').className !== 'bad') setStatus(t('live'));
  if (!state.place) el('card').textContent = t('click_map');
  styleLayers();
  await Promise.all([refreshTop(), refreshPlace(), runRegion()]);
}

// ---- Live: the metric version, polled; a change reloads the tiles and
// every number shown.
async function poll() {
  try {
    const now = await api('/info');
    if (el('status').className === 'bad' || el('status').textContent === t('connecting')) setStatus(t('live'));
    const version = now.dataset_version + '.' + now.version + '.' + now.objects_version;
    if (version !== state.version) {
      state.version = version;
      // A new kind of tracked object is a new metric ("objects.<kind>").
      const newMetrics = now.metric_names.join('\n') !== info.metric_names.join('\n');
      const newObjects = now.objects_version !== info.objects_version;
      info = now;
      if (newMetrics) fillMetrics();
      if (newObjects || newMetrics) refreshObjects().catch((err) => setStatus(err.message, true));
      map.getSource('grid').setTiles([tileUrl()]);  // the same URL: a reload, revalidating each tile
      // The breaks stay put ("recompute" recomputes them); the colours follow the tiles.
      await Promise.all([refreshTop(), refreshPlace(), runRegion()]);
      window.gridtreeVersion = version;
    }
  } catch (e) {
    setStatus(t('unreachable') + e.message, true);
  }
  setTimeout(poll, POLL_MS);
}

async function start() {
  try {
    applyWords();
    setStatus(t('connecting'));
    el('card').textContent = t('click_map');
    info = await api('/info');
  } catch (e) {
    setStatus(t('unreachable') + e.message, true);
    return;
  }
  setStatus(t('live'));
  const tiles = await api('/tiles.json');
  state.metric = info.metric_names[0];
  state.version = info.dataset_version + '.' + info.version + '.' + info.objects_version;
  applyWords();
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
    await Promise.all([refreshScale(), refreshTop(), refreshObjects()]);
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
  map.on('moveend', () => refreshObjects().catch((err) => setStatus(err.message, true)));
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
  el('card').onclick = (e) => {
    const id = e.target.closest('[data-id]:is(a, tr)')?.dataset.id;
    if (!id) return;
    e.preventDefault();
    pick(id).catch((err) => setStatus(err.message, true));
  };
  el('kind').onchange = () => refreshObjects().catch((err) => setStatus(err.message, true));
  el('lang').onclick = () => switchLanguage().catch((err) => setStatus(err.message, true));
  el('top').onclick = chosen;
}

start();
