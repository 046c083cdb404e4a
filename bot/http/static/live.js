// The live view's client: one WebSocket per page, resumed from the last cursor after a drop.
// Every word it shows comes from the page (data attributes and the #kind-words list).
"use strict";
(function () {
  const STALE_AFTER_MS = 15000;
  const body = document.body;
  const state = document.getElementById("live");
  const log = document.getElementById("live-log");
  const kindWords = {};
  document.querySelectorAll("#kind-words li").forEach((li) => { kindWords[li.dataset.kind] = li.textContent; });

  const live = { cursor: body.dataset.cursor, lastSeq: 0, seqs: [], state: "connecting", socket: null };
  window.sopbotLive = live;
  if (!live.cursor) return; // a page with nothing live on it

  let downSince = null;
  let delay = 250;
  let work = Promise.resolve(); // fetches run one after another, so rows change in push order

  function show(name) {
    live.state = name;
    state.dataset.state = name;
    state.textContent = state.dataset[name];
  }

  function url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + location.host + "/app/ws?cursor=" + encodeURIComponent(live.cursor);
  }

  function connect() {
    const socket = new WebSocket(url());
    live.socket = socket;
    socket.onopen = () => { downSince = null; delay = 250; show("live"); };
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.snapshot) { location.reload(); return; } // too far behind: a fresh page
      const item = message.item;
      if (item.seq <= live.lastSeq) return; // already applied
      live.lastSeq = item.seq;
      live.cursor = message.cursor;
      live.seqs.push(item.seq);
      note(item);
      work = work.then(() => apply(item)).catch(() => {});
    };
    socket.onclose = () => {
      if (live.socket !== socket) return;
      if (downSince === null) downSince = Date.now();
      show(Date.now() - downSince > STALE_AFTER_MS ? "stale" : "reconnecting");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 5000);
    };
  }

  function note(item) {
    const li = document.createElement("li");
    li.dataset.seq = item.seq;
    li.dataset.kind = item.kind;
    const what = kindWords[item.kind] || item.kind;
    li.textContent = (item.ticket ? "#" + item.ticket + " " : "") + what + " · " + item.actor.name;
    log.prepend(li);
    while (log.children.length > 50) log.lastChild.remove();
  }

  async function apply(item) {
    if (item.ticket === null) return;
    if (body.dataset.page === "tickets") return applyRow(item.ticket);
    if (body.dataset.page === "ticket") return applyTicket(item.ticket);
  }

  async function applyRow(number) {
    const table = document.getElementById("tickets");
    const query = table.dataset.query ? "?" + table.dataset.query : "";
    const response = await fetch("/app/rows/" + number + query, { credentials: "same-origin" });
    const old = document.getElementById("t" + number);
    if (response.status === 204) { if (old) old.remove(); return empty(table); }
    if (!response.ok) return;
    const holder = document.createElement("tbody");
    holder.innerHTML = (await response.text()).trim();
    const row = holder.firstElementChild;
    row.classList.add("fresh");
    if (old) old.remove();
    const tbody = table.tBodies[0];
    const after = Array.from(tbody.rows).find((r) => r.dataset.rank > row.dataset.rank);
    tbody.insertBefore(row, after || null);
    empty(table);
  }

  function empty(table) {
    document.getElementById("none").hidden = table.tBodies[0].rows.length > 0;
  }

  async function applyTicket(number) {
    const holder = document.getElementById("ticket-body");
    if (String(number) !== holder.dataset.ticket) return;
    const response = await fetch("/app/tickets/" + number + "/body", { credentials: "same-origin" });
    if (response.ok) holder.innerHTML = await response.text();
  }

  // Stale shows even while the browser keeps retrying quietly in the background.
  setInterval(() => {
    if (downSince !== null && Date.now() - downSince > STALE_AFTER_MS) show("stale");
  }, 1000);
  connect();
})();
