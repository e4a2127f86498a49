// The jaju console: hash routes (#/chat, #/knowledge/KB/DOC, …), one render function per page.
// Every datum comes from jaju's JSON API with the signed-in key; the server decides what the
// key may see (a URL edited to another tenant's knowledge base gets the API's 404).
import {
  ApiError, api, append, clear, fmtNum, fmtTime, h, hasKey, i18n, setKey, streamChat, t,
  textWithMarks, uploadFile,
} from "./lib.js";
import { barChart, legend } from "./charts.js";

const main = document.getElementById("main");
const top = document.getElementById("top");
const session = { info: null, keyless: false };
const chatState = { model: null, messages: [], controller: null };

const PAGES = [
  ["chat", false], ["knowledge", false], ["tools", true], ["keys", true], ["usage", false],
  ["audit", false],
];

function route() {
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").map(decodeURIComponent);
  return { page: parts[0] || "chat", args: parts.slice(1), query: new URLSearchParams(query || "") };
}

// A knowledge base as the console addresses it: its name, and (for an admin looking at another
// tenant's) the tenant, passed to the API as ?tenant= (the API answers 404 to anyone else).
function kbApi(ref, suffix = "", params = {}) {
  const q = new URLSearchParams(params);
  if (ref.tenant) q.set("tenant", ref.tenant);
  const qs = q.toString();
  return `/v1/knowledge/${encodeURIComponent(ref.kb)}${suffix}${qs ? `?${qs}` : ""}`;
}

function kbHash(ref, doc) {
  return `#/knowledge/${encodeURIComponent(ref.kb)}${doc !== undefined ? `/${doc}` : ""}`
    + (ref.tenant ? `?tenant=${encodeURIComponent(ref.tenant)}` : "");
}

function go(hash) { location.hash = hash; }

function header() {
  clear(top);
  const { page } = route();
  append(top, [h("span", { class: "brand" }, t("brand"))]);
  if (session.info) {
    const nav = h("nav", { "aria-label": "main" });
    for (const [name, adminOnly] of PAGES) {
      if (adminOnly && !session.info.admin) continue;
      nav.append(h("a", { href: `#/${name}`, "aria-current": page === name ? "page" : null }, t(name)));
    }
    top.append(nav);
    top.append(h("span", { class: "who" },
      `${t("tenant")}: ${session.info.tenant}${session.info.admin ? ` · ${t("admin")}` : ""}`));
  }
  top.append(h("button", {
    type: "button", lang: i18n.lang === "ko" ? "en" : "ko",
    onclick: () => { i18n.lang = i18n.lang === "ko" ? "en" : "ko"; document.documentElement.lang = i18n.lang; render(); },
  }, t("lang")));
  if (session.info && !session.keyless) {
    top.append(h("button", {
      type: "button", onclick: () => { setKey(null); session.info = null; chatState.messages = []; render(); },
    }, t("signout")));
  }
}

function page(title, ...children) {
  clear(main);
  if (session.keyless) main.append(h("div", { class: "banner warn", role: "status" }, t("keyless")));
  append(main, [h("h1", {}, title), children]);
}

function errorBox(e) {
  const message = e instanceof ApiError ? `${e.status} · ${e.message}` : String(e);
  return h("div", { class: "banner bad", role: "alert" }, `${t("error")}: ${message}`);
}

let renders = 0;

async function render() {
  const mine = ++renders; // a slower, older render must not overwrite a newer one
  const show = (...a) => { if (mine === renders) page(...a); };
  document.title = t("brand");
  header();
  if (!session.info) return renderSignin();
  const { page: name, args } = route();
  const entry = PAGES.find(([p]) => p === name);
  if (!entry) return go("#/chat");
  if (entry[1] && !session.info.admin) return page(t(name), h("div", { class: "banner bad" }, t("admin_only")));
  try {
    await ({ chat: renderChat, knowledge: renderKnowledge, tools: renderTools, keys: renderKeys,
      usage: renderUsage, audit: renderAudit })[name](args, show);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) { session.info = null; return render(); }
    show(t(name), errorBox(e));
  }
}

// --- sign-in -----------------------------------------------------------------------------------

