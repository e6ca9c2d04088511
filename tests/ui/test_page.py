"""The web page in a real Chromium against a real aggregator, real beacons and faulty members.

See :mod:`tests.ui.network` for the network and the answers it gives. With
``BEACON_UI_SCREENSHOTS=<folder>`` the tests also save PNGs of the main states there
(``docs/screenshots`` holds the committed ones).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.ui.network import Network, running_network

pytestmark = pytest.mark.browser

QUERY = "chr17:43045712 T>C"
SHOTS = os.environ.get("BEACON_UI_SCREENSHOTS")

# Records, in the page, every row as it is put in the table and when the summary is final, so
# a test can check that rows arrived before the network's answer was complete.
RECORD_ARRIVALS = """
() => {
  window.arrivals = [];
  const body = document.getElementById('answers-body');
  new MutationObserver((mutations) => {
    for (const m of mutations) for (const node of m.addedNodes) {
      if (node.nodeType === 1 && node.dataset.status) {
        window.arrivals.push(`${node.dataset.member}:${node.dataset.status}`);
      }
    }
  }).observe(body, {childList: true});
  new MutationObserver(() => {
    const state = document.getElementById('summary').dataset.state;
    if (state && state !== 'progress') window.arrivals.push(`summary:${state}`);
  }).observe(document.getElementById('summary'), {attributes: true});
}
"""


@pytest.fixture(scope="module")
async def network(
    pg_admin_dsn: str, template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Network]:
    folder = tmp_path_factory.mktemp("ui-network")
    async with running_network(pg_admin_dsn, template_database, folder) as net:
        yield net


async def shot(page: Any, name: str) -> None:
    if SHOTS:  # Playwright creates the folder
        await page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


async def final_summary(page: Any) -> str:
    # A freshly loaded page has no data-state yet (its search starts once the member details
    # are in), so wait for a search that has started and finished.
    await page.wait_for_selector("#summary[data-state]:not([data-state=progress])")
    text: str = await page.inner_text("#summary")
    return text


async def row(page: Any, member: str) -> dict[str, str]:
    """The visible cells of a member's first row, by column label."""
    cells: dict[str, str] = await page.eval_on_selector(
        f"#answers-body tr[data-member='{member}']",
        "tr => Object.fromEntries([...tr.children]"
        "  .map(c => [c.dataset.label, c.innerText.trim()]))",
    )
    return cells


async def test_a_search_shows_every_site_as_it_answers(network: Network, page: Any) -> None:
    await page.goto(f"{network.url}/")
    # The network's name arrives from /info after the page has loaded.
    await page.wait_for_function(
        "document.title === 'Search the network \u00b7 Test network'", polling=50
    )
    await page.evaluate(RECORD_ARRIVALS)
    await page.fill("#q", QUERY)
    await page.press("#q", "Enter")

    summary = await final_summary(page)
    assert "Seen at 1 of 5 sites; 2 did not answer; 1 not applicable." in summary
    assert await page.get_attribute("#summary", "data-state") == "yes"

    a = await row(page, "hospital-a")
    assert a["Site"] == "Hospital A"
    assert "Yes" in a["Seen?"]
    b = await row(page, "registry-b")
    assert "No" in b["Seen?"]
    c = await row(page, "archive-c")
    assert "Not applicable" in c["Seen?"]
    assert c["Details"].startswith("Not applicable: other assembly")
    slow = await row(page, "slow")
    assert "Unknown" in slow["Seen?"]
    assert slow["Details"] == "Site did not answer in time"
    dead = await row(page, "dead")
    assert "Unknown" in dead["Seen?"]
    assert dead["Details"].startswith("Site unavailable")

    # Screen readers hear the verdict in words, not a symbol or a colour.
    spoken = await page.eval_on_selector_all(
        "#answers-body .badge .visually-hidden", "els => els.map(e => e.textContent)"
    )
    assert {"Yes, seen here", "No, not seen here", "Unknown, no answer"} <= set(spoken)

    # Rows arrived one by one: every other site was shown before the slow one gave up, and
    # all before the summary.
    arrivals: list[str] = await page.evaluate("window.arrivals")
    assert arrivals[-1] == "summary:yes"
    timeout_at = arrivals.index("slow:timeout")
    for member in ("hospital-a", "registry-b", "archive-c", "dead"):
        assert min(i for i, a in enumerate(arrivals) if a.startswith(f"{member}:")) < timeout_at
    assert [a for a in arrivals if a.endswith(":waiting")] == [
        f"{m}:waiting" for m in network.member_names
    ]

    # The URL holds the query as typed.
    params = parse_qs(urlsplit(page.url).query)
    assert params == {"q": [QUERY], "assembly": ["GRCh38"]}
    await shot(page, "search-results")


