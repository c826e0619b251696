// What each tab shows, from the read API's answers only: the tab's reads (load) and how they are drawn (draw).

import {getJSON} from "./api.js";
import {dayChart, daysBetween, perDay} from "./charts.js";
import {DataTable} from "./members.js";
import {integer, percent, usd, usdFine} from "./format.js";

export const monthOf = (day) => day.slice(0, 7);
const sum = (rows, field) => rows.reduce((total, row) => total + (row[field] || 0), 0);
const ratio = (part, whole) => (whole ? part / whole : null);

export function cards(container, figures) {
  container.replaceChildren(...figures.map(({figure, label, text, note}) => {
    const card = document.createElement("div");
    card.className = "card";
    card.dataset.figure = figure;
    card.innerHTML = '<span class="label"></span><span class="value"></span><span class="note"></span>';
    card.querySelector(".label").textContent = label;
    card.querySelector(".value").textContent = text;
    card.querySelector(".note").textContent = note || "";
    return card;
  }));
}

function smallTable(container, id, title, columns, rows, sortKey) {
  const section = document.createElement("section");
  section.className = "small-table";
  section.innerHTML = `<h3></h3><div class="table-wrap"><table id="${id}"><thead></thead><tbody></tbody></table></div>`;
  section.querySelector("h3").textContent = title;
  container.append(section);
  const table = new DataTable(section.querySelector("table"), columns);
  table.sort = {key: sortKey, descending: true};
  table.setRows(rows);
  return table;
}

const memberName = (row) => row.email || row.user_key || row.member;

// Productivity: the reports' range figures, the day charts, the contribution figures and the members of the month.
export async function loadProductivity(scope, state) {
  const range = {from: state.from, to: state.to, ...scope};
  const [daily, value, contributions] = await Promise.all([
    getJSON("/api/v1/daily", range), getJSON("/api/v1/value", range),
    getJSON("/api/v1/contributions", {...range, group: "day"})]);
  return {daily: daily.data, value: value.data, contributions: contributions.data};
}

export function drawProductivity(answers, state) {
  const {daily, value, contributions} = answers;
  const decided = sum(daily, "edits_accepted") + sum(daily, "edits_rejected");
  cards(document.getElementById("productivity-cards"), [
    {figure: "lines_accepted", label: "Lines of code accepted", text: integer(sum(daily, "lines_accepted"))},
    {figure: "accept_rate", label: "Suggestion accept rate", text: percent(ratio(sum(daily, "edits_accepted"), decided)),
     note: `${integer(decided)} edit decisions`},
    {figure: "active_members", label: "Active members", text: integer(sum(value, "active_members"))},
    {figure: "sessions", label: "Sessions", text: integer(sum(value, "sessions"))},
  ]);
  const days = daysBetween(state.from, state.to);
  const totals = perDay(daily, ["active_users", "sessions", "lines_accepted"]);
  const series = (field) => days.map((day) => totals[day]?.[field] ?? 0);
  dayChart(document.getElementById("chart-activity"), days,
           [{name: "Active users", values: series("active_users")}, {name: "Sessions", values: series("sessions")}]);
  dayChart(document.getElementById("chart-lines"), days, [{name: "Lines accepted", values: series("lines_accepted"), kind: "bar"}]);
  const merged = sum(contributions, "prs_merged");
  const withClaude = sum(contributions, "prs_merged_with_cc");
  const linesMerged = sum(contributions, "lines_merged");
  const linesWithClaude = sum(contributions, "lines_merged_with_cc");
  const contributionCards = document.getElementById("contribution-cards");
  contributionCards.hidden = !merged && !sum(contributions, "prs_opened");
  cards(contributionCards, [
    {figure: "prs_merged_with_cc", label: "PRs merged with Claude Code", text: integer(withClaude)},
    {figure: "prs_merged_without_cc", label: "PRs merged without Claude Code", text: integer(merged - withClaude)},
    {figure: "lines_merged_with_cc", label: "Lines merged with Claude Code", text: integer(linesWithClaude)},
    {figure: "lines_merged_without_cc", label: "Lines merged without Claude Code", text: integer(linesMerged - linesWithClaude)},
    {figure: "prs_per_member", label: "Merged PRs per active member",
     text: ratio(merged, sum(value, "active_members"))?.toFixed(2) ?? "\u2014"},
  ]);
}

export function membersColumns(severalOrgs) {
  return [
    {key: "member", label: "Member", value: memberName},
    {key: "team", label: "Team"},
    ...(severalOrgs ? [{key: "org_id", label: "Organization"}] : []),
    {key: "lines_accepted", label: "Lines accepted", format: integer, numeric: true},
    {key: "accept_rate", label: "Accept rate", format: percent, numeric: true},
    {key: "sessions", label: "Sessions", format: integer, numeric: true},
    {key: "cost_usd", label: "Cost", format: usd, numeric: true},
  ];
}

// Usage: feature adoption per day, then the usage of each skill, MCP server, agent, tool... and each repository.
const USAGE_KINDS = [["skill", "Skills"], ["mcp_server", "MCP servers"], ["mcp_tool", "MCP tools"],
                     ["agent", "Agents"], ["tool", "Tools"], ["command", "Commands"], ["plugin", "Plugins"],
                     ["hook", "Hooks"]];
const FEATURES = [["skills", "Skills"], ["mcp", "MCP"], ["subagents", "Subagents"], ["hooks", "Hooks"],
                  ["plan_mode", "Plan mode"]];

