"""The terminal progress bar: rendering, silence off a terminal, and redraw throttling."""

import io

from ai3d.progress import Progress, human_bytes, render


class Tty(io.StringIO):
    """A StringIO that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_render_fills_the_bar_in_proportion():
    assert render(0.0, "up", width=60).startswith("up [------------------------------]   0%")
    assert render(0.5, "up", width=60) == "up [###############---------------]  50%"
    assert render(1.0, "up", "done", width=60) == "up [##############################] 100% done"
    assert render(1.7, width=60) == render(1.0, width=60) and render(-1, width=60) == render(0.0, width=60)


def test_render_fits_narrow_terminals():
    line = render(0.42, "MOTION_CAPTURE", "pose: tracking frame 40 of 75 in a long description", width=40)
    assert len(line) <= 40 and line.endswith("…") and " 42%" in line


def test_human_bytes():
    assert [human_bytes(n) for n in (0, 999, 1536, 5 * 1024 * 1024, 3 * 1024**3)] == [
        "0 B",
        "999 B",
        "1.5 KB",
        "5.0 MB",
        "3.0 GB",
    ]


def test_silent_when_not_a_terminal_or_disabled():
    for stream, enabled in ((io.StringIO(), True), (Tty(), False)):
        bar = Progress("x", 10, enabled=enabled, stream=stream)
        bar.update(5, "half")
        bar.close("finished")
        assert stream.getvalue() == ""


def test_draws_in_place_on_a_terminal():
    stream = Tty()
    with Progress("job", 100, stream=stream, min_interval=0) as bar:
        bar.update(10, "pose")
        bar.update(60, "export")
    text = stream.getvalue()
    assert text.count("\r\033[K") == 2 and text.endswith("\n")
    assert "]  10% pose" in text and "]  60% export" in text


def test_byte_bars_show_sizes_and_throttle_redraws():
    stream = Tty()
    bar = Progress("upload a.mp4", 4 * 1024 * 1024, show_bytes=True, stream=stream, min_interval=60)
    for _ in range(64):
        bar.advance(64 * 1024)
    bar.close("uploaded")
    text = stream.getvalue()
    assert text.count("\r\033[K") == 3  # the first draw, the final 100% draw, the closing message
    assert "4.0 MB / 4.0 MB" in text and text.endswith("\r\033[Kuploaded\n")