async def test_bad_input_gets_a_message_and_nothing_is_sent(network: Network, page: Any) -> None:
    await page.goto(f"{network.url}/search")
    streams: list[str] = []
    page.on("request", lambda r: streams.append(r.url) if "g_variants" in r.url else None)
    await page.fill("#q", "17-43045712-T-X")
    await page.click("#search-button")
    error = page.locator("#q-error")
    await error.wait_for(state="visible")
    assert "only the bases A, C, G, T and N" in await error.inner_text()
    assert await page.get_attribute("#q", "aria-invalid") == "true"
    assert await page.evaluate("document.activeElement.id") == "q"
    assert await page.locator("#results").is_hidden()
    await shot(page, "search-error")

    # Typing again clears the message.
    await page.fill("#q", "17-43045712-T-C")
    assert await error.is_hidden()
    assert streams == []


async def test_the_network_refusing_a_search_is_explained_next_to_the_box(
    network: Network, page: Any
) -> None:
    # Readable to the page, refused by the network: a genomic HGVS deletion the beacons
    # consider too long to search as one allele.
    await page.goto(f"{network.url}/search")
    await page.fill("#q", "NC_000017.11:g.1_5000000del")
    await page.press("#q", "Enter")
    error = page.locator("#q-error")
    await error.wait_for(state="visible")
    text = await error.inner_text()
    assert text.startswith("The network did not accept this search:"), text
    assert "genomicAlleleShortForm" in text


async def test_a_shared_link_runs_its_search(network: Network, page: Any) -> None:
    await page.goto(f"{network.url}/?q=17-43045712-T-C&assembly=GRCh38")
    assert "Seen at 1 of 5 sites" in await final_summary(page)
    assert await page.input_value("#q") == "17-43045712-T-C"
    assert "Yes" in (await row(page, "hospital-a"))["Seen?"]

    # GRCh37 coordinates of the same variant: only the GRCh37 site applies.
    await page.goto(f"{network.url}/?q=17-41197695-T-C&assembly=GRCh37")
    await final_summary(page)
    assert await page.input_value("#assembly") == "GRCh37"
    assert "Yes" in (await row(page, "archive-c"))["Seen?"]
    assert "other assembly" in (await row(page, "hospital-a"))["Details"]

    # A search typed on the page is pushed to the history; Back runs the previous one again.
    await page.fill("#q", "17-43045712-T-G")
    await page.select_option("#assembly", "GRCh38")
    await page.press("#q", "Enter")
    await page.wait_for_url(re.compile(r"T-G"))
    await final_summary(page)
    b = await row(page, "registry-b")
    assert "Yes" in b["Seen?"]
    # Registry B's policy lets anyone see its counts: 2 of 100 alleles.
    assert b["Count"] == "1 record"
    assert b["Allele frequency"].startswith("0.02")
    await shot(page, "search-frequency")
    await page.go_back()
    await page.wait_for_url(re.compile(r"assembly=GRCh37"))
    assert await page.input_value("#q") == "17-41197695-T-C"
    await final_summary(page)
    assert "Yes" in (await row(page, "archive-c"))["Seen?"]


async def test_range_links_count_positions_from_one(network: Network, page: Any) -> None:
    # 1-based and inclusive at both ends: the variant at 43,045,712 is inside
    # 43,045,712..43,045,712 and outside 43,045,713..43,045,800.
    await page.goto(f"{network.url}/?mode=range&chr=17&from=43045712&to=43045712")
    # The page fills the form from the URL once the member details are in (or after at
    # most a second), so wait for that state rather than reading it at once.
    await page.wait_for_selector("#advanced[open]")
    assert await page.input_value("#adv-from") == "43045712"
    await final_summary(page)
    assert "Yes" in (await row(page, "hospital-a"))["Seen?"]
    await page.goto(f"{network.url}/?mode=range&chr=17&from=43045713&to=43045800&type=SNP")
    await final_summary(page)
    assert "No" in (await row(page, "hospital-a"))["Seen?"]
    await shot(page, "advanced-range")


