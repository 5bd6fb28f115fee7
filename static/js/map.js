// The hub's maps: folium writes the Leaflet map and its empty layers, this module fills them
// from the GeoJSON feeds (/api/v1/map/...) and keeps them live from the event stream.
//
// folium's page script runs first and queues {map, layers, config} on window.hubMapQueue;
// each queued map is set up here. config.live is "own" (open /ws/dashboard/), "page" (the
// page's own stream announces events as "hub:event" on document) or "none".
import { LiveStream, el, labels as liveLabels, showStatus } from "./live.js";

const REFRESH_DEBOUNCE_MS = 300;
const RETRY_MAX_MS = 30000;
const POI_GLYPHS = { windows: "窗", police: "警", government: "政", other: "•", projects: "工" };

export const hubMaps = [];
window.hubMaps = hubMaps;

// --- GCJ-02 (the same transform as maps/domain/coords.py) ---------------------------------

const A = 6378245.0;
const EE = 0.00669342162296594323;

export function inChina(lat, lng) {
  return lat >= 0.8293 && lat <= 55.8271 && lng >= 72.004 && lng <= 137.8347;
}

function offsetLat(x, y) {
  let r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  r += ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) / 3;
  r += ((20 * Math.sin(y * Math.PI) + 40 * Math.sin((y / 3) * Math.PI)) * 2) / 3;
  r += ((160 * Math.sin((y / 12) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30)) * 2) / 3;
  return r;
}

function offsetLng(x, y) {
  let r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  r += ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) / 3;
  r += ((20 * Math.sin(x * Math.PI) + 40 * Math.sin((x / 3) * Math.PI)) * 2) / 3;
  r += ((150 * Math.sin((x / 12) * Math.PI) + 300 * Math.sin((x / 30) * Math.PI)) * 2) / 3;
  return r;
}

export function wgs84ToGcj02(lat, lng) {
  if (!inChina(lat, lng)) return [lat, lng];
  return shift(lat, lng);
}

function shift(lat, lng) {
  let dLat = offsetLat(lng - 105, lat - 35);
  let dLng = offsetLng(lng - 105, lat - 35);
  const radLat = (lat / 180) * Math.PI;
  const magic = 1 - EE * Math.sin(radLat) ** 2;
  const sqrtMagic = Math.sqrt(magic);
  dLat = (dLat * 180) / (((A * (1 - EE)) / (magic * sqrtMagic)) * Math.PI);
  dLng = (dLng * 180) / ((A / sqrtMagic) * Math.cos(radLat) * Math.PI);
  return [lat + dLat, lng + dLng];
}

export function gcj02ToWgs84(lat, lng) {
  let wLat = lat;
  let wLng = lng;
  for (let i = 0; i < 30; i += 1) {
    const [gLat, gLng] = shift(wLat, wLng);
    const eLat = gLat - lat;
    const eLng = gLng - lng;
    if (Math.abs(eLat) < 1e-9 && Math.abs(eLng) < 1e-9) break;
    wLat -= eLat;
    wLng -= eLng;
  }
  // A source outside the box was never shifted: the point is its own.
  // (A source on the box's very edge may converge a hair outside it.)
  const round7 = (v) => Math.round(v * 1e7) / 1e7;
  const inside = inChina(wLat, wLng) || inChina(round7(wLat), round7(wLng));
  return inside ? [wLat, wLng] : [lat, lng];
}

window.hubGcj02 = { wgs84ToGcj02, gcj02ToWgs84 };

// --- markers ------------------------------------------------------------------------------

// Cluster icons: the count, red-ringed when any case inside is overdue.
window.hubMapClusterIcon = function clusterIcon(cluster) {
  const children = cluster.getAllChildMarkers();
  const overdue = children.some((m) => m.options.overdue);
  const n = cluster.getChildCount();
  const size = n < 10 ? 30 : n < 100 ? 36 : 44;
  return L.divIcon({
    html: `<span>${n}</span>`,
    className: `case-cluster${overdue ? " has-overdue" : ""}`,
    iconSize: L.point(size, size),
  });
};

function latLng(feature) {
  const [lng, lat] = feature.geometry.coordinates;
  return [lat, lng];
}

