/* kmed widget: a citation-backed chat panel for hospital intranet pages.
 *
 *   <script src="http://HOST/widget.js" data-kmed-api="http://HOST" data-kmed-title="…" defer></script>
 *
 * With `data-kmed-key="…"` (a key of role read, when the server requires one) every request
 * carries it in the X-API-Key header; page images are then fetched, not linked.
 *
 * Everything lives in a shadow root (host CSS cannot reach in, ours cannot leak out); no fonts,
 * CDNs or other network requests besides the kmed API; no framework. Answers stream from
 * POST /v1/ask (server-sent events); every [n] becomes a chip that opens the cited clause.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var API = ((script && script.getAttribute("data-kmed-api")) || "").replace(/\/$/, "");
  var TITLE = (script && script.getAttribute("data-kmed-title")) || "의료 법령·지침 도우미";
  var NO_ANSWER = "근거를 찾지 못했습니다";
  var KEY = (script && script.getAttribute("data-kmed-key")) || "";
  function headers(extra) {
    var all = extra || {};
    if (KEY) all["X-API-Key"] = KEY;
    return all;
  }

  var CSS = [
    ":host{all:initial}",
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Noto Sans KR','Malgun Gothic',sans-serif}",
    ".launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;border:0;border-radius:28px;padding:14px 20px;",
    "background:#0b5cad;color:#fff;font-size:15px;font-weight:600;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25)}",
    ".launcher:focus-visible,button:focus-visible,textarea:focus-visible{outline:3px solid #f5a623;outline-offset:2px}",
    ".panel{position:fixed;right:20px;bottom:84px;z-index:2147483000;width:400px;max-width:calc(100vw - 16px);",
    "height:600px;max-height:calc(100vh - 100px);display:flex;flex-direction:column;background:#fff;color:#1c1c1c;",
    "border:1px solid #c9d3dd;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.25);overflow:hidden;font-size:14px}",
    ".panel[hidden],.side[hidden]{display:none}",
    "header{display:flex;align-items:center;justify-content:space-between;padding:10px 14px;background:#0b5cad;color:#fff}",
    "header h2{margin:0;font-size:15px}",
    "header button{background:transparent;border:0;color:#fff;font-size:20px;cursor:pointer;line-height:1}",
    ".note{margin:0;padding:6px 14px;background:#fff8e1;color:#5d4300;font-size:12px;border-bottom:1px solid #f0e0a8}",
    ".log{flex:1;overflow-y:auto;padding:12px 14px;display:flex;flex-direction:column;gap:10px}",
    ".msg{max-width:92%;padding:8px 11px;border-radius:10px;line-height:1.55;white-space:pre-wrap;word-break:keep-all;overflow-wrap:anywhere}",
    ".user{align-self:flex-end;background:#e3eefa}",
    ".bot{align-self:flex-start;background:#f3f4f6}",
    ".bot.abstain{background:#fdecea;color:#7a1c12}",
    ".bot.error{background:#fdecea;color:#7a1c12}",
    ".refs{margin:6px 0 0;padding-left:18px;font-size:12px;color:#444}",
    ".chip{display:inline-block;margin:0 2px;padding:0 6px;border:1px solid #0b5cad;border-radius:10px;background:#fff;",
    "color:#0b5cad;font-size:12px;font-weight:700;cursor:pointer;vertical-align:1px}",
    ".chip:hover{background:#0b5cad;color:#fff}",
    ".removed{margin-top:6px;font-size:11px;color:#8a5a00}",
    "form{display:flex;gap:6px;padding:10px;border-top:1px solid #e2e6ea}",
    "textarea{flex:1;resize:none;height:44px;padding:8px;border:1px solid #b7c2cc;border-radius:8px;font-size:14px}",
    "form button{border:0;border-radius:8px;padding:0 14px;background:#0b5cad;color:#fff;font-weight:600;cursor:pointer}",
    "form button.stop{background:#6b7280}",
    ".retry{margin-left:8px;border:1px solid #7a1c12;background:#fff;color:#7a1c12;border-radius:6px;cursor:pointer}",
    ".side{position:absolute;inset:0;background:#fff;display:flex;flex-direction:column}",
    ".side .body{flex:1;overflow-y:auto;padding:12px 14px}",
    ".side h3{margin:0 0 4px;font-size:15px}",
    ".side .path{margin:0 0 10px;color:#555;font-size:12px}",
    ".side .clause{white-space:pre-wrap;line-height:1.6;word-break:keep-all;overflow-wrap:anywhere}",
    "mark{background:#ffe58a;padding:0 1px}",
    ".side img{display:block;width:100%;margin-top:10px;border:1px solid #ccc}",
    ".side a{color:#0b5cad}",
    "@media (max-width:480px){.panel{right:8px;bottom:76px;height:calc(100vh - 90px)}.launcher{right:12px;bottom:12px}}",
  ].join("");

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text;
    return node;
  }

  // a custom element (page rules for div/section do not match it) whose inline !important
  // declarations outrank the page's own !important rules
  var host = el("kmed-widget", { id: "kmed-widget" });
  host.style.setProperty("all", "initial", "important");
  host.style.setProperty("display", "contents", "important");
  var root = host.attachShadow({ mode: "open" });
  var style = el("style");
  style.textContent = CSS;
  root.appendChild(style);

  var launcher = el("button", { class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": "kmed-panel" }, "질문하기");
  var panel = el("section", { class: "panel", id: "kmed-panel", role: "dialog", "aria-label": TITLE, hidden: "" });
  var header = el("header");
  header.appendChild(el("h2", {}, TITLE));
  var close = el("button", { type: "button", "aria-label": "닫기" }, "×");
  header.appendChild(close);
  var note = el("p", { class: "note" }, "답변은 직원용 참고 자료이며 진단이나 법률 자문이 아닙니다. 인용된 원문을 확인하세요.");
  var log = el("div", { class: "log", "aria-live": "polite", "aria-relevant": "additions text" });
  var form = el("form");
  var input = el("textarea", { "aria-label": "질문 입력", placeholder: "예: 진료기록부는 몇 년 보존하나요?", rows: "2" });
  var send = el("button", { type: "submit" }, "보내기");
  form.appendChild(input);
  form.appendChild(send);
  var side = el("div", { class: "side", role: "region", "aria-label": "인용 조항", hidden: "" });
  [header, note, log, form, side].forEach(function (n) { panel.appendChild(n); });
  root.appendChild(launcher);
  root.appendChild(panel);

  var controller = null;
  var lastQuestion = "";

  function setOpen(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    if (open) input.focus(); else launcher.focus();
  }
  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  close.addEventListener("click", function () { setOpen(false); });
  root.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { if (!side.hidden) closeSide(); else setOpen(false); }
  });

  // Enter sends; Shift+Enter is a new line; Enter that confirms a Hangul syllable (IME) must not send.
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (controller) { controller.abort(); return; }
    var q = input.value.trim();
    if (!q) return;
    input.value = "";
    ask(q);
  });

  function busy(on) {
    send.textContent = on ? "중지" : "보내기";
    send.className = on ? "stop" : "";
    send.setAttribute("aria-label", on ? "답변 중지" : "보내기");
  }

  function ask(question) {
    lastQuestion = question;
    log.appendChild(el("div", { class: "msg user" }, question));
    var bubble = el("div", { class: "msg bot", "aria-busy": "true" }, "…");
    log.appendChild(bubble);
    log.scrollTop = log.scrollHeight;
    controller = new AbortController();
    busy(true);
    var streamed = "";
    fetch(API + "/v1/ask", {
      method: "POST",
      headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
      body: JSON.stringify({ question: question, stream: true }),
      signal: controller.signal,
    }).then(function (response) {
      if (!response.ok) {
        return response.json().catch(function () { return {}; }).then(function (b) {
          throw new Error(b.detail || "서버 오류 (" + response.status + ")");
        });
      }
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) return;
          buffer += decoder.decode(chunk.value, { stream: true });
          var events = buffer.split("\n\n");
          buffer = events.pop();
          events.forEach(function (raw) {
            var kind = (raw.match(/^event: (.*)$/m) || [])[1];
            var data = (raw.match(/^data: (.*)$/m) || [])[1];
            if (!kind || data === undefined) return;
            var value = JSON.parse(data);
            if (kind === "delta") { streamed += value.text; bubble.textContent = streamed; }
            else if (kind === "answer") render(bubble, value);
            else if (kind === "error") throw new Error(value.detail);
          });
          log.scrollTop = log.scrollHeight;
          return pump();
        });
      }
      return pump();
    }).catch(function (err) {
      if (err.name === "AbortError") { bubble.textContent = (streamed || "") + "\n(중지됨)"; return; }
      bubble.className = "msg bot error";
      bubble.textContent = "답변을 받지 못했습니다: " + err.message;
      var retry = el("button", { class: "retry", type: "button" }, "다시 시도");
      retry.addEventListener("click", function () { bubble.remove(); log.lastChild && log.lastChild.remove(); ask(lastQuestion); });
      bubble.appendChild(retry);
    }).then(function () {
      bubble.removeAttribute("aria-busy");
      controller = null;
      busy(false);
    });
  }

  function render(bubble, answer) {
    bubble.textContent = "";
    if (answer.abstained) {
      bubble.className = "msg bot abstain";
      bubble.appendChild(document.createTextNode(NO_ANSWER + "."));
      if (answer.references && answer.references.length) {
        bubble.appendChild(el("div", {}, "참고 (답이 아닌 가장 가까운 조항):"));
        var list = el("ul", { class: "refs" });
        answer.references.forEach(function (ref) { list.appendChild(el("li", {}, ref.label)); });
        bubble.appendChild(list);
      }
      return;
    }
    var byKey = {};
    answer.citations.forEach(function (c) { byKey[c.n] = c; });
    answer.sentences.forEach(function (sentence, i) {
      if (i) bubble.appendChild(document.createTextNode(" "));
      bubble.appendChild(document.createTextNode(sentence.text));
      sentence.citations.forEach(function (n) {
        var c = byKey[n];
        var chip = el("button", { class: "chip", type: "button", "aria-label": "인용 " + n + ": " + (c ? c.label : "") }, String(n));
        chip.addEventListener("click", function () { openSide(c); });
        bubble.appendChild(chip);
      });
    });
    if (answer.removed && answer.removed.length) {
      bubble.appendChild(el("div", { class: "removed" }, "근거가 확인되지 않은 문장 " + answer.removed.length + "개는 제외했습니다."));
    }
  }

  function openSide(c) {
    side.textContent = "";
    var head = el("header");
    head.appendChild(el("h2", {}, "[" + c.n + "] 인용"));
    var back = el("button", { type: "button", "aria-label": "인용 닫기" }, "×");
    back.addEventListener("click", closeSide);
    head.appendChild(back);
    var body = el("div", { class: "body" });
    body.appendChild(el("h3", {}, c.label));
    var clause = el("div", { class: "clause" }, "불러오는 중…");
    body.appendChild(clause);
    side.appendChild(head);
    side.appendChild(body);
    side.hidden = false;
    back.focus();
    fetch(API + "/v1/clauses/" + encodeURIComponent(c.clause_id), { headers: headers() }).then(function (r) { return r.json(); }).then(function (detail) {
      var path = detail.doc_type === "guideline"
        ? (detail.headings || []).join(" > ") + (detail.page_start ? " · p." + detail.page_start : "")
        : [detail.law, detail.article, detail.paragraph].filter(Boolean).join(" ");
      body.insertBefore(el("p", { class: "path" }, path), clause);
      highlight(clause, detail.text, c.quote);
      if (detail.doc_type === "guideline") {
        var page = API + "/v1/clauses/" + encodeURIComponent(c.clause_id) + "/page.png";
        var img = el("img", { alt: c.label + " 원문 페이지, 인용 부분 강조" });
        if (!KEY) img.src = page;
        if (KEY) {  // an <img> cannot send a header: fetch the page and show it from a blob
          fetch(page, { headers: headers() }).then(function (r) { return r.ok ? r.blob() : null; }).then(function (b) {
            if (b) img.src = URL.createObjectURL(b);
          });
        }
        body.appendChild(img);
      } else if (detail.url) {
        var link = el("a", { href: detail.url, target: "_blank", rel: "noopener noreferrer" }, "국가법령정보센터에서 조문 보기");
        body.appendChild(el("p")).appendChild(link);
      }
    }).catch(function () { clause.textContent = "조항을 불러오지 못했습니다."; });
  }

  function closeSide() { side.hidden = true; input.focus(); }

  function highlight(node, text, quote) {
    node.textContent = "";
    var at = quote ? text.indexOf(quote) : -1;
    if (at < 0) { node.textContent = text; return; }
    node.appendChild(document.createTextNode(text.slice(0, at)));
    node.appendChild(el("mark", {}, quote));
    node.appendChild(document.createTextNode(text.slice(at + quote.length)));
  }

  function mount() { document.body.appendChild(host); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
