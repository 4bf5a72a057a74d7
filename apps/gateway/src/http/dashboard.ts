/**
 * The operator dashboard: one static page that asks for the admin token (kept in this tab's
 * sessionStorage only) and shows the admin API's stats, dead deliveries (with replay) and recent
 * events. No framework, no build step, nothing loaded from elsewhere.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>engage-bridge</title>
<link rel="icon" href="data:,">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #1d1d1f; }
  h1 { font-size: 1.3rem; } h2 { font-size: 1.05rem; margin-top: 2rem; }
  table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #ddd; }
  .bad { color: #b00020; font-weight: 600; } .ok { color: #0a7d32; } .muted { color: #777; }
  button { cursor: pointer; } #login { margin: 2rem 0; } code { font-size: 12px; }
</style>
</head>
<body>
<h1>engage-bridge</h1>
<form id="login" hidden>
  <label>Admin token <input id="token" type="password" autocomplete="off" required></label>
  <button type="submit">Open</button>
</form>
<main id="main" hidden>
  <p class="muted">Refreshes every 5 s. <button id="logout" type="button">Forget token</button></p>
  <h2>Connectors</h2><table id="connectors"></table>
  <p id="queue"></p>
  <h2>Dead deliveries</h2>
  <p><button id="replay-all" type="button">Replay all dead</button> <span id="replay-result"></span></p>
  <table id="dead"></table>
  <h2>Recent events</h2><table id="events"></table>
</main>
<p id="error" class="bad"></p>
<script>
const $ = (id) => document.getElementById(id);
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
let token = sessionStorage.getItem("engage-bridge-admin") || "";
async function api(path, init = {}) {
  const res = await fetch(path, { ...init, headers: { authorization: "Bearer " + token, "content-type": "application/json" } });
  if (res.status === 401) { sessionStorage.removeItem("engage-bridge-admin"); token = ""; show(); throw new Error("token refused"); }
  if (!res.ok) throw new Error((await res.json()).message || res.statusText);
  return res.json();
}
function table(el, head, rows) {
  el.innerHTML = "<tr>" + head.map((h) => "<th>" + esc(h) + "</th>").join("") + "</tr>" +
    rows.map((r) => "<tr>" + r.map((c) => "<td>" + c + "</td>").join("") + "</tr>").join("");
}
async function refresh() {
  try {
    const stats = await api("/admin/stats");
    const names = Object.keys({ ...stats.deliveries, ...stats.connectors });
    table($("connectors"), ["connector", "health", "pending", "retrying", "delivered", "skipped", "dead"], names.map((n) => {
      const s = stats.deliveries[n] || {}, h = stats.connectors[n];
      const health = !h ? "" : h.healthy ? '<span class="ok">healthy</span>' : '<span class="bad">unhealthy: ' + esc(h.reason) + "</span>";
      return [esc(n), health, s.pending || 0, s.retrying || 0, s.delivered || 0, s.skipped || 0, s.dead ? '<span class="bad">' + s.dead + "</span>" : 0];
    }));
    $("queue").textContent = "Queue depth " + stats.queueDepth + "; oldest pending " + (stats.oldestPendingSeconds == null ? "-" : stats.oldestPendingSeconds + " s");
    const dead = await api("/admin/deliveries?status=dead&limit=50");
    table($("dead"), ["updated", "event", "connector", "attempts", "last error", ""], dead.map((d) => [
      esc(d.updatedAt), "<code>" + esc(d.eventId) + "</code>", esc(d.connector), d.attempts, esc(d.lastError),
      '<button data-event="' + esc(d.eventId) + '" data-connector="' + esc(d.connector) + '">Replay</button>']));
    const events = await api("/admin/events?limit=25");
    table($("events"), ["received", "type", "status", "event id"], events.map((e) => [esc(e.receivedAt), esc(e.type), esc(e.status), "<code>" + esc(e.id) + "</code>"]));
    $("error").textContent = "";
  } catch (e) { $("error").textContent = e.message; }
}
async function replay(body) {
  const r = await api("/admin/replay", { method: "POST", body: JSON.stringify(body) });
  $("replay-result").textContent = r.requeued + " re-queued";
  refresh();
}
function show() { $("login").hidden = !!token; $("main").hidden = !token; if (token) refresh(); }
$("login").addEventListener("submit", (e) => { e.preventDefault(); token = $("token").value; sessionStorage.setItem("engage-bridge-admin", token); show(); });
$("logout").addEventListener("click", () => { sessionStorage.removeItem("engage-bridge-admin"); token = ""; show(); });
$("replay-all").addEventListener("click", () => replay({ status: "dead" }).catch((e) => ($("error").textContent = e.message)));
$("dead").addEventListener("click", (e) => { const b = e.target.closest("button"); if (b) replay({ event: b.dataset.event, connector: b.dataset.connector }).catch((x) => ($("error").textContent = x.message)); });
setInterval(() => token && refresh(), 5000);
show();
</script>
</body>
</html>
`;