function renderSignin(message) {
  const input = h("input", { id: "key", type: "password", autocomplete: "off", required: true, class: "grow" });
  const form = h("form", {
    class: "card", onsubmit: async (e) => {
      e.preventDefault();
      setKey(input.value.trim());
      try {
        session.info = await api("GET", "/v1/session");
        session.keyless = false;
        if (!location.hash) go("#/chat");
        render();
      } catch (err) {
        setKey(null);
        renderSignin(err instanceof ApiError && err.status === 401 ? t("bad_key") : String(err.message));
      }
    },
  },
  h("p", {}, t("signin_help")),
  h("div", { class: "row" }, h("label", { for: "key", class: "grow" }, t("api_key"), input),
    h("button", { type: "submit" }, t("signin"))));
  page(t("signin_title"), message ? h("div", { class: "banner bad", role: "alert" }, message) : null, form);
  input.focus();
}

// --- chat --------------------------------------------------------------------------------------

function citeButton(citations, n, box) {
  return h("button", {
    type: "button", class: "cite secondary", "aria-label": `${t("cites")} ${n}`,
    onclick: () => {
      const c = citations.find((x) => x.index === n);
      clear(box);
      if (!c) return;
      box.classList.remove("hidden");
      const where = [c.source?.path?.split("/").pop(), c.source?.page ? `${c.source.page}${t("page")}` : null]
        .filter(Boolean).join(" · ");
      append(box, [h("strong", {}, `[${n}] ${c.label || ""}`), " ", h("span", { class: "muted" }, where), "\n", c.snippet || ""]);
    },
  }, String(n));
}

function messageView(m) {
  const el = h("div", { class: `msg ${m.role}${m.error ? " error" : ""}` });
  el.append(h("span", { class: "who" }, m.role === "user" ? t("you") : (m.model || t("assistant"))));
  for (const run of m.tools || []) {
    el.append(h("details", { class: "step tool-run" },
      h("summary", {}, `${t("tool_step")}: `, h("strong", {}, run.name), " · ",
        h("span", { class: `tag ${run.status === "ok" ? "good" : "bad"}` }, run.status || ""),
        run.duration_ms !== undefined ? ` · ${fmtNum(run.duration_ms)} ms` : ""),
      h("div", {}, t("args")), h("pre", {}, JSON.stringify(run.arguments ?? {}, null, 2)),
      run.error ? h("div", { class: "muted" }, run.error) : null));
  }
  const box = h("div", { class: "citation hidden", "aria-live": "polite" });
  const body = h("div", { class: "body" });
  if (m.role === "assistant" && m.citations?.length) {
    append(body, textWithMarks(m.content, (n) => citeButton(m.citations, n, box)));
  } else {
    append(body, textWithMarks(m.content));
  }
  el.append(body);
  if (m.stopped) el.append(h("span", { class: "tag warn" }, t("stopped")));
  if (m.citations?.length) {
    el.append(h("div", { class: "cites" }, `${t("cites")}: `,
      m.citations.map((c) => citeButton(m.citations, c.index, box))), box);
  }
  return el;
}

function exportMarkdown() {
  const lines = [`# jaju — ${chatState.model}`, ""];
  for (const m of chatState.messages) {
    lines.push(`**${m.role === "user" ? t("you") : m.model || "assistant"}**`, "", m.content, "");
    for (const c of m.citations || []) lines.push(`[${c.index}] ${c.label || ""} — ${c.source?.path?.split("/").pop() || ""}`);
    if (m.citations?.length) lines.push("");
  }
  const blob = new Blob([lines.join("\n")], { type: "text/markdown" });
  const a = h("a", { href: URL.createObjectURL(blob), download: "jaju-chat.md" });
  document.body.append(a);
  a.click();
  a.remove();
}

