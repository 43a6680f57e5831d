"""Serve app.py's WebSocket handlers like API Gateway's WebSocket API, and its management endpoint
(`POST /<stage>/@connections/<id>`, which `post_to_connection` calls) for the local connections.

Each client connection gets an id; its open, each text message and its close call `ws_connect`, `ws_message` and
`ws_disconnect` with Lambda-shaped events (in a thread: the handlers block on DynamoDB). A push to an unknown or
closed connection answers 410 GoneException, as API Gateway does.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import signal
import time
from typing import Any

from aiohttp import WSMsgType, web

from devstack import watch_parent

STAGE = "local"
MAX_MESSAGE = 32 * 1024  # API Gateway's frame limit


class LocalWebsocketApi:
    """The connections of one local WebSocket API and the handlers they call."""

    def __init__(self, app_module: Any, port: int):
        self.app = app_module
        self.port = port
        self.connections: dict[str, web.WebSocketResponse] = {}

    def event(self, connection_id: str, route: str, body: str | None = None) -> dict:
        """A Lambda event as API Gateway sends it for a WebSocket route."""
        return {
            "requestContext": {
                "routeKey": route,
                "eventType": {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE"),
                "connectionId": connection_id,
                "domainName": f"127.0.0.1:{self.port}",
                "stage": STAGE,
                "apiId": "local",
                "requestTimeEpoch": int(time.time() * 1000),
            },
            "body": body,
            "isBase64Encoded": False,
        }

    async def call(self, handler: str, connection_id: str, route: str, body: str | None = None) -> dict:
        """Run one handler off the event loop; its response dict."""
        function = getattr(self.app, handler)
        event = self.event(connection_id, route, body)
        return await asyncio.get_running_loop().run_in_executor(None, function, event, None)

    async def connect(self, request: web.Request) -> web.StreamResponse:
        """A client connection: $connect, then $default per message, then $disconnect."""
        connection_id = base64.urlsafe_b64encode(secrets.token_bytes(9)).decode()
        answer = await self.call("ws_connect", connection_id, "$connect")
        if int(answer.get("statusCode", 200)) >= 300:
            return web.Response(status=int(answer["statusCode"]), text="refused")
        socket = web.WebSocketResponse(max_msg_size=MAX_MESSAGE, heartbeat=30)
        await socket.prepare(request)
        self.connections[connection_id] = socket
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    await self.call("ws_message", connection_id, "$default", message.data)
        finally:
            self.connections.pop(connection_id, None)
            await self.call("ws_disconnect", connection_id, "$disconnect")
        return socket

    @staticmethod
    def gone(connection_id: str) -> web.Response:
        """API Gateway's answer for a connection that is not open."""
        return web.Response(
            status=410,
            text=json.dumps({"message": f"connection {connection_id} is gone"}),
            content_type="application/json",
            headers={"x-amzn-ErrorType": "GoneException"},
        )

    async def post_to_connection(self, request: web.Request) -> web.Response:
        """ApiGatewayManagementApi PostToConnection: send the body to the connection as one text frame."""
        connection_id = request.match_info["connection_id"]
        socket = self.connections.get(connection_id)
        if socket is None or socket.closed:
            return self.gone(connection_id)
        await socket.send_str((await request.read()).decode())
        return web.Response(status=200)

    async def delete_connection(self, request: web.Request) -> web.Response:
        """ApiGatewayManagementApi DeleteConnection: close it."""
        connection_id = request.match_info["connection_id"]
        socket = self.connections.get(connection_id)
        if socket is None or socket.closed:
            return self.gone(connection_id)
        await socket.close()
        return web.Response(status=204)

    def routes(self) -> web.Application:
        """The aiohttp application: the WebSocket at / and the management endpoint under /<stage>/@connections."""
        application = web.Application(client_max_size=MAX_MESSAGE)
        application.router.add_get("/", self.connect)
        application.router.add_post(f"/{STAGE}/@connections/{{connection_id}}", self.post_to_connection)
        application.router.add_delete(f"/{STAGE}/@connections/{{connection_id}}", self.delete_connection)
        return application


def callback_url(port: int) -> str:
    """The management endpoint's URL (WEBSOCKET_CALLBACK_URL) for a local WebSocket API on `port`."""
    return f"http://127.0.0.1:{port}/{STAGE}"


async def _serve(host: str, port: int) -> None:
    import app

    runner = web.AppRunner(LocalWebsocketApi(app, port).routes(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watch_parent()
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    """Serve until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    os.environ.setdefault("WEBSOCKET_CALLBACK_URL", callback_url(args.port))
    asyncio.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()
