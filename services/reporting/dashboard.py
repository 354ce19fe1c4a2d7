"""The dashboard page: self-contained HTML and script (no CDN; it works offline),
reading the JSON API of this service."""

DASHBOARD_HTML = """<!doctype html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bdg — Bảng tổng hợp chỉ tiêu</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1d2733; }
  h1 { font-size: 1.4rem; margin: 0 0 1rem; }
  form { display: flex; gap: .75rem; flex-wrap: wrap; align-items: end; margin-bottom: 1rem; }
  label { display: flex; flex-direction: column; font-size: .85rem; gap: .2rem; }
  input, select, button { font-size: 1rem; padding: .3rem .5rem; }
  table { border-collapse: collapse; width: 100%; max-width: 60rem; }
  th, td { border-bottom: 1px solid #d8dee6; padding: .4rem .6rem; text-align: right; }
  th:first-child, td:first-child { text-align: left; }
  .bar { display: inline-block; height: .7rem; background: #c2185b; vertical-align: middle; }
  .bar.male { background: #1565c0; }
  #message { color: #b00020; margin: .5rem 0; }
  #meta { color: #5b6573; font-size: .85rem; }
</style>
</head>
<body>
<h1>Chỉ tiêu bình đẳng giới — tổng hợp theo đơn vị và kỳ báo cáo</h1>
<form id="query">
  <label>Mã truy cập (access token)
    <input id="token" type="password" size="24" autocomplete="off"
      title="Bearer token từ /v1/oauth/token"></label>
  <label>Mã đơn vị <input id="unit" value="vn" size="14"></label>
  <label>Kỳ báo cáo <input id="period" value="" size="24"
    title="2023, 2023Q4, SY2017-2018"></label>
  <label>Cấu trúc
    <select id="structure">
      <option value="as_was">như thời điểm báo cáo</option>
      <option value="vn34">quy đổi về đơn vị hiện nay</option>
    </select>
  </label>
  <button type="submit">Xem</button>
</form>
<div id="message"></div>
<div id="meta"></div>
<table>
  <thead><tr><th>Chỉ tiêu</th><th>Tổng số</th><th>Nữ</th><th>Nam</th><th>Tỷ lệ nữ</th></tr></thead>
  <tbody id="rows"></tbody>
</table>
<script>
const form = document.getElementById("query");
const rows = document.getElementById("rows");
const message = document.getElementById("message");
const meta = document.getElementById("meta");
document.getElementById("period").value = String(new Date().getFullYear());
const fmt = new Intl.NumberFormat("vi-VN");
// The token stays in this tab only (sessionStorage), never in the URL.
const tokenInput = document.getElementById("token");
tokenInput.value = sessionStorage.getItem("bdg-token") || "";
function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }
async function load(event) {
  if (event) event.preventDefault();
  message.textContent = "";
  const params = new URLSearchParams({
    unit_id: document.getElementById("unit").value.trim(),
    period: document.getElementById("period").value.trim(),
    structure: document.getElementById("structure").value,
  });
  const token = tokenInput.value.trim();
  sessionStorage.setItem("bdg-token", token);
  if (!token) { message.textContent = "Nhập mã truy cập (access token) để xem số liệu."; return; }
  const response = await fetch("/v1/reports/summary?" + params,
    { headers: { "Authorization": "Bearer " + token } });
  const body = await response.json();
  rows.replaceChildren();
  if (response.status === 401) {
    message.textContent = "Mã truy cập không hợp lệ hoặc đã hết hạn: " + (body.detail || "");
    return;
  }
  // 403: the token does not cover this unit (its detail names the scope needed).
  if (!response.ok) { message.textContent = body.detail || body.title; return; }
  meta.textContent = (body.unit_name || body.unit_id) + " · " + body.period +
    " · số liệu lúc " + new Date(body.as_of).toLocaleString("vi-VN");
  for (const item of body.items) {
    const tr = document.createElement("tr");
    tr.append(cell(item.name_vi), cell(fmt.format(item.value)));
    const split = item.female !== null && item.female !== undefined;
    tr.append(cell(split ? fmt.format(item.female) : "—"));
    tr.append(cell(split ? fmt.format(item.male) : "—"));
    const share = document.createElement("td");
    if (split && item.value > 0) {
      const pct = Math.round(1000 * item.female / item.value) / 10;
      const bar = document.createElement("span");
      bar.className = "bar"; bar.style.width = (pct * 0.8) + "px";
      share.append(bar, document.createTextNode(" " + pct + " %"));
    } else { share.textContent = "—"; }
    tr.append(share);
    rows.append(tr);
  }
}
form.addEventListener("submit", load);
load();
</script>
</body>
</html>
"""