async function renderChat(_args, show) {
  const models = (await api("GET", "/v1/models")).data;
  if (!chatState.model || !models.some((m) => m.id === chatState.model)) {
    chatState.model = (models.find((m) => m.owned_by === "jaju") || models[0])?.id || null;
  }
  const select = h("select", { id: "model", onchange: () => { chatState.model = select.value; } },
    models.map((m) => h("option", { value: m.id, selected: m.id === chatState.model },
      m.jaju?.description ? `${m.id} — ${m.jaju.description}` : m.id)));
  const list = h("div", { class: "messages", role: "log", "aria-live": "polite" });
  const draw = () => { clear(list); chatState.messages.forEach((m) => list.append(messageView(m))); };
  draw();
  const input = h("textarea", { id: "prompt", rows: 3, placeholder: t("ask_placeholder"), "aria-label": t("ask_placeholder") });
  const send = h("button", { type: "submit", id: "send" }, t("send"));
  const stop = h("button", { type: "button", id: "stop", class: "danger", disabled: true,
    onclick: () => chatState.controller?.abort() }, t("stop"));
  const form = h("form", {
    class: "card chat", onsubmit: async (e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (!text || !chatState.model || chatState.controller) return;
      input.value = "";
      chatState.messages.push({ role: "user", content: text });
      const answer = { role: "assistant", model: chatState.model, content: "", citations: [], tools: [] };
      chatState.messages.push(answer);
      draw();
      let live = list.lastChild;
      chatState.controller = new AbortController();
      send.disabled = true; stop.disabled = false;
      const history = chatState.messages.filter((m) => m !== answer && !m.error)
        .map((m) => ({ role: m.role, content: m.content }));
      try {
        await streamChat({ model: chatState.model, messages: history }, chatState.controller.signal, (chunk) => {
          const delta = chunk.choices?.[0]?.delta || {};
          if (delta.content) answer.content += delta.content;
          if (chunk.citations) answer.citations = chunk.citations;
          // progress chunks carry each round's runs; the last chunk carries all of them
          if (chunk.tool_runs) {
            if (chunk.choices?.[0]?.finish_reason) answer.tools = chunk.tool_runs;
            else answer.tools.push(...chunk.tool_runs);
          }
          const next = messageView(answer); // token by token
          live.replaceWith(next);
          live = next;
        });
      } catch (err) {
        if (err.name === "AbortError") answer.stopped = true;
        else { answer.error = true; answer.content += `\n${err.message}`; }
      } finally {
        chatState.controller = null;
        send.disabled = false; stop.disabled = true;
        draw();
        input.focus();
      }
    },
  }, list, input,
  h("div", { class: "row" }, send, stop,
    h("button", { type: "button", class: "secondary", onclick: exportMarkdown }, t("export_md")),
    h("button", { type: "button", class: "secondary", onclick: () => { chatState.messages = []; draw(); } }, t("clear"))));
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); }
  });
  show(t("chat"),
    models.length ? h("div", { class: "row card" }, h("label", { for: "model", class: "grow" }, t("assistant"), select))
      : h("div", { class: "banner warn" }, t("no_models")),
    form);
  input.focus();
}

// --- knowledge ---------------------------------------------------------------------------------

function piiTags(pii) {
  const entries = Object.entries(pii || {});
  if (!entries.length) return h("span", { class: "muted" }, "-");
  return entries.map(([type, n]) => h("span", { class: "tag warn" }, `${type} ${n}`));
}

function table(columns, rows, id) {
  return h("div", { class: "table-wrap" }, h("table", { id },
    h("thead", {}, h("tr", {}, columns.map(([label, cls]) => h("th", { class: cls, scope: "col" }, label)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: columns.length, class: "muted" }, t("none"))))));
}

async function renderKnowledge(args, show) {
  const ref = { kb: args[0], tenant: route().query.get("tenant") || null };
  if (args[0] && args[1]) return renderDocument(ref, Number(args[1]), show);
  if (args[0]) return renderBase(ref, show);
  const bases = (await api("GET", session.info.admin ? "/v1/knowledge?all=1" : "/v1/knowledge")).data;
  const other = (b) => (b.tenant && b.tenant !== session.info.tenant ? b.tenant : null);
  const rows = bases.map((b) => h("tr", {},
    h("td", {}, h("a", { href: kbHash({ kb: b.id, tenant: other(b) }) }, b.id)),
    h("td", {}, b.shared ? t("shared") : b.tenant),
    h("td", { class: "num" }, fmtNum(b.documents)), h("td", { class: "num" }, fmtNum(b.chunks)),
    h("td", { class: "num" }, fmtNum(b.characters)), h("td", {}, b.description || "")));
  const name = h("input", { id: "newkb", placeholder: "my-docs", pattern: "[^/]+" });
  show(t("knowledge"),
    table([[t("name")], [t("tenant")], [t("documents"), "num"], [t("chunks"), "num"], [t("characters"), "num"], [t("description")]], rows, "bases"),
    h("form", { class: "card row", onsubmit: (e) => { e.preventDefault(); if (name.value.trim()) go(`#/knowledge/${encodeURIComponent(name.value.trim())}`); } },
      h("label", { for: "newkb", class: "grow" }, t("new_base"), name), h("button", { type: "submit" }, t("upload"))));
}

