"""The local API server keeps Chalice's current request per thread, and answers methods it has no route for in the
error shape."""

from __future__ import annotations

import threading

from devstack.api import PerThread


def test_each_thread_sees_its_own_request():
    class App:
        current_request = PerThread()

    app = App()
    app.current_request = "main"
    seen: dict[str, object] = {}
    barrier = threading.Barrier(2)

    def serve(name: str) -> None:
        app.current_request = name
        barrier.wait()  # both threads have set theirs before either reads
        seen[name] = app.current_request

    threads = [threading.Thread(target=serve, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"a": "a", "b": "b"} and app.current_request == "main"
