// campusbot simulator page: a phone-sized chat on the simulator's JSON API (see simulator.py).
//
// Every request goes through one queue, so a page never has two turns in flight and replies are
// shown in the order the server produced them. Each user has a log of its own: switching users
// hides one log and shows another, so nothing already received is thrown away. Every payload is
// rendered on its own, so one that cannot be shown never takes the following ones with it.
"use strict";

(() => {
  const POLL_MS = 1500;
  const POLL_HIDDEN_MS = 5000;
  const SLOW_MS = 8000;
  const NOTE = "模拟器仅供测试，可以扮演任何人；在另一个标签页选择审批人即可处理卡片。";

  const chat = document.getElementById("chat");
  const who = document.getElementById("who");
  const form = document.getElementById("send");
  const input = document.getElementById("text");
  const connection = document.getElementById("connection");
  const newer = document.getElementById("newer");

  const logs = new Map(); // user id -> that user's log element
  const names = new Map(); // user id -> label shown in the picker
  let user = "";
  let queue = Promise.resolve();
  let following = true; // the view sticks to the newest message until the user scrolls up
  let pollTimer = 0;
  let polling = false;
  let sequence = 0;

  // ---- small helpers ----------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function button(className, text, onClick) {
    const node = el("button", className, text);
    node.type = "button";
    node.addEventListener("click", onClick);
    return node;
  }

  function serially(job) {
    const run = queue.then(job);
    queue = run.catch(() => undefined);
    return run;
  }

  function requestId() {
    sequence += 1;
    return `sim-${Date.now().toString(36)}-${sequence.toString(36)}-` +
      Math.random().toString(36).slice(2, 8);
  }

  class ApiError extends Error {
    constructor(message, retryable) {
      super(message);
      this.retryable = retryable;
    }
  }

  // Requests are never abandoned by the page: the server marks replies as delivered when it
  // answers, so a response given up on would take its replies with it. A slow answer is shown
  // in the header instead.
  let inFlight = 0;
  let slowTimer = 0;

  async function api(method, path, body) {
    inFlight += 1;
    clearTimeout(slowTimer);
    slowTimer = setTimeout(() => { if (inFlight) setConnection("slow"); }, SLOW_MS);
    let response;
    try {
      response = await fetch(path, {
        method,
        cache: "no-store",
        headers: body ? {"Content-Type": "application/json"} : {},
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch (err) {
      throw new ApiError("连接不上服务器，消息没有送达。请确认服务器正在运行后重发。", true);
    } finally {
      inFlight -= 1;
      if (!inFlight) clearTimeout(slowTimer);
    }
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
    if (response.ok && data && typeof data === "object") return data;
    if (data && typeof data.error === "string") throw new ApiError(data.error, response.status >= 500);
    throw new ApiError(`服务器出错了（HTTP ${response.status}），请稍后重发。`, true);
  }

  function setConnection(problem) {
    const texts = {offline: "连接中断，正在重试…", slow: "服务器处理较慢，请稍候…"};
    connection.textContent = texts[problem] || "";
    connection.className = problem || "";
  }

  // ---- logs and scrolling -----------------------------------------------------------------

  function logFor(id) {
    let log = logs.get(id);
    if (!log) {
      log = el("div", "log");
      log.dataset.user = id;
      log.hidden = true;
      log.append(el("div", "note", `以${names.get(id) || id}的身份聊天。${NOTE}`));
      chat.append(log);
      logs.set(id, log);
    }
    return log;
  }

  function nearBottom() {
    return chat.scrollHeight - chat.scrollTop - chat.clientHeight < 80;
  }

  function scrollToEnd() {
    chat.scrollTop = chat.scrollHeight;
    following = true;
    newer.hidden = true;
  }

  function append(log, node) {
    log.append(node);
    if (log.hidden) return;
    if (following || node.classList.contains("me")) scrollToEnd();
    else newer.hidden = false;
  }

  chat.addEventListener("scroll", () => {
    following = nearBottom();
    if (following) newer.hidden = true;
  }, {passive: true});
  newer.addEventListener("click", scrollToEnd);

  function bubble(log, text, className) {
    const node = el("div", `msg ${className}`, text);
    append(log, node);
    return node;
  }

  // ---- what the bot sends -----------------------------------------------------------------

  function showAll(log, replies, anchor) {
    const wasFollowing = following;
    const last = log.lastElementChild;
    for (const payload of Array.isArray(replies) ? replies : []) {
      try {
        show(log, payload);
      } catch (err) {
        console.error("simulator: cannot show", payload, err);
        bubble(log, "（这条消息无法显示）", "bot error");
      }
    }
    // A reply taller than the screen is shown from its start (with the message it answers),
    // not from its end.
    const start = anchor || (last && last.nextElementSibling);
    if (!wasFollowing || log.hidden || !start || !start.isConnected) return;
    const above = start.getBoundingClientRect().top - chat.getBoundingClientRect().top - 8;
    if (above < 0) {
      chat.scrollTop += above;
      following = nearBottom();
    }
  }

  function show(log, payload) {
    switch (payload && payload.type) {
      case "text": return bubble(log, payload.text, "bot");
      case "card": return renderCard(log, payload);
      case "card_update": return updateCard(log, payload);
      case "choices": return renderChoices(log, payload);
      case "image": return renderImage(log, payload);
      default: return bubble(log, "（模拟器暂时无法显示这类消息）", "bot");
    }
  }

  // cards ----------------------------------------------------------------------------------

  function cardsWithKey(log, selector, key) {
    return Array.from(log.querySelectorAll(selector)).filter(
      (node) => node.dataset.card === key || node.dataset.key === key);
  }

  function renderCard(log, p) {
    const card = el("div", "msg bot card");
    card.dataset.card = p.card_key;
    const head = el("div", "card-head");
    if (p.source) head.append(el("div", "source", p.source));
    head.append(el("h4", "", p.title));
    if (p.subtitle) head.append(el("div", "sub", p.subtitle));
    card.append(head);
    const facts = Array.isArray(p.facts) ? p.facts : [];
    if (facts.length) {
      const list = el("dl");
      for (const [name, value] of facts) list.append(el("dt", "", name), el("dd", "", value));
      card.append(list);
    }
    const buttons = el("div", "buttons");
    for (const b of Array.isArray(p.buttons) ? p.buttons : []) {
      const node = button(b.style || "primary", b.text, () => tap(log, card, node, b));
      node.dataset.action = b.key;
      buttons.append(node);
    }
    if (buttons.childElementCount) card.append(buttons);
    append(log, card);
    // decided before this page asked for it: shown with its final status, no buttons
    if (p.status) updateCard(log, p);
  }

  function setButtonsDisabled(container, disabled) {
    for (const node of container.querySelectorAll("button")) node.disabled = disabled;
  }

  function tap(log, card, node, b) {
    // the buttons are disabled at once, so further taps on the same card do nothing until the
    // server has answered this one
    if (card.dataset.busy || card.dataset.outcome) return;
    card.dataset.busy = "1";
    setButtonsDisabled(card, true);
    node.classList.add("pressed");
    const body = {user: log.dataset.user, card: card.dataset.card, action: b.key};
    send(log, "/sim/api/actions", body, `［点击 ${b.text}］`).finally(() => {
      delete card.dataset.busy;
      node.classList.remove("pressed");
      if (!card.dataset.outcome) setButtonsDisabled(card, false);
    });
  }

  // The status text is the fallback for updates that carry no neutral `outcome`.
  const TONES = {
    approved: "good", completed: "good", done: "good", acknowledged: "good", signed: "good",
    rejected: "bad", returned: "bad", refused: "bad",
  };
  const ICONS = {good: "✓ ", bad: "✕ ", neutral: ""};

  function outcomeOf(p) {
    if (typeof p.outcome === "string" && p.outcome) return p.outcome;
    const status = String(p.status || "");
    if (/驳回|退回|拒绝|不同意|不予/.test(status)) return "rejected";
    if (/撤回/.test(status)) return "withdrawn";
    if (/转交/.test(status)) return "transferred";
    if (/同意|办结|签收|通过|批准/.test(status)) return "approved";
    return "other";
  }

  function updateCard(log, p) {
    let cards = cardsWithKey(log, ".card[data-card]", p.card_key);
    if (!cards.length) {
      const boxes = cardsWithKey(log, ".choices[data-key]", p.card_key);
      if (boxes.length) {
        for (const box of boxes) closeChoices(box, optionNamedIn(box, String(p.status || "")));
        return;
      }
      // a card this page never showed (it arrived before the page was opened)
      const card = el("div", "msg bot card status-only");
      card.dataset.card = p.card_key;
      append(log, card);
      cards = [card];
    }
    const outcome = outcomeOf(p);
    const tone = TONES[outcome] || "neutral";
    const reason = p.reason || p.comment || "";
    for (const card of cards) {
      card.dataset.outcome = outcome;
      card.dataset.tone = tone;
      const buttons = card.querySelector(".buttons");
      if (buttons) buttons.remove();
      let status = card.querySelector(".status");
      if (!status) {
        status = el("div", "status");
        card.append(status);
      }
      status.replaceChildren(el("span", "label", ICONS[tone] + String(p.status || "")));
      if (reason) status.append(el("span", "reason", `理由：${reason}`));
    }
    if (following) scrollToEnd();
  }

  // choices --------------------------------------------------------------------------------

  function renderChoices(log, p) {
    // the same question asked again: the earlier buttons give way to the new ones
    for (const old of cardsWithKey(log, ".choices[data-key]", p.key)) {
      if (!old.classList.contains("answered")) closeChoices(old, null);
    }
    const box = el("div", "msg bot choices");
    box.dataset.key = p.key;
    box.append(el("div", "question", p.text));
    const options = el("div", "options");
    for (const option of Array.isArray(p.options) ? p.options : []) {
      const node = button("", option, () => choose(log, box, node));
      node.dataset.option = option;
      options.append(node);
    }
    box.append(options);
    append(log, box);
  }

  function closeChoices(box, chosen) {
    box.classList.add("answered");
    for (const node of box.querySelectorAll(".options button")) {
      node.disabled = true;
      if (chosen !== null && node.dataset.option === chosen) node.classList.add("chosen");
    }
  }

  function optionNamedIn(box, text) {
    let best = null;
    for (const node of box.querySelectorAll(".options button")) {
      const option = node.dataset.option;
      if (text.includes(option) && (best === null || option.length > best.length)) best = option;
    }
    return best;
  }

  function choose(log, box, node) {
    if (box.classList.contains("answered")) return;
    const option = node.dataset.option;
    closeChoices(box, option);
    send(log, "/sim/api/messages",
      {user: log.dataset.user, text: option, card_key: box.dataset.key}, option);
  }

  function answerTyped(log, text) {
    // typing an option answers the open question as a tap would, and the buttons show it
    const open = log.querySelectorAll(".choices:not(.answered)");
    const box = open[open.length - 1];
    if (!box) return;
    const match = Array.from(box.querySelectorAll(".options button"))
      .find((node) => node.dataset.option === text);
    if (match) closeChoices(box, text);
  }

  // pictures -------------------------------------------------------------------------------

  function imageUrl(source) {
    const match = /^flowchart:(.+)$/.exec(String(source || ""));
    return match ? `/sim/flowchart/${encodeURIComponent(match[1])}.svg` : null;
  }

  function renderImage(log, p) {
    const caption = p.caption || "图片";
    const box = el("div", "msg bot image");
    box.append(el("div", "caption", caption));
    const src = imageUrl(p.source);
    if (!src) {
      box.append(el("div", "hint", "（模拟器无法显示这张图片）"));
      append(log, box);
      return;
    }
    const img = el("img");
    img.alt = caption;
    const thumb = button("thumb", undefined, () => viewer.open(src, caption));
    thumb.setAttribute("aria-label", `放大查看：${caption}`);
    thumb.append(img);
    const hint = el("div", "hint", "点击图片放大查看");
    img.addEventListener("load", () => { if (following && !log.hidden) scrollToEnd(); });
    img.addEventListener("error", () => {
      thumb.remove();
      hint.textContent = "（暂时无法生成流程图）";
    });
    img.src = src;
    box.append(thumb, hint);
    append(log, box);
  }

  const viewer = (() => {
    const root = document.getElementById("viewer");
    const stage = root.querySelector(".viewer-stage");
    const img = stage.querySelector("img");
    const title = root.querySelector(".viewer-title");
    const MAX_SCALE = 4;
    let scale = 1;
    let natural = {width: 0, height: 0};
    let pinch = null;
    let drag = null;

    function fitScale() {
      if (!natural.width) return 1;
      return Math.min(stage.clientWidth / natural.width, stage.clientHeight / natural.height);
    }

    function zoomTo(next, focus) {
      if (!natural.width) return;
      const lowest = Math.min(fitScale(), 1);
      next = Math.min(MAX_SCALE, Math.max(lowest, next));
      const rect = stage.getBoundingClientRect();
      const fx = focus ? focus.x - rect.left : stage.clientWidth / 2;
      const fy = focus ? focus.y - rect.top : stage.clientHeight / 2;
      const ratio = next / scale;
      const left = (stage.scrollLeft + fx) * ratio - fx;
      const top = (stage.scrollTop + fy) * ratio - fy;
      scale = next;
      img.style.width = `${Math.round(natural.width * scale)}px`;
      img.style.height = `${Math.round(natural.height * scale)}px`;
      stage.scrollLeft = left;
      stage.scrollTop = top;
      root.dataset.scale = scale.toFixed(3);
    }

    function start() {
      natural = {width: img.naturalWidth, height: img.naturalHeight};
      scale = 1;
      // opens at the picture's own size, where its text is readable; 全图 shows all of it
      const fit = fitScale();
      zoomTo(fit > 1 ? fit : 1);
      stage.scrollLeft = 0; // reading starts at the top left, where a flowchart begins
      stage.scrollTop = 0;
    }

    function open(src, caption) {
      title.textContent = caption;
      img.alt = caption;
      img.style.width = "";
      img.style.height = "";
      natural = {width: 0, height: 0};
      root.hidden = false;
      img.onload = start;
      if (img.getAttribute("src") === src && img.complete && img.naturalWidth) start();
      else img.src = src;
    }

    function close() {
      root.hidden = true;
      pinch = null;
      drag = null;
    }

    function distance(a, b) {
      return Math.hypot(a.clientX - b.clientX, a.clientY - b.clientY);
    }

    function middle(a, b) {
      return {x: (a.clientX + b.clientX) / 2, y: (a.clientY + b.clientY) / 2};
    }

    root.querySelector(".viewer-bar").addEventListener("click", (event) => {
      const action = event.target.closest("button")?.dataset.zoom;
      if (action === "in") zoomTo(scale * 1.5);
      else if (action === "out") zoomTo(scale / 1.5);
      else if (action === "fit") zoomTo(fitScale());
      else if (action === "close") close();
    });
    stage.addEventListener("touchstart", (event) => {
      if (event.touches.length === 2) {
        pinch = {distance: distance(event.touches[0], event.touches[1]), scale};
      }
    }, {passive: true});
    stage.addEventListener("touchmove", (event) => {
      if (!pinch || event.touches.length !== 2) return;
      event.preventDefault();
      const [a, b] = event.touches;
      zoomTo(pinch.scale * distance(a, b) / pinch.distance, middle(a, b));
    }, {passive: false});
    stage.addEventListener("touchend", (event) => {
      if (event.touches.length < 2) pinch = null;
    });
    stage.addEventListener("wheel", (event) => {
      if (!event.ctrlKey && !event.metaKey) return; // a plain wheel scrolls the picture
      event.preventDefault();
      zoomTo(scale * Math.exp(-event.deltaY / 300), {x: event.clientX, y: event.clientY});
    }, {passive: false});
    img.addEventListener("dblclick", (event) => {
      const fit = fitScale();
      zoomTo(scale > fit * 1.05 ? fit : Math.max(1, fit * 2), {x: event.clientX, y: event.clientY});
    });
    img.addEventListener("pointerdown", (event) => {
      if (event.pointerType !== "mouse") return;
      event.preventDefault();
      drag = {x: event.clientX, y: event.clientY};
    });
    window.addEventListener("pointermove", (event) => {
      if (!drag) return;
      stage.scrollLeft -= event.clientX - drag.x;
      stage.scrollTop -= event.clientY - drag.y;
      drag = {x: event.clientX, y: event.clientY};
    });
    window.addEventListener("pointerup", () => { drag = null; });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !root.hidden) close();
    });
    return {open};
  })();

  // ---- what the user sends ----------------------------------------------------------------

  function send(log, path, body, echo) {
    const mine = bubble(log, echo, "me");
    return deliver(log, mine, path, {...body, id: requestId()});
  }

  function deliver(log, mine, path, body) {
    mine.classList.add("pending");
    mine.classList.remove("failed");
    for (const node of mine.querySelectorAll(".send-error, .resend")) node.remove();
    return serially(async () => {
      try {
        const data = await api("POST", path, body);
        setConnection(false);
        showAll(log, data.replies, mine);
        return true;
      } catch (err) {
        // the reason stays with the message it concerns, and goes once it is resent
        mine.classList.add("failed");
        mine.append(el("span", "send-error", err.message));
        if (err.retryable) {
          // sent again with the same id: the server acts on it once even if it did arrive
          mine.append(button("resend", "点此重发", () => deliver(log, mine, path, body)));
        }
        return false;
      } finally {
        mine.classList.remove("pending");
      }
    }).finally(() => schedulePoll(0));
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || !user) {
      input.focus();
      return;
    }
    input.value = "";
    const log = logFor(user);
    answerTyped(log, text);
    send(log, "/sim/api/messages", {user, text}, text);
    input.focus();
  });

  document.getElementById("attach").addEventListener("click", () => {
    if (!user) return;
    const name = (prompt("模拟上传文件，请输入文件名：", "证明材料.jpg") || "").trim();
    if (!name) return;
    send(logFor(user), "/sim/api/messages", {user, text: "", file: {name}}, `［文件］${name}`);
  });

  // ---- messages that arrive without being asked for (cards, pushes, reminders) --------------

  function schedulePoll(delay) {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(poll, delay);
  }

  async function poll() {
    clearTimeout(pollTimer);
    if (!user || polling) {
      schedulePoll(POLL_MS);
      return;
    }
    polling = true;
    const id = user;
    try {
      await serially(async () => {
        const data = await api("GET", `/sim/api/inbox?user=${encodeURIComponent(id)}`);
        setConnection(false);
        showAll(logFor(id), data.replies);
      });
    } catch (err) {
      setConnection("offline");
    } finally {
      polling = false;
      schedulePoll(document.hidden ? POLL_HIDDEN_MS : POLL_MS);
    }
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) schedulePoll(0);
  });
  window.addEventListener("focus", () => schedulePoll(0));

  // ---- choosing whom to act as -------------------------------------------------------------

  function switchTo(id) {
    user = id;
    const log = logFor(id);
    for (const other of logs.values()) other.hidden = other !== log;
    history.replaceState(null, "", `?user=${encodeURIComponent(id)}`);
    document.title = `${names.get(id) || id} · campusbot 模拟器`;
    scrollToEnd();
    schedulePoll(0);
  }

  function addUser(id, label) {
    names.set(id, label);
    const option = el("option", "", label);
    option.value = id;
    who.append(option);
  }

  async function init() {
    let people = null;
    while (people === null) {
      try {
        people = (await api("GET", "/sim/api/users")).users || [];
        setConnection(false);
      } catch (err) {
        setConnection("offline");
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
    for (const person of people) {
      addUser(person.id, `${person.name}（${person.title || person.roles.join("/")}，${person.id}）`);
    }
    let wanted = new URLSearchParams(location.search).get("user") || "";
    if (wanted && !names.has(wanted)) addUser(wanted, `${wanted}（不在通讯录中）`);
    if (!wanted && people.length) wanted = (people.find((p) => p.id === "zhang_t") || people[0]).id;
    if (!wanted) {
      chat.append(el("div", "note", "通讯录中还没有用户，请先导入通讯录。"));
      return;
    }
    who.value = wanted;
    who.addEventListener("change", () => switchTo(who.value));
    switchTo(wanted);
  }

  init();
})();