export async function loadUsage(scope, state) {
  const range = {from: state.from, to: state.to, ...scope};
  const [usage, adoption, repositories] = await Promise.all([
    getJSON("/api/v1/usage", {...range, group: state.member ? "user" : "name"}),
    getJSON("/api/v1/usage/adoption", range), getJSON("/api/v1/repositories", range)]);
  const rows = state.member ? usage.data.filter((row) => row.user_key === state.member) : usage.data;
  return {usage: rows, adoption: adoption.data, repositories: repositories.data};
}

export function drawUsage(answers, state, severalOrgs) {
  const days = daysBetween(state.from, state.to);
  const fields = FEATURES.map(([feature]) => `${feature}_members`);
  const totals = perDay(answers.adoption, fields);
  dayChart(document.getElementById("chart-adoption"), days,
           FEATURES.map(([feature, label]) => ({name: label, values: days.map((day) => totals[day]?.[`${feature}_members`] ?? 0)})));
  const container = document.getElementById("usage-tables");
  container.replaceChildren();
  const org = severalOrgs ? [{key: "org_id", label: "Organization"}] : [];
  for (const [kind, title] of USAGE_KINDS) {
    const rows = answers.usage.filter((row) => row.kind === kind);
    if (!rows.length) continue;
    smallTable(container, `usage-${kind}`, title, [
      {key: "name", label: "Name"}, ...org,
      {key: "uses", label: "Uses", format: integer, numeric: true},
      ...(state.member ? [] : [{key: "members", label: "Members", format: integer, numeric: true}]),
      {key: "success_rate", label: "Success rate", format: percent, numeric: true},
      {key: "cost_usd", label: "Cost", format: usd, numeric: true}], rows, "uses");
  }
  if (answers.repositories.length) {
    smallTable(container, "usage-repositories", "Repositories", [
      {key: "repository", label: "Repository"}, ...org,
      {key: "lines_accepted", label: "Lines accepted", format: integer, numeric: true},
      {key: "sessions", label: "Sessions", format: integer, numeric: true},
      {key: "members", label: "Members", format: integer, numeric: true},
      {key: "cost_usd", label: "Cost", format: usd, numeric: true}], answers.repositories, "lines_accepted");
  }
  if (!container.children.length) container.textContent = "No skill, MCP server, agent, tool or repository was used in this range.";
}

// Value: spend and cost per unit of work (per org, as the API computes them), the month's forecast, top spenders.
export async function loadValue(scope, state) {
  const range = {from: state.from, to: state.to, ...scope};
  const [value, forecast, daily] = await Promise.all([
    getJSON("/api/v1/value", range), getJSON("/api/v1/value/forecast", {month: monthOf(state.to), ...scope}),
    getJSON("/api/v1/daily", range)]);
  return {value: value.data, forecast: forecast.data, daily: daily.data, month: forecast.month};
}

const COST_PER = [["cost_per_session", "Cost per session"], ["cost_per_commit", "Cost per commit"],
                  ["cost_per_pull_request", "Cost per PR"], ["cost_per_line", "Cost per line"],
                  ["cost_per_member", "Cost per member"], ["cost_per_merged_pr_with_cc", "Cost per merged PR with Claude Code"]];

export function drawValue(answers, state, severalOrgs) {
  const {value, forecast, daily} = answers;
  const single = value.length === 1 ? value[0] : null;
  cards(document.getElementById("value-cards"), [
    {figure: "cost_usd", label: "Spend in range", text: usd(sum(value, "cost_usd"))},
    {figure: "month_to_date_usd", label: `Spend ${answers.month} to date`, text: usd(sum(forecast, "month_to_date_usd"))},
    {figure: "forecast_usd", label: `Forecast for ${answers.month}`, text: usd(sum(forecast, "forecast_usd"))},
    // Ratios are the API's own, per org: shown as cards when one org is in view, else in the table below.
    ...(single ? COST_PER.map(([key, label]) => ({figure: key, label, text: usdFine(single[key])})) : []),
  ]);
  const days = daysBetween(state.from, state.to);
  const totals = perDay(daily, ["cost_usd"]);
  dayChart(document.getElementById("chart-spend"), days,
           [{name: "Spend", values: days.map((day) => Number((totals[day]?.cost_usd ?? 0).toFixed(2))), kind: "bar"}], "$");
  const container = document.getElementById("value-tables");
  container.replaceChildren();
  if (value.length > 1) {
    smallTable(container, "value-orgs", "Cost per unit of work, per organization", [
      {key: "org_id", label: "Organization"}, {key: "cost_usd", label: "Spend", format: usd, numeric: true},
      ...COST_PER.map(([key, label]) => ({key, label: label.replace("Cost per ", "per "), format: usdFine, numeric: true}))],
      value, "cost_usd");
  }
  const spenders = value.flatMap((row) => row.top_spenders.map((member) => ({...member, org_id: row.org_id})));
  smallTable(container, "value-top-spenders", "Top spenders", [
    {key: "member", label: "Member", value: memberName}, {key: "team", label: "Team"},
    ...(severalOrgs ? [{key: "org_id", label: "Organization"}] : []),
    {key: "cost_usd", label: "Spend", format: usd, numeric: true},
    {key: "share", label: "Share of org spend", format: percent, numeric: true}], spenders, "cost_usd");
}
