// Roost console: live phases over the API's server-sent events, followed logs, and the domain switcher.
// Pages work without it; it only keeps them current.
"use strict";

function setPhase(element, phase) {
  for (const name of [...element.classList]) {
    if (name.startsWith("phase-")) element.classList.remove(name);
  }
  element.classList.add("phase-" + phase);
}

function followExecution(root) {
  const url = root.dataset.events;
  if (!url || !window.EventSource) return;
  const source = new EventSource(url);
  source.addEventListener("execution", (event) => {
    const data = JSON.parse(event.data);
    for (const badge of document.querySelectorAll('[data-phase-of="execution"]')) {
      setPhase(badge, data.phase);
      badge.textContent = data.phase.toLowerCase();
    }
  });
  source.addEventListener("node", (event) => {
    const data = JSON.parse(event.data);
    for (const item of document.querySelectorAll(`[data-node="${CSS.escape(data.node_id)}"] rect, rect[data-node="${CSS.escape(data.node_id)}"]`)) {
      setPhase(item, data.phase);
    }
    for (const text of document.querySelectorAll(`[data-phase-text="${CSS.escape(data.node_id)}"]`)) {
      // the text names the node by its id in its own workflow (nested nodes' ids are shorter than node_id)
      text.textContent = `${text.textContent.split(" · ")[0]} · ${data.phase.toLowerCase()}`;
    }
    for (const badge of document.querySelectorAll(`[data-phase-of="${CSS.escape(data.node_id)}"]`)) {
      setPhase(badge, data.phase);
      badge.textContent = data.phase.toLowerCase();
    }
  });
  source.addEventListener("end", () => {
    source.close();
    window.location.reload(); // outputs, durations and the timeline are final now
  });
}

function followLog(details) {
  const target = details.querySelector(".log-text");
  if (details.dataset.following) return;
  details.dataset.following = "1";
  const source = new EventSource(details.dataset.log + "?follow=1");
  source.addEventListener("line", (event) => {
    target.textContent += JSON.parse(event.data) + "\n";
  });
  source.addEventListener("end", () => source.close());
  source.onerror = () => source.close();
}

document.addEventListener("DOMContentLoaded", () => {
  for (const root of document.querySelectorAll("[data-events]")) followExecution(root);
  for (const details of document.querySelectorAll("details[data-log]")) {
    if (details.open) followLog(details);
    details.addEventListener("toggle", () => { if (details.open) followLog(details); });
  }
  for (const select of document.querySelectorAll("select[data-navigate]")) {
    select.addEventListener("change", () => { window.location.href = select.value; });
  }
});
