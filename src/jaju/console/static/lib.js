// Small helpers for the jaju console: DOM building (text is always text: no innerHTML),
// translations, and the API client. The API key lives in this module's memory only.

const DICT = {
  ko: {
    brand: "jaju 콘솔", chat: "채팅", knowledge: "지식", tools: "도구·플러그인", keys: "API 키",
    usage: "사용량", audit: "감사 로그", signout: "로그아웃", lang: "English",
    signin_title: "jaju 콘솔 로그인", signin_help: "API 키를 입력하세요. 키는 이 페이지의 메모리에만 보관되며, 새로 고치면 다시 입력해야 합니다.",
    api_key: "API 키", signin: "로그인", bad_key: "키가 올바르지 않습니다",
    keyless: "개발 모드: 아직 API 키가 없어 로그인 없이 열렸습니다(이 컴퓨터에서만 접속 가능). 키를 만들면 로그인이 필요합니다.",
    tenant: "테넌트", admin: "관리자", admin_only: "관리자 키가 필요한 페이지입니다.",
    assistant: "어시스턴트", send: "보내기", stop: "중지", export_md: "Markdown으로 내보내기",
    clear: "새 대화", ask_placeholder: "질문을 입력하세요 (Ctrl+Enter로 보내기)",
    you: "나", stopped: "중지됨", tool_step: "도구", args: "인수", result: "결과", status: "상태",
    duration: "소요", cites: "근거", no_models: "사용할 수 있는 어시스턴트가 없습니다",
    bases: "지식 베이스", name: "이름", shared: "공유", documents: "문서", chunks: "청크",
    characters: "글자", description: "설명", pii: "개인정보", none: "없음", title: "제목",
    format: "형식", ingested: "등록", upload: "문서 올리기",
    drop_help: "HWP·HWPX·PDF·DOCX·HTML·Markdown·텍스트 파일을 여기에 끌어다 놓거나",
    choose_files: "파일 선택", new_base: "새 지식 베이스 이름", upload_into: "올릴 곳",
    uploading: "올리는 중", parsing: "분석 중", failed: "실패", added: "추가됨",
    replaced: "교체됨", unchanged: "변경 없음", search_tester: "검색 테스트", query: "검색어",
    search: "검색", score: "점수", signals: "신호", no_hits: "결과 없음", back: "← 목록",
    not_found: "찾을 수 없습니다", chunk_list: "청크 목록", keywords: "검색용 풀이 (답변에 인용되지 않음)", page: "쪽", article: "조문",
    plugins: "플러그인", kind: "종류", state: "상태", enable: "켜기", disable: "끄기",
    enabled: "켜짐", disabled: "꺼짐", tool_list: "도구", schema: "스키마", permissions: "권한",
    available: "사용 가능", unavailable: "사용 불가", recent_calls: "최근 호출과 거부",
    mcp_servers: "MCP 서버", openapi: "OpenAPI 서비스", source: "출처",
    create_key: "키 만들기", qpm: "분당 요청", tpm: "분당 토큰", admin_key: "관리자 키",
    secret_once: "이 비밀 키는 지금 한 번만 표시됩니다. 안전한 곳에 보관하세요.",
    copy: "복사", copied: "복사됨", revoke: "폐기", revoked: "폐기됨", created: "생성",
    prefix: "접두어", limits: "한도", active: "사용 중", confirm_revoke: "이 키를 폐기할까요?",
    requests: "요청", tokens: "토큰", errors: "오류", latency: "평균 지연(ms)", by_day: "일별",
    by_tenant: "테넌트별", by_model: "모델별", days: "기간(일)", no_usage: "사용 기록이 없습니다",
    verify: "체인 검증", verify_ok: "감사 체인 정상", verify_bad: "감사 체인 손상",
    records: "건", filter: "필터", actor: "주체", action: "동작", outcome: "결과",
    target: "대상", detail: "내용", time: "시각", all: "전체", refresh: "새로 고침",
    loading: "불러오는 중…", error: "오류", yes: "예", no: "아니오", model: "모델",
  },
  en: {
    brand: "jaju console", chat: "Chat", knowledge: "Knowledge", tools: "Tools & plugins",
    keys: "API keys", usage: "Usage", audit: "Audit", signout: "Sign out", lang: "한국어",
    signin_title: "Sign in to the jaju console", signin_help: "Enter an API key. It is kept in this page's memory only; reloading asks for it again.",
    api_key: "API key", signin: "Sign in", bad_key: "Invalid key",
    keyless: "Development mode: no API key exists yet, so the console opened without sign-in (reachable from this machine only). Create a key to require sign-in.",
    tenant: "Tenant", admin: "Admin", admin_only: "This page needs an admin key.",
    assistant: "Assistant", send: "Send", stop: "Stop", export_md: "Export as Markdown",
    clear: "New chat", ask_placeholder: "Ask a question (Ctrl+Enter sends)",
    you: "You", stopped: "stopped", tool_step: "Tool", args: "Arguments", result: "Result",
    status: "Status", duration: "Duration", cites: "Sources", no_models: "No assistant available",
    bases: "Knowledge bases", name: "Name", shared: "Shared", documents: "Documents",
    chunks: "Chunks", characters: "Characters", description: "Description", pii: "Personal data",
    none: "none", title: "Title", format: "Format", ingested: "Ingested", upload: "Upload documents",
    drop_help: "Drop HWP, HWPX, PDF, DOCX, HTML, Markdown or text files here, or",
    choose_files: "choose files", new_base: "New knowledge base name", upload_into: "Into",
    uploading: "uploading", parsing: "parsing", failed: "failed", added: "added",
    replaced: "replaced", unchanged: "unchanged", search_tester: "Search tester", query: "Query",
    search: "Search", score: "Score", signals: "Signals", no_hits: "No results", back: "← List",
    not_found: "Not found", chunk_list: "Chunks", keywords: "search-only gloss (never quoted in answers)", page: "page", article: "article",
    plugins: "Plugins", kind: "Kind", state: "State", enable: "Enable", disable: "Disable",
    enabled: "enabled", disabled: "disabled", tool_list: "Tools", schema: "Schema",
    permissions: "Permissions", available: "available", unavailable: "unavailable",
    recent_calls: "Recent calls and refusals", mcp_servers: "MCP servers",
    openapi: "OpenAPI services", source: "Source",
    create_key: "Create key", qpm: "Requests/min", tpm: "Tokens/min", admin_key: "Admin key",
    secret_once: "This secret is shown only once. Store it somewhere safe.",
    copy: "Copy", copied: "Copied", revoke: "Revoke", revoked: "revoked", created: "Created",
    prefix: "Prefix", limits: "Limits", active: "active", confirm_revoke: "Revoke this key?",
    requests: "Requests", tokens: "Tokens", errors: "Errors", latency: "Avg latency (ms)",
    by_day: "By day", by_tenant: "By tenant", by_model: "By model", days: "Days",
    no_usage: "No usage yet", verify: "Verify chain", verify_ok: "Audit chain intact",
    verify_bad: "Audit chain broken", records: "records", filter: "Filter", actor: "Actor",
    action: "Action", outcome: "Outcome", target: "Target", detail: "Detail", time: "Time",
    all: "All", refresh: "Refresh", loading: "Loading…", error: "Error", yes: "yes", no: "no",
    model: "Model",
  },
};

