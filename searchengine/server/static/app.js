// The search page: plain DOM, no build step. Everything shown from the index goes in as text, never as HTML.
"use strict";

const K = 48;
const $ = (id) => document.getElementById(id);
const state = { q: "", kind: "any", image: null, like: null };
let inflight = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) node.append(child);
  return node;
}

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${r}` : `${m}:${r}`;
}

const STOPWORDS = new Set("the and for with from that this what who which where when how are was were its".split(" "));

// The query's words as the word index makes them (letters and digits; name:/path: prefixes and quotes dropped).
function queryWords(q) {
  return q.replace(/\b(name|path):/gi, " ").toLowerCase().normalize("NFKD").replace(/\p{M}/gu, "")
    .split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

// The passage, lightly cleaned of markdown marks, with words that begin like the query's words marked;
// for a hit found by its words (matched: "words"), the very words matched, short ones and numbers too.
function snippet(text, words, exact = false, limit = 420) {
  const plain = text.replace(/^#{1,6}\s+/gm, "").replace(/(\*\*|__)(.+?)\1/g, "$2");
  const node = el("p", { class: "snippet" });
  const terms = exact ? queryWords(words.join(" ")).filter((w) => !STOPWORDS.has(w))
    : words.map((w) => w.toLowerCase().replace(/[^\p{L}\p{N}]/gu, "")).filter((w) => w.length > 2 && !STOPWORDS.has(w));
  const at = exact && terms.length ? Math.max(0, plain.toLowerCase().normalize("NFKD").search(terms[0]) - 120) : 0;
  const start = at ? plain.indexOf(" ", at) + 1 : 0;  // a long passage: from just before the first match
  const rest = plain.slice(start);
  const short = (start ? "… " : "") + (rest.length > limit ? rest.slice(0, limit).replace(/\s+\S*$/, "") + " …" : rest);
  if (!terms.length) { node.textContent = short; return node; }
  const tail = exact ? "(?![\\p{L}\\p{N}])" : "[\\p{L}\\p{N}]*";
  const re = new RegExp(`(?<![\\p{L}\\p{N}])((?:${terms.join("|")})${tail})`, "giu");
  short.split(re).forEach((part, i) => node.append(i % 2 ? el("mark", {}, part) : part));
  return node;
}

function card(hit) {
  const words = state.like || state.image ? [] : state.q.split(/\s+/);
  const media = [];
  if (hit.thumbnail_url) {
    const target = hit.kind === "video" && hit.start ? `${hit.file_url}#t=${hit.start}` : hit.file_url;
    media.push(el("a", { href: target, target: "_blank", rel: "noopener", class: "thumb" },
      el("img", { src: hit.thumbnail_url, alt: hit.name, loading: "lazy", decoding: "async" })));
  }
  const byWords = (hit.matched || []).includes("words");
  if (hit.text) {
    const passage = snippet(hit.text, words, byWords);
    if (hit.source === "ocr") passage.title = "Text read in the picture (OCR)";
    media.push(passage);
  }
  if (hit.kind === "audio") {
    const player = el("audio", { controls: true, preload: "none", src: `${hit.file_url}#t=${hit.start || 0}` });
    player.dataset.start = hit.start || 0;
    player.addEventListener("loadedmetadata", () => {
      if (player.currentTime + 0.25 < Number(player.dataset.start)) player.currentTime = Number(player.dataset.start);
    }, { once: true });
    media.push(player);
  }
  const when = hit.start !== null && hit.start !== undefined
    ? el("span", { class: "time" }, hit.end ? `${clock(hit.start)}–${clock(hit.end)}` : clock(hit.start))
    : hit.page ? el("span", { class: "time page" }, `p. ${hit.page}`) : "";
  // a PDF opens at the page the passage is on (the browser's viewer follows #page=N)
  const fileLink = hit.page ? `${hit.file_url}#page=${hit.page}` : hit.file_url;
  return el("article", { class: `result kind-${hit.kind} confidence-${hit.confidence}`, "data-item": hit.item_id,
    "data-segment": hit.segment_id, "data-confidence": hit.confidence },
    ...media,
    el("div", { class: "meta" },
      el("a", { href: fileLink, target: "_blank", rel: "noopener", class: "name", title: hit.path }, hit.name),
      el("div", { class: "row" },
        el("span", { class: "kind" }, hit.kind),
        when,
        byWords ? el("span", { class: "matched", title: `found by its words${(hit.matched || []).includes("meaning") ? " and its meaning" : ""}` },
          "words") : "",
        el("span", { class: "score", title: `${hit.confidence} confidence: calibrated score ${hit.score} (cosine ${hit.raw_score})` },
          hit.confidence === "low" ? "weak" : hit.confidence),
        el("button", { type: "button", class: "like", title: "Search for results like this one",
          onclick: () => moreLike(hit) }, "More like this"))));
}

