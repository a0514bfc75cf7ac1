// hashsieve review: keyboard categorisation, reveal one at a time, undo, break reminder.
// Plain JavaScript, no build step. Every action is sent to the server at once.
(function () {
  "use strict";
  const body = document.body;
  const csrf = body.dataset.csrf;
  const caseName = body.dataset.case;
  const status = document.getElementById("status");
  let tiles = Array.from(document.querySelectorAll(".tile"));
  let current = tiles.findIndex((t) => t.classList.contains("selected"));

  function say(text, isError) {
    if (!status) return;
    status.textContent = text;
    status.className = isError ? "error show" : "show";
    clearTimeout(say.timer);
    say.timer = setTimeout(() => (status.className = ""), 4000);
  }

  async function send(url, payload) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: payload === undefined ? "{}" : JSON.stringify(payload),
      credentials: "same-origin",
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.detail || response.statusText);
    return data;
  }

  function select(index) {
    if (!tiles.length) return;
    index = Math.max(0, Math.min(tiles.length - 1, index));
    if (current >= 0 && tiles[current]) tiles[current].classList.remove("selected");
    current = index;
    const tile = tiles[current];
    tile.classList.add("selected");
    tile.focus({ preventScroll: true });
    tile.scrollIntoView({ block: "nearest" });
    unrevealOthers(tile);
  }

  function unrevealOthers(keep) {
    document.querySelectorAll(".tile.revealed").forEach((t) => {
      if (t !== keep) t.classList.remove("revealed");
    });
  }

  function reveal(tile) {
    unrevealOthers(tile);
    tile.classList.toggle("revealed");
    const full = tile.querySelector(".full");
    if (full && full.hidden) {
      full.src = full.dataset.src; // fetched (and audited) only when asked for
      full.hidden = false;
      const button = tile.querySelector(".reveal");
      if (button) button.hidden = true;
      tile.classList.add("revealed");
    }
  }

  // Arrow keys: left/right in reading order; up/down to the nearest tile of the next row.
  function moveVertical(dir) {
    if (current < 0) return select(0);
    const here = tiles[current].getBoundingClientRect();
    const cx = here.left + here.width / 2;
    let best = -1;
    let bestRow = null;
    let bestDx = Infinity;
    tiles.forEach((t, i) => {
      const r = t.getBoundingClientRect();
      const below = dir > 0 ? r.top > here.top + 4 : r.top < here.top - 4;
      if (!below) return;
      const row = r.top;
      const closerRow = bestRow === null || (dir > 0 ? row < bestRow - 4 : row > bestRow + 4);
      const sameRow = bestRow !== null && Math.abs(row - bestRow) <= 4;
      const dx = Math.abs(r.left + r.width / 2 - cx);
      if (closerRow || (sameRow && dx < bestDx)) {
        best = i;
        bestRow = row;
        bestDx = dx;
      }
    });
    if (best >= 0) select(best);
  }

  function update(decisions) {
    decisions.forEach((d) => {
      document.querySelectorAll('.tile[data-sha="' + d.sha256 + '"]').forEach((tile) => {
        tile.dataset.category = d.category === null ? "" : String(d.category);
        tile.dataset.victim = String(!!d.victim_identified);
        tile.dataset.offender = String(!!d.offender_identified);
        tile.dataset.series = d.series || "";
        tile.dataset.tags = (d.tags || []).join(", ");
        tile.dataset.note = d.note || "";
        tile.classList.toggle("decided", d.category !== null);
        const badge = (role) => tile.querySelector('[data-role="' + role + '"]');
        const show = (role, on, text) => {
          const b = badge(role);
          if (!b) return;
          b.hidden = !on;
          if (text !== undefined) b.textContent = text;
        };
        show("cat", d.category !== null, d.category === null ? "" : "C" + d.category);
        show("victim", !!d.victim_identified);
        show("offender", !!d.offender_identified);
        show("series", !!d.series, d.series || "");
        show("tags", !!(d.tags && d.tags.length), (d.tags || []).join(", "));
        show("note", !!d.note);
      });
      const line = document.querySelector('[data-field="category"]');
      if (line) line.textContent = d.category === null ? "not set" : String(d.category);
    });
  }

  async function change(tile, values, wholeGroup) {
    if (!tile) return;
    const payload = { set: values };
    const group = tile.dataset.group;
    if (wholeGroup && group && /^\d+$/.test(group)) payload.group = Number(group);
    else if (tile.dataset.sha) payload.sha256 = [tile.dataset.sha];
    else return say("this file has no content hash", true);
    try {
      const data = await send("/api/cases/" + encodeURIComponent(caseName) + "/decisions", payload);
      update(data.decisions);
      const what = Object.entries(values)
        .map(([k, v]) => k + " " + (v === null ? "cleared" : v))
        .join(", ");
      say("Saved " + what + " on " + data.decisions.length + " file(s). u undoes.");
    } catch (err) {
      say("Not saved: " + err.message, true);
    }
  }

  async function undo() {
    try {
      const data = await send("/api/cases/" + encodeURIComponent(caseName) + "/undo");
      update(data.decisions);
      say("Undone (" + data.decisions.length + " file(s)).");
    } catch (err) {
      say(err.message, true);
    }
  }

  function ask(tile, field, question, wholeGroup) {
    const old = tile.dataset[field] || "";
    const answer = window.prompt(question, old);
    if (answer === null) return;
    const values = {};
    values[field === "tags" ? "tags" : field] =
      field === "tags" ? answer.split(",").map((s) => s.trim()).filter(Boolean) : answer;
    change(tile, values, wholeGroup);
  }

  function act(action, tile, group) {
    if (action === "victim") change(tile, { victim_identified: tile.dataset.victim !== "true" }, group);
    else if (action === "offender") change(tile, { offender_identified: tile.dataset.offender !== "true" }, group);
    else if (action === "series") ask(tile, "series", "Series name", group);
    else if (action === "tags") ask(tile, "tags", "Tags (comma-separated)", group);
    else if (action === "note") ask(tile, "note", "Note", group);
    else if (action === "undo") undo();
  }

  document.addEventListener("keydown", (e) => {
    const target = e.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable)) return;
    if (!caseName || !tiles.length) return;
    const tile = current >= 0 ? tiles[current] : null;
    const digit = /^(Digit|Numpad)([0-4])$/.exec(e.code);
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") {
      e.preventDefault();
      return undo();
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "ArrowRight") { e.preventDefault(); return select(current + 1); }
    if (e.key === "ArrowLeft") { e.preventDefault(); return select(current - 1); }
    if (e.key === "ArrowDown") { e.preventDefault(); return moveVertical(1); }
    if (e.key === "ArrowUp") { e.preventDefault(); return moveVertical(-1); }
    if (!tile) { if (digit || e.key === " ") { e.preventDefault(); select(0); } return; }
    if (e.key === " ") { e.preventDefault(); return reveal(tile); }
    if (e.key === "Enter") {
      const link = tile.querySelector("a.thumb-link");
      if (link) window.location.href = link.href;
      return;
    }
    if (digit) { e.preventDefault(); return change(tile, { category: Number(digit[2]) }, e.shiftKey); }
    const key = e.key.toLowerCase();
    const actions = { v: "victim", o: "offender", s: "series", t: "tags", n: "note", u: "undo" };
    if (actions[key]) { e.preventDefault(); return act(actions[key], tile, e.shiftKey); }
    if (e.key === "?") { const k = document.getElementById("keys"); if (k) k.classList.toggle("open"); }
  });

  tiles.forEach((tile, i) => {
    tile.addEventListener("click", (e) => {
      if (e.target.closest("button")) return;
      if (!tile.classList.contains("detail-tile")) { e.preventDefault(); select(i); }
    });
    tile.addEventListener("dblclick", () => {
      const link = tile.querySelector("a.thumb-link");
      if (link) window.location.href = link.href;
    });
    const button = tile.querySelector(".reveal");
    if (button) button.addEventListener("click", () => reveal(tile));
  });
  document.querySelectorAll("[data-set-category]").forEach((b) =>
    b.addEventListener("click", () => change(tiles[0], { category: Number(b.dataset.setCategory) }, false))
  );
  document.querySelectorAll("[data-action]").forEach((b) =>
    b.addEventListener("click", () => act(b.dataset.action, tiles[0], false))
  );
  if (tiles.length && body.classList.contains("grid-page") && current < 0) {
    current = 0;
    tiles[0].classList.add("selected");
  }

  // Break reminder: after the user's configured minutes of review, a pause is suggested.
  const minutes = Number(body.dataset.breakMinutes || 0);
  const overlay = document.getElementById("break");
  if (minutes > 0 && overlay && csrf) {
    const key = "hashsieve.review-started";
    if (!localStorage.getItem(key)) localStorage.setItem(key, String(Date.now()));
    const check = () => {
      const started = Number(localStorage.getItem(key) || Date.now());
      if (Date.now() - started >= minutes * 60000) overlay.hidden = false;
    };
    document.getElementById("break-done").addEventListener("click", () => {
      localStorage.setItem(key, String(Date.now()));
      overlay.hidden = true;
    });
    check();
    setInterval(check, 30000);
  }

  // Live dashboard while a scan runs: counts refresh from the JSON twin.
  const live = body.dataset.live;
  if (live) {
    const refresh = async () => {
      const response = await fetch(live, { credentials: "same-origin" });
      if (!response.ok) return;
      const data = await response.json();
      document.querySelectorAll("[data-live-key]").forEach((el) => {
        const value = el.dataset.liveKey.split(".").reduce((o, k) => (o == null ? o : o[k]), data);
        if (value !== undefined && value !== null) el.textContent = String(value);
      });
      if (!data.scanning) window.location.reload();
      else setTimeout(refresh, 3000);
    };
    setTimeout(refresh, 3000);
  }
})();
