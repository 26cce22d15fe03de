"""Turn bench/results/fanout.json into docs/benchmarks.md and bench/results/fanout.png.

python -m bench.report [bench/results/fanout.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
CHART = ROOT / "bench" / "results" / "fanout.png"
SEARCH = ROOT / "bench" / "results" / "search.json"
STORM = ROOT / "bench" / "results" / "storm.json"
HUB_TARGETS = [
    "hub-uvicorn",
    "hub-daphne",
    "hub-uvicorn-pubsub-2w",
    "hub-uvicorn-redis-2w",
    "hub-daphne-pubsub-2w",
]
BASELINES = ["channels-daphne", "channels-daphne-pubsub", "channels-daphne-redis"]
COLOURS = {
    "raw": "#222222",
    "hub-uvicorn": "#1b7837",
    "hub-daphne": "#5aae61",
    "hub-uvicorn-pubsub-2w": "#2166ac",
    "hub-uvicorn-redis-2w": "#542788",
    "hub-daphne-pubsub-2w": "#67a9cf",
    "channels-daphne": "#b2182b",
    "channels-daphne-pubsub": "#ef8a62",
    "channels-daphne-redis": "#e08214",
}


def by_target(results: list[dict]) -> dict[str, dict[int, dict]]:
    table: dict[str, dict[int, dict]] = {}
    for result in results:
        table.setdefault(result["target"], {})[result["readers"]] = result
    return table


def ratio(value: float | None, floor: float | None) -> float | None:
    if value is None or not floor:
        return None
    return round(value / floor, 1)


def fmt(value, suffix: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        value = f"{value:,.1f}" if value >= 10 else f"{value:,.2f}"
    elif isinstance(value, int):
        value = f"{value:,}"
    return f"{value}{suffix}"


def times(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}×"


def chart(table: dict[str, dict[int, dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(10, 5.6), dpi=110)
    for target, runs in table.items():
        readers = sorted(runs)
        colour = COLOURS.get(target)
        p99 = [runs[n]["p99_ms"] for n in readers]
        p50 = [runs[n]["p50_ms"] for n in readers]
        width = 2.6 if target == "raw" else 1.8
        axis.plot(readers, p99, marker="o", color=colour, linewidth=width, label=f"{target} p99")
        axis.plot(readers, p50, linestyle=":", color=colour, linewidth=1.2)
    axis.set_xscale("log")
    axis.set_yscale("log")
    ticks = sorted({n for runs in table.values() for n in runs})
    axis.set_xticks(ticks, [f"{n:,}" for n in ticks])
    axis.minorticks_off()
    axis.set_xlabel("readers on one session")
    axis.set_ylabel("latency from the start of the POST (ms)")
    axis.set_title("Fan-out latency: p99 (solid) and p50 (dotted), one 1 KB entry at a time")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


def fanout_table(table: dict[str, dict[int, dict]], labels: dict[str, str]) -> list[str]:
    floor = table.get("raw", {})
    lines = [
        "| target | readers | p50 ms | p99 ms | max ms | p99 × floor | typical entry p99 ms "
        "(× floor) | delivered | CPU µs/msg | KiB/reader | handshakes/s | readers_now | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for target, runs in table.items():
        for readers in sorted(runs):
            run = runs[readers]
            floor_p99 = floor.get(readers, {}).get("p99_ms")
            floor_typical = floor.get(readers, {}).get("entry_p99_median_ms")
            typical = run.get("entry_p99_median_ms")
            delivered = f"{run['delivered']:,}/{run['expected']:,}"
            if run["delivered"] != run["expected"]:
                delivered = f"**{delivered}**"
            lines.append(
                f"| {target} | {readers:,} | {fmt(run['p50_ms'])} | {fmt(run['p99_ms'])} "
                f"| {fmt(run['max_ms'])} | {times(ratio(run['p99_ms'], floor_p99))} "
                f"| {fmt(typical)} ({times(ratio(typical, floor_typical))}) | {delivered} | {fmt(run['cpu_us_per_delivered'])} "
                f"| {fmt(run['kib_per_reader'])} | {fmt(run['handshakes_per_s'])} "
                f"| {counted(run)} | {fmt(run.get('load_average'))} |"
            )
    lines.append("")
    lines.append(
        "*readers_now* is `GET /api/sessions/{id}`'s audience figure once the readers are "
        "connected, and how long it took to count them all (counting is on in every run: "
        "realtime/audience.py, a round every 2 s); – where the target has no API. "
        "*load* is the machine's 1-minute load average as the run ended (2 cores: above 2, "
        "something else was competing for them). "
        + "; ".join(f"**{name}**: {label}" for name, label in labels.items())
        + "."
    )
    return lines


def counted(run: dict) -> str:
    count = run.get("readers_now")
    if count is None:
        return "–"
    text = f"{count:,} in {run['readers_counted_after_s']} s"
    return text if count == run["connected"] else f"**{text}**"


def verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("met" if ok else "**missed**")


def targets_table(table: dict[str, dict[int, dict]], results: list[dict]) -> list[str]:
    floor = table.get("raw", {})
    present = [t for t in HUB_TARGETS if t in table]

    def p99_check(target: str, readers: int) -> tuple[bool | None, str]:
        run = table[target].get(readers)
        base = floor.get(readers)
        if not run or not base or run["p99_ms"] is None:
            return None, "not run"
        pooled = run["p99_ms"] / base["p99_ms"]
        text = f"{pooled:.1f}× ({run['p99_ms']:.0f} ms)"
        typical = ratio(run.get("entry_p99_median_ms"), base.get("entry_p99_median_ms"))
        if typical is not None:
            text += f", typical entry {typical:.1f}×"
            if pooled > 3 >= typical:
                return False, text + " (met by the typical entry only)"
        return pooled <= 3, text

    def worst(target: str, key: str, pick) -> tuple[float | None, list[dict]]:
        runs = [r for r in table[target].values() if r[key] is not None and r["readers"] >= 1000]
        if not runs:
            return None, runs
        return pick(r[key] for r in runs), runs

    rows = []
    header = "| target | " + " | ".join(present) + " |"
    rows += [header, "|---|" + "---|" * len(present)]

    def row(name: str, cells: list[tuple[bool | None, str]]) -> None:
        rows.append(
            f"| {name} | " + " | ".join(f"{verdict(ok)}: {text}" for ok, text in cells) + " |"
        )

    row("p99 at 1,000 readers ≤ 3× the floor", [p99_check(t, 1000) for t in present])
    row("p99 at 5,000 readers ≤ 3× the floor", [p99_check(t, 5000) for t in present])
    cells = []
    for target in present:
        value, _ = worst(target, "cpu_us_per_delivered", max)
        cells.append((None if value is None else value <= 50, f"{fmt(value)} µs (worst, ≥1,000)"))
    row("server CPU ≤ 50 µs per delivered message", cells)
    cells = []
    for target in present:
        value, _ = worst(target, "kib_per_reader", max)
        cells.append((None if value is None else value <= 40, f"{fmt(value)} KiB (worst)"))
    row("memory ≤ 40 KiB per idle reader", cells)
    cells = []
    for target in present:
        value, _ = worst(target, "handshakes_per_s", min)
        cells.append((None if value is None else value >= 500, f"{fmt(value)}/s (worst)"))
    row("≥ 500 websocket handshakes per second", cells)
    cells = []
    for target in present:
        runs = list(table[target].values())
        lost = sum(r["expected"] - r["delivered"] for r in runs)
        cells.append((lost == 0, f"{len(runs)} runs, {lost:,} missing"))
    row("delivered = readers × entries", cells)
    return rows


def summary(table: dict[str, dict[int, dict]]) -> list[str]:
    """The headline comparisons of this run, at each N the floor was measured at."""
    floor = table.get("raw", {})
    lines = []
    for readers in sorted(floor):
        parts = []
        for target in [*HUB_TARGETS, *BASELINES]:
            run = table.get(target, {}).get(readers)
            if run and run["p99_ms"] is not None:
                parts.append(
                    f"{target} {run['p99_ms']:,.0f} ms "
                    f"({ratio(run['p99_ms'], floor[readers]['p99_ms'])}×)"
                )
        if parts:
            lines.append(
                f"- {readers:,} readers: the floor's p99 is {floor[readers]['p99_ms']:,.0f} ms; "
                + "; ".join(parts)
                + "."
            )
    hub = table.get("hub-uvicorn", {}).get(1000)
    plain = table.get("channels-daphne", {}).get(1000)
    if hub and plain:
        lines.append(
            f"- At 1,000 readers the hub on uvicorn is {plain['p99_ms'] / hub['p99_ms']:.0f}× "
            f"faster at p99 than plain Channels on daphne, for "
            f"{plain['cpu_us_per_delivered'] / hub['cpu_us_per_delivered']:.0f}× less CPU "
            "per delivered message."
        )
    return lines


def pages_section(pages: dict | None) -> list[str]:
    if not pages:
        return ["Not measured in this run (see skipped runs)."]
    server = pages.get("catch_up_through_server", {})
    lines = [
        f"A session with {pages['entries']:,} entries; the catch-up replays the last "
        f"{pages['catch_up_changes']} of them (created while the reader was away)."
        + (
            f" Measured again on its own {pages['measured_at']} (`python -m bench.run "
            f"--pages-only`), load average {', '.join(map(str, pages['load_average']))}."
            if "measured_at" in pages
            else ""
        ),
        "",
        "| measurement | p50 | queries | target |",
        "|---|---:|---:|---|",
        f"| session page, first page (in process, whole middleware stack) "
        f"| {fmt(pages['page_first_p50_ms'], ' ms')} | {pages['page_queries']} "
        f"(with 100 entries: {pages['page_queries_with_100_entries']}) "
        f"| < 15 ms, constant queries: {verdict(pages['page_first_p50_ms'] < 15)} |",
        f"| websocket catch-up of {pages['catch_up_changes']}, fragments stored with the "
        f"entries (CatchUp.load) | {fmt(pages['catch_up_websocket_load_p50_ms'], ' ms')} "
        f"| {pages['catch_up_websocket_queries']} "
        f"| < 50 ms: {verdict(pages['catch_up_websocket_load_p50_ms'] < 50)} |",
        f"| the same, cold: a worker just started, that rendered none of them "
        f"| {fmt(pages['catch_up_websocket_cold_p50_ms'], ' ms')} "
        f"| {pages['catch_up_websocket_cold_queries']} "
        f"| < 50 ms: {verdict(pages['catch_up_websocket_cold_p50_ms'] < 50)} |",
        f"| API catch-up, GET …/entries?after=…&limit={pages['catch_up_changes']} (in process) "
        f"| {fmt(pages['catch_up_api_p50_ms'], ' ms')} | {pages['catch_up_api_queries']} "
        f"| < 50 ms: {verdict(pages['catch_up_api_p50_ms'] < 50)} |",
    ]
    for name, result in server.items():
        lines.append(
            f"| over the wire through {name}: websocket connect → caught_up "
            f"({result['websocket_messages']} messages) | {fmt(result['websocket_p50_ms'], ' ms')} "
            f"| | |"
        )
        lines.append(
            f"| over the wire through {name}: API GET ({result['api_entries']} entries) "
            f"| {fmt(result['api_p50_ms'], ' ms')} | | |"
        )
    return lines


def photos_section(photos: dict | None) -> list[str]:
    if not photos:
        return ["Not measured in this run (see skipped runs)."]
    lines = [
        f"A {photos['megapixels']:g}-megapixel photo (4000×3000, EXIF with GPS and "
        f"orientation 6), through `entries.photos.process`; Pillow {photos['pillow']}, "
        f"pillow-heif {photos['pillow_heif']}. Peak memory of the measuring process: "
        f"{photos['peak_rss_mb']} MB.",
        "",
        "| upload | size | process, p50 | slowest | renditions (widths) | stored | "
        "photos/s with the worker's threads |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label in ("jpeg", "heic"):
        r = photos[label]
        widths = ", ".join(str(w) for w in r["widths"])
        lines.append(
            f"| {label.upper()} | {r['upload_mb']} MB | {fmt(r['p50_ms'], ' ms')} "
            f"| {fmt(r['max_ms'], ' ms')} | {r['renditions']} ({widths}) | {r['stored_kb']:,} KB "
            f"| {r['photos_per_s']} ({r['workers']} threads) |"
        )
    return lines


def search_section() -> list[str]:
    """bench/results/search.json (bench/search.py) as a table, or why there is none."""
    if not SEARCH.exists():
        return ["Not measured yet: run `python -m bench.search`."]
    data = json.loads(SEARCH.read_text())
    lines = [
        f"Measured {data['generated_at']}.",
        "",
        "| database | entries | queries | p50 | p95 | p99 | max | slowest query "
        "| load average | p95 < 10 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    for r in data["results"]:
        lines.append(
            f"| {r['database']} | {r['entries']:,} | {r['queries']} | {fmt(r['p50_ms'], ' ms')} "
            f"| {fmt(r['p95_ms'], ' ms')} | {fmt(r['p99_ms'], ' ms')} | {fmt(r['max_ms'], ' ms')} "
            f"| `{r['slowest_query']}` | {fmt(r.get('load_average'))} "
            f"| {verdict(r['p95_ms'] < 10)} |"
        )
    for s in data.get("skipped", []):
        lines.append(f"\nSkipped {s['target']}: {s['reason']}")
    return lines


def storm_section() -> list[str]:
    """bench/results/storm.json (bench/storm.py) as a table, or why there is none."""
    if not STORM.exists():
        return ["Not measured yet: run `python -m bench.storm`."]
    data = json.loads(STORM.read_text())
    machine = data["machine"]
    target = data["target_s"]
    lines = [
        f"Measured {data['generated_at']}: {data['readers']:,} readers from one address, in "
        f"{data['client_processes']} client processes on core 1; one worker "
        f"(`python -m liveblog.server`, SQLite) on core 0. Load average when it started: "
        f"{', '.join(str(x) for x in machine['load_average_at_start'])}.",
        "",
        "| reconnect | caught up p50 | p95 | all (max) | accepted handshakes/s "
        "| first 101 after | attempts "
        "| busy (4429) | failed | readers who retried | server CPU | clients' CPU "
        f"| load average | all within {target:.0f} s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | --- |",
    ]
    names = {"at-once": "all at the same instant, no jitter", "page": "the page's (live.js)"}
    for r in data["runs"]:
        lines.append(
            f"| {names.get(r['policy'], r['policy'])} | {fmt(r['caught_up_p50_s'], ' s')} "
            f"| {fmt(r['caught_up_p95_s'], ' s')} | {fmt(r['caught_up_max_s'], ' s')} "
            f"| {fmt(r['handshakes_per_s'])} | {fmt(r['first_handshake_s'], ' s')} "
            f"| {r['attempts']:,} | {r['busy']:,} "
            f"| {r['failed']:,} | {r['retried_readers']:,} | {fmt(r['server_cpu_s'], ' s')} "
            f"| {fmt(r['clients_cpu_s'], ' s')} "
            f"| {', '.join(str(x) for x in r['load_average'])} "
            f"| {verdict(r['caught_up_max_s'] <= target)} |"
        )
    return lines


def render(report: dict) -> str:
    results = report["fanout"]
    table = by_target(results)
    labels = {r["target"]: r["label"] for r in results}
    machine = report["machine"]
    template = (ROOT / "bench" / "benchmarks.md.in").read_text()
    skipped = "\n".join(
        f"- {s['target']}" + (f" × {s['readers']:,}" if "readers" in s else "") + f": {s['reason']}"
        for s in report["skipped"]
    )
    return template.format(
        generated_at=report["generated_at"],
        duration=report["duration_s"],
        cpus=machine["cpus"],
        cpu_model=machine["cpu_model"] or "unknown CPU",
        load=", ".join(str(x) for x in machine["load_average_at_start"]),
        python=machine["python"],
        versions=", ".join(f"{k} {v}" for k, v in machine["versions"].items()),
        pinned="pinned with taskset" if machine["pinned"] else "NOT pinned (no taskset or 1 core)",
        fanout_table="\n".join(fanout_table(table, labels)),
        targets_table="\n".join(targets_table(table, results)),
        summary="\n".join(summary(table)),
        pages="\n".join(pages_section(report.get("pages"))),
        photos="\n".join(photos_section(report.get("photos"))),
        search="\n".join(search_section()),
        storm="\n".join(storm_section()),
        skipped=skipped or "- none",
    )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    source = Path(argv[0]) if argv else ROOT / "bench" / "results" / "fanout.json"
    report = json.loads(source.read_text())
    chart(by_target(report["fanout"]), CHART)
    DOC.write_text(render(report))
    print(f"Wrote {DOC.relative_to(ROOT)} and {CHART.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