function uploader(ref, onDone) {
  const list = h("div", { id: "uploads" });
  const fileInput = h("input", { type: "file", multiple: true, id: "files", class: "hidden",
    onchange: () => { queue([...fileInput.files]); fileInput.value = ""; } });
  const pick = h("button", { type: "button", class: "secondary", onclick: () => fileInput.click() }, t("choose_files"));
  const drop = h("div", { class: "drop", id: "drop" }, t("drop_help"), " ", pick, fileInput);
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    queue([...e.dataTransfer.files]);
  });
  async function queue(files) {
    for (const file of files) {
      const bar = h("progress", { max: 1, value: 0, "aria-label": file.name });
      const status = h("span", { class: "tag" }, t("uploading"));
      const row = h("div", { class: "upload" }, h("span", { class: "mono" }, file.name), bar, status);
      list.append(row);
      try {
        const res = await uploadFile(kbApi(ref, "/documents", { filename: file.name }), file, (p) => {
          bar.value = p;
          if (p >= 1) status.textContent = t("parsing");
        });
        bar.value = 1;
        const r = res.result;
        status.textContent = t(r.status);
        status.className = `tag ${r.status === "failed" ? "bad" : "good"}`;
        row.dataset.status = r.status;
        if (r.status === "failed") row.append(h("div", { class: "reason" }, r.reason));
        else row.append(h("div", { class: "muted" }, `${fmtNum(r.chunks)} ${t("chunks")} · ${fmtNum(r.chars)} ${t("characters")}`));
      } catch (e) {
        status.textContent = t("failed");
        status.className = "tag bad";
        row.dataset.status = "failed";
        row.append(h("div", { class: "reason" }, e.message));
      }
    }
    onDone();
  }
  return h("section", { class: "card", "aria-label": t("upload") }, h("h2", {}, `${t("upload")} → ${ref.kb}`), drop, list);
}

function searchTester(ref) {
  const query = h("input", { id: "query", class: "grow", required: true });
  const k = h("input", { id: "k", type: "number", min: 1, max: 50, value: 5 });
  const out = h("div", { id: "hits", "aria-live": "polite" });
  return h("section", { class: "card" }, h("h2", {}, t("search_tester")),
    h("form", {
      class: "row", onsubmit: async (e) => {
        e.preventDefault();
        clear(out);
        try {
          const res = await api("POST", kbApi(ref, "/search"), { query: query.value, k: Number(k.value) || 5 });
          if (!res.hits.length) out.append(h("p", { class: "muted" }, t("no_hits")));
          const best = Math.max(...res.hits.map((x) => x.score), 1e-9);
          const bestOf = {}; // each signal's bar is relative to its own best among the hits
          for (const x of res.hits) for (const [n, v] of Object.entries(x.signals || {})) bestOf[n] = Math.max(bestOf[n] || 1e-9, v);
          res.hits.forEach((hit, i) => {
            const src = hit.source || {};
            const where = [src.path?.split("/").pop(), src.article, src.page ? `${src.page}${t("page")}` : null, src.heading].filter(Boolean).join(" · ");
            const signals = Object.entries(hit.signals || {}).map(([name, v]) =>
              h("span", { class: "signal" }, name, h("span", { class: "bar", "data-w": v / bestOf[name] }), h("code", {}, v.toFixed(3))));
            const item = h("div", { class: "hit" },
              h("div", {}, h("strong", {}, `${i + 1}. ${where}`), " ",
                h("span", { class: "tag" }, `${t("score")} ${hit.score.toFixed(3)}`),
                h("span", { class: "bar", "data-w": hit.score / best })),
              h("div", { class: "muted" }, `${t("signals")}: `, signals.length ? signals : "-"),
              h("div", { class: "text" }, textWithMarks(hit.text)));
            out.append(item);
          });
          sizeBars(out);
        } catch (err) { out.append(errorBox(err)); }
      },
    }, h("label", { for: "query", class: "grow" }, t("query"), query), h("label", { for: "k" }, "k", k),
    h("button", { type: "submit" }, t("search"))), out);
}

