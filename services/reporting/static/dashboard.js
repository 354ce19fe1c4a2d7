// bdg dashboard: signs in at the registry, reads the reporting API, draws with ECharts.
// Everything it shows comes from this service's /v1 API with the page's own token;
// nothing is loaded from another origin except the registry's token and unit search.
"use strict";
(() => {
  const meta = document.querySelector('meta[name="bdg-registry-url"]');
  const REGISTRY = ((meta && meta.content) || `${location.protocol}//${location.hostname}:8001`)
    .replace(/\/$/, "");
  const TOKEN_KEY = "bdg-dashboard-token";
  const REFRESH_MS = 5 * 60 * 1000;
  const CARD_INDICATORS = [
    "people_reached", "club_members", "clubs_active", "club_meetings",
    "communication_sessions", "trainees", "training_courses", "forum_participants",
    "support_recipients", "support_value_vnd", "learning_centre_attendance", "budget_vnd",
  ];
  const TREND_INDICATORS = ["people_reached", "communication_sessions", "club_meetings"];
  const COLOURS = { female: "#ad1457", male: "#1565c0", unknown: "#6b7785", other: "#0b7a5c" };

  const TEXT = {
    vi: {
      title: "Bảng theo dõi bình đẳng giới",
      skip: "Bỏ qua, đến nội dung chính",
      signOut: "Đăng xuất",
      signInTitle: "Đăng nhập",
      signInHelp: "Dùng mã ứng dụng (client id) và khóa bí mật do quản trị viên cấp. Trang tự lấy và gia hạn mã truy cập.",
      clientId: "Mã ứng dụng (client id)",
      clientSecret: "Khóa bí mật (client secret)",
      signIn: "Đăng nhập",
      unit: "Đơn vị",
      unitOptions: "Đơn vị tìm thấy",
      unitHint: "Gõ tên xã, huyện hoặc tỉnh (có dấu hoặc không dấu)",
      period: "Kỳ báo cáo",
      THIS_YEAR: "Năm nay", LAST_YEAR: "Năm trước", THIS_SCHOOL_YEAR: "Năm học này",
      LAST_SCHOOL_YEAR: "Năm học trước", LAST_4_QUARTERS: "4 quý gần nhất",
      LAST_12_MONTHS: "12 tháng gần nhất", LAST_QUARTER: "Quý trước",
      customPeriod: "Kỳ khác…",
      customPeriodLabel: "Kỳ khác",
      structure: "Cấu trúc đơn vị",
      asWas: "Như thời điểm báo cáo",
      vn34: "Quy đổi về đơn vị hiện nay",
      programme: "Chương trình",
      allProgrammes: "Tất cả",
      show: "Xem",
      share: "Sao chép liên kết",
      shared: "Đã sao chép liên kết của trang này.",
      cardsTitle: "Số liệu chính",
      sexTitle: "Lượt người được tiếp cận theo giới tính, theo đơn vị trực thuộc",
      trendTitle: "Diễn biến theo tháng",
      targetsTitle: "Kế hoạch và thực hiện",
      completenessTitle: "Mức độ đầy đủ của báo cáo, theo đơn vị trực thuộc",
      ratingsTitle: "Xếp loại trung tâm học tập cộng đồng",
      mapTitle: "Bản đồ: lượt người được tiếp cận theo đơn vị trực thuộc",
      mapNote: "Vòng tròn đặt tại tâm mỗi đơn vị, diện tích tỉ lệ với số liệu. Tọa độ: gói vietnamadminunits.",
      table: "Bảng số liệu",
      footer: "Số liệu từ dịch vụ báo cáo bdg. Biểu đồ: Apache ECharts (giấy phép Apache 2.0).",
      female: "Nữ", male: "Nam", unknownSex: "Không rõ giới tính",
      femaleShare: "Tỷ lệ nữ",
      noShare: "Không tính tỷ lệ nữ: có người không ghi giới tính.",
      unitCol: "Đơn vị", valueCol: "Giá trị", monthCol: "Tháng", indicatorCol: "Chỉ tiêu",
      periodCol: "Kỳ", targetCol: "Kế hoạch", actualCol: "Thực hiện", pctCol: "Tỷ lệ đạt (%)",
      reportedCol: "Đã báo cáo", activitiesCol: "Số hoạt động", gradeCol: "Xếp loại",
      approvedOnly: "Chỉ số liệu đã phê duyệt",
      approvedNote: "Chỉ tính số liệu đã được phê duyệt.",
      approvalsTitle: "Tình trạng phê duyệt, theo đơn vị trực thuộc",
      chooseProgramme: "Chọn một chương trình để xem tình trạng phê duyệt và hạn báo cáo.",
      stateCol: "Trạng thái", lastStepCol: "Bước cuối", byCol: "Người thực hiện", atCol: "Thời điểm",
      hasDataCol: "Có số liệu", deadlineCol: "Hạn báo cáo", overdueCol: "Quá hạn",
      states: { open: "Chưa gửi", submitted: "Đã gửi", approved: "Đã phê duyệt", accepted: "Đã tiếp nhận" },
      actions: { submit: "Gửi", approve: "Phê duyệt", accept: "Tiếp nhận", reopen: "Mở lại" },
      approvalsOf: (states, units, overdue, deadline) =>
        `${states.approved + states.accepted}/${units} đơn vị đã phê duyệt hoặc tiếp nhận, ${states.submitted} đã gửi, ${states.open} chưa gửi` +
        (deadline ? `; hạn báo cáo ${deadline}, ${overdue} đơn vị quá hạn` : "; kỳ này không có hạn báo cáo"),
      yes: "Có", no: "Không",
      noChildren: "Đơn vị này không có đơn vị trực thuộc trong kỳ.",
      noData: "Không có số liệu trong kỳ này.",
      noTargets: "Không có chỉ tiêu kế hoạch cho đơn vị và kỳ này.",
      noPoints: "Không có tọa độ cho các đơn vị này.",
      loading: "Đang tải số liệu…",
      loaded: "Đã tải số liệu.",
      rate: (reported, units, pct) => `${reported}/${units} đơn vị đã báo cáo (${pct} %)`,
      freshness: (when, age) => `Số liệu cập nhật đến ${when}${age}`,
      behind: (count) => ` · còn ${count} sự kiện chờ xử lý`,
      asOf: (when) => `Truy vấn lúc ${when}`,
      expired: "Phiên làm việc đã hết hạn, vui lòng đăng nhập lại.",
      badCredentials: "Mã ứng dụng hoặc khóa bí mật không đúng.",
      registryDown: `Không kết nối được dịch vụ đăng ký (${REGISTRY}).`,
      fragmentToken: (when) => `Đăng nhập bằng liên kết màn hình, hiệu lực đến ${when}.`,
      downloadLabel: (format, panel) => `Tải ${panel} dạng ${format}`,
      grades: { excellent: "Xuất sắc", good: "Tốt", average: "Trung bình", weak: "Yếu" },
      periodOf: (label, key) => `${label} (${key})`,
      chooseUnit: "Chọn một đơn vị để xem số liệu.",
      edition: { vn63: "trước 7/2025", vn34: "từ 7/2025", vn: "" },
    },
    en: {
      title: "Gender equality dashboard",
      skip: "Skip to main content",
      signOut: "Sign out",
      signInTitle: "Sign in",
      signInHelp: "Use the client id and secret an administrator gave you. The page gets and renews its own access token.",
      clientId: "Client id",
      clientSecret: "Client secret",
      signIn: "Sign in",
      unit: "Unit",
      unitOptions: "Units found",
      unitHint: "Type the name of a commune, district or province (with or without diacritics)",
      period: "Period",
      THIS_YEAR: "This year", LAST_YEAR: "Last year", THIS_SCHOOL_YEAR: "This school year",
      LAST_SCHOOL_YEAR: "Last school year", LAST_4_QUARTERS: "Last 4 quarters",
      LAST_12_MONTHS: "Last 12 months", LAST_QUARTER: "Last quarter",
      customPeriod: "Another period…",
      customPeriodLabel: "Another period",
      structure: "Unit structure",
      asWas: "As it was at the time",
      vn34: "Restated onto today's units",
      programme: "Programme",
      allProgrammes: "All",
      show: "Show",
      share: "Copy link",
      shared: "The link to this view was copied.",
      cardsTitle: "Headline figures",
      sexTitle: "People reached by sex, per unit below",
      trendTitle: "Monthly trend",
      targetsTitle: "Targets and actual",
      completenessTitle: "Reporting completeness per unit below",
      ratingsTitle: "Community learning centre ratings",
      mapTitle: "Map: people reached per unit below",
      mapNote: "Circles sit at each unit's centre; their area is proportional to the figure. Coordinates: the vietnamadminunits package.",
      table: "Data table",
      footer: "Figures from the bdg reporting service. Charts: Apache ECharts (Apache License 2.0).",
      female: "Female", male: "Male", unknownSex: "Sex not recorded",
      femaleShare: "Female share",
      noShare: "No female share: some people have no sex recorded.",
      unitCol: "Unit", valueCol: "Value", monthCol: "Month", indicatorCol: "Indicator",
      periodCol: "Period", targetCol: "Target", actualCol: "Actual", pctCol: "Achieved (%)",
      reportedCol: "Reported", activitiesCol: "Activities", gradeCol: "Grade",
      approvedOnly: "Approved data only",
      approvedNote: "Approved data only.",
      approvalsTitle: "Approval state per unit below",
      chooseProgramme: "Choose a programme to see the approval state and deadlines.",
      stateCol: "State", lastStepCol: "Last step", byCol: "By", atCol: "At",
      hasDataCol: "Has data", deadlineCol: "Deadline", overdueCol: "Overdue",
      states: { open: "Not submitted", submitted: "Submitted", approved: "Approved", accepted: "Accepted" },
      actions: { submit: "Submit", approve: "Approve", accept: "Accept", reopen: "Reopen" },
      approvalsOf: (states, units, overdue, deadline) =>
        `${states.approved + states.accepted} of ${units} units approved or accepted, ${states.submitted} submitted, ${states.open} not submitted` +
        (deadline ? `; deadline ${deadline}, ${overdue} overdue` : "; no deadline for this period"),
      yes: "Yes", no: "No",
      noChildren: "This unit has no units below it in the period.",
      noData: "No figures in this period.",
      noTargets: "No targets for this unit and period.",
      noPoints: "No coordinates for these units.",
      loading: "Loading figures…",
      loaded: "Figures loaded.",
      rate: (reported, units, pct) => `${reported} of ${units} units reported (${pct} %)`,
      freshness: (when, age) => `Figures up to ${when}${age}`,
      behind: (count) => ` · ${count} events still to apply`,
      asOf: (when) => `Queried at ${when}`,
      expired: "Your session has expired; please sign in again.",
      badCredentials: "Wrong client id or secret.",
      registryDown: `The registry (${REGISTRY}) cannot be reached.`,
      fragmentToken: (when) => `Signed in by a wall-screen link, valid until ${when}.`,
      downloadLabel: (format, panel) => `Download ${panel} as ${format}`,
      grades: { excellent: "Excellent", good: "Good", average: "Average", weak: "Weak" },
      periodOf: (label, key) => `${label} (${key})`,
      chooseUnit: "Choose a unit to see its figures.",
      edition: { vn63: "until 7/2025", vn34: "from 7/2025", vn: "" },
    },
  };

  const state = {
    lang: "vi",
    token: null,
    expires: 0,
    credentials: null,
    renewTimer: null,
    fromFragment: false,
    unitId: null,
    unitName: null,
    period: "THIS_YEAR",
    structure: "as_was",
    programme: "",
    approval: "all",
    resolved: null,
    catalogue: {},
    exports: {},
    charts: {},
    generation: 0,
  };

  const $ = (id) => document.getElementById(id);
  const t = (key) => TEXT[state.lang][key];
  const locale = () => (state.lang === "vi" ? "vi-VN" : "en-GB");
  const number = (value) =>
    value === null || value === undefined ? "—" : new Intl.NumberFormat(locale()).format(value);
  // Tooltips are HTML: names come from provinces' data and are escaped.
  const escape = (text) =>
    String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const when = (iso) =>
    new Date(iso).toLocaleString(locale(), { dateStyle: "short", timeStyle: "short" });
  // A calendar day (deadlines), as it is in Vietnam.
  const day = (iso) =>
    new Date(`${iso}T12:00:00+07:00`).toLocaleDateString(locale(), {
      day: "2-digit", month: "2-digit", year: "numeric", timeZone: "Asia/Ho_Chi_Minh",
    });

  // --- language --------------------------------------------------------------------

  function applyLanguage() {
    document.documentElement.lang = state.lang;
    document.title = `${t("title")} — bdg`;
    for (const element of document.querySelectorAll("[data-i18n]")) {
      const text = t(element.dataset.i18n);
      if (typeof text === "string") element.textContent = text;
    }
    for (const element of document.querySelectorAll("[data-i18n-label]")) {
      element.setAttribute("aria-label", t(element.dataset.i18nLabel));
    }
    const toggle = $("language");
    toggle.textContent = state.lang === "vi" ? "English" : "Tiếng Việt";
    toggle.lang = state.lang === "vi" ? "en" : "vi";
    toggle.setAttribute("aria-label", toggle.textContent);
    renderDownloads();
  }

  function indicatorName(code) {
    const info = state.catalogue[code];
    if (!info) return code;
    return state.lang === "vi" ? info.name_vi : info.name;
  }

  function measureOf(code) {
    const info = state.catalogue[code];
    if (!info) return "";
    return state.lang === "vi" ? info.measure_vi : info.measure;
  }

  // --- the URL: every view is shareable ----------------------------------------------

  function readUrl() {
    const params = new URLSearchParams(location.search);
    state.unitId = params.get("unit_id") || null;
    state.period = params.get("period") || "THIS_YEAR";
    state.structure = params.get("structure") === "vn34" ? "vn34" : "as_was";
    state.programme = params.get("programme") || "";
    state.approval = params.get("approval") === "approved" ? "approved" : "all";
    state.lang = params.get("lang") === "en" ? "en" : "vi";
  }

  function writeUrl() {
    const params = new URLSearchParams();
    if (state.unitId) params.set("unit_id", state.unitId);
    params.set("period", state.period);
    if (state.structure !== "as_was") params.set("structure", state.structure);
    if (state.programme) params.set("programme", state.programme);
    if (state.approval === "approved") params.set("approval", "approved");
    if (state.lang !== "vi") params.set("lang", state.lang);
    history.replaceState(null, "", `${location.pathname}?${params}`);
  }

  // --- tokens ------------------------------------------------------------------------

  function claimsOf(token) {
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
    } catch (error) {
      return {};
    }
  }

  function useToken(token, fromFragment) {
    const claims = claimsOf(token);
    state.token = token;
    state.expires = (claims.exp || 0) * 1000;
    state.fromFragment = fromFragment;
    sessionStorage.setItem(TOKEN_KEY, token);
  }

  function tokenFromFragment() {
    // A fragment never reaches a server; it is removed from the address bar at once
    // so that the token is not copied along with a shared link.
    const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (!match) return null;
    history.replaceState(null, "", location.pathname + location.search);
    return decodeURIComponent(match[1]);
  }

  async function requestToken(clientId, secret) {
    const body = new URLSearchParams({
      grant_type: "client_credentials",
      client_id: clientId,
      client_secret: secret,
    });
    let response;
    try {
      response = await fetch(`${REGISTRY}/v1/oauth/token`, { method: "POST", body });
    } catch (error) {
      throw new Error(t("registryDown"));
    }
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error(response.status === 401 ? t("badCredentials") : answer.detail || t("registryDown"));
    }
    return answer;
  }

  async function signIn(clientId, secret) {
    const answer = await requestToken(clientId, secret);
    state.credentials = { clientId, secret };
    useToken(answer.access_token, false);
    scheduleRenewal(answer.expires_in);
  }

  function scheduleRenewal(seconds) {
    clearTimeout(state.renewTimer);
    // Renew a minute before expiry (at 80 % of a short lifetime).
    const delay = Math.max(Math.min(seconds - 60, seconds * 0.8), 5) * 1000;
    state.renewTimer = setTimeout(renew, delay);
  }

  async function renew() {
    if (!state.credentials) return false;
    try {
      const answer = await requestToken(state.credentials.clientId, state.credentials.secret);
      useToken(answer.access_token, false);
      scheduleRenewal(answer.expires_in);
      return true;
    } catch (error) {
      return false;
    }
  }

  function signOut(message) {
    clearTimeout(state.renewTimer);
    state.token = null;
    state.credentials = null;
    sessionStorage.removeItem(TOKEN_KEY);
    showSignIn(message || "");
  }

  // --- HTTP --------------------------------------------------------------------------

  class Refused extends Error {
    constructor(status, body) {
      super((body && (body.detail || body.title)) || `HTTP ${status}`);
      this.status = status;
    }
  }

  async function call(base, path, params, raw) {
    const url = `${base}${path}${params ? `?${new URLSearchParams(params)}` : ""}`;
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const response = await fetch(url, {
        headers: {
          Authorization: `Bearer ${state.token}`,
          "Accept-Language": state.lang,
        },
      });
      if (response.status === 401 && attempt === 0 && (await renew())) continue;
      if (response.status === 401) {
        signOut(t("expired"));
        throw new Refused(401, { detail: t("expired") });
      }
      if (!response.ok) throw new Refused(response.status, await response.json().catch(() => null));
      return raw ? response : response.json();
    }
    throw new Refused(401, { detail: t("expired") });
  }

  const api = (path, params) => call("", path, params, false);
  const registry = (path, params) => call(REGISTRY, path, params, false);

  function clean(params) {
    const kept = {};
    for (const [key, value] of Object.entries(params)) {
      if (value !== null && value !== undefined && value !== "") kept[key] = value;
    }
    return kept;
  }

  // --- sign-in and board -------------------------------------------------------------

  function showSignIn(message) {
    $("board").hidden = true;
    $("sign-out").hidden = true;
    $("sign-in").hidden = false;
    $("sign-in-message").textContent = message;
    $("client-id").focus();
  }

  async function showBoard() {
    $("sign-in").hidden = true;
    $("board").hidden = false;
    $("sign-out").hidden = false;
    if (state.fromFragment) $("status").textContent = t("fragmentToken")(when(state.expires));
    if (!Object.keys(state.catalogue).length) {
      const catalogue = await api("/v1/indicators");
      for (const item of catalogue.items) state.catalogue[item.code] = item;
      const programmes = await api("/v1/programmes");
      const select = $("programme");
      for (const programme of programmes.items) {
        const option = document.createElement("option");
        option.value = programme.code;
        option.textContent = `${programme.code} — ${programme.name_vi || programme.name}`;
        select.append(option);
      }
    }
    syncControls();
    await refresh();
  }

  function syncControls() {
    const preset = $("period-preset");
    const known = [...preset.options].some((option) => option.value === state.period);
    preset.value = known ? state.period : "custom";
    $("custom-period-field").hidden = known;
    if (!known) $("custom-period").value = state.period;
    $("structure").value = state.structure;
    $("programme").value = state.programme;
    $("approved-only").checked = state.approval === "approved";
  }

  function defaultUnit(periodEnd) {
    // A provincial client sees its own province (in the structure in force at the end
    // of the period), a national one the whole country: never a 403 by default.
    const provinces = claimsOf(state.token).provinces || [];
    if (provinces.includes("vn") || !provinces.length) return "vn";
    const edition = periodEnd >= "2025-07-01" ? "vn34" : "vn63";
    return provinces.find((unit) => unit.startsWith(`${edition}:`)) || provinces[0];
  }

  // --- the figures -------------------------------------------------------------------

  async function refresh() {
    const generation = (state.generation += 1);
    $("board").dataset.state = "loading";
    $("message").textContent = "";
    $("status").textContent = t("loading");
    writeUrl();
    let periods;
    try {
      periods = await api("/v1/periods", { period: state.period });
    } catch (error) {
      $("message").textContent = error.message;
      $("status").textContent = "";
      $("board").dataset.state = "failed";
      return;
    }
    const list = periods.periods;
    const first = list[0];
    const last = list[list.length - 1];
    const key = list.length === 1 ? first.period : `${first.start}..${last.end}`;
    state.resolved = { key, start: first.start, end: last.end };
    if (!state.unitId) state.unitId = defaultUnit(last.end);
    writeUrl();
    const base = clean({
      unit_id: state.unitId,
      period: key,
      structure: state.structure,
      programme: state.programme,
      approval: state.approval === "approved" ? "approved" : "",
    });
    state.exports = panelExports(base);
    renderDownloads();
    const presets = [...$("period-preset").options].map((option) => option.value);
    const periodText =
      (presets.includes(state.period) ? t("periodOf")(t(state.period), key) : key) +
      (state.approval === "approved" ? ` — ${t("approvedOnly").toLowerCase()}` : "");
    const tasks = [
      loadCards(base, periodText),
      loadSex(base),
      loadTrend(base),
      loadTargets(base),
      loadCompleteness(base),
      loadApprovals(base),
      loadRatings(base),
      loadMap(base),
      loadFreshness(),
    ];
    const outcomes = await Promise.allSettled(tasks);
    if (generation !== state.generation) return;
    const failed = outcomes.find((outcome) => outcome.status === "rejected");
    $("status").textContent = failed ? "" : t("loaded");
    if (failed && failed.reason.status !== 401) $("message").textContent = failed.reason.message;
    $("board").dataset.state = failed ? "failed" : "ready";
  }

  function panelExports(base) {
    const analytics = (indicator, by) => ["analytics", { ...base, indicator, by }];
    return {
      cards: ["summary", base],
      sex: analytics("people_reached", "child_unit,sex"),
      trend: analytics(TREND_INDICATORS.join(","), "month"),
      targets: ["targets", clean({ ...base, structure: "", include_below: "true" })],
      completeness: ["completeness", { parent: base.unit_id, period: base.period }],
      approvals: base.programme
        ? ["approvals", { programme: base.programme, period: base.period, unit_id: base.unit_id }]
        : null,
      ratings: analytics("learning_centre_ratings", "grade"),
      map: analytics("people_reached", "child_unit"),
    };
  }

  function renderDownloads() {
    for (const holder of document.querySelectorAll(".downloads")) {
      holder.replaceChildren();
      const panel = holder.dataset.panel;
      const title = holder.parentElement.querySelector("h3").textContent;
      for (const format of ["CSV", "XLSX"]) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "quiet";
        button.textContent = format;
        button.dataset.format = format.toLowerCase();
        button.setAttribute("aria-label", t("downloadLabel")(format, title));
        button.addEventListener("click", () => download(panel, format.toLowerCase(), button));
        holder.append(button);
      }
    }
  }

  async function download(panel, format, button) {
    const found = state.exports[panel];
    if (!found) return;
    const [report, params] = found;
    const query = format === "csv" && state.lang === "vi" ? { ...params, locale: "vi" } : params;
    button.disabled = true;
    try {
      const response = await call("", `/v1/exports/${report}.${format}`, query, true);
      const blob = await response.blob();
      const disposition = response.headers.get("Content-Disposition") || "";
      const name = (/filename="([^"]+)"/.exec(disposition) || [])[1] || `${report}.${format}`;
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = name;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 30000);
    } catch (error) {
      $("message").textContent = error.message;
    } finally {
      button.disabled = false;
    }
  }

  function table(holder, headers, rows) {
    const element = document.createElement("table");
    const head = element.createTHead().insertRow();
    for (const header of headers) {
      const cell = document.createElement("th");
      cell.scope = "col";
      cell.textContent = header;
      head.append(cell);
    }
    const body = element.createTBody();
    for (const row of rows) {
      const line = body.insertRow();
      for (const value of row) {
        line.insertCell().textContent = typeof value === "number" ? number(value) : value ?? "—";
      }
    }
    $(holder).replaceChildren(element);
  }

  function chart(id, option, description) {
    const element = $(id);
    element.setAttribute("aria-label", description);
    let instance = echarts.getInstanceByDom(element);
    if (!instance) {
      element.replaceChildren();
      instance = echarts.init(element, null, { renderer: "canvas" });
      state.charts[id] = instance;
    }
    instance.setOption(
      { aria: { enabled: true }, animation: false, textStyle: { fontFamily: "inherit" }, ...option },
      true,
    );
  }

  function empty(id, text) {
    const instance = echarts.getInstanceByDom($(id));
    if (instance) instance.dispose();
    const note = document.createElement("p");
    note.className = "empty";
    note.textContent = text;
    $(id).replaceChildren(note);
    $(id).setAttribute("aria-label", text);
  }

  async function loadCards(base, periodText) {
    const summary = await api("/v1/reports/summary", base);
    state.unitName = summary.unit_name || summary.unit_id;
    $("unit-search").value = state.unitName;
    $("view-title").textContent = `${state.unitName} — ${periodText}`;
    const items = Object.fromEntries(summary.items.map((item) => [item.indicator, item]));
    const cards = $("cards");
    cards.replaceChildren();
    for (const code of CARD_INDICATORS) {
      const item = items[code];
      if (!item) continue;
      const card = document.createElement("li");
      card.className = "card";
      card.dataset.indicator = code;
      const name = document.createElement("p");
      name.className = "name";
      name.textContent = indicatorName(code);
      const value = document.createElement("p");
      value.className = "value";
      value.textContent = number(item.value);
      const unit = document.createElement("span");
      unit.className = "unit";
      unit.textContent = ` ${measureOf(code)}`;
      value.append(unit);
      card.append(name, value);
      if (item.female !== null && item.female !== undefined) {
        const split = document.createElement("p");
        split.className = "split";
        const female = document.createElement("span");
        female.className = "female";
        female.textContent = `${t("female")} ${number(item.female)}`;
        const male = document.createElement("span");
        male.className = "male";
        male.textContent = `${t("male")} ${number(item.male)}`;
        split.append(female, " · ", male);
        const unknown = item.sex_unknown || 0;
        if (unknown) split.append(` · ${t("unknownSex")} ${number(unknown)}`);
        card.append(split);
        // A share is shown only where every person counted has a sex.
        if (!unknown && item.value > 0) {
          const share = (100 * item.female) / item.value;
          const text = document.createElement("p");
          text.className = "split share";
          text.textContent = `${t("femaleShare")}: ${number(Math.round(share * 10) / 10)} %`;
          const bar = document.createElement("div");
          bar.className = "bar";
          bar.setAttribute("aria-hidden", "true");
          const fill = document.createElement("span");
          fill.style.width = `${share}%`;
          bar.append(fill);
          card.append(text, bar);
        } else if (unknown) {
          const note = document.createElement("p");
          note.className = "split note";
          note.textContent = t("noShare");
          card.append(note);
        }
      }
      cards.append(card);
    }
  }

  async function loadSex(base) {
    const answer = await api("/v1/analytics", { ...base, indicator: "people_reached", by: "child_unit,sex" });
    const units = [];
    const values = {};
    for (const row of answer.rows) {
      if (!values[row.unit_id]) {
        values[row.unit_id] = { name: row.unit_name || row.unit_id, female: 0, male: 0, unknown: 0 };
        units.push(row.unit_id);
      }
      values[row.unit_id][row.sex === null ? "unknown" : row.sex] += row.value;
    }
    const title = t("sexTitle");
    if (!units.length) {
      empty("chart-sex", t("noChildren"));
      table("table-sex", [t("unitCol")], []);
      return;
    }
    const names = units.map((unit) => values[unit].name);
    $("chart-sex").style.height = `${Math.max(320, 60 + units.length * 30)}px`;
    chart(
      "chart-sex",
      {
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
        legend: { top: 0 },
        grid: { left: 8, right: 24, top: 32, bottom: 8, containLabel: true },
        xAxis: { type: "value" },
        yAxis: { type: "category", data: names, inverse: true },
        series: [
          { name: t("female"), type: "bar", stack: "sex", data: units.map((u) => values[u].female), itemStyle: { color: COLOURS.female } },
          { name: t("male"), type: "bar", stack: "sex", data: units.map((u) => values[u].male), itemStyle: { color: COLOURS.male } },
        ],
      },
      title,
    );
    table(
      "table-sex",
      [t("unitCol"), t("female"), t("male"), t("femaleShare")],
      units.map((unit) => {
        const row = values[unit];
        const total = row.female + row.male + row.unknown;
        const share = !row.unknown && total ? `${number(Math.round((1000 * row.female) / total) / 10)} %` : "—";
        return [row.name, row.female, row.male, share];
      }),
    );
  }

  async function loadTrend(base) {
    const answer = await api("/v1/analytics", { ...base, indicator: TREND_INDICATORS.join(","), by: "month" });
    const months = [];
    const series = {};
    for (const row of answer.rows) {
      if (!months.includes(row.month)) months.push(row.month);
      (series[row.indicator] = series[row.indicator] || []).push(row.value);
    }
    chart(
      "chart-trend",
      {
        tooltip: { trigger: "axis" },
        legend: { top: 0 },
        grid: { left: 8, right: 8, top: 40, bottom: 8, containLabel: true },
        xAxis: { type: "category", data: months },
        yAxis: [{ type: "value", name: measureOf("people_reached") }, { type: "value", name: measureOf("club_meetings") }],
        series: TREND_INDICATORS.map((code, index) => ({
          name: indicatorName(code),
          type: index === 0 ? "line" : "bar",
          yAxisIndex: index === 0 ? 0 : 1,
          data: series[code] || [],
          itemStyle: { color: [COLOURS.female, COLOURS.male, COLOURS.other][index] },
        })),
      },
      t("trendTitle"),
    );
    table(
      "table-trend",
      [t("monthCol"), ...TREND_INDICATORS.map(indicatorName)],
      months.map((month, index) => [month, ...TREND_INDICATORS.map((code) => (series[code] || [])[index])]),
    );
  }

  async function loadTargets(base) {
    const params = clean({
      unit_id: base.unit_id,
      period: base.period,
      programme: base.programme,
      approval: base.approval,
      include_below: "true",
    });
    const rows = await api("/v1/reports/targets", params);
    if (!rows.length) {
      empty("chart-targets", t("noTargets"));
      table("table-targets", [t("indicatorCol")], []);
      return;
    }
    const labels = rows.map((row) => `${indicatorName(row.indicator)} — ${row.unit_name || row.unit_id} — ${row.period}`);
    // Percent achieved, so that targets of different sizes compare; 100 % marked.
    $("chart-targets").style.height = `${Math.max(320, 60 + rows.length * 34)}px`;
    chart(
      "chart-targets",
      {
        tooltip: {
          trigger: "item",
          formatter: (item) => {
            const row = rows[item.dataIndex];
            return `${escape(labels[item.dataIndex])}<br>${t("targetCol")}: ${number(row.target)} · ${t("actualCol")}: ${number(row.actual)}`;
          },
        },
        grid: { left: 8, right: 96, top: 16, bottom: 8, containLabel: true },
        xAxis: { type: "value", name: "%", axisLabel: { formatter: "{value} %" } },
        yAxis: { type: "category", data: labels, inverse: true, axisLabel: { width: 260, overflow: "truncate" } },
        series: [
          {
            name: t("pctCol"),
            type: "bar",
            data: rows.map((row) => ({
              value: row.achieved_pct ?? 0,
              itemStyle: { color: (row.achieved_pct ?? 0) >= 100 ? COLOURS.other : "#b35c00" },
            })),
            label: {
              show: true,
              position: "right",
              formatter: (item) => {
                const row = rows[item.dataIndex];
                const pct = row.achieved_pct === null ? "—" : `${number(row.achieved_pct)} %`;
                return `${number(row.actual)}/${number(row.target)} (${pct})`;
              },
            },
            markLine: { silent: true, symbol: "none", data: [{ xAxis: 100 }], lineStyle: { color: "#1d2733", type: "dashed" } },
          },
        ],
      },
      t("targetsTitle"),
    );
    table(
      "table-targets",
      [t("indicatorCol"), t("unitCol"), t("periodCol"), t("targetCol"), t("actualCol"), t("pctCol")],
      rows.map((row) => [indicatorName(row.indicator), row.unit_name || row.unit_id, row.period, row.target, row.actual, row.achieved_pct]),
    );
  }

  async function loadCompleteness(base) {
    const report = await api("/v1/reports/completeness", { parent: base.unit_id, period: base.period });
    if (!report.items.length) {
      $("completeness-rate").textContent = "";
      empty("chart-completeness", t("noChildren"));
      table("table-completeness", [t("unitCol")], []);
      return;
    }
    $("completeness-rate").textContent = t("rate")(report.reported, report.units, number(report.rate_pct));
    $("chart-completeness").style.height = `${Math.max(320, 60 + report.items.length * 26)}px`;
    chart(
      "chart-completeness",
      {
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
        grid: { left: 8, right: 24, top: 16, bottom: 8, containLabel: true },
        xAxis: { type: "value" },
        yAxis: { type: "category", data: report.items.map((item) => item.name || item.unit_id), inverse: true },
        series: [
          {
            name: t("activitiesCol"),
            type: "bar",
            data: report.items.map((item) => ({
              value: item.activities,
              itemStyle: { color: item.reported ? COLOURS.other : COLOURS.unknown },
            })),
          },
        ],
      },
      `${t("completenessTitle")}: ${$("completeness-rate").textContent}`,
    );
    table(
      "table-completeness",
      [t("unitCol"), t("reportedCol"), t("activitiesCol")],
      report.items.map((item) => [item.name || item.unit_id, item.reported ? t("yes") : t("no"), item.activities]),
    );
  }

  async function loadApprovals(base) {
    if (!base.programme) {
      $("approvals-summary").textContent = t("chooseProgramme");
      $("table-approvals").replaceChildren();
      return;
    }
    const report = await api("/v1/reports/approvals", {
      programme: base.programme,
      period: base.period,
      unit_id: base.unit_id,
    });
    const deadline = report.deadline ? day(report.deadline) : null;
    $("approvals-summary").textContent = t("approvalsOf")(report.states, report.units, report.overdue, deadline);
    table(
      "table-approvals",
      [t("unitCol"), t("stateCol"), t("lastStepCol"), t("byCol"), t("atCol"), t("hasDataCol"), t("deadlineCol"), t("overdueCol")],
      report.items.map((item) => {
        const step = item.last_step;
        return [
          item.name || item.unit_id,
          t("states")[item.state] || item.state,
          step ? t("actions")[step.action] || step.action : null,
          step ? step.by : null,
          step ? when(step.at) : null,
          item.has_data ? t("yes") : t("no"),
          item.deadline ? day(item.deadline) : null,
          item.overdue ? t("overdueCol") : t("no"),
        ];
      }),
    );
    const rows = $("table-approvals").querySelectorAll("tbody tr");
    report.items.forEach((item, index) => {
      rows[index].dataset.unitId = item.unit_id;
      rows[index].dataset.state = item.state;
      if (item.overdue) rows[index].classList.add("overdue");
    });
  }

  async function loadRatings(base) {
    const answer = await api("/v1/analytics", { ...base, indicator: "learning_centre_ratings", by: "grade" });
    const total = answer.rows.reduce((sum, row) => sum + row.value, 0);
    const grades = answer.rows.map((row) => t("grades")[row.grade] || row.grade);
    if (!total) {
      empty("chart-ratings", t("noData"));
    } else {
      chart(
        "chart-ratings",
        {
          tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
          grid: { left: 8, right: 8, top: 16, bottom: 8, containLabel: true },
          xAxis: { type: "category", data: grades },
          yAxis: { type: "value" },
          series: [{ name: indicatorName("learning_centre_ratings"), type: "bar", data: answer.rows.map((row) => row.value), itemStyle: { color: COLOURS.other } }],
        },
        t("ratingsTitle"),
      );
    }
    table("table-ratings", [t("gradeCol"), t("valueCol")], answer.rows.map((row, index) => [grades[index], row.value]));
  }

  async function loadMap(base) {
    const answer = await api("/v1/analytics", { ...base, indicator: "people_reached", by: "child_unit" });
    if (!answer.rows.length) {
      empty("chart-map", t("noChildren"));
      table("table-map", [t("unitCol")], []);
      return;
    }
    const ids = answer.rows.map((row) => row.unit_id);
    const centroids = await api("/v1/geo/centroids", { unit_id: ids.join(",") });
    const points = Object.fromEntries(centroids.items.map((item) => [item.unit_id, item]));
    const largest = Math.max(1, ...answer.rows.map((row) => row.value));
    const data = answer.rows
      .filter((row) => points[row.unit_id] && points[row.unit_id].lat !== null)
      .map((row) => ({
        name: row.unit_name || row.unit_id,
        value: [points[row.unit_id].lon, points[row.unit_id].lat, row.value],
        // Names of the larger circles only, so that labels do not pile up.
        label: { show: row.value >= largest / 4 },
      }));
    if (!data.length) {
      empty("chart-map", t("noPoints"));
    } else {
      const lons = data.map((item) => item.value[0]);
      const lats = data.map((item) => item.value[1]);
      const pad = 0.15;
      chart(
        "chart-map",
        {
          tooltip: { trigger: "item", formatter: (item) => `${escape(item.name)}: ${number(item.value[2])}` },
          grid: { left: 8, right: 8, top: 8, bottom: 8, containLabel: true },
          xAxis: { type: "value", min: Math.min(...lons) - pad, max: Math.max(...lons) + pad, show: false, scale: true },
          yAxis: { type: "value", min: Math.min(...lats) - pad, max: Math.max(...lats) + pad, show: false, scale: true },
          series: [
            {
              type: "scatter",
              name: indicatorName("people_reached"),
              data,
              // Area, not radius, proportional to the value.
              symbolSize: (value) => (value[2] > 0 ? 8 + 48 * Math.sqrt(value[2] / largest) : 6),
              itemStyle: { color: "rgba(173, 20, 87, 0.55)", borderColor: COLOURS.female },
              label: { position: "right", formatter: (item) => item.name, color: "#1d2733" },
            },
          ],
        },
        t("mapTitle"),
      );
    }
    table(
      "table-map",
      [t("unitCol"), t("valueCol"), "lat", "lon"],
      answer.rows.map((row) => {
        const point = points[row.unit_id] || {};
        return [row.unit_name || row.unit_id, row.value, point.lat ?? "—", point.lon ?? "—"];
      }),
    );
  }

  async function loadFreshness() {
    const answer = await api("/v1/freshness");
    const times = answer.streams.map((stream) => stream.last_event_time).filter(Boolean).sort();
    const pending = answer.streams.reduce((sum, stream) => sum + (stream.pending || 0), 0);
    const behind = pending ? t("behind")(pending) : "";
    $("freshness").textContent = times.length
      ? t("freshness")(when(times[times.length - 1]), behind)
      : t("asOf")(when(answer.checked_at));
  }

  // --- the unit picker ---------------------------------------------------------------

  const names = new Map();
  let searchTimer = null;
  let options = [];
  let active = -1;

  async function unitName(id) {
    if (!names.has(id)) names.set(id, registry(`/v1/units/${encodeURIComponent(id)}`).catch(() => null));
    return names.get(id);
  }

  async function whereIs(unit) {
    // The district and province a unit lies in, shown under its name.
    const parts = [];
    let parent = unit.parent_id;
    while (parent && parent !== "vn" && parts.length < 3) {
      const found = await unitName(parent);
      if (!found) break;
      parts.push(found.name);
      parent = found.parent_id;
    }
    const edition = TEXT[state.lang].edition[unit.edition] || "";
    return [parts.join(", "), edition].filter(Boolean).join(" · ");
  }

  async function search(text) {
    const list = $("unit-options");
    if (text.trim().length < 2) {
      closeOptions();
      return;
    }
    let found;
    try {
      found = await registry("/v1/units", { q: text.trim(), limit: 15 });
    } catch (error) {
      $("message").textContent = error.message;
      return;
    }
    const rows = await Promise.all(found.items.map(async (unit) => ({ unit, where: await whereIs(unit) })));
    if ($("unit-search").value !== text) return;
    options = rows;
    active = -1;
    list.replaceChildren();
    rows.forEach(({ unit, where }, index) => {
      const item = document.createElement("li");
      item.id = `unit-option-${index}`;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", "false");
      item.dataset.unitId = unit.id;
      item.textContent = unit.name;
      const detail = document.createElement("span");
      detail.className = "where";
      detail.textContent = where;
      item.append(detail);
      item.addEventListener("mousedown", (event) => {
        event.preventDefault();
        choose(index);
      });
      list.append(item);
    });
    list.hidden = !rows.length;
    $("unit-search").setAttribute("aria-expanded", String(!list.hidden));
  }

  function closeOptions() {
    $("unit-options").hidden = true;
    $("unit-search").setAttribute("aria-expanded", "false");
    $("unit-search").removeAttribute("aria-activedescendant");
  }

  function highlight(index) {
    const items = [...$("unit-options").children];
    items.forEach((item, position) => item.setAttribute("aria-selected", String(position === index)));
    active = index;
    if (items[index]) {
      $("unit-search").setAttribute("aria-activedescendant", items[index].id);
      items[index].scrollIntoView({ block: "nearest" });
    }
  }

  function choose(index) {
    const chosen = options[index];
    if (!chosen) return;
    state.unitId = chosen.unit.id;
    state.unitName = chosen.unit.name;
    $("unit-search").value = chosen.unit.name;
    closeOptions();
    refresh();
  }

  // --- wiring ------------------------------------------------------------------------

  function wire() {
    $("sign-in-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = event.target.querySelector("button");
      button.disabled = true;
      $("sign-in-message").textContent = "";
      try {
        await signIn($("client-id").value.trim(), $("client-secret").value);
        $("client-secret").value = "";
        await showBoard();
      } catch (error) {
        $("sign-in-message").textContent = error.message;
      } finally {
        button.disabled = false;
      }
    });
    $("sign-out").addEventListener("click", () => signOut(""));
    $("language").addEventListener("click", () => {
      state.lang = state.lang === "vi" ? "en" : "vi";
      applyLanguage();
      writeUrl();
      if (state.token && !$("board").hidden) refresh();
    });
    $("period-preset").addEventListener("change", () => {
      const custom = $("period-preset").value === "custom";
      $("custom-period-field").hidden = !custom;
      if (custom) {
        $("custom-period").focus();
        return;
      }
      state.period = $("period-preset").value;
      refresh();
    });
    $("custom-period").addEventListener("change", () => {
      const value = $("custom-period").value.trim();
      if (value) {
        state.period = value;
        refresh();
      }
    });
    $("structure").addEventListener("change", () => {
      state.structure = $("structure").value;
      refresh();
    });
    $("programme").addEventListener("change", () => {
      state.programme = $("programme").value;
      refresh();
    });
    $("approved-only").addEventListener("change", () => {
      state.approval = $("approved-only").checked ? "approved" : "all";
      refresh();
    });
    $("controls").addEventListener("submit", (event) => {
      event.preventDefault();
      if ($("period-preset").value === "custom" && $("custom-period").value.trim()) {
        state.period = $("custom-period").value.trim();
      }
      refresh();
    });
    $("share").addEventListener("click", async () => {
      writeUrl();
      try {
        await navigator.clipboard.writeText(location.href);
        $("status").textContent = t("shared");
      } catch (error) {
        $("status").textContent = location.href;
      }
    });
    const input = $("unit-search");
    input.addEventListener("input", () => {
      clearTimeout(searchTimer);
      const text = input.value;
      searchTimer = setTimeout(() => search(text), 250);
    });
    input.addEventListener("keydown", (event) => {
      const open = !$("unit-options").hidden;
      if (event.key === "ArrowDown" && open) {
        event.preventDefault();
        highlight(Math.min(active + 1, options.length - 1));
      } else if (event.key === "ArrowUp" && open) {
        event.preventDefault();
        highlight(Math.max(active - 1, 0));
      } else if (event.key === "Enter" && open && active >= 0) {
        event.preventDefault();
        choose(active);
      } else if (event.key === "Escape") {
        closeOptions();
      }
    });
    input.addEventListener("blur", () => setTimeout(closeOptions, 150));
    window.addEventListener("resize", () => {
      for (const instance of Object.values(state.charts)) if (!instance.isDisposed()) instance.resize();
    });
    setInterval(() => {
      if (state.token && !$("board").hidden && document.visibilityState === "visible") refresh();
    }, REFRESH_MS);
  }

  async function start() {
    readUrl();
    applyLanguage();
    wire();
    const fragment = tokenFromFragment();
    if (fragment) {
      useToken(fragment, true);
    } else {
      const kept = sessionStorage.getItem(TOKEN_KEY);
      if (kept && claimsOf(kept).exp * 1000 > Date.now() + 5000) useToken(kept, false);
    }
    if (!state.token) {
      showSignIn("");
      return;
    }
    try {
      await showBoard();
    } catch (error) {
      if (error.status !== 401) $("message").textContent = error.message;
    }
  }

  start();
})();
