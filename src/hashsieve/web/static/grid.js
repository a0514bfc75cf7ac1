// hashsieve dense grid: the whole case as one virtualised list of tiles, fetched in windows.
// Plain JavaScript, no build step. Only the rows in view (and a margin) exist in the page;
// windows come from the JSON twin (/api/cases/{case}/grid), following its keyset cursors.
// A key press changes the tiles at once (optimistic) and the server's answer reconciles them.
(function () {
  "use strict";
  const body = document.body;
  const box = document.getElementById("dense");
  const dataNode = document.getElementById("grid-data");
  if (!box || !dataNode) return;
  const csrf = body.dataset.csrf;
  const caseName = body.dataset.case;
  const api = "/api/cases/" + encodeURIComponent(caseName);
  const first = JSON.parse(dataNode.textContent);
  const WINDOW = first.limit || 200;
  const OVERSCAN = 2; // rows above and below the view
  const status = document.getElementById("status");
  const countNode = document.getElementById("grid-count");
  const selNode = document.getElementById("grid-selected");
  const sizeInput = document.getElementById("thumb-size");

  // The filter: the page's own query string without the window parameters.
  const params = new URLSearchParams(window.location.search);
  ["after", "offset", "limit", "count"].forEach((k) => params.delete(k));
  const filterQuery = params.toString();

  const windows = new Map(); // window index -> items
  const cursors = new Map(); // window index -> cursor that fetches it
  const pending = new Map(); // window index -> promise
  windows.set(0, first.items);
  if (first.next) cursors.set(1, first.next);

  // The number of tiles is counted after the first screen (it takes longer than a window);
  // until then the list is as long as what has loaded, and a window more while there is more.
  let total = first.total === null || first.total === undefined ? provisional() : first.total;
  let counted = first.total !== null && first.total !== undefined;
  function provisional() {
    let loaded = 0;
    windows.forEach((items, k) => (loaded = Math.max(loaded, k * WINDOW + items.length)));
    const more = cursors.has(Math.ceil(loaded / WINDOW));
    return loaded + (more ? WINDOW : 0);
  }

  let thumb = Number(body.dataset.thumb || 160);
  let cols = 1;
  let tileW = thumb;
  const nodes = new Map(); // index -> element in the page
  const selected = new Set(); // indexes
  let allInFilter = false;
  let current = total ? 0 : -1;
  let anchor = 0;
  let revealed = -1;

  function say(text, isError) {
    if (!status) return;
    status.textContent = text;
    status.className = isError ? "error show" : "show";
    clearTimeout(say.timer);
    say.timer = setTimeout(() => (status.className = ""), 4000);
  }

  function item(i) {
    const w = windows.get(Math.floor(i / WINDOW));
    return w ? w[i % WINDOW] : undefined;
  }

  // --- windows ---------------------------------------------------------------------------------

  function fetchWindow(k) {
    if (windows.has(k) || pending.has(k) || k * WINDOW >= total) return pending.get(k);
    let url = api + "/grid?" + (filterQuery ? filterQuery + "&" : "") + "limit=" + WINDOW;
    const cursor = cursors.get(k);
    url += cursor ? "&after=" + encodeURIComponent(cursor) : "&offset=" + k * WINDOW;
    const started = performance.now();
    const p = fetch(url, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.statusText))))
      .then((data) => {
        windows.set(k, data.items);
        if (data.next) cursors.set(k + 1, data.next);
        pending.delete(k);
        if (!counted) grow(provisional());
        window.hashsieveGrid.fetches.push(performance.now() - started);
        schedule();
      })
      .catch((err) => {
        pending.delete(k);
        say("Could not load tiles: " + err.message, true);
      });
    pending.set(k, p);
    return p;
  }

  // --- layout and rendering ---------------------------------------------------------------------

  function layout() {
    const width = box.clientWidth;
    cols = Math.max(1, Math.round(width / thumb));
    tileW = width / cols;
    box.style.height = Math.ceil(total / cols) * tileW + "px";
    nodes.forEach((el) => el.remove());
    nodes.clear();
    render();
  }

  const SETTLE = 120; // ms without scrolling before the thumbnails in view are asked for
  let scrolledAt = -Infinity;
  let scheduled = false;
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      render();
    });
  }

  function visibleRange(overscan) {
    const margin = overscan === undefined ? OVERSCAN : overscan;
    const top = window.scrollY - (box.getBoundingClientRect().top + window.scrollY);
    const firstRow = Math.max(0, Math.floor(top / tileW) - margin);
    const lastRow = Math.ceil((top + window.innerHeight) / tileW) - 1 + margin;
    return [firstRow * cols, Math.min(total, (lastRow + 1) * cols)];
  }

  function render() {
    const [from, to] = visibleRange();
    nodes.forEach((el, i) => {
      if (i < from || i >= to) {
        el.remove();
        nodes.delete(i);
      }
    });
    const frag = document.createDocumentFragment();
    for (let i = from; i < to; i++) {
      const it = item(i);
      if (!it) {
        fetchWindow(Math.floor(i / WINDOW));
        i = (Math.floor(i / WINDOW) + 1) * WINDOW - 1; // skip to the next window
        continue;
      }
      let el = nodes.get(i);
      if (!el || el.dataset.file !== String(it.file_id)) {
        if (el) el.remove();
        el = tileElement(it, i);
        nodes.set(i, el);
        frag.appendChild(el);
      }
      paint(el, it, i);
    }
    box.appendChild(frag);
    // While the list is scrolling, tiles fly past: their thumbnails wait until it rests
    // (no batch, and no audited view, for a picture that was on screen for 60 ms).
    clearTimeout(render.thumbTimer);
    if (performance.now() - scrolledAt < SETTLE) {
      render.thumbTimer = setTimeout(() => loadThumbs(...visibleRange()), SETTLE);
    } else {
      loadThumbs(from, to);
    }
    // The next window is fetched before it is needed.
    const ahead = Math.floor(Math.min(total - 1, to + cols * 4) / WINDOW);
    if (ahead >= 0) fetchWindow(ahead);
    const shown = document.querySelectorAll("#dense .tile").length;
    box.dataset.rendered = String(shown);
  }

  // Thumbnails: the tiles in view first, then the margin, many per request (each audited).
  const thumbCache = new Map(); // file id -> data: URL
  const asked = new Set();
  const BATCH = 60;
  let thumbRequests = []; // the first screen's (null after it)
  function loadThumbs(from, to) {
    const [viewFrom, viewTo] = visibleRange(0);
    const order = [];
    for (let i = viewFrom; i < viewTo; i++) order.push(i);
    for (let i = from; i < to; i++) if (i < viewFrom || i >= viewTo) order.push(i);
    let ids = [];
    const size = thumbSize();
    const flush = () => {
      if (!ids.length) return;
      const query = ids.map((id) => "ids=" + id).join("&");
      const batch = ids;
      ids = [];
      const request = fetch(api + "/thumbs?size=" + size + "&" + query, { credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.statusText))))
        .then((data) => {
          Object.entries(data.thumbs).forEach(([id, url]) => thumbCache.set(Number(id), url));
          if (thumbCache.size > 3000) {
            Array.from(thumbCache.keys())
              .slice(0, 1000)
              .forEach((k) => {
                thumbCache.delete(k);
                asked.delete(k);
              });
          }
          nodes.forEach((el) => {
            const img = el.firstChild;
            const url = thumbCache.get(Number(el.dataset.file));
            if (url && img.src !== url) img.src = url;
          });
        })
        .catch(() => batch.forEach((id) => asked.delete(id)));
      if (thumbRequests) thumbRequests.push(request);
    };
    order.forEach((i) => {
      const el = nodes.get(i);
      if (!el) return;
      const id = Number(el.dataset.file);
      if (thumbCache.has(id) || asked.has(id)) return;
      asked.add(id);
      ids.push(id);
      if (ids.length >= BATCH) flush();
    });
    flush();
  }

  function thumbSize() {
    return tileW * (window.devicePixelRatio || 1) <= 140 ? 128 : 256;
  }

  function tileElement(it, i) {
    const el = document.createElement("figure");
    el.className = "tile dense-tile";
    el.dataset.file = String(it.file_id);
    el.dataset.sha = it.sha256 || "";
    el.dataset.group = String(it.group);
    el.dataset.index = String(i);
    el.setAttribute("role", "gridcell");
    const img = document.createElement("img");
    img.className = "thumb";
    img.decoding = "async";
    img.draggable = false;
    img.alt = "thumbnail " + it.name;
    const cached = thumbCache.get(it.file_id);
    if (cached) img.src = cached;
    el.appendChild(img);
    if (it.group_size > 1) {
      el.classList.add("stack");
      const n = document.createElement("span");
      n.className = "copies";
      n.title = "near-duplicates and copies in this group";
      n.textContent = "\u00d7" + it.group_size;
      el.appendChild(n);
    }
    const cap = document.createElement("span");
    cap.className = "dense-badges";
    el.appendChild(cap);
    return el;
  }

  function paint(el, it, i) {
    el.style.transform =
      "translate(" + (i % cols) * tileW + "px," + Math.floor(i / cols) * tileW + "px)";
    el.style.width = el.style.height = tileW + "px";
    const r = it.review;
    const cat = r && r.category !== null && r.category !== undefined ? r.category : null;
    el.dataset.category = cat === null ? "" : String(cat);
    el.classList.toggle("decided", cat !== null);
    el.classList.toggle("pending", !!it.pending);
    el.classList.toggle("selected", allInFilter || selected.has(i));
    el.classList.toggle("current", i === current);
    el.classList.toggle("revealed", i === revealed);
    const badges = [];
    if (it.verdict === "known") badges.push(["known", "HS " + (it.category ?? "?")]);
    if (it.recovered) badges.push(["recovered", it.recovered]);
    if (cat !== null) badges.push(["cat", "C" + cat]);
    if (r && r.victim_identified) badges.push(["flag", "V"]);
    if (r && r.offender_identified) badges.push(["flag", "O"]);
    if (r && r.series) badges.push(["series", r.series]);
    const html = badges.map((b) => b[0] + "|" + b[1]).join(";");
    const cap = el.querySelector(".dense-badges");
    if (cap.dataset.key !== html) {
      cap.dataset.key = html;
      cap.replaceChildren(
        ...badges.map(([kind, text]) => {
          const s = document.createElement("span");
          s.className = "badge " + kind;
          s.textContent = text;
          return s;
        })
      );
    }
  }

  function repaint() {
    nodes.forEach((el, i) => {
      const it = item(i);
      if (it) paint(el, it, i);
    });
    const n = allInFilter ? total : selected.size;
    if (selNode) selNode.textContent = n ? n + " selected" + (allInFilter ? " (all in the filter)" : "") : "";
  }

  // --- selection -----------------------------------------------------------------------------

  function setCurrent(i, extend) {
    if (!total) return;
    i = Math.max(0, Math.min(total - 1, i));
    current = i;
    if (revealed !== i) revealed = -1;
    if (extend) {
      allInFilter = false;
      selected.clear();
      const [a, b] = anchor < i ? [anchor, i] : [i, anchor];
      for (let k = a; k <= b; k++) selected.add(k);
    } else {
      anchor = i;
    }
    const row = Math.floor(i / cols);
    const top = box.getBoundingClientRect().top + window.scrollY + row * tileW;
    const bar = document.getElementById("grid-bar");
    const barH = bar ? bar.getBoundingClientRect().height : 0;
    if (top < window.scrollY + barH) window.scrollTo(0, top - barH);
    else if (top + tileW > window.scrollY + window.innerHeight)
      window.scrollTo(0, top + tileW - window.innerHeight);
    render();
    repaint();
  }

  box.addEventListener("click", (e) => {
    const el = e.target.closest(".tile");
    if (!el) return;
    e.preventDefault();
    const i = Number(el.dataset.index);
    if (e.shiftKey) {
      setCurrent(i, true);
      return;
    }
    if (e.ctrlKey || e.metaKey) {
      if (allInFilter) allInFilter = false;
      if (selected.has(i)) selected.delete(i);
      else selected.add(i);
      anchor = i;
      current = i;
      repaint();
      return;
    }
    selected.clear();
    allInFilter = false;
    selected.add(i);
    setCurrent(i, false);
  });
  box.addEventListener("dblclick", (e) => {
    const el = e.target.closest(".tile");
    if (el) window.location.href = "/cases/" + encodeURIComponent(caseName) + "/files/" + el.dataset.file;
  });

  // --- changes: optimistic, then reconciled --------------------------------------------------

  function targets() {
    if (allInFilter) return { filter: first.filter, indexes: null };
    const idx = selected.size ? Array.from(selected) : current >= 0 ? [current] : [];
    const sha256 = [];
    const groups = [];
    const collapsed = first.filter.collapse !== "false";
    idx.forEach((i) => {
      const it = item(i);
      if (!it) return;
      if (collapsed && it.group_size > 1) groups.push(it.group);
      else if (it.sha256) sha256.push(it.sha256);
    });
    return { sha256, groups, indexes: idx };
  }

  function loadedIndexes(pred) {
    const out = [];
    windows.forEach((items, k) =>
      items.forEach((it, j) => {
        if (pred(it)) out.push(k * WINDOW + j);
      })
    );
    return out;
  }

  async function send(url, payload) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(payload || {}),
      credentials: "same-origin",
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.detail || response.statusText);
    return data;
  }

  function reconcile(decisions) {
    const bySha = new Map(decisions.map((d) => [d.sha256, d]));
    windows.forEach((items) =>
      items.forEach((it) => {
        if (bySha.has(it.sha256)) it.review = bySha.get(it.sha256);
        it.pending = false;
      })
    );
    repaint();
  }

  function reloadLoaded() {
    // A change too big to echo: the windows in memory are fetched again.
    windows.clear();
    cursors.clear();
    pending.clear();
    return fetch(api + "/grid?" + (filterQuery ? filterQuery + "&" : "") + "limit=" + WINDOW, {
      credentials: "same-origin",
    })
      .then((r) => r.json())
      .then((data) => {
        windows.set(0, data.items);
        if (data.next) cursors.set(1, data.next);
        nodes.forEach((el) => el.remove());
        nodes.clear();
        render();
        repaint();
      });
  }

  let inFlight = 0;
  async function change(values, label) {
    const t = targets();
    if (!t.filter && !t.sha256.length && !t.groups.length) return say("nothing selected", true);
    const payload = { set: values };
    if (t.filter) payload.filter = t.filter;
    else {
      if (t.sha256.length) payload.sha256 = t.sha256;
      if (t.groups.length) payload.groups = t.groups;
    }
    // Optimistic: the tiles change now, before the server answers.
    const touched = t.indexes || loadedIndexes(() => true);
    const before = new Map();
    touched.forEach((i) => {
      const it = item(i);
      if (!it) return;
      before.set(i, it.review);
      it.review = Object.assign({}, it.review || { sha256: it.sha256 }, values);
      it.pending = true;
    });
    repaint();
    inFlight++;
    body.dataset.inflight = String(inFlight);
    try {
      const data = await send(api + "/decisions", payload);
      if (data.decisions.length || !data.files) reconcile(data.decisions);
      else await reloadLoaded();
      say("Saved " + label + " on " + data.files + " file(s). u undoes.");
    } catch (err) {
      before.forEach((review, i) => {
        const it = item(i);
        if (it) {
          it.review = review;
          it.pending = false;
        }
      });
      repaint();
      say("Not saved: " + err.message, true);
    } finally {
      inFlight--;
      body.dataset.inflight = String(inFlight);
      body.dataset.saved = String(Number(body.dataset.saved || 0) + 1);
    }
  }

  async function undo() {
    try {
      const data = await send(api + "/undo");
      if (data.decisions.length || !data.files) reconcile(data.decisions);
      else await reloadLoaded();
      say("Undone (" + data.files + " file(s)).");
    } catch (err) {
      say(err.message, true);
    }
  }

  function ask(field, question) {
    const it = item(current);
    const old = it && it.review && it.review[field] ? it.review[field] : "";
    const answer = window.prompt(question, Array.isArray(old) ? old.join(", ") : old);
    if (answer === null) return;
    const values = {};
    values[field] =
      field === "tags" ? answer.split(",").map((s) => s.trim()).filter(Boolean) : answer;
    change(values, field);
  }

  function setThumb(size) {
    thumb = Math.max(96, Math.min(320, size));
    if (sizeInput) sizeInput.value = String(thumb);
    const keep = current;
    layout();
    if (keep >= 0) setCurrent(keep, false);
    clearTimeout(setThumb.timer);
    setThumb.timer = setTimeout(() => {
      fetch("/api/settings", {
        method: "PUT",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ thumb_size: thumb }),
        credentials: "same-origin",
      }).then((r) => {
        if (r.ok) body.dataset.thumbSaved = String(thumb);
      });
    }, 400);
  }
  if (sizeInput) sizeInput.addEventListener("input", () => setThumb(Number(sizeInput.value)));

  const help = document.getElementById("dense-keys");
  const helpButton = document.getElementById("grid-help-button");
  if (helpButton && help) helpButton.addEventListener("click", () => (help.hidden = !help.hidden));

  document.addEventListener("keydown", (e) => {
    const started = performance.now();
    onKey(e);
    // How long a key press holds the page (the server is never waited for): for the bench.
    const keys = window.hashsieveGrid.keys;
    if (keys.length < 5000) keys.push(performance.now() - started);
  });

  function onKey(e) {
    const target = e.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "SELECT" || target.tagName === "TEXTAREA")) return;
    if (!total) return;
    const digit = /^(Digit|Numpad)([0-4])$/.exec(e.code);
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") {
      e.preventDefault();
      return undo();
    }
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "a") {
      e.preventDefault();
      allInFilter = true;
      selected.clear();
      return repaint();
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols };
    if (moves[e.key] !== undefined) {
      e.preventDefault();
      if (!e.shiftKey && (selected.size || allInFilter)) {
        selected.clear();
        allInFilter = false;
      }
      return setCurrent(current + moves[e.key], e.shiftKey);
    }
    if (e.key === "PageDown" || e.key === "PageUp") {
      e.preventDefault();
      const rows = Math.max(1, Math.floor(window.innerHeight / tileW) - 1);
      return setCurrent(current + (e.key === "PageDown" ? 1 : -1) * rows * cols, e.shiftKey);
    }
    if (e.key === "Escape") {
      selected.clear();
      allInFilter = false;
      revealed = -1;
      return repaint();
    }
    if (e.key === "+" || e.key === "=") return setThumb(thumb + 16);
    if (e.key === "-" || e.key === "_") return setThumb(thumb - 16);
    if (e.key === " ") {
      e.preventDefault();
      revealed = revealed === current ? -1 : current; // one at a time
      return repaint();
    }
    if (e.key === "Enter") {
      const it = item(current);
      if (it) window.location.href = "/cases/" + encodeURIComponent(caseName) + "/files/" + it.file_id;
      return;
    }
    if (digit) {
      e.preventDefault();
      return change({ category: Number(digit[2]) }, "category " + digit[2]);
    }
    const key = e.key.toLowerCase();
    const it = item(current);
    const r = (it && it.review) || {};
    if (key === "v") return change({ victim_identified: !r.victim_identified }, "victim identified");
    if (key === "o") return change({ offender_identified: !r.offender_identified }, "offender identified");
    if (key === "s") return ask("series", "Series name");
    if (key === "t") return ask("tags", "Tags (comma-separated)");
    if (key === "n") return ask("note", "Note");
    if (key === "u") return undo();
    if (e.key === "?" && help) help.hidden = !help.hidden;
  }

  function grow(n) {
    if (n === total) return;
    total = n;
    window.hashsieveGrid.total = total;
    box.style.height = Math.ceil(total / cols) * tileW + "px";
    if (countNode) countNode.innerHTML = "<strong>" + total + "</strong> tiles" + (counted ? "" : "+");
    schedule();
  }

  function count() {
    const url = api + "/grid?" + (filterQuery ? filterQuery + "&" : "") + "limit=1&count=true";
    fetch(url, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.statusText))))
      .then((data) => {
        counted = true;
        grow(data.total);
        if (countNode) countNode.innerHTML = "<strong>" + total + "</strong> tiles";
        body.dataset.counted = "1";
      })
      .catch((err) => say("Could not count the tiles: " + err.message, true));
  }

  window.addEventListener(
    "scroll",
    () => {
      scrolledAt = performance.now();
      schedule();
    },
    { passive: true }
  );
  window.addEventListener("resize", () => layout());
  window.hashsieveGrid = {
    fetches: [],
    keys: [],
    total: total,
    select: (i) => setCurrent(i, false),
    state: () => ({ current, cols, tileW, selected: selected.size, allInFilter }),
  };
  if (countNode) countNode.innerHTML = "<strong>" + total + "</strong> tiles" + (counted ? "" : "+");
  layout();
  repaint();
  window.hashsieveGrid.readyAt = performance.now();
  body.dataset.gridReady = "1";
  if (counted) body.dataset.counted = "1";
  // The count (a walk of the whole filter the first time) waits for the first screen's
  // thumbnails: on one server process it would otherwise hold them up.
  const firstThumbs = thumbRequests;
  thumbRequests = null;
  if (!counted) Promise.allSettled(firstThumbs).then(count);
})();