// Bar widths without inline styles (CSP): a width attribute on an SVG rect.
function sizeBars(root) {
  for (const bar of root.querySelectorAll("span.bar[data-w]")) {
    const w = Math.max(2, Math.round(Math.min(1, Number(bar.dataset.w)) * 80));
    const svg = h("svg:svg", { width: w, height: 10, class: "barsvg", "aria-hidden": "true" },
      h("svg:rect", { width: w, height: 10, rx: 2, fill: "#1f4e79" }));
    bar.replaceWith(svg);
  }
}

async function renderBase(ref, show) {
  const { kb } = ref;
  const docsBox = h("div", { id: "docs-box" });
  // a base that does not exist (or is another tenant's: the same 404) shows as not found;
  // uploading creates this tenant's own base of that name
  const load = async () => {
    let docs = null;
    try {
      docs = await api("GET", kbApi(ref, "/documents"));
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404) throw e;
    }
    clear(docsBox);
    if (docs === null) {
      docsBox.append(h("div", { class: "banner warn", role: "status", id: "notfound" }, `${t("not_found")} (404)`));
      return null;
    }
    const rows = docs.data.map((d) => h("tr", {},
      h("td", {}, h("a", { href: kbHash(ref, d.id) }, d.name)),
      h("td", {}, d.title || ""), h("td", {}, d.format),
      h("td", { class: "num" }, fmtNum(d.chunks)), h("td", { class: "num" }, fmtNum(d.chars)),
      h("td", {}, piiTags(d.pii)), h("td", {}, fmtTime(d.ingested_at))));
    docsBox.append(table([[t("documents")], [t("title")], [t("format")], [t("chunks"), "num"],
      [t("characters"), "num"], [t("pii")], [t("ingested")]], rows, "documents"));
    return docs;
  };
  const docs = await load();
  show(`${t("knowledge")}: ${kb}${ref.tenant ? ` (${t("tenant")} ${ref.tenant})` : ""}`,
    h("p", {}, h("a", { href: "#/knowledge" }, t("back"))), docsBox,
    docs?.shared && !session.info.admin ? null : uploader(ref, () => load().catch(() => null)),
    docs ? searchTester(ref) : null);
}

async function renderDocument(ref, id, show) {
  const res = await api("GET", kbApi(ref, `/documents/${id}/chunks`));
  const doc = res.document;
  show(`${doc.name}`,
    h("p", {}, h("a", { href: kbHash(ref) }, `← ${ref.kb}`)),
    h("p", {}, `${t("title")}: ${doc.title || "-"} · ${t("format")}: ${doc.format} · ${t("pii")}: `, piiTags(doc.pii)),
    h("section", { class: "card", id: "chunks" }, h("h2", {}, `${t("chunk_list")} (${res.data.length})`),
      res.data.map((c) => h("div", { class: "chunk" },
        h("div", { class: "muted" }, `#${c.seq + 1}`, c.article ? ` · ${c.article}` : "", c.page ? ` · ${c.page}${t("page")}` : "", c.heading ? ` · ${c.heading}` : ""),
        textWithMarks(c.text),
        c.keywords ? h("div", { class: "muted keywords" }, `${t("keywords")}: ${c.keywords}`) : null))));
}

// --- tools & plugins (admin) -------------------------------------------------------------------

