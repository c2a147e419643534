"""The dashboard in a real headless browser (Debian's chromium + chromedriver, driven by Selenium).

The test starts a 4-node network (each node its own process, every node serving Prometheus metrics),
serves the dashboard for it, opens the page, finds every node and link of the topology in the DOM,
starts a teleport from the page's form and waits for its result to appear; it saves a screenshot in
the test's temporary directory (and in $QNET_SCREENSHOT_DIR when set). Without a browser the test is
skipped saying why, unless $QNET_REQUIRE_BROWSER=1 (CI sets it), where that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from pathlib import Path

import pytest

from qemu_net.client import Network
from qemu_net.node.launcher import LocalNetwork
from qemu_net.dashboard import Dashboard
from qemu_net.network.topology import parse_topology

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

TOPO = parse_topology({
    "name": "lab4",
    "nodes": ["alice", "repeater", "bob", "charlie"],
    "links": [
        {"nodes": ["alice", "repeater"], "length_km": 5, "source_fidelity": 0.98},
        {"nodes": ["repeater", "bob"], "length_km": 5, "source_fidelity": 0.98},
        {"nodes": ["repeater", "charlie"], "length_km": 8},
    ],
    "classical_links": [{"nodes": ["alice", "bob"], "length_km": 10}],
})


def _browser_or_skip():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (pip install -e '.[test]')")
    if missing:
        why = f"no browser for the dashboard test: missing {', '.join(missing)} (apt-get install chromium chromium-driver)"
        if os.environ.get("QNET_REQUIRE_BROWSER") == "1":
            pytest.fail(why)
        pytest.skip(why)


@pytest.fixture
def driver(tmp_path):
    _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", f"--user-data-dir={tmp_path / 'chromium-profile'}",
                "--no-first-run", "--disable-extensions", "--disable-background-networking"):
        opts.add_argument(arg)
    # The driver path is explicit, so Selenium Manager never runs (and never downloads anything).
    drv = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(30)
    try:
        yield drv
    finally:
        drv.quit()


# A busy 2-core CI host can take seconds to answer a GetInfo; the page must still show the nodes as up.
LOADED_HOST_PROBE_S = 15.0


@pytest.fixture
def dashboard():
    local = LocalNetwork.start(TOPO, metrics=True)
    try:
        metrics = {k: str(v["metrics_address"]) for k, v in local.nodes.items()}
        with Network.connect(local.topology, timeout_s=30) as net, \
                Dashboard(net, local.topology, metrics=metrics, probe_timeout_s=LOADED_HOST_PROBE_S) as dash:
            yield dash
    finally:
        local.stop()


def _text(driver, css: str) -> str:
    """The text of the element `css` selects, read in one step: the page rebuilds its tables on every poll, so
    an element found a moment ago may be gone (stale) by the time it is read; it is then found again."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    text: str = WebDriverWait(driver, 30, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: d.find_element(By.CSS_SELECTOR, css).text)
    return text


def test_page_shows_every_node_and_link_and_runs_a_teleport(driver, dashboard, tmp_path):
    """Every node and link of a live 4-node network is in the page; a teleport started there shows its result."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(dashboard.url)
    wait = WebDriverWait(driver, 120)  # the first snapshot waits for every node's probes (15 s each here)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")

    # Every node: in the graph (SVG group) and in the nodes table, reported up by its own GetInfo (the page
    # refreshes; on a busy host a probe can miss its deadline once, so wait for a snapshot with all up).
    WebDriverWait(driver, 180).until(lambda d: all(
        "down" not in (d.find_element(By.CSS_SELECTOR, f'#graph [data-node="{n}"]').get_attribute("class") or "")
        for n in TOPO.node_names))
    for name in TOPO.node_names:
        g = driver.find_element(By.CSS_SELECTOR, f'#graph [data-node="{name}"]')
        assert g.find_element(By.TAG_NAME, "circle").is_displayed()
        assert "down" not in g.get_attribute("class")
        text = _text(driver, f'#nodes tr[data-node-row="{name}"]')
        assert name in text and "256" in text  # memory capacity read from the node
    # Every quantum link (graph + links table) and the classical link (graph).
    for link in TOPO.links:
        lid = "--".join(sorted(link.nodes))
        driver.find_element(By.CSS_SELECTOR, f'#graph [data-link="{lid}"][data-kind="quantum"]')
        assert f"{link.length_km:g} km" in _text(driver, f'#links tr[data-link-row="{lid}"]')
    for link in TOPO.classical_links:
        lid = "--".join(sorted(link.nodes))
        driver.find_element(By.CSS_SELECTOR, f'#graph [data-link="{lid}"][data-kind="classical"]')
    assert len(driver.find_elements(By.CSS_SELECTOR, "#graph [data-node]")) == len(TOPO.nodes)
    assert len(driver.find_elements(By.CSS_SELECTOR, '#graph [data-kind="quantum"]')) == len(TOPO.links)

    # Start a teleport alice -> repeater from the form.
    Select(driver.find_element(By.ID, "run-kind")).select_by_value("teleport")
    Select(driver.find_element(By.ID, "run-src")).select_by_value("alice")
    Select(driver.find_element(By.ID, "run-dst")).select_by_value("repeater")
    shots = driver.find_element(By.ID, "run-shots")
    shots.clear()
    shots.send_keys("12")
    driver.find_element(By.ID, "run-start").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "run-message"), "started"))
    run_id = driver.find_element(By.ID, "run-message").get_attribute("data-last-run")
    assert run_id
    done = f'#runs tr[data-run-id="{run_id}"][data-run-state="done"]'
    WebDriverWait(driver, 90).until(lambda d: d.find_element(By.CSS_SELECTOR, done))
    text = _text(driver, done + " .run-result")
    assert text.startswith("fidelity") and "(12 shots)" in text, text
    # The page shows what the server recorded, and the server got it from the nodes.
    run = json.load(urllib.request.urlopen(dashboard.url + f"api/run/{run_id}", timeout=10))
    assert run["state"] == "done" and run["result"]["shots"] == 12
    assert f"{run['result']['value']:.4f}" in text
    # The teleport used EPR pairs on alice--repeater: the link's count (from the nodes' metrics) shows it.
    epr = '#graph [data-link="alice--repeater"] text'
    WebDriverWait(driver, 20, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: "EPR 0" not in d.find_element(By.CSS_SELECTOR, epr).text)
    label = _text(driver, epr)
    assert int(label.split()[1]) >= 12, label

    shot = tmp_path / "dashboard.png"
    assert driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("QNET_SCREENSHOT_DIR"):
        out = Path(os.environ["QNET_SCREENSHOT_DIR"])
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, out / "dashboard.png")
