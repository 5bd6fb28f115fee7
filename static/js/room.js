// An incident room: the timeline and chat, who is here, and the incident's status and level,
// all live. Chat and acknowledgements go over the socket; the answer is the event itself.
import { LiveStream, clock, el, labels, showStatus, tickElapsed } from "./live.js";

const text = labels();
const room = document.getElementById("room");
const timeline = document.getElementById("timeline");
const members = document.getElementById("members");
const chatForm = document.getElementById("chat-form");
const chatText = document.getElementById("chat-text");
const chatError = document.getElementById("chat-error");

function timelineItem(frame) {
  const data = frame.data || {};
  const kindClass = `event kind-${frame.kind.replace(/[^a-z0-9]+/g, "")} fresh`;
  if (frame.kind === "incident.chat") {
    return el(
      "li",
      { class: kindClass, "data-id": String(frame.id), "data-kind": frame.kind },
      el("time", { datetime: frame.at }, clock(frame.at)),
      " ",
      el("span", { class: "actor" }, frame.actor || ""),
      " ",
      el("span", { class: "chat-text" }, data.text || ""),
    );
  }
  const said = frame.reason || data.note || data.text;
  const unit = frame.kind.startsWith("alert.") ? data.unit : "";
  const who = data.officer || (unit ? (text.units && text.units[unit]) || unit : "");
  return el(
    "li",
    { class: kindClass, "data-id": String(frame.id), "data-kind": frame.kind },
    el("time", { datetime: frame.at }, clock(frame.at)),
    " ",
    el("strong", {}, text.events[frame.kind] || frame.kind),
    data.case_number ? ` ${data.case_number}` : "",
    who ? " " : "",
    who ? el("span", { class: "who" }, who) : "",
    frame.actor ? " " : "",
    frame.actor ? el("span", { class: "actor" }, frame.actor) : "",
    said ? " " : "",
    said ? el("q", {}, said) : "",
  );
}

function setText(id, value) {
  const node = document.getElementById(id);
  if (node && value !== undefined && value !== null) node.textContent = String(value);
  return node;
}

function onEvent(frame) {
  timeline.append(timelineItem(frame));
  timeline.lastElementChild.scrollIntoView({ block: "nearest" });
  const data = frame.data || {};
  if (String(data.incident_id) !== room.dataset.incident) return;
  if (data.status) {
    const status = setText("incident-status", text.status[data.status] || data.status);
    if (status) status.dataset.status = data.status;
  }
  if (data.level) {
    const level = setText("incident-level", data.level);
    if (level) level.className = `level-badge level-${data.level}`;
  }
  if (data.people_count !== undefined) setText("incident-people", data.people_count);
  if (data.commander) setText("incident-commander", data.commander);
  if (frame.kind.startsWith("alert.") || frame.kind.startsWith("sms.")) refreshAlerts();
  if (frame.before !== frame.after || frame.kind === "incident.take_command") {
    // The controls offered depend on the status (and carry its revision): fetch them again.
    refreshControls();
  }
}

function refreshControls() {
  if (!window.htmx || !document.getElementById("controls")) return;
  window.htmx.ajax("GET", window.location.pathname, {
    target: "#controls",
    select: "#controls",
    swap: "outerHTML",
  });
}

let alertsTimer = null;
function refreshAlerts() {
  // Delivery reports come in bursts: fetch the alert panel once they settle.
  if (!window.htmx || !document.getElementById("room-alerts")) return;
  clearTimeout(alertsTimer);
  alertsTimer = setTimeout(() => {
    window.htmx.ajax("GET", window.location.pathname, {
      target: "#room-alerts",
      select: "#room-alerts",
      swap: "outerHTML",
    });
  }, 800);
}

function onPresence(list) {
  members.replaceChildren(
    ...(list.length
      ? list.map((m) => el("li", {}, m.user, m.unit ? " " : "", m.unit ? el("small", {}, m.unit) : ""))
      : [el("li", { class: "empty" }, text.nobody)]),
  );
}

function onError(frame) {
  if (!chatError) return;
  chatError.hidden = false;
  chatError.textContent = frame.detail || frame.code;
}

if (room) {
  const live = new LiveStream(room.dataset.ws, {
    after: room.dataset.after,
    onEvent,
    onPresence,
    onError,
    onStatus: (state) => showStatus(state, text),
  });
  live.start();
  tickElapsed();

  if (chatForm) {
    chatForm.addEventListener("submit", (submit) => {
      submit.preventDefault();
      const message = chatText.value.trim();
      if (!message) return;
      if (live.send({ type: "chat", text: message })) {
        chatText.value = "";
        chatError.hidden = true;
      }
    });
    document.getElementById("ack-button").addEventListener("click", () => {
      live.send({ type: "ack", note: chatText.value.trim() });
      chatText.value = "";
    });
  }
}
