"""Turn bench/results/soak.json into docs/reliability.md and bench/results/soak.png.

python -m bench.soak_report [bench/results/soak.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.report import fmt

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "reliability.md"
TEMPLATE = ROOT / "bench" / "reliability.md.in"
CHART = ROOT / "bench" / "results" / "soak.png"
FAULT_COLOURS = ["#b2182b", "#ef8a62", "#67a9cf", "#2166ac", "#5aae61", "#542788"]


def seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def verdict(report: dict) -> str:
    posts = report["posts"]
    exact = report["exact_readers"] == report["readers"]
    clean = not posts["lost"] and not posts["doubled"] and not report["server_errors"]
    if exact and clean:
        return "**Passed**: every reader exact, no post lost or doubled, no 500."
    return "**Failed**: see the figures below."


def fault_table(report: dict) -> str:
    rows = [
        "| # | fault | at | lasted | next entry at every reader | every reader caught up "
        "| the blogger saw |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, fault in enumerate(report["faults"], 1):
        errors = ", ".join(f"{k} × {v}" for k, v in fault["blogger_errors"].items()) or "nothing"
        detail = f" ({fault['detail']})" if fault["detail"] else ""
        rows.append(
            f"| {i} | {fault['title']}{detail} | {fault['at_s']:.0f} s | "
            f"{fault['lasted_s']:.1f} s | {seconds(fault['next_entry_everywhere_s'])} | "
            f"{seconds(fault['everyone_caught_up_s'])} | {errors} |"
        )
    return "\n".join(rows)


def error_table(report: dict) -> str:
    if not report["blogger_errors"]:
        return "The blogger saw no error: every post was answered 201 at its first attempt."
    rows = [
        "| answer | times | posts it happened to, and how their retries ended |",
        "|---|---|---|",
    ]
    for error in report["blogger_errors"]:
        endings = ", ".join(f"{n} {outcome}" for outcome, n in error["posts"].items())
        rows.append(f"| {error['error']} | {error['count']} | {endings} |")
    return "\n".join(rows)


def log_table(report: dict) -> str:
    if not report["worker_log"]:
        return "The workers logged nothing at WARNING or above."
    rows = ["| level | logger | message (numbers as N) | lines |", "|---|---|---|---|"]
    for line in report["worker_log"][:12]:
        message = line["message"].replace("|", "\\|")
        rows.append(f"| {line['level']} | {line['logger']} | {message} | {line['count']} |")
    return "\n".join(rows)


def not_exact(report: dict) -> str:
    if not report["not_exact"]:
        return ""
    lines = [f"Readers not exact ({report['not_exact_count']}), the first of them:", ""]
    lines += [f"- reader {r['reader']}: {'; '.join(r['problems'])}" for r in report["not_exact"]]
    return "\n".join(lines) + "\n"


def chart(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(11, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    timeline = report["timeline"]
    t = [s["t"] for s in timeline]
    top.plot(t, [s["live"] for s in timeline], color="#222222", lw=1.4, label="readers live")
    top.plot(
        t, [s["at_head"] for s in timeline], color="#1b7837", lw=1.2, label="readers up to date"
    )
    for i, window in enumerate(report["fault_windows"]):
        colour = FAULT_COLOURS[i % len(FAULT_COLOURS)]
        for axis in (top, bottom):
            axis.axvspan(
                window["from"], max(window["to"], window["from"] + 1), color=colour, alpha=0.25
            )
        top.annotate(
            f"{i + 1}",
            (window["from"], report["readers"] * 1.02),
            color=colour,
            fontsize=9,
            fontweight="bold",
            annotation_clip=False,
        )
    top.set_ylabel("readers")
    top.set_ylim(0, report["readers"] * 1.08)
    top.legend(loc="lower left", fontsize=8)
    top.set_title(
        f"make soak: {report['readers']:,} readers, two workers behind Caddy; "
        f"faults 1–{len(report['faults'])} shaded (see the table)",
        fontsize=10,
    )
    posts = [p for p in report["post_timeline"] if p["answer_s"] is not None]
    first = [p for p in posts if p["attempts"] == 1]
    retried = [p for p in posts if p["attempts"] > 1]
    bottom.scatter(
        [p["t"] for p in first], [p["answer_s"] for p in first], s=6, color="#2166ac",
        label="post answered at the first attempt, after",
    )  # fmt: skip
    bottom.scatter(
        [p["t"] for p in retried], [p["answer_s"] for p in retried], s=14, color="#b2182b",
        marker="x", label="post answered after retries, after",
    )  # fmt: skip
    reached = [p for p in report["post_timeline"] if p.get("every_reader_s") is not None]
    bottom.scatter(
        [p["t"] for p in reached], [max(0.001, p["every_reader_s"]) for p in reached], s=5,
        color="#999999", label="on every reader's page after",
    )  # fmt: skip
    bottom.set_yscale("log")
    bottom.set_ylabel("seconds")
    bottom.set_xlabel("seconds since the readers connected")
    bottom.legend(loc="upper right", fontsize=8, framealpha=0.9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def render(report: dict) -> str:
    machine = report["machine"]
    method = report["method"]
    posts = report["posts"]
    values = {
        "generated_at": report["generated_at"],
        "duration": report["duration_s"],
        "mode": "the default run" if report["mode"] == "default" else "`--short`",
        "cpus": machine["cpus"],
        "cpu_model": machine["cpu_model"] or "unknown CPU",
        "python": machine["python"],
        "load": ", ".join(str(x) for x in machine["load_average_at_start"]),
        "postgres": method["postgres"],
        "readers": fmt(report["readers"]),
        "fault_seconds": fmt(int(method["fault_duration_s"])),
        "interval": method["post_interval_s"],
        "network_loss": int(method["network_loss_s"]),
        "verdict": verdict(report),
        "exact": fmt(report["exact_readers"]),
        "entries": fmt(report["entries_at_end"]),
        "last_seq": report["last_seq"],
        "not_exact": not_exact(report),
        "sent": fmt(posts["sent"]),
        "created": fmt(posts["created"]),
        "replayed": fmt(posts["replayed"]),
        "retried": fmt(posts["retried"]),
        "lost": len(posts["lost"]),
        "doubled": len(posts["doubled"]),
        "gave_up": len(posts["gave_up"]),
        "server_errors": report["server_errors"],
        "answer_p50": posts["answer_p50_s"],
        "answer_max": posts["answer_max_s"],
        "fault_table": fault_table(report),
        "error_table": error_table(report),
        "log_table": log_table(report),
        "reconnects": fmt(report["reconnects"]),
        "reloads": fmt(report["reloads"]),
        "gaps": fmt(report["gaps_noticed"]),
        "heads": fmt(report["heads_told"]),
        "busy": fmt(report["busy_told"]),
        "placed_between": fmt(report["placed_between"]),
        "closes": ", ".join(f"{code} × {n:,}" for code, n in report["closes"].items()) or "none",
        "storm": storm_sentence(),
    }
    return TEMPLATE.read_text().format(**values)


def storm_sentence() -> str:
    """The reconnect storm of `make bench` (bench/results/storm.json), in a sentence."""
    path = ROOT / "bench" / "results" / "storm.json"
    if not path.exists():
        return "(`make bench` measures a storm of 5,000 readers against one worker.)"
    data = json.loads(path.read_text())
    runs = {r["policy"]: r for r in data["runs"]}
    at_once, page = runs["at-once"], runs["page"]
    return (
        f"Measured by `make bench` on {data['generated_at'][:10]} (docs/benchmarks.md): "
        f"{data['readers']:,} readers behind one address reconnecting to one worker were all "
        f"caught up {at_once['caught_up_max_s']} s after they came back at the same instant "
        f"(p50 {at_once['caught_up_p50_s']} s; {at_once['busy']:,} turned away as busy and "
        f"admitted on a retry), and {page['caught_up_max_s']} s after with the page's "
        f"backoff and jitter (p50 {page['caught_up_p50_s']} s; {page['busy']:,} busy), on "
        f"the shared two-core machine with the load client on the other core (load average "
        f"{at_once['load_average'][0]})."
    )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    source = Path(argv[0]) if argv else ROOT / "bench" / "results" / "soak.json"
    report = json.loads(source.read_text())
    chart(report, CHART)
    DOC.write_text(render(report))
    print(f"Wrote {DOC.relative_to(ROOT)} and {CHART.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