async function renderTools(_args, show) {
  const [plugins, tools, audit] = await Promise.all([
    api("GET", "/v1/plugins"), api("GET", "/v1/tools"), api("GET", "/v1/audit?limit=500")]);
  const byKind = (kinds) => plugins.data.filter((p) => kinds.includes(p.kind));
  const pluginRows = (list) => list.map((p) => h("tr", {},
    h("td", {}, h("strong", {}, p.name), p.description ? h("div", { class: "muted" }, p.description) : null),
    h("td", {}, p.kind), h("td", {}, p.version || ""),
    h("td", {}, h("span", { class: `tag ${p.enabled ? (p.error ? "bad" : "good") : ""}` }, `${p.enabled ? t("enabled") : t("disabled")} · ${p.state}`),
      p.error ? h("div", { class: "muted" }, p.error) : null),
    h("td", {}, (p.tools || []).length),
    h("td", {}, p.kind === "builtin" ? "" : h("button", {
      type: "button", class: "secondary",
      onclick: async () => { await api("POST", `/v1/plugins/${encodeURIComponent(p.name)}/${p.enabled ? "disable" : "enable"}`); render(); },
    }, p.enabled ? t("disable") : t("enable")))));
  const cols = [[t("name")], [t("kind")], ["ver"], [t("state")], [t("tool_list"), "num"], [""]];
  // MCP servers' status, live: polled while this page is open
  const mcpBox = h("div", { id: "mcp-box" }, table(cols, pluginRows(byKind(["mcp"])), "mcp"));
  const timer = setInterval(async () => {
    if (route().page !== "tools" || !document.body.contains(mcpBox)) { clearInterval(timer); return; }
    try {
      const fresh = await api("GET", "/v1/plugins");
      clear(mcpBox).append(table(cols, pluginRows(fresh.data.filter((p) => p.kind === "mcp")), "mcp"));
    } catch { clearInterval(timer); }
  }, 5000);
  const calls = audit.data.filter((r) => r.action.startsWith("tool")).reverse().slice(0, 50);
  show(t("tools"),
    h("h2", {}, t("plugins")), table(cols, pluginRows(byKind(["builtin", "python"])), "plugins"),
    h("h2", {}, t("mcp_servers")), mcpBox,
    h("h2", {}, t("openapi")), table(cols, pluginRows(byKind(["openapi"])), "openapi"),
    h("h2", {}, t("tool_list")),
    tools.data.map((tool) => h("details", { class: "step" },
      h("summary", {}, h("strong", {}, tool.name), ` · ${tool.source || ""} · `,
        h("span", { class: `tag ${tool.available ? "good" : "bad"}` }, tool.available ? t("available") : t("unavailable"))),
      h("p", {}, tool.description || ""),
      h("div", {}, t("permissions")), h("pre", {}, JSON.stringify(tool.permissions, null, 2)),
      h("div", {}, t("schema")), h("pre", {}, JSON.stringify(tool.parameters, null, 2)))),
    h("h2", {}, t("recent_calls")),
    table([[t("time")], [t("actor")], [t("target")], [t("outcome")], [t("detail")]],
      calls.map((r) => h("tr", {}, h("td", {}, fmtTime(r.ts)), h("td", {}, r.actor), h("td", {}, r.target || ""),
        h("td", {}, h("span", { class: `tag ${r.outcome === "ok" ? "good" : "bad"}` }, r.outcome)), h("td", { class: "mono" }, r.detail || ""))), "calls"));
}

// --- keys (admin) ------------------------------------------------------------------------------

async function renderKeys(_args, show) {
  const keys = (await api("GET", "/v1/keys")).data;
  const tenant = h("input", { id: "tenant", required: true, autocomplete: "off" });
  const qpm = h("input", { id: "qpm", type: "number", min: 1 });
  const tpm = h("input", { id: "tpm", type: "number", min: 1 });
  const admin = h("input", { id: "admin", type: "checkbox" });
  const secretBox = h("div", { id: "secret", "aria-live": "polite" });
  const rows = keys.map((k) => h("tr", { "data-key": k.id },
    h("td", { class: "mono" }, k.id), h("td", {}, k.tenant), h("td", { class: "mono" }, `${k.prefix}…`),
    h("td", {}, k.admin ? t("yes") : t("no")),
    h("td", {}, `${k.qpm ?? "∞"} / ${k.tpm ?? "∞"}`), h("td", {}, fmtTime(k.created_at)),
    h("td", {}, k.revoked_at ? h("span", { class: "tag bad" }, `${t("revoked")} ${fmtTime(k.revoked_at)}`) : h("span", { class: "tag good" }, t("active"))),
    h("td", {}, k.revoked_at ? "" : h("button", {
      type: "button", class: "danger", "aria-label": `${t("revoke")} ${k.id}`,
      onclick: async (e) => {
        const btn = e.currentTarget;
        if (btn.dataset.armed !== "1") { btn.dataset.armed = "1"; btn.textContent = t("confirm_revoke"); return; }
        await api("POST", `/v1/keys/${encodeURIComponent(k.id)}/revoke`);
        render();
      },
    }, t("revoke")))));
  show(t("keys"),
    h("form", {
      class: "card", onsubmit: async (e) => {
        e.preventDefault();
        clear(secretBox);
        try {
          const res = await api("POST", "/v1/keys", {
            tenant: tenant.value.trim(), admin: admin.checked,
            qpm: qpm.value ? Number(qpm.value) : null, tpm: tpm.value ? Number(tpm.value) : null,
          });
          const code = h("code", { id: "new-secret" }, res.secret);
          const copy = h("button", { type: "button", class: "secondary", onclick: async () => {
            try { await navigator.clipboard.writeText(res.secret); copy.textContent = t("copied"); } catch {
              const range = document.createRange(); range.selectNodeContents(code);
              getSelection().removeAllRanges(); getSelection().addRange(range);
            }
          } }, t("copy"));
          append(secretBox, [h("div", { class: "banner warn" }, t("secret_once")), h("div", { class: "secret" }, code, copy)]);
          const fresh = (await api("GET", "/v1/keys")).data.find((k) => k.id === res.key.id);
          if (fresh) document.querySelector("#keys tbody")?.prepend(h("tr", { "data-key": fresh.id },
            h("td", { class: "mono" }, fresh.id), h("td", {}, fresh.tenant), h("td", { class: "mono" }, `${fresh.prefix}…`),
            h("td", {}, fresh.admin ? t("yes") : t("no")), h("td", {}, `${fresh.qpm ?? "∞"} / ${fresh.tpm ?? "∞"}`),
            h("td", {}, fmtTime(fresh.created_at)), h("td", {}, h("span", { class: "tag good" }, t("active"))), h("td", {})));
          copy.focus();
        } catch (err) { secretBox.append(errorBox(err)); }
      },
    }, h("h2", {}, t("create_key")),
    h("div", { class: "row" }, h("label", { for: "tenant", class: "grow" }, t("tenant"), tenant),
      h("label", { for: "qpm" }, t("qpm"), qpm), h("label", { for: "tpm" }, t("tpm"), tpm),
      h("label", { class: "check", for: "admin" }, admin, t("admin_key")),
      h("button", { type: "submit" }, t("create_key"))), secretBox),
    table([["id"], [t("tenant")], [t("prefix")], [t("admin")], [`${t("limits")} (${t("qpm")} / ${t("tpm")})`], [t("created")], [t("state")], [""]], rows, "keys"));
}