// Best first, but low-confidence hits after the others, under a rule and dimmed: they are the
// closest the index holds, not likely answers.
function render(data) {
  const strong = data.hits.filter((hit) => hit.confidence !== "low");
  const weak = data.hits.filter((hit) => hit.confidence === "low");
  const cards = strong.map(card);
  if (weak.length) {
    cards.push(el("p", { class: "weak-rule", id: "weak-rule" }, strong.length ? "Weaker matches" : "No strong match: the closest are listed"));
    cards.push(...weak.map(card));
  }
  $("results").replaceChildren(...cards);
  const summary = $("summary");
  if (data.hits.length) {
    summary.textContent = `${data.hits.length} result${data.hits.length > 1 ? "s" : ""} in ${Math.round(data.took_ms)} ms`;
    if (!strong.length) summary.append(" · no strong match");
  } else {
    summary.textContent = "Nothing of this kind is indexed.";
  }
}

function fail(message) {
  $("results").replaceChildren();
  $("summary").replaceChildren(el("span", { class: "error" }, message));
}

async function search() {
  const q = state.q.trim();
  if (!q && !state.image && !state.like) { $("results").replaceChildren(); $("summary").textContent = ""; return; }
  if (inflight) inflight.abort();
  inflight = new AbortController();
  const params = { type: state.kind, k: K };
  let request;
  if (state.like) {
    request = fetch(`/api/search?${new URLSearchParams({ ...params, like: state.like.segment_id })}`, { signal: inflight.signal });
  } else if (state.image) {
    const form = new FormData();
    form.append("image", state.image, state.image.name || "pasted.png");
    for (const [key, value] of Object.entries(params)) form.append(key, value);
    if (q) form.append("q", q);
    request = fetch("/api/search", { method: "POST", body: form, signal: inflight.signal });
  } else {
    request = fetch(`/api/search?${new URLSearchParams({ ...params, q })}`, { signal: inflight.signal });
  }
  $("summary").textContent = "Searching…";
  document.body.classList.add("busy");
  try {
    const response = await request;
    const data = await response.json();
    if (!response.ok) throw new Error(typeof data.detail === "string" ? data.detail : `error ${response.status}`);
    render(data);
    remember();
  } catch (error) {
    if (error.name !== "AbortError") fail(error.message);
  } finally {
    document.body.classList.remove("busy");
  }
}

function remember() {
  const params = new URLSearchParams();
  if (state.q.trim() && !state.image) params.set("q", state.q.trim());
  if (state.kind !== "any") params.set("type", state.kind);
  if (state.like) params.set("like", state.like.segment_id);
  history.replaceState(null, "", params.toString() ? `?${params}` : location.pathname);
}

function moreLike(hit) {
  state.like = { segment_id: hit.segment_id, name: hit.name };
  $("like-name").textContent = hit.name;
  $("like-chip").hidden = false;
  window.scrollTo({ top: 0 });
  search();
}