function popupFor(kind, p, text) {
  const rows = [];
  const add = (label, value) => {
    if (value !== null && value !== undefined && value !== "") {
      rows.push(el("div", {}, el("span", { class: "popup-label" }, label), " ", String(value)));
    }
  };
  let title;
  if (kind === "cases") {
    title = el("a", { href: `/cases/${encodeURIComponent(p.number)}/` }, p.number);
    add("", text.states[p.state] || p.state);
    if (p.overdue) rows.push(el("div", { class: "popup-overdue" }, text.overdue));
    add(text.workers, p.workers);
    add(text.amount, p.amount);
    add(text.received, p.received);
    if (p.approx) rows.push(el("div", { class: "popup-note" }, text.approx));
  } else if (kind === "incidents") {
    title = el("a", { href: `/incidents/${Number(p.id)}/` }, `${p.code} ${p.title}`);
    add(text.level, p.level);
    add("", text.statuses[p.status] || p.status);
    add("", text.kinds[p.kind] || p.kind);
    add(text.people, p.people);
  } else if (kind === "projects") {
    title = el("strong", {}, p.name);
    add(text.open_cases, p.open_cases);
  } else if (kind === "warnings") {
    title = el("a", { href: `/alerts/warnings/${Number(p.id)}/` }, `${p.code} ${p.subject}`);
    add(text.level, (text.warning_levels || {})[p.level] || p.level);
    add(text.score, p.score);
  } else {
    title = el("strong", {}, p.name);
    if (kind === "places") add("", text.places[p.kind] || p.kind);
    if (p.phone) add("☎", p.phone);
  }
  if (p.distance_m !== undefined) add("", `${p.distance_m} ${text.distance}`);
  return el("div", { class: `map-popup popup-${kind}` }, title, ...rows);
}

// A marker's coloured face. Built as an element with its colour set through the CSSOM: a
// style attribute in markup would need 'unsafe-inline' in the Content Security Policy.
function face(colour, text = "") {
  const node = el("span", {}, text);
  node.style.background = colour;
  return node;
}

// `site`: the incident whose room this map is in (drawn larger than any other).
function markerFor(kind, feature, text, site = null) {
  const p = feature.properties;
  let icon;
  let extra = {};
  if (kind === "cases") {
    icon = L.divIcon({
      className: `case-marker${p.overdue ? " overdue" : ""}${p.approx ? " approx" : ""}`,
      html: face(p.colour),
      iconSize: [14, 14],
    });
    extra = { overdue: Boolean(p.overdue), title: p.number };
  } else if (kind === "incidents") {
    icon = L.divIcon({
      className: `incident-marker level-${p.level}${p.pulse ? " pulse" : ""}${
        site === String(p.id) ? " site" : ""
      }`,
      html: face(p.colour, p.level),
      iconSize: site === String(p.id) ? [40, 40] : [30, 30],
    });
    extra = { title: `${p.code} ${p.title}`, zIndexOffset: 1000 };
  } else if (kind === "warnings") {
    icon = L.divIcon({
      className: `warning-marker level-${p.level}`,
      html: face(p.colour, "!"),
      iconSize: [22, 22],
    });
    extra = { title: `${p.code} ${p.subject}`, zIndexOffset: 500 };
  } else {
    const glyphKey = kind === "places" ? p.kind : kind;
    icon = L.divIcon({
      className: `poi-marker poi-${glyphKey}`,
      html: `<span>${POI_GLYPHS[glyphKey] || "•"}</span>`,
      iconSize: [22, 22],
    });
    extra = { title: p.name };
  }
  const marker = L.marker(latLng(feature), { icon, keyboard: true, ...extra });
  marker.feature = feature;
  marker.bindPopup(() => popupFor(kind, p, text));
  return marker;
}

function keyOf(kind, feature) {
  const p = feature.properties;
  if (kind === "cases") return p.number;
  if (kind === "incidents") return String(p.id);
  return p.code || String(p.id || p.name);
}

function withParam(url, name, value) {
  const u = new URL(url, window.location.origin);
  u.searchParams.set(name, value);
  return u.pathname + u.search;
}

// --- one map ------------------------------------------------------------------------------

class HubMap {
  constructor({ map, layers, config }) {
    this.map = map;
    this.layers = layers;
    this.config = config;
    this.text = config.labels;
    this.site = config.focus ? String(config.focus.incident_id) : null;
    this.node = map.getContainer();
    this.markers = {};
    this.counts = {};
    this.pending = { incidents: new Set(), cases: new Set(), warnings: false };
    this.timer = null;
    this.retry = {};
    this.message = el("div", { class: "map-message", role: "status", hidden: "" });
    this.node.append(this.message);
  }

