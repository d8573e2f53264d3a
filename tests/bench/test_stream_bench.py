"""The bench's tick-to-order and fill-notice lines (issue 23): both paths of both lines measured
against a simulator process, nothing missed, and the streaming target judged from the run."""
from bench import report, targets
from bench.stream_latency import measure


def test_tick_to_order_and_fill_notice_are_measured_on_streams_and_polling():
    stream = measure(quick=True)
    assert stream["missed"] == {k: 0 for k in ("tick_stream", "tick_poll", "order_path", "fill_stream", "fill_poll")}
    assert all(stream[k]["n"] == stream["rounds"] for k in stream["missed"])
    verdict = {t.name: t for t in targets.evaluate({"stream": stream})}
    assert verdict["tick to order p50 (streams) <= 2x the bot's order path"].status in ("PASS", "MISS")
    assert "fill notice, streams" in report.markdown({"stream": stream})