// --- usage -------------------------------------------------------------------------------------

async function renderUsage(args, show) {
  const days = Number(args[0]) || 30;
  const res = await api("GET", `/v1/usage?days=${days}`);
  const daily = res.daily;
  const select = h("select", { id: "days", onchange: () => go(`#/usage/${select.value}`) },
    [7, 30, 90, 365].map((d) => h("option", { value: d, selected: d === days }, `${d}`)));
  const head = h("div", { class: "row card" }, h("label", { for: "days" }, t("days"), select));
  if (!daily.length) return show(t("usage"), head, h("p", { class: "muted" }, t("no_usage")));
  const dayList = [...new Set(daily.map((r) => r.day))].sort();
  const sum = (rows, f) => rows.reduce((a, r) => a + (f(r) || 0), 0);
  const perDay = (f, key) => {
    const groups = [...new Set(daily.map((r) => r[key]))].sort();
    return { groups, data: dayList.map((d) => groups.map((g) => sum(daily.filter((r) => r.day === d && r[key] === g), f))) };
  };
  const tokens = (r) => (r.prompt_tokens || 0) + (r.completion_tokens || 0);
  const byTenant = perDay((r) => r.requests, "tenant");
  const byModel = perDay((r) => r.requests, "model");
  const chart = (title, labels, series, groups, id) => h("section", { class: "card" },
    h("h2", {}, title), barChart(labels, series, { id, title }), groups ? legend(groups) : null);
  const latency = dayList.map((d) => {
    const rows = daily.filter((r) => r.day === d);
    const n = sum(rows, (r) => r.requests);
    return [n ? sum(rows, (r) => r.avg_latency_ms * r.requests) / n : 0];
  });
  const summary = res.summary.map((r) => h("tr", {}, h("td", {}, r.tenant), h("td", {}, r.model),
    h("td", { class: "num" }, fmtNum(r.requests)), h("td", { class: "num" }, fmtNum(r.errors)),
    h("td", { class: "num" }, fmtNum((r.prompt_tokens || 0) + (r.completion_tokens || 0))),
    h("td", { class: "num" }, fmtNum(r.avg_latency_ms))));
  show(t("usage"), head,
    h("div", { class: "charts" },
      chart(`${t("requests")} · ${t("by_tenant")}`, dayList, byTenant.data, byTenant.groups, "chart-tenant"),
      chart(`${t("requests")} · ${t("by_model")}`, dayList, byModel.data, byModel.groups, "chart-model"),
      chart(`${t("tokens")} · ${t("by_day")}`, dayList, dayList.map((d) => [sum(daily.filter((r) => r.day === d), tokens)]), null, "chart-tokens"),
      chart(`${t("errors")} · ${t("by_day")}`, dayList, dayList.map((d) => [sum(daily.filter((r) => r.day === d), (r) => r.errors)]), null, "chart-errors"),
      chart(`${t("latency")} · ${t("by_day")}`, dayList, latency, null, "chart-latency")),
    table([[t("tenant")], [t("model")], [t("requests"), "num"], [t("errors"), "num"], [t("tokens"), "num"], [t("latency"), "num"]], summary, "usage"));
}

