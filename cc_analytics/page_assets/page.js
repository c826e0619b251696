// The page's state lives in the URL's query string (a bookmark restores the view); every change redraws from the
// read API. Pickers and tabs push a history entry, the table's sort, page and search replace the current one.

import {apiUrl, getJSON, SignInNeeded} from "./api.js";
import {when} from "./format.js";
import {chartsDrawn} from "./charts.js";
import {DataTable} from "./members.js";
import {drawProductivity, drawUsage, drawValue, loadProductivity, loadUsage, loadValue, membersColumns, monthOf}
  from "./tabs.js";

const facts = JSON.parse(document.getElementById("serve-facts").textContent);
const TABS = {productivity: [loadProductivity, drawProductivity], usage: [loadUsage, drawUsage],
              value: [loadValue, drawValue]};
const PAGE_SIZES = ["5", "10", "25", "50", "100"];

// Today in the serve's time zone (--timezone): the default range is this month to date, as the hosted page.
function today() {
  return new Intl.DateTimeFormat("en-CA", {timeZone: facts.time_zone, year: "numeric", month: "2-digit",
                                           day: "2-digit"}).format(new Date());
}

function defaults() {
  const day = today();
  return {tab: "productivity", org: "", team: "", member: "", from: `${monthOf(day)}-01`, to: day, q: "",
          sort: "lines_accepted", dir: "desc", page: "1", per: "25"};
}

function readState() {
  const state = defaults();
  const query = new URLSearchParams(location.search);
  for (const name of Object.keys(state)) {
    if (query.has(name)) state[name] = query.get(name);
  }
  if (!TABS[state.tab]) state.tab = "productivity";
  if (!PAGE_SIZES.includes(state.per)) state.per = "25";
  return state;
}

function writeState(state, push) {
  const base = defaults();
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(state)) {
    if (value !== base[name]) query.set(name, value);
  }
  const url = query.toString() ? `?${query}` : location.pathname;
  if (url !== (location.search || location.pathname)) history[push ? "pushState" : "replaceState"](null, "", url);
}

let state = readState();
let orgs = [];
let members = [];
const pickers = document.getElementById("pickers");
const search = document.getElementById("member-search");
const pageSize = document.getElementById("page-size");
const membersTable = new DataTable(document.getElementById("members"), membersColumns(false), {
  pager: document.getElementById("members-pager"), rowKey: (row) => `${row.org_id}/${row.user_key}`,
  onChange: () => {
    state = {...state, sort: membersTable.sort.key, dir: membersTable.sort.descending ? "desc" : "asc",
             page: String(membersTable.page + 1)};
    writeState(state, false);
  }});

function scope() {
  return {org: state.org, team: state.team};
}

function notice(message, signIn = false) {
  const element = document.getElementById("notice");
  element.hidden = !message;
  element.textContent = message || "";
  if (signIn) {
    const link = document.createElement("a");
    link.href = "/signin";
    link.textContent = "Sign in";
    element.append(" ", link);
  }
}

function fillSelect(select, first, options) {
  const chosen = select.value;
  select.replaceChildren(new Option(first, ""), ...options.map(([value, label]) => new Option(label, value)));
  select.value = options.some(([value]) => value === chosen) ? chosen : "";
}

function drawPickers() {
  document.getElementById("time-zone").textContent = facts.time_zone;
  document.getElementById("org-picker").hidden = orgs.length < 2;
  fillSelect(pickers.elements.org, "All organizations", orgs.map((org) => [org.org_id, org.org_id]));
  const teams = [...new Set(members.map((row) => row.team).filter(Boolean))].sort();
  if (state.team && !teams.includes(state.team)) teams.push(state.team);
  fillSelect(pickers.elements.team, "All teams", teams.map((team) => [team, team]));
  const inTeam = members.filter((row) => !state.team || row.team === state.team);
  fillSelect(pickers.elements.member, "All members",
             inTeam.map((row) => [row.user_key, row.email || row.user_key]).sort((a, b) => a[1].localeCompare(b[1])));
  for (const name of ["org", "team", "member", "from", "to"]) pickers.elements[name].value = state[name];
  search.value = state.q;
  pageSize.value = state.per;
}

function drawTabs() {
  for (const button of document.querySelectorAll("[role=tab]")) {
    const selected = button.dataset.tab === state.tab;
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
    document.getElementById(button.getAttribute("aria-controls")).hidden = !selected;
  }
}

function exportParameters() {
  return {month: monthOf(state.to), ...scope(), q: state.q, format: "csv"};
}

