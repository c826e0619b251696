// A table of API rows: sortable by any column (header buttons, so the keyboard works: Tab, Enter, Space) and
// optionally paged. Its sort and page are part of the page's state, so they are kept in the URL by the caller.

import {MISSING} from "./format.js";

function compare(a, b) {
  // Missing figures last whichever the direction; text by locale, numbers by value.
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : 1;
  if (b === null || b === undefined) return -1;
  return typeof a === "number" && typeof b === "number" ? a - b : String(a).localeCompare(String(b));
}

export class DataTable {
  // columns: [{key, label, format(value), value(row) (default row[key]), numeric}]
  constructor(table, columns, {pager = null, rowKey = null, onChange = () => {}} = {}) {
    this.table = table;
    this.columns = columns;
    this.pager = pager;
    this.rowKey = rowKey;
    this.onChange = onChange;
    this.rows = [];
    this.sort = {key: null, descending: true};
    this.page = 0;
    this.pageSize = 25;
    table.tHead.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-sort]");
      if (button) this.sortBy(button.dataset.sort);
    });
    if (pager) {
      pager.addEventListener("click", (event) => {
        const button = event.target.closest("button[data-page]");
        if (!button || button.disabled) return;
        this.page += button.dataset.page === "next" ? 1 : -1;
        this.render();
        this.onChange();
      });
    }
  }

  valueOf(column, row) {
    return column.value ? column.value(row) : row[column.key];
  }

  sortBy(key) {
    this.sort = {key, descending: this.sort.key === key ? !this.sort.descending : true};
    this.page = 0;
    this.render();
    this.onChange();
  }

  setRows(rows) {
    this.rows = rows;
    this.render();
  }

  sortedRows() {
    const column = this.columns.find((candidate) => candidate.key === this.sort.key);
    if (!column) return this.rows;
    const sign = this.sort.descending ? -1 : 1;
    return [...this.rows].sort((a, b) => {
      const [x, y] = [this.valueOf(column, a), this.valueOf(column, b)];
      if (x === null || x === undefined || y === null || y === undefined) return compare(x, y);
      return sign * compare(x, y);
    });
  }

  pageCount() {
    return this.pager ? Math.max(1, Math.ceil(this.rows.length / this.pageSize)) : 1;
  }

  render() {
    this.page = Math.min(Math.max(this.page, 0), this.pageCount() - 1);
    const head = document.createElement("tr");
    for (const column of this.columns) {
      const cell = document.createElement("th");
      cell.scope = "col";
      if (column.numeric) cell.className = "numeric";
      if (this.sort.key === column.key) cell.setAttribute("aria-sort", this.sort.descending ? "descending" : "ascending");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.sort = column.key;
      button.textContent = column.label;
      cell.append(button);
      head.append(cell);
    }
    this.table.tHead.replaceChildren(head);
    const rows = this.sortedRows();
    const shown = this.pager ? rows.slice(this.page * this.pageSize, (this.page + 1) * this.pageSize) : rows;
    const body = shown.map((row) => {
      const line = document.createElement("tr");
      if (this.rowKey) line.dataset.key = this.rowKey(row);
      for (const column of this.columns) {
        const cell = document.createElement("td");
        cell.dataset.column = column.key;
        if (column.numeric) cell.className = "numeric";
        const value = this.valueOf(column, row);
        cell.textContent = column.format ? column.format(value) : (value ?? MISSING);
        line.append(cell);
      }
      return line;
    });
    if (!body.length) {
      const line = document.createElement("tr");
      const cell = document.createElement("td");
      cell.colSpan = this.columns.length;
      cell.className = "no-rows";
      cell.textContent = "No rows for these choices.";
      line.append(cell);
      body.push(line);
    }
    this.table.tBodies[0].replaceChildren(...body);
    if (this.pager) this.renderPager(rows.length);
  }

  renderPager(total) {
    const first = total ? this.page * this.pageSize + 1 : 0;
    const last = Math.min(total, (this.page + 1) * this.pageSize);
    this.pager.querySelector("[aria-live]").textContent = `${first}\u2013${last} of ${total.toLocaleString("en-US")}`;
    this.pager.querySelector('[data-page="previous"]').disabled = this.page === 0;
    this.pager.querySelector('[data-page="next"]').disabled = this.page >= this.pageCount() - 1;
  }
}
