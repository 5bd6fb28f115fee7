// The province's page: events of its districts' grave incidents (level II and above) go to
// the top of the feed at once; the figures are fetched again (htmx) once events pause.
import {
  LiveStream,
  clock,
  el,
  labels,
  prependEvent,
  refresher,
  showStatus,
  tickElapsed,
} from "./live.js";

const FEED_LENGTH = 50;

const text = labels();
const page = document.getElementById("province");
const feed = document.getElementById("event-feed");
const districtsNode = document.getElementById("incident-districts");
const districts = districtsNode ? JSON.parse(districtsNode.textContent) : {};
const refreshSoon = refresher("#panels");

function feedItem(frame) {
  const data = frame.data || {};
  const id = Number(data.incident_id);
  return el(
    "li",
    { class: "event fresh", "data-id": String(frame.id), "data-kind": frame.kind },
    el("time", { datetime: frame.at }, clock(frame.at)),
    " ",
    el("strong", {}, text.events[frame.kind] || frame.kind),
    " ",
    el("a", { href: `/province/incidents/${id}/` }, `INC-${id}`),
    data.level ? " " : "",
    data.level ? el("span", { class: `level-badge level-${String(data.level)}` }, String(data.level)) : "",
    districts[String(id)] ? ` ${districts[String(id)]}` : "",
    frame.actor ? " " : "",
    frame.actor ? el("span", { class: "actor" }, frame.actor) : "",
    data.text || frame.reason ? " " : "",
    data.text || frame.reason ? el("q", {}, data.text || frame.reason) : "",
  );
}

function onEvent(frame) {
  prependEvent(feed, feedItem(frame), FEED_LENGTH);
  refreshSoon();
}

if (page) {
  const live = new LiveStream(page.dataset.ws, {
    after: page.dataset.after,
    onEvent,
    onStatus: (state) => {
      showStatus(state, text);
      if (state === "connected") refreshSoon();
    },
  });
  live.start();
  document.body.addEventListener("htmx:afterSwap", tickElapsed);
  tickElapsed();
}