function useImage(file) {
  if (!file || !file.type.startsWith("image/")) { fail("That is not an image: drop or paste a picture to search with it."); return; }
  state.image = file;
  state.like = null;
  $("like-chip").hidden = true;
  const preview = $("image-preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(file);
  $("image-chip").hidden = false;
  search();
}

function clearImage() {
  state.image = null;
  $("image-chip").hidden = true;
  $("file").value = "";
  search();
}

function setKind(kind) {
  state.kind = kind;
  for (const button of $("kinds").querySelectorAll("button")) button.setAttribute("aria-checked", String(button.dataset.kind === kind));
  search();
}

function duplicateCard(file, group) {
  const kept = file.path === group.keep && group.match !== "passage";  // files sharing a passage are not copies
  const picture = file.thumbnail_url
    ? el("img", { src: file.thumbnail_url, alt: file.name, loading: "lazy" })
    : el("div", { class: "placeholder" }, file.name);
  const size = file.width ? `${file.width}×${file.height} · ` : "";
  return el("figure", { class: kept ? "duplicate keep" : "duplicate", title: file.path },
    el("a", { href: file.file_url, target: "_blank", rel: "noopener" }, picture),
    el("figcaption", {},
      el("b", {}, kept ? "keep · " : ""), file.name,
      el("small", {}, ` ${size}${Math.round(file.size / 1024)} KB · ${file.date.slice(0, 10)}`)));
}

async function showDuplicates() {
  state.view = "duplicates";
  history.replaceState(null, "", "?view=duplicates");
  $("summary").textContent = "Looking for duplicates…";
  try {
    const response = await fetch(`/api/duplicates?type=${encodeURIComponent(state.kind)}`);
    const groups = await response.json();
    if (!response.ok) return fail(groups.detail || `error ${response.status}`);
    const sections = groups.map((group, n) => el("section", { class: "duplicate-group", "aria-label": `Group ${n + 1}` },
      el("h2", {}, `${group.files.length} ${group.kind} files · ${group.match === "exact" ? "same content" : group.match === "passage" ? `share a passage: ${group.passage}` : `similarity ${group.similarity.toFixed(2)}`}`),
      el("div", { class: "grid" }, ...group.files.map((file) => duplicateCard(file, group)))));
    $("results").replaceChildren(...sections);
    const extra = groups.reduce((n, g) => n + (g.match === "passage" ? 0 : g.files.length - 1), 0);
    $("summary").textContent = groups.length
      ? `${groups.length} group${groups.length > 1 ? "s" : ""} of duplicates · ${extra} file${extra === 1 ? "" : "s"} beside the ones to keep (nothing is deleted)`
      : "No duplicates found.";
  } catch (error) { fail(`Could not list duplicates: ${error}`); }
}

async function showStatus() {
  try {
    const info = await (await fetch("/api/status")).json();
    const kinds = Object.entries(info.counts.by_kind).map(([kind, c]) => `${c.items} ${kind}`).join(" · ");
    $("status").textContent = `${info.counts.items} files (${kinds}) · ${info.vectors} segments · ${info.model}`;
  } catch { $("status").textContent = ""; }
}

function wire() {
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.q = $("q").value;
    state.like = null;
    state.view = "search";
    $("like-chip").hidden = true;
      search();
  });
  $("kinds").addEventListener("click", (event) => {
    if (!event.target.dataset.kind) return;
    if (state.view === "duplicates") { state.kind = event.target.dataset.kind; for (const b of $("kinds").querySelectorAll("button[data-kind]")) b.setAttribute("aria-checked", String(b.dataset.kind === state.kind)); showDuplicates(); return; }
    setKind(event.target.dataset.kind);
  });
  $("show-duplicates").addEventListener("click", showDuplicates);
  $("file").addEventListener("change", (event) => useImage(event.target.files[0]));
  $("image-clear").addEventListener("click", clearImage);
  $("like-clear").addEventListener("click", () => { state.like = null; $("like-chip").hidden = true; search(); });

  const overlay = $("drop-overlay");
  let depth = 0;
  const carriesFiles = (event) => Array.from(event.dataTransfer?.types || []).includes("Files");
  document.addEventListener("dragenter", (event) => { if (carriesFiles(event)) { depth++; overlay.hidden = false; } });
  document.addEventListener("dragleave", () => { depth = Math.max(0, depth - 1); if (!depth) overlay.hidden = true; });
  document.addEventListener("dragover", (event) => { if (carriesFiles(event)) event.preventDefault(); });
  document.addEventListener("drop", (event) => {
    depth = 0;
    overlay.hidden = true;
    if (!event.dataTransfer?.files.length) return;
    event.preventDefault();
    useImage(event.dataTransfer.files[0]);
  });
  document.addEventListener("paste", (event) => {
    const file = Array.from(event.clipboardData?.files || []).find((f) => f.type.startsWith("image/"));
    if (file) { event.preventDefault(); useImage(file); }
  });

  const params = new URLSearchParams(location.search);
  if (params.get("type")) setKind(params.get("type"));
  if (params.get("like")) state.like = { segment_id: params.get("like"), name: `segment ${params.get("like")}` };
  if (state.like) { $("like-name").textContent = state.like.name; $("like-chip").hidden = false; }
  state.q = params.get("q") || "";
  $("q").value = state.q;
  if (params.get("view") === "duplicates") showDuplicates(); else search();
  showStatus();
}

wire();
