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
  const step = data.step ? data.title || data.step : frame.kind === "checklist.started" ? data.name : "";
  const moved = frame.kind === "checklist.step_moved" ? text.step_states[frame.after] || frame.after : "";
  const unit = frame.kind.startsWith("alert.") ? data.unit : "";
  const who = data.officer || (unit ? (text.units && text.units[unit]) || unit : "");
  return el(
    "li",
    { class: kindClass, "data-id": String(frame.id), "data-kind": frame.kind },
    el("time", { datetime: frame.at }, clock(frame.at)),
    " ",
    el("strong", {}, text.events[frame.kind] || frame.kind),
    data.case_number ? ` ${data.case_number}` : "",
    step ? " " : "",
    step ? el("span", { class: "step-title" }, step) : "",
    moved ? " → " : "",
    moved ? el("span", { class: `state state-${frame.after}` }, moved) : "",
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
  // The room's map (static/js/map.js) follows the same stream.
  document.dispatchEvent(new CustomEvent("hub:event", { detail: frame }));
  timeline.append(timelineItem(frame));
  timeline.lastElementChild.scrollIntoView({ block: "nearest" });
  const data = frame.data || {};
  if (String(data.incident_id) !== room.dataset.incident) return;
  if (data.status) {
    const status = setText("incident-status", text.status[data.status] || data.status);
    if (status) status.dataset.status = data.status;
    if (data.status === "closed") incidentClosed();
  }
  if (data.level) {
    const level = setText("incident-level", data.level);
    if (level) level.className = `level-badge level-${data.level}`;
  }
  if (data.people_count !== undefined) setText("incident-people", data.people_count);
  if (data.commander) setText("incident-commander", data.commander);
  if (frame.kind.startsWith("alert.") || frame.kind.startsWith("sms.")) refreshAlerts();
  if (frame.kind === "checklist.started") refreshChecklist();
  if (frame.kind === "checklist.step_moved" || frame.kind === "checklist.step_late") showStep(frame);
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

// --- the checklist ------------------------------------------------------------------------
// Steps change in place from their events; the buttons offered follow the same rule as the
// server's (the owning unit's liaison moves an unfinished step; command staff any step).
const checklist = document.getElementById("room-checklist");
const stepError = document.getElementById("step-error");
const FINISHED = new Set(["done", "skipped"]);
const REACHABLE = {
  open: ["in_progress", "done", "skipped"],
  in_progress: ["open", "done", "skipped"],
  done: ["open"],
  skipped: ["open"],
};

function allowedMoves(item) {
  if (!checklist) return [];
  const state = item.dataset.state;
  if (checklist.dataset.command === "1") return REACHABLE[state];
  if (checklist.dataset.closed === "1") return [];
  const mine = checklist.dataset.unit && checklist.dataset.unit === item.dataset.ownerUnit;
  return mine && !FINISHED.has(state) ? REACHABLE[state] : [];
}

function showButtons(item) {
  const form = item.querySelector(".step-form");
  if (!form) return;
  const moves = allowedMoves(item);
  form.hidden = moves.length === 0;
  for (const button of form.querySelectorAll("button[name=state]")) {
    button.hidden = !moves.includes(button.value);
  }
}

function markLate(item, late) {
  item.classList.toggle("late", late);
  const badge = item.querySelector(".late-badge");
  if (badge) badge.hidden = !late;
}

function showStep(frame) {
  const data = frame.data || {};
  const item = document.getElementById(`step-${Number(data.step_id)}`);
  if (!item) {
    refreshChecklist();
    return;
  }
  if (frame.kind === "checklist.step_moved") {
    item.dataset.state = data.state;
    item.dataset.revision = String(data.revision);
    item.className = item.className.replace(/\bstate-[a-z_]+/, `state-${data.state}`);
    const label = item.querySelector("[data-state-label]");
    if (label) label.textContent = text.step_states[data.state] || data.state;
    const changed = item.querySelector("[data-changed]");
    if (changed) changed.textContent = ` · ${frame.actor || ""} ${clock(frame.at)}`;
    const remark = item.querySelector("[data-remark]");
    if (remark) {
      remark.textContent = data.note || "";
      remark.hidden = !data.note;
    }
    const number = item.querySelector("[data-number]");
    if (number && data.number) {
      number.hidden = false;
      number.textContent = number.textContent.replace(/[^:]*$/, ` ${data.number}`);
    }
    if (data.attachment) showAttachment(item, data);
    const revision = item.querySelector("input[name=revision]");
    if (revision) revision.value = String(data.revision);
    showButtons(item);
    if (data.progress) showProgress(data.checklist_id, data.progress);
  }
  markLate(item, Boolean(data.late) || frame.kind === "checklist.step_late");
  countLate(item.closest(".checklist"));
}

function showAttachment(item, data) {
  let link = item.querySelector("a.evidence-file");
  if (!link) {
    link = el("a", { class: "evidence-file" });
    item.querySelector(".step-meta").append(" ", link);
  }
  link.href = `/incidents/${Number(room.dataset.incident)}/checklist/${Number(data.step_id)}/attachment`;
  link.textContent = data.attachment;
}

function incidentClosed() {
  // Only command staff change a closed incident's checklist.
  if (!checklist || checklist.dataset.closed === "1") return;
  checklist.dataset.closed = "1";
  for (const item of checklist.querySelectorAll(".step")) showButtons(item);
}

function showProgress(checklistId, progress) {
  const bar = checklist.querySelector(`[data-progress="${Number(checklistId)}"]`);
  if (bar) {
    bar.max = progress.total;
    bar.value = progress.done;
  }
  const label = checklist.querySelector(`[data-progress-text="${Number(checklistId)}"]`);
  if (label) label.textContent = `${progress.done}/${progress.total}`;
}

function countLate(block) {
  if (!block) return;
  const late = block.querySelectorAll(".step.late").length;
  const counter = block.querySelector("[data-late-count]");
  if (counter) {
    counter.hidden = late === 0;
    counter.textContent = `${late} ${text.late}`;
  }
}

function tickLate() {
  // The sweep writes `checklist.step_late` within a minute; show it at the due time itself.
  if (!checklist) return;
  const now = Date.now();
  for (const item of checklist.querySelectorAll(".step")) {
    if (!FINISHED.has(item.dataset.state) && Date.parse(item.dataset.due) < now) markLate(item, true);
  }
  for (const block of checklist.querySelectorAll(".checklist")) countLate(block);
}

function refreshChecklist() {
  if (!window.htmx || !checklist) return;
  window.htmx.ajax("GET", window.location.pathname, {
    target: "#room-checklist",
    select: "#room-checklist",
    swap: "outerHTML",
  });
}

function onPresence(list) {
  members.replaceChildren(
    ...(list.length
      ? list.map((m) => el("li", {}, m.user, m.unit ? " " : "", m.unit ? el("small", {}, m.unit) : ""))
      : [el("li", { class: "empty" }, text.nobody)]),
  );
}

function onError(frame) {
  if (stepError && String(frame.ref || "").startsWith("step-")) {
    stepError.hidden = false;
    stepError.textContent = frame.detail || frame.code;
    return;
  }
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

  if (checklist) {
    // A move without a file goes over the socket (its answer is the event itself); a form
    // with a file is posted as it is.
    document.body.addEventListener("submit", (submit) => {
      const form = submit.target.closest(".step-form");
      if (!form) return;
      const file = form.querySelector("input[type=file]");
      if (file && file.files.length) return;
      submit.preventDefault();
      const item = form.closest(".step");
      const fields = new FormData(form);
      const frame = {
        type: "step",
        ref: `step-${item.dataset.step}`,
        step_id: Number(item.dataset.step),
        state: submit.submitter ? submit.submitter.value : "",
        note: String(fields.get("note") || "").trim(),
        expected_revision: Number(item.dataset.revision),
      };
      if (fields.get("number")) frame.number = String(fields.get("number"));
      if (live.send(frame)) {
        form.reset();
        stepError.hidden = true;
      }
    });
    tickLate();
    window.setInterval(tickLate, 15000);
  }

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
