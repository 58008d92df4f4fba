// The status page: counters from ./metrics, readiness from ./readyz, charts from ./status/series.
// Every number shown is read from the server's own endpoints, every two seconds; no asset leaves the server.
"use strict";

const COLORS = ["#1f5fbf", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285"];

// Parse the Prometheus text format into [{name, labels, value, key}], key as written in ./metrics.
function parseMetrics(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)/);
    if (!m) continue;
    const labels = {};
    if (m[2]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
      let l;
      while ((l = re.exec(m[2])) !== null) labels[l[1]] = l[2].replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    }
    samples.push({ name: m[1], labels: labels, value: Number(m[3]), key: m[1] + (m[2] || "") });
  }
  return samples;
}

// Counters worth a person's eye: sedna_* samples, without histogram buckets and creation stamps.
function shown(sample) {
  return sample.name.startsWith("sedna_") && !sample.name.endsWith("_bucket") && !sample.name.endsWith("_created");
}

function formatValue(name, value) {
  if (name.endsWith("_start_time_seconds")) return new Date(value * 1000).toISOString().replace(".000Z", "Z");
  if (Number.isInteger(value)) return String(value);
  return value.toPrecision(4).replace(/\.?0+$/, "");
}

function renderTable(samples) {
  const body = document.querySelector("#metrics tbody");
  const rows = samples.filter(shown).map((s) => {
    const tr = document.createElement("tr");
    const labels = Object.entries(s.labels).map(([k, v]) => k + "=" + v).join(", ");
    tr.innerHTML = '<td class="name"></td><td class="labels"></td><td class="num"></td>';
    tr.children[0].textContent = s.name;
    tr.children[1].textContent = labels;
    tr.children[2].textContent = formatValue(s.name, s.value);
    tr.children[2].dataset.sample = s.key;
    tr.children[2].dataset.value = String(s.value);
    return tr;
  });
  body.replaceChildren(...rows);
}

function drawChart(canvas, chart) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth, height = canvas.clientHeight;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.clearRect(0, 0, width, height);
  const names = Object.keys(chart.series);
  const points = names.flatMap((n) => chart.series[n]);
  g.font = "11px system-ui, sans-serif";
  g.fillStyle = "#6b7280";
  if (points.length === 0) {
    g.fillText("no data yet", width / 2 - 28, height / 2);
    return;
  }
  const pad = { left: 44, right: 10, top: 18, bottom: 24 };
  let [x0, x1] = [Math.min(...points.map((p) => p[0])), Math.max(...points.map((p) => p[0]))];
  let [y0, y1] = [Math.min(0, ...points.map((p) => p[1])), Math.max(...points.map((p) => p[1]))];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) y1 = y0 + 1;
  const sx = (x) => pad.left + ((x - x0) / (x1 - x0)) * (width - pad.left - pad.right);
  const sy = (y) => height - pad.bottom - ((y - y0) / (y1 - y0)) * (height - pad.top - pad.bottom);
  g.strokeStyle = "#d1d5db";
  g.beginPath();
  g.moveTo(pad.left, pad.top);
  g.lineTo(pad.left, height - pad.bottom);
  g.lineTo(width - pad.right, height - pad.bottom);
  g.stroke();
  g.fillText(formatValue("", y1), 2, pad.top + 4);
  g.fillText(formatValue("", y0), 2, height - pad.bottom);
  g.fillText(chart.x_label + " " + formatValue("", x0), pad.left, height - 6);
  const right = chart.x_label + " " + formatValue("", x1);
  g.fillText(right, width - pad.right - g.measureText(right).width, height - 6);
  names.forEach((name, i) => {
    const color = COLORS[i % COLORS.length];
    g.strokeStyle = color;
    g.fillStyle = color;
    g.lineWidth = 2;
    g.beginPath();
    chart.series[name].forEach((p, j) => (j === 0 ? g.moveTo(sx(p[0]), sy(p[1])) : g.lineTo(sx(p[0]), sy(p[1]))));
    g.stroke();
    chart.series[name].forEach((p) => g.fillRect(sx(p[0]) - 2, sy(p[1]) - 2, 4, 4));
    g.fillText(name, pad.left + 6 + i * 110, 12);
  });
}

function renderCharts(data) {
  const section = document.getElementById("charts");
  for (const chart of data.charts) {
    let figure = document.getElementById("chart-" + chart.key);
    if (!figure) {
      figure = document.createElement("figure");
      figure.id = "chart-" + chart.key;
      figure.innerHTML = "<figcaption></figcaption><canvas></canvas>";
      figure.querySelector("figcaption").textContent = chart.title;
      section.appendChild(figure);
    }
    const canvas = figure.querySelector("canvas");
    canvas.dataset.points = String(Object.values(chart.series).reduce((n, s) => n + s.length, 0));
    drawChart(canvas, chart);
  }
}

async function refresh() {
  try {
    const [metrics, ready, series] = await Promise.all([
      fetch("metrics", { cache: "no-store" }).then((r) => r.text()),
      fetch("readyz", { cache: "no-store" }),
      fetch("status/series", { cache: "no-store" }).then((r) => r.json()),
    ]);
    renderTable(parseMetrics(metrics));
    renderCharts(series);
    const badge = document.getElementById("ready");
    badge.textContent = ready.ok ? "ready" : "not ready";
    badge.className = "badge " + (ready.ok ? "ok" : "down");
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
  } catch (err) {
    const badge = document.getElementById("ready");
    badge.textContent = "unreachable";
    badge.className = "badge down";
  }
}

refresh();
setInterval(refresh, 2000);
