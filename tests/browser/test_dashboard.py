"""The dashboard in Debian's Chromium, driven by Playwright, on the `make up` demo data.

A person signs in with a client id and secret, picks Hữu Lũng with the keyboard,
changes the period to 2023 and sees the demo's figures (257 club members, 154 of them
girls) in the cards and the charts, downloads a panel, opens a shared link on a wall
screen (`#token=`), switches to English and uses the page on a phone. Screenshots are
kept in `$BDG_TEST_ARTIFACTS` (default `.data/test-artifacts/`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.browser.served import Served, admin_token, demo_stack
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("BDG_TEST_ARTIFACTS") or ROOT / ".data" / "test-artifacts")
HUU_LUNG = "vn63:186"


@pytest.fixture
def served(mongo: MongoBackend, nats_server: NatsServer) -> Iterator[Served]:
    with demo_stack(mongo, nats_server.url) as stack:
        yield stack


@pytest.fixture
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `make test` installs it"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def api(served: Served, token: str, path: str, **params: str) -> Any:
    query = urllib.parse.urlencode(params)
    request = urllib.request.Request(
        f"{served.urls['reporting']}{path}?{query}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_ready(page: Page) -> None:
    expect(page.locator("#board")).to_have_attribute("data-state", "ready", timeout=20_000)


def series(page: Page, chart: str) -> list[dict[str, Any]]:
    """The data a chart was drawn with, read from its ECharts instance."""
    found: list[dict[str, Any]] = page.evaluate(
        "(id) => echarts.getInstanceByDom(document.getElementById(id)).getOption().series"
        ".map((s) => ({name: s.name, data: s.data}))",
        chart,
    )
    return found


def fits_the_width(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def card(page: Page, indicator: str) -> str:
    return page.locator(f'#cards [data-indicator="{indicator}"]').inner_text()


def test_a_person_signs_in_picks_a_unit_and_a_period_and_downloads_a_panel(
    served: Served, browser: Browser, tmp_path: Path
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    token = admin_token(served.urls["registry"])
    figures = api(served, token, "/v1/reports/summary", unit_id=HUU_LUNG, period="2023")
    expected = {item["indicator"]: item for item in figures["items"]}
    assert (expected["club_members"]["female"], expected["club_members"]["male"]) == (154, 103)

    context = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    page = context.new_page()
    origins: set[str] = set()
    page.on("request", lambda request: origins.add(_origin(request.url)))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Console errors include Content-Security-Policy violations and failed loads.
    page.on("console", lambda message: errors.extend([message.text] * (message.type == "error")))

    # Sign in with the client's id and secret: the page gets its own token.
    page.goto(f"{served.urls['reporting']}/dashboard")
    expect(page.get_by_role("heading", name="Đăng nhập")).to_be_visible()
    page.get_by_label("Mã ứng dụng (client id)").fill(served.admin_id)
    page.get_by_label("Khóa bí mật (client secret)").fill(served.admin_secret)
    page.get_by_role("button", name="Đăng nhập").click()
    wait_ready(page)
    assert "unit_id=vn&" in page.url  # a national client starts with the whole country

    # Pick Hữu Lũng with the keyboard: its province is shown under its name.
    search = page.get_by_role("combobox", name="Đơn vị", exact=True)
    search.fill("huu lung")
    option = page.locator(f'#unit-options [role="option"][data-unit-id="{HUU_LUNG}"]')
    expect(option).to_contain_text("Tỉnh Lạng Sơn")
    ids = page.locator('#unit-options [role="option"]').evaluate_all(
        "(items) => items.map((item) => item.dataset.unitId)"
    )
    for _ in range(ids.index(HUU_LUNG) + 1):
        search.press("ArrowDown")
    search.press("Enter")
    wait_ready(page)

    # Change the period to the school year 2023 … then to the year 2023.
    page.get_by_label("Kỳ báo cáo").select_option("custom")
    page.get_by_label("Kỳ khác").fill("2023")
    page.get_by_label("Kỳ khác").press("Enter")
    expect(page.locator("#view-title")).to_have_text("Huyện Hữu Lũng — 2023")
    wait_ready(page)
    assert f"unit_id={urllib.parse.quote(HUU_LUNG)}&period=2023" in page.url

    # Cards: the demo's 257 members, 154 girls, and a female share only where every
    # person has a sex (children supported have none).
    members = card(page, "club_members")
    assert "257" in members
    assert "Nữ 154" in members
    assert "Nam 103" in members
    assert "Tỷ lệ nữ: 59,9 %" in members
    people = expected["people_reached"]
    assert f"{people['value']:,}".replace(",", ".") in card(page, "people_reached")
    support = card(page, "support_recipients")
    assert "Tỷ lệ nữ" not in support
    assert "Không tính tỷ lệ nữ" in support

    # Charts drawn on canvas with the same figures.
    for chart in ("chart-sex", "chart-trend", "chart-targets", "chart-completeness", "chart-map"):
        assert page.locator(f"#{chart} canvas").count() >= 1, chart
    by_sex = {item["name"]: sum(item["data"]) for item in series(page, "chart-sex")}
    assert by_sex == {"Nữ": people["female"], "Nam": people["male"]}
    trend = next(
        item for item in series(page, "chart-trend") if item["name"] == "Số buổi truyền thông"
    )
    assert sum(trend["data"]) == expected["communication_sessions"]["value"] == 30
    # The plan's 250 members, against 257: 102.8 % achieved.
    (achieved,) = series(page, "chart-targets")
    assert 102.8 in [point["value"] for point in achieved["data"]]
    plan_table = page.locator("#table-targets").text_content() or ""
    assert "Số thành viên câu lạc bộ" in plan_table
    assert "250257102,8" in plan_table
    circles = series(page, "chart-map")[0]["data"]
    assert len(circles) > 10
    assert fits_the_width(page)
    page.screenshot(path=str(ARTIFACTS / "dashboard-huu-lung-2023.png"), full_page=True)

    # Download a panel: the cards as XLSX, the sex chart as CSV for Vietnamese Excel.
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Tải Số liệu chính dạng XLSX").click()
    workbook = tmp_path / downloading.value.suggested_filename
    downloading.value.save_as(workbook)
    sheet = load_workbook(workbook).active
    assert sheet["A1"].value == "Tổng hợp chỉ tiêu — Huyện Hữu Lũng — 2023"
    rows = {row[0]: row for row in sheet.iter_rows(min_row=3, values_only=True)}
    assert rows["club_members"][6:9] == (257, 154, 103)
    with page.expect_download() as downloading:
        page.locator('[data-panel="sex"] button[data-format="csv"]').click()
    text = Path(downloading.value.path()).read_text(encoding="utf-8-sig")
    lines = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert lines[0][:3] == ["Mã chỉ tiêu", "Tên chỉ tiêu", "Thuộc đơn vị"]
    assert sum(int(line[7]) for line in lines[1:]) == people["value"]

    # Nothing came from anywhere but reporting and the registry.
    assert origins <= {served.urls["reporting"], served.urls["registry"], "data:", "blob:"}
    assert not errors

    # A wall screen opens the shared view with a token in the fragment.
    shared = page.url
    wall = context.new_page()
    wall.goto(f"{shared}#token={token}")
    wait_ready(wall)
    expect(wall.locator("#view-title")).to_have_text("Huyện Hữu Lũng — 2023")
    assert "token" not in wall.url
    assert "257" in card(wall, "club_members")

    # English, and a phone.
    wall.get_by_role("button", name="English").click()
    wait_ready(wall)
    expect(wall.get_by_role("heading", level=1)).to_have_text("Gender equality dashboard")
    assert "Female share: 59.9 %" in card(wall, "club_members")
    assert "lang=en" in wall.url
    wall.set_viewport_size({"width": 390, "height": 844})
    wall.wait_for_timeout(300)
    assert fits_the_width(wall)
    wall.screenshot(path=str(ARTIFACTS / "dashboard-phone-en.png"), full_page=True)

    # Every field has a label; every button a name.
    unlabelled = wall.evaluate(
        "[...document.querySelectorAll('input, select')]"
        ".filter((e) => !e.closest('[hidden]') && !e.labels.length).map((e) => e.id)"
    )
    assert unlabelled == []
    nameless = wall.evaluate(
        "[...document.querySelectorAll('button')].filter((b) => !b.textContent.trim()"
        " && !b.getAttribute('aria-label')).length"
    )
    assert nameless == 0
    context.close()


def _origin(url: str) -> str:
    if url.startswith(("data:", "blob:")):
        return url.split(":", 1)[0] + ":"
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_approved_only_toggle_and_the_approval_table(served: Served, browser: Browser) -> None:
    """Nothing of the demo is approved yet: with the toggle, the figures drop to zero
    and the link says so; the approval table lists Hữu Lũng's communes as not submitted
    and, the demo's 2023 deadline (31 January 2024) long past, overdue."""
    token = admin_token(served.urls["registry"])
    everything = api(served, token, "/v1/reports/summary", unit_id=HUU_LUNG, period="2023")
    people = next(i for i in everything["items"] if i["indicator"] == "people_reached")
    assert people["value"] > 0
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    view = f"unit_id={urllib.parse.quote(HUU_LUNG)}&period=2023&programme=P8"
    page.goto(f"{served.urls['reporting']}/dashboard?{view}#token={token}")
    wait_ready(page)
    assert f"{people['value']:,}".replace(",", ".") in card(page, "people_reached")

    toggle = page.get_by_role("checkbox", name="Chỉ số liệu đã phê duyệt")
    expect(toggle).not_to_be_checked()
    toggle.check()
    wait_ready(page)
    assert "approval=approved" in page.url
    expect(page.locator("#view-title")).to_contain_text("chỉ số liệu đã phê duyệt")
    approved = api(
        served, token, "/v1/reports/summary", unit_id=HUU_LUNG, period="2023", approval="approved"
    )
    assert all(item["value"] == 0 for item in approved["items"])
    assert f"{people['value']:,}".replace(",", ".") not in card(page, "people_reached")

    report = api(
        served, token, "/v1/reports/approvals", programme="P8", period="2023", unit_id=HUU_LUNG
    )
    rows = page.locator("#table-approvals tbody tr")
    expect(rows).to_have_count(report["units"])
    assert report["units"] > 0
    first = rows.first
    expect(first).to_have_attribute("data-state", "open")
    expect(first).to_contain_text("Chưa gửi")
    expect(first).to_contain_text("31/01/2024")
    expect(page.locator("#table-approvals tr.overdue")).to_have_count(report["overdue"])
    expect(page.locator("#approvals-summary")).to_contain_text(
        f"{report['overdue']} đơn vị quá hạn"
    )

    # Back to all data; the shared link keeps the toggle.
    page.goto(f"{served.urls['reporting']}/dashboard?{view}&approval=approved#token={token}")
    wait_ready(page)
    toggle = page.get_by_role("checkbox", name="Chỉ số liệu đã phê duyệt")
    expect(toggle).to_be_checked()
    toggle.uncheck()
    wait_ready(page)
    assert "approval=" not in page.url
    assert f"{people['value']:,}".replace(",", ".") in card(page, "people_reached")
    assert not errors
    context.close()
