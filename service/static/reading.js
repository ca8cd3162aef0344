// The reading room: sends the pasted article to POST /v1/documents with "explain": true and shows
// each paragraph's label, its probabilities and the sentences the label rests on. No build step and
// nothing fetched from outside the app. Text goes into the page only through textContent.
"use strict";

const NAMES = {
  realist: "Realist",
  liberal_internationalist: "Liberal internationalist",
  neither: "Neither",
  mixed: "Mixed",
};
const GLYPHS = { realist: "◆", liberal_internationalist: "●", neither: "○", mixed: "◐" };
// Effects below a tenth of a percentage point are not highlighted: at that size they say nothing.
const MIN_EFFECT = 0.001;
const MAX_HIGHLIGHTS = 2;

const $ = (id) => document.getElementById(id);
let lastResult = null;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function labelName(label) {
  return NAMES[label] || label;
}

function percent(probability) {
  return `${(100 * probability).toFixed(1)}%`;
}

function badge(label, suffix) {
  const node = el("span", `badge ${label}`);
  const glyph = el("span", "glyph", `${GLYPHS[label] || "■"} `);
  glyph.setAttribute("aria-hidden", "true");
  node.append(glyph, labelName(label) + (suffix || ""));
  return node;
}

// --- Talking to the API ---------------------------------------------------------------------

async function readArticle(text) {
  const headers = { "Content-Type": "application/json" };
  const key = $("key").value.trim();
  if (key) headers.Authorization = `Bearer ${key}`;
  let response;
  try {
    response = await fetch("/v1/documents", {
      method: "POST",
      headers,
      body: JSON.stringify({ text, explain: true }),
    });
  } catch (error) {
    throw problem(
      "The server could not be reached.",
      "Check that the stance server is still running, then try again.",
    );
  }
  let body = null;
  try {
    body = await response.json();
  } catch (error) {
    body = null;
  }
  if (!response.ok) throw describeError(response, body, Boolean(key));
  return body;
}

function problem(title, detail) {
  return { title, detail };
}

function describeError(response, body, sentKey) {
  const type = body && body.error_type;
  const detail = (body && body.error) || "";
  const retry = response.headers.get("Retry-After");
  const wait = retry ? ` Try again in ${retry} second${retry === "1" ? "" : "s"}.` : " Try again shortly.";
  switch (response.status) {
    case 401:
    case 403:
      $("key-box").open = true;
      return problem(
        "This server needs an API key.",
        sentKey
          ? "The key entered under “API key” was not accepted. Check it and read again."
          : "Enter the key under “API key” below the text box, then read again.",
      );
    case 413:
      return problem("The text is too long for this server.", `${detail} Read the article in parts.`);
    case 429:
      return problem("The server is busy with other texts.", wait.trim());
    case 503:
      if (type === "model_load_failed") return problem("The model failed to load on the server.", detail);
      if (type === "shutting_down") return problem("The server is shutting down.", wait.trim());
      return problem("The model is still loading.", wait.trim());
    case 422:
      if (type === "empty_document") return emptyText();
      return problem("The server could not read this text.", detail);
    default:
      return problem(`Something went wrong (HTTP ${response.status}).`, detail);
  }
}

function emptyText() {
  return problem(
    "There is no text to read.",
    "Paste an article into the box, or open a .txt file, then press “Read the argument”.",
  );
}

// --- Showing results --------------------------------------------------------------------------

function decisive(explanation) {
  // The sentences whose removal moves the label's probability most, either way; a second one only if
  // it moves it at least half as much as the first.
  const measured = explanation
    .filter((s) => s.effect !== null && Math.abs(s.effect) >= MIN_EFFECT)
    .sort((a, b) => Math.abs(b.effect) - Math.abs(a.effect));
  if (!measured.length) return [];
  const top = Math.abs(measured[0].effect);
  return measured.slice(0, MAX_HIGHLIGHTS).filter((s) => Math.abs(s.effect) >= top / 2);
}

function excerpt(chars, start, end) {
  const words = chars.slice(start, end).join("").split(/\s+/);
  return words.length > 8 ? `${words.slice(0, 8).join(" ")}…` : words.join(" ");
}

function renderText(paragraph, highlighted) {
  // Offsets count code points (as Python does); Array.from splits a string the same way.
  const chars = Array.from(paragraph.text);
  const target = el("p", "para-text");
  let position = 0;
  const ordered = [...highlighted].sort((a, b) => a.start - b.start);
  for (const sentence of ordered) {
    const start = sentence.start - paragraph.start;
    const end = sentence.end - paragraph.start;
    target.append(chars.slice(position, start).join(""));
    const mark = el("mark", sentence.effect > 0 ? "supports" : "opposes", chars.slice(start, end).join(""));
    target.append(mark);
    position = end;
  }
  target.append(chars.slice(position).join(""));
  return { node: target, chars };
}

