// The emulator's inspector page: polls the /_emulator endpoints once a
// second and renders them with textContent only (no HTML from data).
"use strict";

const api = "/_emulator";
const maxRequests = 200;
let lastRequestId = 0;
let requestRows = [];

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function fill(tableId, rows, columns) {
  const body = document.querySelector(`#${tableId} tbody`);
  const fresh = document.createDocumentFragment();
  if (rows.length === 0) {
    const tr = el("tr");
    const td = el("td", "none", "empty");
    td.colSpan = columns;
    tr.append(td);
    fresh.append(tr);
  }
  for (const cells of rows) {
    const tr = el("tr");
    for (const cell of cells) tr.append(el("td", cell ?? ""));
    fresh.append(tr);
  }
  body.replaceChildren(fresh);
}

async function getJson(path) {
  const response = await fetch(api + path, { cache: "no-store" });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

// State-changing calls carry a JSON content type: a page on another site
// cannot send one without a preflight, which the emulator never allows.
async function send(method, path, body) {
  const response = await fetch(api + path, {
    method,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body ?? {}),
  });
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error(json?.error?.message ?? `${response.status}`);
  return json;
}

function time(value) {
  return value ? new Date(value).toLocaleTimeString() : "";
}

function why(record) {
  const td = el("td", undefined, "why");
  if (record.refusal) {
    td.append(el("div", `refused: ${record.refusal.check}`));
    if (record.refusal.contentHash) td.append(el("div", `content hash computed: ${record.refusal.contentHash}`));
    if (record.refusal.stringToSign) {
      td.append(el("div", "string the emulator signed:"));
      td.append(el("pre", record.refusal.stringToSign));
    }
  } else if (record.error) {
    td.append(el("div", record.error));
  } else if (record.status === null) {
    td.append(el("div", "connection dropped (fault)"));
  }
  return td;
}

function renderRequests() {
  const body = document.querySelector("#requests tbody");
  const fresh = document.createDocumentFragment();
  for (const r of [...requestRows].reverse()) {
    const tr = el("tr");
    tr.dataset.id = r.id;
    if (r.refusal) tr.className = "refused";
    else if (r.status === null || r.status >= 400) tr.className = "error";
    for (const cell of [time(r.time), r.method, r.path, r.apiVersion ?? "", r.status ?? "dropped", r.milliseconds.toFixed(1)]) {
      tr.append(el("td", cell));
    }
    tr.append(why(r));
    fresh.append(tr);
  }
  body.replaceChildren(fresh);
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    const [stats, identities, assignments, faults, requests] = await Promise.all([
      getJson("/stats"),
      getJson("/identities"),
      getJson("/assignments"),
      getJson("/faults"),
      getJson(`/requests?after=${lastRequestId}`),
    ]);
    document.getElementById("stat-requests").textContent = stats.requests;
    document.getElementById("stat-unauthorized").textContent = stats.unauthorized;
    document.getElementById("stat-faults").textContent = stats.faults;
    document.getElementById("stat-tokens").textContent = stats.tokensIssued;
    document.getElementById("stat-identities").textContent = stats.identities;
    fill("identities", identities.value.map((i) => [i.id, i.customId, time(i.lastTokenIssuedAt), time(i.revokedAt)]), 4);
    fill("teams-assignments", assignments.teamsExtension.map((a) => [a.tenantId, a.objectId, a.principalType, a.clientIds.join(", ")]), 4);
    fill("entra-assignments", assignments.entra.map((a) => [a.objectId, a.tenantId, a.principalType, a.clientIds.join(", ")]), 4);
    fill("groups", Object.entries(assignments.groups).map(([g, members]) => [g, members.join(", ")]), 2);
    document.getElementById("faults-current").textContent = faults.faults || "none";
    if (requests.value.length > 0) {
      requestRows = requestRows.concat(requests.value).slice(-maxRequests);
      lastRequestId = requestRows[requestRows.length - 1].id;
      renderRequests();
    }
    status.textContent = `live, updated ${new Date().toLocaleTimeString()}`;
    status.classList.remove("down");
  } catch (e) {
    status.textContent = `cannot reach the emulator (${e.message})`;
    status.classList.add("down");
  }
}

document.getElementById("faults-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("faults-error");
  try {
    await send("PUT", "/faults", { faults: document.getElementById("faults-input").value });
    error.textContent = "";
  } catch (e) {
    error.textContent = e.message;
  }
  refresh();
});

document.getElementById("faults-clear").addEventListener("click", async () => {
  document.getElementById("faults-input").value = "";
  await send("PUT", "/faults", { faults: "" }).catch(() => {});
  refresh();
});

document.getElementById("reset").addEventListener("click", async () => {
  if (!confirm("Delete every identity, assignment and group membership?")) return;
  await send("POST", "/reset").catch(() => {});
  refresh();
});

refresh();
setInterval(refresh, 1000);