// The members of the month (they fill the team and member pickers on every tab) and those the table lists.
// Every member of the month, kept per (month, org) for the pickers of the other tabs: a switch to Usage or Value
// does not read 10,000 members again. Productivity, which lists them, always reads them afresh.
let everyoneRead = {key: null, rows: null};

async function everyoneOf(month, org) {
  const key = `${month}|${org}`;
  if (everyoneRead.key !== key || state.tab === "productivity") {
    everyoneRead = {key, rows: (await getJSON("/api/v1/users", {month, org})).data};
  }
  return everyoneRead.rows;
}

async function readMembers() {
  const month = monthOf(state.to);
  const everyone = await everyoneOf(month, state.org);
  if (state.tab !== "productivity") return {everyone, listed: []};
  const listed = state.team || state.q
    ? (await getJSON("/api/v1/users", {month, ...scope(), q: state.q})).data : everyone;
  return {everyone, listed: state.member ? listed.filter((row) => row.user_key === state.member) : listed};
}

function drawMembers(listed) {
  const month = monthOf(state.to);
  document.getElementById("members-title").textContent = `Members, ${month} (month to date)`;
  document.getElementById("export").href = apiUrl("/api/v1/users", exportParameters());
  membersTable.columns = membersColumns(orgs.length > 1 && !state.org);
  membersTable.sort = {key: state.sort, descending: state.dir !== "asc"};
  membersTable.pageSize = Number(state.per);
  membersTable.page = Number(state.page) - 1 || 0;
  membersTable.setRows(listed);
}

function drawFreshness(freshness) {
  orgs = freshness.orgs;
  document.getElementById("freshness").textContent =
    `Last record received ${when(freshness.last_record)} \u00b7 last rollup ${when(freshness.last_rollup)}`;
  document.getElementById("empty-state").hidden = Boolean(freshness.last_record);
  document.getElementById("claude-env").textContent = facts.claude_env || "";
}

let generation = 0;

async function load() {
  const mine = ++generation;  // an older load finishing late must not draw over a newer one
  document.body.classList.add("loading");
  drawTabs();
  try {
    const [load, draw] = TABS[state.tab];
    const [freshness, answers, listed] = await Promise.all([
      getJSON("/api/v1/freshness", {org: state.org}), load(scope(), state), readMembers()]);
    if (mine !== generation) return;
    drawFreshness(freshness);
    members = listed.everyone;
    drawPickers();
    if (state.tab === "productivity") drawMembers(listed.listed);
    draw(answers, state, orgs.length > 1 && !state.org);
    performance.mark(`cc-analytics-figures-${mine}`);  // cards and tables drawn; read by benchmarks/page.py
    await chartsDrawn();
    if (mine !== generation) return;
    notice("");
  } catch (error) {
    if (mine !== generation) return;
    if (error instanceof SignInNeeded) notice("These figures need a signed-in session.", true);
    else notice(`The figures could not be read: ${error.message}`);
  } finally {
    if (mine === generation) {
      document.body.classList.remove("loading");
      document.body.dataset.loaded = String(mine);
      performance.mark(`cc-analytics-drawn-${mine}`);  // read by benchmarks/page.py
    }
  }
}

function change(values, push = true) {
  state = {...state, ...values};
  writeState(state, push);
  load();
}

pickers.addEventListener("change", (event) => {
  const {name, value} = event.target;
  if (!name || (["from", "to"].includes(name) && !value)) return;
  const reset = {page: "1", ...(name === "org" ? {team: "", member: ""} : {}), ...(name === "team" ? {member: ""} : {})};
  change({[name]: value, ...reset});
});

let typing;
search.addEventListener("input", () => {
  clearTimeout(typing);
  typing = setTimeout(() => change({q: search.value.trim(), page: "1"}, false), 250);
});
pageSize.addEventListener("change", () => change({per: pageSize.value, page: "1"}, false));

const tabList = document.querySelector("[role=tablist]");
tabList.addEventListener("click", (event) => {
  const button = event.target.closest("[role=tab]");
  if (button && button.dataset.tab !== state.tab) change({tab: button.dataset.tab});
});
// Arrow keys move between tabs, as in the WAI-ARIA tabs pattern.
tabList.addEventListener("keydown", (event) => {
  const names = Object.keys(TABS);
  const step = {ArrowRight: 1, ArrowLeft: -1}[event.key];
  if (!step) return;
  const next = names[(names.indexOf(state.tab) + step + names.length) % names.length];
  change({tab: next});
  document.getElementById(`tab-${next}`).focus();
});

window.addEventListener("popstate", () => {
  state = readState();
  load();
});

load();