function whyList(paragraph, highlighted, chars) {
  const list = el("ul", "why");
  for (const sentence of highlighted) {
    const without = paragraph.score - sentence.effect;
    const quoted = excerpt(chars, sentence.start - paragraph.start, sentence.end - paragraph.start);
    const item = el("li");
    const verb = sentence.effect > 0 ? "falls" : "rises";
    item.textContent =
      `${sentence.effect > 0 ? "▲" : "▼"} “${quoted}”: without it, ${labelName(paragraph.label).toLowerCase()} ` +
      `${verb} from ${percent(paragraph.score)} to ${percent(without)}.`;
    list.append(item);
  }
  return list;
}

function bars(scores) {
  const box = el("div", "bars");
  box.setAttribute("role", "list");
  for (const [label, probability] of Object.entries(scores)) {
    const name = el("span", "bar-name", labelName(label));
    const track = el("span", "bar-track");
    const fill = el("span", `bar-fill fill-${label}`);
    fill.style.width = `${(100 * probability).toFixed(1)}%`;
    track.append(fill);
    track.setAttribute("role", "listitem");
    track.setAttribute("aria-label", `${labelName(label)}: ${percent(probability)}`);
    name.setAttribute("aria-hidden", "true");
    const value = el("span", "bar-value", percent(probability));
    value.setAttribute("aria-hidden", "true");
    box.append(name, track, value);
  }
  return box;
}

function renderParagraph(paragraph) {
  const item = el("li", `para ${paragraph.label}${paragraph.heading ? " heading" : ""}`);
  item.dataset.label = paragraph.label;
  const head = el("div", "para-head");
  head.append(el("span", "para-number", `¶ ${paragraph.index + 1}`), badge(paragraph.label));
  if (paragraph.heading) {
    head.append(el("span", "sure", "heading, byline or dateline: neither by rule"));
    item.append(head, el("p", "para-text", paragraph.text));
    return item;
  }
  head.append(el("span", "sure", `${percent(paragraph.score)} sure`));
  const highlighted = decisive(paragraph.explanation || []);
  const { node, chars } = renderText(paragraph, highlighted);
  item.append(head, node);
  if (highlighted.length) {
    item.append(whyList(paragraph, highlighted, chars));
  } else {
    const measured = (paragraph.explanation || []).some((s) => s.effect !== null);
    const note = measured
      ? "No single sentence moves the label by a tenth of a point: it rests on the paragraph as a whole."
      : "One sentence: nothing to compare it with.";
    item.append(el("p", "why-none", note));
  }
  if (paragraph.explanation_capped) {
    item.append(el("p", "why-none", "A long paragraph: only its first sentences were measured."));
  }
  if (paragraph.truncated) {
    item.append(el("p", "why-none", "Very long: the model read only its beginning."));
  }
  item.append(bars(paragraph.scores));
  return item;
}

function renderSummary(result) {
  const summary = result.summary;
  const box = $("summary");
  box.replaceChildren();
  const verdict = el("p", "verdict");
  verdict.append("Overall: ", badge(summary.overall));
  box.append(verdict);
  const threshold = Math.abs(summary.mixed_threshold - 2 / 3) < 1e-3 ? "two thirds" : percent(summary.mixed_threshold);
  if (summary.stance_paragraphs === 0) {
    box.append(el("p", "", "No paragraph argues a realist or a liberal-internationalist case."));
  } else {
    const realist = summary.realist_mass_share;
    const liberal = 1 - realist;
    const rule =
      summary.overall === "mixed"
        ? `Neither side holds ${threshold} of the stance probability, so the article is mixed.`
        : `${labelName(summary.overall)} arguments hold at least ${threshold} of the stance probability.`;
    box.append(el("p", "", rule));
    const mass = el("div", "mass");
    mass.setAttribute("role", "img");
    mass.setAttribute(
      "aria-label",
      `Stance probability: realist ${percent(realist)}, liberal internationalist ${percent(liberal)}`,
    );
    const left = el("span", "fill-realist");
    left.style.width = `${(100 * realist).toFixed(1)}%`;
    const right = el("span", "fill-liberal_internationalist");
    right.style.width = `${(100 * liberal).toFixed(1)}%`;
    mass.append(left, right);
    const legend = el("div", "mass-legend");
    legend.append(
      el("span", "", `◆ Realist ${percent(realist)}`),
      el("span", "", `● Liberal internationalist ${percent(liberal)}`),
    );
    box.append(mass, legend);
    box.append(
      el(
        "p",
        "threshold-note",
        `Of the ${summary.stance_paragraphs} paragraph${summary.stance_paragraphs === 1 ? "" : "s"} that argue a stance, ` +
          `${percent(summary.realist_share)} are realist and ${percent(summary.liberal_internationalist_share)} ` +
          "liberal internationalist. The verdict weighs each by how sure the model is; a side needs " +
          `${threshold} of that weight, else the article is mixed.`,
      ),
    );
  }
  const headings = result.paragraphs.filter((p) => p.heading).length;
  const counts = el("ul", "counts");
  counts.setAttribute("aria-label", "Paragraphs per label");
  counts.append(el("li", "", `${summary.paragraphs} paragraphs:`));
  for (const [label, count] of Object.entries(summary.counts)) {
    const item = el("li");
    item.append(badge(label), ` ${count}`);
    counts.append(item);
  }
  if (headings) counts.append(el("li", "", `(${headings} of the neither are headings)`));
  box.append(counts);
}

