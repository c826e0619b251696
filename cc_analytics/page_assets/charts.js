// Charts drawn with plotly.js, served from the plotly package on PyPI (/assets/vendor/plotly.min.js): nothing is
// fetched from another site, and a page without the library still shows every figure in its cards and tables.

const LAYOUT = {margin: {l: 48, r: 12, t: 8, b: 36}, height: 260, legend: {orientation: "h", y: -0.25},
                xaxis: {type: "date"}, yaxis: {rangemode: "tozero", separatethousands: true},
                paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", font: {size: 12}};
const CONFIG = {displayModeBar: false, responsive: true, staticPlot: false};

// The library (4.8 MB) is loaded once the first figures have arrived: parsing it while the API answers slowed both
// on a 2-core machine (benchmarks/page.py). The cards and tables never wait for it; a failed load leaves charts empty.
let charting = null;

function loadCharting() {
  charting ??= new Promise((resolve) => {
    if (window.Plotly) return resolve();
    const script = document.createElement("script");
    script.src = "/assets/vendor/plotly.min.js";
    script.onload = script.onerror = () => resolve();
    document.head.append(script);
  });
  return charting;
}

const pending = [];

// Resolves once every chart asked for so far is drawn.
export function chartsDrawn() {
  return Promise.all(pending.splice(0));
}

// series: [{name, values, kind: "line" | "bar"}], all over the same days.
export function dayChart(element, days, series, yPrefix = "") {
  pending.push(loadCharting().then(() => window.Plotly && drawDayChart(element, days, series, yPrefix)));
}

function drawDayChart(element, days, series, yPrefix) {
  const traces = series.map(({name, values, kind}) => ({
    x: days, y: values, name, type: kind === "bar" ? "bar" : "scatter", mode: "lines+markers",
    hovertemplate: `%{x|%Y-%m-%d}: ${yPrefix}%{y:,}<extra>${name}</extra>`,
  }));
  // A short range gets one tick a day, not hours between its few days.
  const xaxis = days.length <= 14 ? {...LAYOUT.xaxis, dtick: 86400000, tickformat: "%b %-d"} : LAYOUT.xaxis;
  const layout = {...LAYOUT, xaxis, showlegend: series.length > 1, yaxis: {...LAYOUT.yaxis, tickprefix: yPrefix}};
  return window.Plotly.react(element, traces, layout, CONFIG);
}

// The days of [first, last] as YYYY-MM-DD, so a day without data is a 0, not a gap the line jumps over.
export function daysBetween(first, last) {
  const days = [];
  for (let day = new Date(`${first}T00:00:00Z`); day <= new Date(`${last}T00:00:00Z`);
       day.setUTCDate(day.getUTCDate() + 1)) {
    days.push(day.toISOString().slice(0, 10));
  }
  return days;
}

// rows summed per day: {date: {field: total}} for the fields asked.
export function perDay(rows, fields, dayField = "date") {
  const totals = {};
  for (const row of rows) {
    const day = (totals[row[dayField]] ??= Object.fromEntries(fields.map((field) => [field, 0])));
    for (const field of fields) day[field] += row[field] || 0;
  }
  return totals;
}