// --- audit -------------------------------------------------------------------------------------

async function renderAudit(_args, show) {
  const rows = (await api("GET", "/v1/audit?limit=1000")).data.reverse();
  const filters = {
    actor: h("input", { id: "f-actor", size: 12 }), action: h("input", { id: "f-action", size: 12 }),
    outcome: h("input", { id: "f-outcome", size: 8 }), text: h("input", { id: "f-text", class: "grow" }),
  };
  const body = h("tbody", {});
  const count = h("span", { class: "muted" });
  const draw = () => {
    clear(body);
    const want = Object.fromEntries(Object.entries(filters).map(([k, el]) => [k, el.value.trim().toLowerCase()]));
    const shown = rows.filter((r) => (!want.actor || String(r.actor).toLowerCase().includes(want.actor))
      && (!want.action || String(r.action).toLowerCase().includes(want.action))
      && (!want.outcome || String(r.outcome).toLowerCase().includes(want.outcome))
      && (!want.text || `${r.target} ${r.detail}`.toLowerCase().includes(want.text)));
    for (const r of shown.slice(0, 500)) {
      body.append(h("tr", {}, h("td", { class: "num" }, r.seq), h("td", {}, fmtTime(r.ts)), h("td", {}, r.actor),
        h("td", {}, r.action), h("td", {}, r.target || ""),
        h("td", {}, h("span", { class: `tag ${r.outcome === "ok" ? "good" : "bad"}` }, r.outcome)),
        h("td", { class: "mono" }, r.detail || "")));
    }
    count.textContent = `${shown.length} / ${rows.length}`;
  };
  Object.values(filters).forEach((el) => el.addEventListener("input", draw));
  const verdict = h("div", { id: "verdict", "aria-live": "polite" });
  const verify = session.info.admin ? h("button", {
    type: "button", id: "verify", onclick: async () => {
      clear(verdict);
      try {
        const res = await api("POST", "/v1/audit/verify");
        verdict.append(h("div", { class: `banner ${res.ok ? "good" : "bad"}`, role: "status" },
          `${res.ok ? t("verify_ok") : t("verify_bad")} · ${fmtNum(res.records)} ${t("records")}`,
          res.problems.map((p) => h("div", {}, `#${p.seq}: ${p.problem}`))));
      } catch (err) { verdict.append(errorBox(err)); }
    },
  }, t("verify")) : null;
  show(t("audit"),
    h("div", { class: "card" }, h("div", { class: "row" }, verify, verdict)),
    h("div", { class: "card row" }, t("filter"),
      h("label", { for: "f-actor" }, t("actor"), filters.actor), h("label", { for: "f-action" }, t("action"), filters.action),
      h("label", { for: "f-outcome" }, t("outcome"), filters.outcome), h("label", { for: "f-text", class: "grow" }, `${t("target")}/${t("detail")}`, filters.text), count),
    h("div", { class: "table-wrap" }, h("table", { id: "audit" },
      h("thead", {}, h("tr", {}, ["#", t("time"), t("actor"), t("action"), t("target"), t("outcome"), t("detail")].map((c) => h("th", { scope: "col" }, c)))), body)));
  draw();
}

// --- start -------------------------------------------------------------------------------------

window.addEventListener("hashchange", () => { if (!chatState.controller) render(); });

async function start() {
  if (new URLSearchParams(location.search).get("lang") === "en") i18n.lang = "en";
  document.documentElement.lang = i18n.lang;
  try {
    session.info = await api("GET", "/v1/session");
    session.keyless = Boolean(session.info.keyless) && !hasKey();
  } catch (e) {
    session.info = null;
    if (!(e instanceof ApiError) || (e.status !== 401 && e.status !== 429)) console.error(e);
  }
  render();
}

start();
