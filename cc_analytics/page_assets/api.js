// Every read of the page goes through here: same-origin credentials (a session cookie works once signed in), a
// 401 becomes SignInNeeded, any other error keeps the API's own explanation.

export class SignInNeeded extends Error {}

export function apiUrl(path, parameters = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) {
    if (value !== undefined && value !== null && value !== "") query.set(name, value);
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

export async function getJSON(path, parameters = {}) {
  const reply = await fetch(apiUrl(path, parameters), {credentials: "same-origin", headers: {Accept: "application/json"}});
  if (reply.status === 401) throw new SignInNeeded("sign in to see the figures");
  if (!reply.ok) {
    let reason = `${reply.status} ${reply.statusText}`;
    try { reason = (await reply.json()).error || reason; } catch (_) { /* not JSON: keep the status */ }
    throw new Error(`${path}: ${reason}`);
  }
  return reply.json();
}
