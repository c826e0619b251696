// Numbers for people: thousands separators, percentages, US dollars; a missing figure is a dash.

const whole = new Intl.NumberFormat("en-US", {maximumFractionDigits: 0});
const dollars = new Intl.NumberFormat("en-US", {style: "currency", currency: "USD", minimumFractionDigits: 2,
                                                maximumFractionDigits: 2});
const dollarsFine = new Intl.NumberFormat("en-US", {style: "currency", currency: "USD", minimumFractionDigits: 4,
                                                    maximumFractionDigits: 4});
export const MISSING = "\u2014";

export function integer(value) {
  return value === null || value === undefined ? MISSING : whole.format(value);
}

export function percent(ratio) {
  if (ratio === null || ratio === undefined) return MISSING;
  return `${(ratio * 100).toFixed(1)}%`;
}

export function usd(amount) {
  return amount === null || amount === undefined ? MISSING : dollars.format(amount);
}

// Per-line and per-session costs are often below a cent.
export function usdFine(amount) {
  return amount === null || amount === undefined ? MISSING : dollarsFine.format(amount);
}

export function when(iso) {
  if (!iso) return "never";
  return new Date(iso).toISOString().replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC");
}