  start() {
    this.fitTowns();
    for (const kind of Object.keys(this.config.feeds)) {
      // A hidden layer's feed is fetched when it is first shown (the heat map holds the
      // period's cases again: no need to download them for nothing).
      const layer = this.layers[kind];
      if (layer && !this.map.hasLayer(layer)) this.loadWhenShown(kind, layer);
      else this.load(kind);
    }
    if (this.config.picker) this.startPicker(this.config.picker);
    if (this.config.live === "own") this.listenOwn();
    else if (this.config.live === "page") {
      document.addEventListener("hub:event", (e) => this.onEvent(e.detail));
    }
  }

  loadWhenShown(kind, layer) {
    const shown = (e) => {
      if (e.layer !== layer) return;
      this.map.off("overlayadd", shown);
      this.load(kind);
    };
    this.map.on("overlayadd", shown);
  }

  async fetchFeed(url) {
    const response = await fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/geo+json" },
    });
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    return response.json();
  }

  async load(kind) {
    const url = this.config.feeds[kind];
    try {
      const body = await this.fetchFeed(url);
      this.retry[kind] = 0;
      this.message.hidden = true;
      if (kind === "heat") this.fillHeat(body.features);
      else this.fill(kind, body.features);
    } catch (error) {
      const wait = Math.min(RETRY_MAX_MS, 2000 * 2 ** (this.retry[kind] || 0));
      this.retry[kind] = (this.retry[kind] || 0) + 1;
      this.message.textContent = this.text.failed;
      this.message.hidden = false;
      window.setTimeout(() => this.load(kind), wait);
    }
  }

  fill(kind, features) {
    const layer = this.layers[kind];
    if (!layer) return;
    layer.clearLayers();
    const markers = new Map();
    const list = [];
    for (const feature of features) {
      const marker = markerFor(kind, feature, this.text, this.site);
      markers.set(keyOf(kind, feature), marker);
      list.push(marker);
    }
    if (layer.addLayers) layer.addLayers(list);
    else for (const marker of list) layer.addLayer(marker);
    this.markers[kind] = markers;
    this.setCount(kind);
  }

  fillHeat(features) {
    const points = features.map((f) => [...latLng(f), f.properties.weight || 1]);
    const weights = points.map((p) => p[2]).sort((a, b) => a - b);
    const top = weights.length ? weights[Math.floor(weights.length * 0.95)] : 1;
    this.layers.heat.setOptions({ max: Math.max(1, top) });
    this.layers.heat.setLatLngs(points);
    this.counts.heat = points.length;
    this.node.dataset.countHeat = String(points.length);
  }

  setCount(kind) {
    const n = this.markers[kind] ? this.markers[kind].size : 0;
    this.counts[kind] = n;
    this.node.dataset[`count${kind[0].toUpperCase()}${kind.slice(1)}`] = String(n);
  }

  // District maps open on the towns' outlines, whatever the screen's size.
  fitTowns(code) {
    const towns = this.layers.towns;
    if (!towns || this.config.purpose === "incident") return;
    let bounds = null;
    towns.eachLayer((layer) => {
      if (code && layer.feature && layer.feature.properties.code !== code) return;
      bounds = bounds ? bounds.extend(layer.getBounds()) : L.latLngBounds(layer.getBounds());
    });
    if (bounds && bounds.isValid()) this.map.fitBounds(bounds, { padding: [8, 8] });
  }

  // Replace or add the markers of `features`; drop those of `keys` that did not come back
  // (closed, moved out of the filters, or no longer visible to this person).
  upsert(kind, features, keys) {
    const layer = this.layers[kind];
    const markers = this.markers[kind];
    if (!layer || !markers) return;
    const seen = new Set();
    for (const feature of features) {
      const key = keyOf(kind, feature);
      seen.add(key);
      const old = markers.get(key);
      if (old) layer.removeLayer(old);
      const marker = markerFor(kind, feature, this.text, this.site);
      markers.set(key, marker);
      layer.addLayer(marker);
    }
    for (const key of keys) {
      if (!seen.has(key) && markers.has(key)) {
        layer.removeLayer(markers.get(key));
        markers.delete(key);
      }
    }
    this.setCount(kind);
  }

  onEvent(frame) {
    const data = (frame && frame.data) || {};
    if (this.config.purpose === "incident") {
      // A room's map is small: any event of the room reloads it.
      this.pending.all = true;
    } else {
      if (data.incident_id && this.config.feeds.incidents) {
        this.pending.incidents.add(String(Number(data.incident_id)));
      }
      if (data.case_number && this.config.feeds.cases) this.pending.cases.add(data.case_number);
      if (data.warning_id && this.config.feeds.warnings) this.pending.warnings = true;
      if (!this.pending.incidents.size && !this.pending.cases.size && !this.pending.warnings) return;
    }
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.flush(), REFRESH_DEBOUNCE_MS);
  }

  async flush() {
    if (this.pending.all) {
      this.pending.all = false;
      for (const kind of ["incidents", "cases"]) if (this.config.feeds[kind]) this.load(kind);
      return;
    }
    if (this.pending.warnings) {
      // Few and small: the whole layer is fetched again.
      this.pending.warnings = false;
      this.load("warnings");
    }
    const batches = [
      ["incidents", "id", [...this.pending.incidents]],
      ["cases", "number", [...this.pending.cases]],
    ];
    this.pending.incidents.clear();
    this.pending.cases.clear();
    for (const [kind, param, keys] of batches) {
      for (let i = 0; i < keys.length; i += 100) {
        const chunk = keys.slice(i, i + 100);
        try {
          const body = await this.fetchFeed(withParam(this.config.feeds[kind], param, chunk.join(",")));
          this.upsert(kind, body.features, chunk);
        } catch (error) {
          // The next event, or a reconnect, brings it again; a whole reload is the fallback.
          window.setTimeout(() => this.load(kind), 2000);
        }
      }
    }
  }

  listenOwn() {
    const text = liveLabels();
    const live = new LiveStream("/ws/dashboard/", {
      after: this.config.after || 0,
      onEvent: (frame) => this.onEvent(frame),
      onStatus: (state) => showStatus(state, text),
    });
    live.start();
  }

  // --- click to place (intake forms) ---

  startPicker({ lat: latId, lng: lngId, town: townId }) {
    const latField = document.getElementById(latId);
    const lngField = document.getElementById(lngId);
    const townField = townId ? document.getElementById(townId) : null;
    if (!latField || !lngField) return;
    const gcj = this.config.datum === "gcj02";
    const toView = (lat, lng) => (gcj ? wgs84ToGcj02(lat, lng) : [lat, lng]);
    const fromView = (lat, lng) => (gcj ? gcj02ToWgs84(lat, lng) : [lat, lng]);
    const group = this.layers.picked;
    let marker = null;
    const show = (lat, lng, centre) => {
      const position = toView(lat, lng);
      if (marker) marker.setLatLng(position);
      else {
        marker = L.marker(position, {
          icon: L.divIcon({ className: "picked-marker", html: "<span></span>", iconSize: [20, 20] }),
          title: this.text.picked,
        });
        group.addLayer(marker);
      }
      if (centre) this.map.setView(position, Math.max(this.map.getZoom(), 13));
      this.node.dataset.picked = `${lat.toFixed(6)},${lng.toFixed(6)}`;
    };
    const fromFields = (centre) => {
      const lat = Number.parseFloat(latField.value);
      const lng = Number.parseFloat(lngField.value);
      if (Number.isFinite(lat) && Number.isFinite(lng) && Math.abs(lat) <= 90 && Math.abs(lng) <= 180) {
        show(lat, lng, centre);
      }
    };
    let clicking = false;
    this.map.on("click", (e) => {
      const [lat, lng] = fromView(e.latlng.lat, e.latlng.lng);
      latField.value = lat.toFixed(6);
      lngField.value = lng.toFixed(6);
      // Tell the form, but keep the map where it is: the marker stays under the pointer.
      clicking = true;
      for (const field of [latField, lngField]) field.dispatchEvent(new Event("change", { bubbles: true }));
      clicking = false;
      show(lat, lng, false);
    });
    if (townField && this.layers.towns) {
      // A click inside a town's outline chooses that town, when none is chosen yet.
      this.layers.towns.on("click", (e) => {
        const code = e.layer && e.layer.feature && e.layer.feature.properties.code;
        if (code && !townField.value && [...townField.options].some((o) => o.value === code)) {
          townField.value = code;
          townField.dispatchEvent(new Event("change", { bubbles: true }));
        }
      });
    }
    latField.addEventListener("change", () => clicking || fromFields(true));
    lngField.addEventListener("change", () => clicking || fromFields(true));
    if (townField) {
      // Choosing a town shows it, until a position is set.
      townField.addEventListener("change", () => {
        if (!marker && townField.value) this.fitTowns(townField.value);
      });
      if (townField.value) this.fitTowns(townField.value);
    }
    fromFields(true);
  }
}

function setUp(item) {
  const hubMap = new HubMap(item);
  hubMaps.push(hubMap);
  hubMap.start();
}

const queued = window.hubMapQueue || [];
window.hubMapQueue = { push: setUp };
for (const item of queued) setUp(item);