function render(result) {
  lastResult = result;
  renderSummary(result);
  const list = $("paragraphs");
  list.replaceChildren(...result.paragraphs.map(renderParagraph));
  const model = result.model;
  $("model-line").textContent =
    `Labels by ${model.name} ${model.version}, served here; its probabilities are calibrated.`;
  $("results").hidden = false;
  $("results-title").focus();
}

// --- Downloads --------------------------------------------------------------------------------

function rows(result) {
  return result.paragraphs.map((p) => {
    const row = {
      paragraph_index: p.index,
      start: p.start,
      end: p.end,
      heading: p.heading,
      text: p.text,
      label: p.label,
      score: p.score,
    };
    for (const [label, probability] of Object.entries(p.scores)) row[`score_${label}`] = probability;
    Object.assign(row, {
      scores: p.scores,
      n_tokens: p.n_tokens,
      truncated: p.truncated,
      explanation: p.explanation || [],
      explanation_capped: Boolean(p.explanation_capped),
      model_name: result.model.name,
      model_version: result.model.version,
    });
    return row;
  });
}

function toJsonl(result) {
  return rows(result).map((row) => JSON.stringify(row)).join("\n") + "\n";
}

function csvCell(value) {
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function toCsv(result) {
  const table = rows(result).map((row) => {
    delete row.scores; // the score_<label> columns hold the same numbers
    return row;
  });
  const columns = Object.keys(table[0]);
  const lines = [columns.join(",")];
  for (const row of table) lines.push(columns.map((c) => csvCell(row[c])).join(","));
  return lines.join("\r\n") + "\r\n";
}

function download(name, type, content) {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const link = el("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// --- Wiring -----------------------------------------------------------------------------------

function showError(error) {
  const box = $("error");
  $("error-title").textContent = error.title;
  $("error-detail").textContent = error.detail || "";
  box.hidden = false;
  box.focus();
}

function setBusy(busy, message) {
  $("read").disabled = busy;
  $("status").textContent = message || "";
  document.body.setAttribute("aria-busy", busy ? "true" : "false");
}

async function submit(event) {
  if (event) event.preventDefault();
  $("error").hidden = true;
  const text = $("text").value;
  if (!text.trim()) {
    showError(emptyText());
    return;
  }
  setBusy(true, "Reading the article…");
  try {
    const result = await readArticle(text);
    const count = result.paragraphs.length;
    render(result);
    setBusy(false, `Read ${count} paragraph${count === 1 ? "" : "s"}.`);
  } catch (error) {
    setBusy(false, "");
    showError(error && error.title ? error : problem("Something went wrong.", String(error)));
  }
}

function openFile() {
  const file = $("file").files[0];
  if (!file) return;
  const reader = new FileReader();
  reader.onload = () => {
    $("text").value = String(reader.result);
    $("status").textContent = `Opened ${file.name}.`;
    submit();
  };
  reader.onerror = () => showError(problem("The file could not be read.", file.name));
  reader.readAsText(file);
  $("file").value = "";
}

document.addEventListener("DOMContentLoaded", () => {
  $("reader").addEventListener("submit", submit);
  $("text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) submit(event);
  });
  $("open").addEventListener("click", () => $("file").click());
  $("file").addEventListener("change", openFile);
  $("download-jsonl").addEventListener("click", () => {
    if (lastResult) download("stance-paragraphs.jsonl", "application/x-ndjson", toJsonl(lastResult));
  });
  $("download-csv").addEventListener("click", () => {
    if (lastResult) download("stance-paragraphs.csv", "text/csv", toCsv(lastResult));
  });
});