async def test_a_bracket_search_from_the_advanced_form(network: Network, page: Any) -> None:
    # Hospital A holds chr17:43057051 ACTG>A: the deleted bases are 43,057,052..43,057,054.
    await page.goto(f"{network.url}/search")
    await page.click("#advanced summary")
    assert await page.locator("#adv-startFrom").is_hidden()
    await page.check("input[name=mode][value=bracket]")
    assert await page.locator("#adv-from").is_hidden()
    await page.fill("#adv-chromosome", "chr17")
    await page.fill("#adv-startFrom", "43057050")
    await page.fill("#adv-startTo", "43057055")
    await page.fill("#adv-endFrom", "43057050")
    await page.fill("#adv-endTo", "43057054")
    await page.select_option("#adv-variantType", "DEL")
    await page.click("#advanced-button")
    await final_summary(page)
    assert "Yes" in (await row(page, "hospital-a"))["Seen?"]
    params = parse_qs(urlsplit(page.url).query)
    assert params["mode"] == ["bracket"]
    assert params["startFrom"] == ["43057050"]
    assert params["type"] == ["DEL"]
    # The last deleted base is 43,057,054: a window ending before it finds nothing.
    await page.fill("#adv-endTo", "43057053")
    await page.click("#advanced-button")
    await page.wait_for_url(re.compile(r"endTo=43057053"))
    await final_summary(page)
    assert "No" in (await row(page, "hospital-a"))["Seen?"]
    # A field left wrong is named and focused; nothing is sent.
    await page.fill("#adv-startTo", "1")
    await page.click("#advanced-button")
    await page.locator("#adv-error").wait_for(state="visible")
    assert "latest start is before the earliest start" in await page.inner_text("#adv-error")
    assert await page.evaluate("document.activeElement.id") == "adv-startTo"


async def test_keyboard_only_search_on_a_narrow_screen(network: Network, browser: Any) -> None:
    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        page = await context.new_page()
        await page.goto(f"{network.url}/search")
        # Every form control has a label.
        unlabelled = await page.eval_on_selector_all(
            "input:not([type=hidden]), select",
            "els => els.filter(e => e.labels.length === 0).map(e => e.id || e.name)",
        )
        assert unlabelled == []
        # Tab from the top of the page reaches the box; the focus is visible.
        for _ in range(10):
            await page.keyboard.press("Tab")
            if await page.evaluate("document.activeElement.id") == "q":
                break
        assert await page.evaluate("document.activeElement.id") == "q"
        outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline == "solid"
        await page.keyboard.type("17:43045712:T:C")
        await page.keyboard.press("Enter")
        assert "Seen at 1 of 5 sites" in await final_summary(page)
        # The table is laid out as one card per row, nothing wider than the screen.
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390
        display = await page.eval_on_selector(
            "#answers-body tr", "tr => getComputedStyle(tr).display"
        )
        assert display == "block"
        await shot(page, "search-results-narrow")
    finally:
        await context.close()


async def test_the_network_page_lists_every_member(network: Network, page: Any) -> None:
    await page.goto(f"{network.url}/network")
    await page.wait_for_selector("#members li[data-member]")
    ids = await page.eval_on_selector_all(
        "#members li[data-member]", "els => els.map(e => e.dataset.member)"
    )
    assert ids == list(network.member_names)
    hospital = page.locator("li[data-member='hospital-a']")
    text = await hospital.inner_text()
    assert "Up" in text
    assert "GRCh38" in text
    assert "Hospital A genomes" in text
    assert "Public" in text
    dead = await page.locator("li[data-member='dead']").inner_text()
    assert "Down" in dead
    assert "connection refused" in dead
    archive = await page.locator("li[data-member='archive-c']").inner_text()
    assert "GRCh37" in archive
    status = await page.inner_text("#network-status")
    assert status.startswith("4 of 5 sites up")
    await shot(page, "network")


async def test_api_clients_still_get_json_at_the_root(network: Network, page: Any) -> None:
    response = await page.request.get(f"{network.url}/", headers={"Accept": "application/json"})
    assert response.ok
    body = await response.json()
    assert body["response"]["name"] == "Test network"