export const i18n = { lang: "ko" };

export function t(key) {
  return DICT[i18n.lang][key] ?? DICT.ko[key] ?? key;
}

// h("div", {class: "x", onclick: fn}, "text", child, [children]) -> Element. Strings become
// text nodes, so data from the server is never parsed as HTML.
export function h(tag, attrs, ...children) {
  const el = tag.startsWith("svg:")
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "value" && "value" in el && !tag.startsWith("svg:")) el.value = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// Masked personal data, highlighted: placeholders such as <주민등록번호_1> and masked values
// such as 900101-1****** or 010-****-5678. Everything else stays text.
const MASKED = String.raw`<[\p{L}_]+_\d+>|[\p{L}\d.@_-]*\*{3,}[\p{L}\d*.@_-]*`;

export function textWithMarks(text, cite) {
  const out = [];
  const pattern = new RegExp(cite ? String.raw`${MASKED}|\[(\d{1,2})\]` : MASKED, "gu");
  let at = 0;
  for (const m of text.matchAll(pattern)) {
    if (m.index > at) out.push(text.slice(at, m.index));
    if (cite && m[1] !== undefined) out.push(cite(Number(m[1]), m[0]));
    else out.push(h("mark", { class: "pii", title: t("pii") }, m[0]));
    at = m.index + m[0].length;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

export function fmtTime(ts) {
  if (!ts) return "";
  const d = new Date(ts * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fmtNum(n) {
  return Number(n || 0).toLocaleString(i18n.lang === "ko" ? "ko-KR" : "en-US",
    { maximumFractionDigits: 1 });
}

// --- API -------------------------------------------------------------------------------------

let secret = null; // the API key: page memory only

export function setKey(key) { secret = key; }
export function hasKey() { return secret !== null; }

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export function headers(extra) {
  const out = { ...(extra || {}) };
  if (secret) out.Authorization = `Bearer ${secret}`;
  return out;
}

export async function api(method, path, body) {
  const init = { method, headers: headers(), credentials: "omit", cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  let data = null;
  try { data = await res.json(); } catch { data = null; }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// One file as the raw body, with upload progress (XHR has upload events; fetch does not).
export function uploadFile(url, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    for (const [k, v] of Object.entries(headers({ "Content-Type": "application/octet-stream" }))) {
      xhr.setRequestHeader(k, v);
    }
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener("load", () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { data = null; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, data));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, null)));
    xhr.send(file);
  });
}

// A streamed chat: calls onChunk(chunk) per server-sent event; resolves when done.
export async function streamChat(body, signal, onChunk) {
  const res = await fetch("/v1/chat/completions", {
    method: "POST", signal, credentials: "omit", cache: "no-store",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify({ ...body, stream: true }),
  });
  if (!res.ok) {
    let data = null;
    try { data = await res.json(); } catch { data = null; }
    throw new ApiError(res.status, data);
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") return;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new ApiError(500, chunk);
        onChunk(chunk);
      }
    }
  }
}
