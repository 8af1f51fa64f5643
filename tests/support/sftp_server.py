"""A real SFTP server (asyncssh) on 127.0.0.1, serving one folder, with password login."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import asyncssh

USERNAME = "feeds"
PASSWORD = "s3cret-feed"


class _Server(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == USERNAME and password == PASSWORD


class SftpServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        key = asyncssh.generate_private_key("ssh-ed25519")
        self.host_key = " ".join(key.export_public_key().decode().split()[:2])
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def start() -> Any:
            return await asyncssh.listen(
                "127.0.0.1",
                0,
                server_host_keys=[key],
                server_factory=_Server,
                sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(root)),
            )

        self.acceptor = asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)
        self.port = self.acceptor.sockets[0].getsockname()[1]

    def destination(self, **extra: Any) -> dict[str, Any]:
        """Settings of an sftp destination for this server."""
        return {
            "type": "sftp",
            "host": "127.0.0.1",
            "port": self.port,
            "username": USERNAME,
            "password": PASSWORD,
            "host_key": self.host_key,
            **extra,
        }

    def close(self) -> None:
        async def stop() -> None:
            self.acceptor.close()
            await self.acceptor.wait_closed()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
