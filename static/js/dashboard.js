// The live dashboard: new events go to the top of the feed at once; the figures are
// fetched again (htmx) a moment after events stop arriving, so a burst costs one request.
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
const board = document.getElementById("dashboard");
const feed = document.getElementById("event-feed");
const refreshSoon = refresher("#panels");

function link(href, label) {
  return el("a", { href }, label);
}

function feedItem(frame) {
  const data = frame.data || {};
  return el(
    "li",
    { class: "event fresh", "data-id": String(frame.id), "data-kind": frame.kind },
    el("time", { datetime: frame.at }, clock(frame.at)),
    " ",
    el("strong", {}, text.events[frame.kind] || frame.kind),
    data.case_number ? " " : "",
    data.case_number ? link(`/cases/${encodeURIComponent(data.case_number)}/`, data.case_number) : "",
    data.incident_id ? " " : "",
    data.incident_id ? link(`/incidents/${Number(data.incident_id)}/`, `INC-${Number(data.incident_id)}`) : "",
    data.warning_id ? " " : "",
    data.warning_id ? link(`/alerts/warnings/${Number(data.warning_id)}/`, `${data.code || ""} ${data.subject || ""}`) : "",
    data.warning_id && data.level ? el("span", { class: `warning-badge level-${String(data.level)}` }, text.levels?.[data.level] || String(data.level)) : "",
    frame.actor ? " " : "",
    frame.actor ? el("span", { class: "actor" }, frame.actor) : "",
    data.text || frame.reason ? " " : "",
    data.text || frame.reason ? el("q", {}, data.text || frame.reason) : "",
  );
}

function onEvent(frame) {
  // The dashboard's map (static/js/map.js) follows the same stream.
  document.dispatchEvent(new CustomEvent("hub:event", { detail: frame }));
  prependEvent(feed, feedItem(frame), FEED_LENGTH);
  refreshSoon();
}

if (board) {
  const live = new LiveStream(board.dataset.ws, {
    after: board.dataset.after,
    onEvent,
    onStatus: (state) => {
      showStatus(state, text);
      // Back after a gap: the resume replays the events; refresh the figures as well.
      if (state === "connected") refreshSoon();
    },
  });
  live.start();
  document.body.addEventListener("htmx:afterSwap", tickElapsed);
  tickElapsed();
}
